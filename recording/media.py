"""Serving a stored recording: the whole file, or the byte range a player asks for (HTTP Range, RFC 9110 §14).

The recording web's player and download, a shared link and the API's media endpoint all answer through
:func:`stream`, so each gets the same bytes, the same headers and the same decision of what counts as a play.
"""

from __future__ import annotations

import hashlib
import re

from asgiref.sync import sync_to_async
from django.core.handlers.asgi import ASGIRequest
from django.http import Http404, StreamingHttpResponse
from django.utils import timezone
from django.utils.text import slugify
from django.utils.translation import gettext as _

from .models import Recording
from .storage import recordings_storage

RANGE_RE = re.compile(r"^bytes=(\d*)-(\d*)$")
CHUNK = 64 * 1024
# What the worker stores is Ogg Opus (recording/audio.py); a WAV kept as it came is served as WAV.
CONTENT_TYPES = {".opus": "audio/ogg", ".ogg": "audio/ogg", ".wav": "audio/wav"}


class RangeNotSatisfiable(Exception):
    """The Range asked for starts beyond the file (416, with the file's size in Content-Range)."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


def content_type(recording: Recording) -> str:
    suffix = recording.stored_path[recording.stored_path.rfind("."):].lower() if "." in recording.stored_path else ""
    return CONTENT_TYPES.get(suffix, "audio/ogg")


def media_etag(recording: Recording, size: int) -> str:
    """A strong validator of the stored file. A stored file is never rewritten in place (a new one gets a new
    random name, recording.storage.stored_name), so its name and size identify its bytes."""
    digest = hashlib.sha256(f"{recording.pk}:{recording.stored_path}:{size}".encode()).hexdigest()[:32]
    return f'"{digest}"'


def download_name(recording: Recording) -> str:
    """Date, person, other party and dialled number, as the guide's downloaded files are named."""
    local = timezone.localtime(recording.started_at)
    person = slugify(recording.user.display_name if recording.user else recording.extension) or "unknown"
    parts = [f"{local:%Y-%m-%d_%H%M%S}", person, _digits(recording.other_number) or "unknown"]
    if recording.dialled_number:
        parts.append(_digits(recording.dialled_number))
    extension = ".wav" if content_type(recording) == "audio/wav" else ".opus"
    return "_".join(p for p in parts if p) + extension


def _digits(value: str) -> str:
    return "".join(c for c in value if c.isdigit() or c == "+").replace("+", "00")


def requested_range(request, size: int, etag: str) -> tuple[int, int] | None:
    """The first and last byte asked for, or None for the whole file.

    One range ``bytes=a-b``, ``bytes=a-`` or ``bytes=-n`` is served; anything else (several ranges, another
    unit) is ignored and the whole file sent, as RFC 9110 allows. With ``If-Range`` the range holds only if
    it names this file's ETag (a strong comparison): a client holding part of another version gets it all.
    A range starting beyond the end raises :class:`RangeNotSatisfiable`.
    """
    match = RANGE_RE.match(request.headers.get("Range", "").strip())
    if not match or not (match.group(1) or match.group(2)):
        return None
    if_range = request.headers.get("If-Range")
    if if_range is not None and if_range.strip() != etag:
        return None
    first, last = match.groups()
    if first:
        start, end = int(first), min(int(last) if last else size - 1, size - 1)
    else:
        start, end = max(size - int(last), 0), size - 1
        if int(last) == 0:
            start = size
    if start > end or start >= size:
        raise RangeNotSatisfiable(size)
    return start, end


def stream(request, recording: Recording, *, attachment: bool) -> StreamingHttpResponse:
    """The stored file (``attachment``: as a download, always whole), or the byte range the player asked for
    (seeking without a full reload). ``request`` is Django's or DRF's."""
    if recording.status != Recording.Status.STORED or not recording.stored_path:
        raise Http404(_("This recording is not ready yet."))
    storage = recordings_storage()
    try:
        size = storage.size(recording.stored_path)
    except (OSError, FileNotFoundError):
        raise Http404(_("The recording file is missing.")) from None
    etag = media_etag(recording, size)
    wanted = None if attachment else requested_range(request, size, etag)
    start, end = wanted if wanted is not None else (0, size - 1)

    def chunks():
        with storage.open(recording.stored_path, "rb") as handle:
            handle.seek(start)
            remaining = end - start + 1
            while remaining > 0:
                block = handle.read(min(CHUNK, remaining))
                if not block:
                    return
                remaining -= len(block)
                yield block

    body = chunks()
    if isinstance(getattr(request, "_request", request), ASGIRequest):
        body = _async_chunks(body)  # served by uvicorn/daphne: stream without holding the whole file
    response = StreamingHttpResponse(body, status=200 if wanted is None else 206, content_type=content_type(recording))
    response["Content-Length"] = str(end - start + 1)
    if wanted is not None:
        response["Content-Range"] = f"bytes {start}-{end}/{size}"
    response["Accept-Ranges"] = "bytes"
    response["ETag"] = etag
    disposition = "attachment" if attachment else "inline"
    response["Content-Disposition"] = f'{disposition}; filename="{download_name(recording)}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


async def _async_chunks(chunks):
    step = sync_to_async(next, thread_sensitive=False)
    while (block := await step(chunks, None)) is not None:
        yield block


def starts_a_play(request, response) -> bool:
    """A play is audited once: on the GET that is answered from the first byte (the whole file, or a range
    from 0), not on every seek, nor on a HEAD."""
    if request.method != "GET" or response.status_code not in (200, 206):
        return False
    return response.status_code == 200 or response["Content-Range"].startswith("bytes 0-")
