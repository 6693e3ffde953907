"""Where recordings live: Asterisk's raw files under RECORDINGS_DIR, stored recordings behind one storage.

The stored form goes through :func:`recordings_storage`: ``STORAGES["recordings"]`` when the settings
name one (an S3-compatible bucket through django-storages, ``RECORDINGS_S3_BUCKET``), else local disk in
``RECORDINGS_DIR/stored``. Neither has a URL: a recording reaches a browser only through the authorised
views of :mod:`recording.views` and the API, which stream it through :mod:`recording.media`.
"""

from __future__ import annotations

import secrets
from pathlib import Path, PurePosixPath

from django.conf import settings
from django.core.files.storage import FileSystemStorage, Storage, storages

# Where Asterisk's own processes see the monitor directory (the path it reports in MixMonitor events);
# the worker sees the same volume as RECORDINGS_DIR.
ASTERISK_MONITOR_DIR = PurePosixPath("/var/spool/asterisk/monitor")


def recordings_storage() -> Storage:
    if "recordings" in settings.STORAGES:
        return storages["recordings"]
    return FileSystemStorage(location=Path(settings.RECORDINGS_DIR) / "stored", base_url=None,
                             file_permissions_mode=0o640, directory_permissions_mode=0o750)


def stored_name(recording) -> str:
    """A name nobody can guess or collide with: company, day, row id and a random part."""
    day = recording.started_at
    return f"t{recording.tenant_id}/{day:%Y/%m/%d}/{recording.pk}-{secrets.token_hex(8)}.opus"


def raw_file(reported: str) -> Path:
    """The local path of a file Asterisk wrote, refused unless it is inside RECORDINGS_DIR."""
    root = Path(settings.RECORDINGS_DIR).resolve()
    path = PurePosixPath(reported)
    if path.is_absolute():
        try:
            path = path.relative_to(ASTERISK_MONITOR_DIR)
        except ValueError:
            local = Path(reported).resolve()
            if local.is_relative_to(root):
                return local
            raise ValueError(f"{reported!r} is outside the recordings directory") from None
    local = (root / path).resolve()
    if not local.is_relative_to(root) or local == root:
        raise ValueError(f"{reported!r} is outside the recordings directory")
    return local


def open_range(name: str, start: int, length: int) -> bytes:
    with recordings_storage().open(name, "rb") as handle:
        handle.seek(start)
        return handle.read(length)
