"""Turning an uploaded sound file into what Asterisk plays.

pydub hands the bytes to ffmpeg (as a list of arguments, never through a shell), so anything
ffmpeg can decode works: wav, mp3, m4a, ogg, flac. Asterisk plays ``<name>.wav`` (8 kHz, mono,
16-bit) on narrowband calls and ``<name>.wav16`` (16 kHz) on wideband ones.
"""

from __future__ import annotations

import io
import os
import tempfile
import warnings
from dataclasses import dataclass
from pathlib import Path

from django.utils.translation import gettext as _

with warnings.catch_warnings():
    # pydub imports audioop, deprecated in Python 3.11 (see stack.md).
    warnings.simplefilter("ignore", DeprecationWarning)
    from pydub import AudioSegment
    from pydub.exceptions import CouldntDecodeError

MAX_SECONDS = 600
FORMATS = {"wav": 8000, "wav16": 16000}


class AudioError(ValueError):
    """The upload is not usable audio; the message says why, in the user's language."""


@dataclass(frozen=True)
class ConvertedPrompt:
    duration_ms: int
    files: dict[str, bytes]  # Asterisk format name (wav, wav16) → file content


def convert_prompt(data: bytes) -> ConvertedPrompt:
    if not data:
        raise AudioError(_("The file is empty."))
    try:
        segment = AudioSegment.from_file(io.BytesIO(data))
    except (CouldntDecodeError, IndexError, OSError) as exc:
        raise AudioError(_("This is not an audio file we can read (wav, mp3, m4a or ogg).")) from exc
    if len(segment) < 100:
        raise AudioError(_("The recording is too short to be a prompt."))
    if len(segment) > MAX_SECONDS * 1000:
        raise AudioError(_("A prompt may be at most %(n)d minutes long.") % {"n": MAX_SECONDS // 60})
    files = {}
    for fmt, rate in FORMATS.items():
        out = segment.set_channels(1).set_frame_rate(rate).set_sample_width(2)
        buffer = io.BytesIO()
        # export() returns the file it wrote to; with our own buffer there is nothing to close.
        out.export(buffer, format="wav")
        files[fmt] = buffer.getvalue()
    return ConvertedPrompt(duration_ms=len(segment), files=files)


def write_atomically(path: Path, content: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(content)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
