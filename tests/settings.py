"""Test settings: PostgreSQL and Redis when the environment names them (CI does), fast hashing."""

import os
import tempfile
from pathlib import Path

os.environ.setdefault("DEBUG", "0")
os.environ.setdefault("PBX_EMBEDDED", "1")

from pbx.settings import *  # noqa: F403

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
_TMP = Path(tempfile.mkdtemp(prefix="pbx-tests-"))
MEDIA_ROOT = _TMP / "media"
ASTERISK_SOUNDS_DIR = _TMP / "sounds"
ASTERISK_GENERATED_DIR = _TMP / "generated"
RECORDINGS_DIR = _TMP / "recordings"
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
HUEY = {**HUEY, "immediate": True, "huey_class": "huey.MemoryHuey", "connection": {}}  # noqa: F405
LANGUAGE_CODE = "en"
# A test run hears only its own pub/sub messages, whatever else (a bridge, another run) uses the same Redis.
if CHANNEL_LAYERS["default"]["BACKEND"].startswith("channels_redis"):  # noqa: F405
    CHANNEL_LAYERS["default"]["CONFIG"]["prefix"] = f"pbx-test-{os.getpid()}-{os.urandom(4).hex()}"  # noqa: F405
STATIC_ROOT = _TMP / "static"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)
