"""Turning an uploaded sound file into what Asterisk plays, without letting the file harm the server.

Every sound that reaches Asterisk (an uploaded prompt or greeting, a prompt recorded by phone)
goes through ``convert_prompt``: bytes or a path in, our 8 kHz and 16 kHz wav out, or an
``AudioError`` (a ``ValidationError``) whose message says why in the user's language.

A small file can decode to gigabytes (silence compresses to almost nothing in FLAC), and its
header can claim anything (65,535 channels, a ten-hour duration, or none at all). So:

1. ``ffprobe`` reads format, codec, channels, rate and duration from the container, without
   decoding it, and we refuse what is over-long, over-wide, at an odd rate or not audio;
2. ``ffmpeg`` decodes once, streaming, straight into both wav files, and stops reading at the
   length limit, so a header that lies about the duration cannot make it decode more;
3. both run as separate processes under ``prlimit`` (address space, CPU seconds, file size)
   and a wall-clock timeout, so a decoder bug or a decompression bomb ends in a refusal, not in
   a web worker that swaps or hangs.

Only audio demuxers and decoders are allowed and only the ``file`` protocol: a playlist
(HLS/concat) disguised as audio would otherwise make ffmpeg open other files or URLs.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.exceptions import ValidationError
from django.template.defaultfilters import filesizeformat
from django.utils.translation import gettext as _

MAX_SECONDS = 600
MIN_MS = 100
MAX_CHANNELS = 2
MIN_RATE, MAX_RATE = 8000, 192000
FORMATS = {"wav": 8000, "wav16": 16000}  # Asterisk format name → sample rate

# ffmpeg's demuxer and decoder names (``ffmpeg -demuxers`` / ``-decoders``).
DEMUXERS = ("wav", "w64", "aiff", "mp3", "flac", "ogg", "mov", "aac", "matroska", "webm")
DECODERS = (
    "pcm_s16le", "pcm_s16be", "pcm_s24le", "pcm_s24be", "pcm_s32le", "pcm_s32be", "pcm_u8",
    "pcm_f32le", "pcm_f32be", "pcm_f64le", "pcm_alaw", "pcm_mulaw", "gsm_ms", "adpcm_ms", "adpcm_ima_wav",
    "mp3float", "mp3", "flac", "vorbis", "libvorbis", "opus", "libopus", "aac", "aac_fixed", "alac",
)
# Album art in mp3/m4a files is a video stream, which probing opens too; it is never decoded further.
COVER_ART_DECODERS = ("mjpeg", "png")
# What the probe reports as codec_name for the audio decoders.
CODECS = frozenset({name for name in DECODERS if not name.startswith("lib")} - {"mp3float", "aac_fixed"})

# Limits of one ffprobe/ffmpeg run. Debian's ffmpeg maps ~300 MB of shared libraries before it reads
# a byte, and decoding ten minutes takes well under a second of CPU.
MEMORY_LIMIT_BYTES = 768 * 1024 * 1024
CPU_SECONDS = 20
PROBE_TIMEOUT_S = 10
DECODE_TIMEOUT_S = 30


class AudioError(ValidationError, ValueError):
    """The sound is not usable; the message says why, in the user's language."""

    def __init__(self, message: str, code: str = "not_audio"):
        super().__init__(message, code=code)

    def __str__(self) -> str:
        return self.message


@dataclass(frozen=True)
class Probe:
    format_name: str
    codec: str
    channels: int
    sample_rate: int
    duration_s: float | None  # from the container: a hint that may lie, or be missing


@dataclass(frozen=True)
class ConvertedPrompt:
    duration_ms: int
    files: dict[str, bytes]  # Asterisk format name (wav, wav16) → file content


def convert_prompt(source: bytes | str | os.PathLike) -> ConvertedPrompt:
    """The one way in for sound: ``source`` (the file's bytes or its path) → both wav files."""
    with tempfile.TemporaryDirectory(prefix="pbx-audio-") as work:
        workdir = Path(work)
        if isinstance(source, bytes | bytearray):
            _check_size(len(source))
            path = workdir / "upload"
            path.write_bytes(source)
        else:
            path = Path(source).resolve()
            try:
                _check_size(path.stat().st_size)
            except OSError as exc:
                raise AudioError(_("This is not an audio file we can read (wav, mp3, m4a or ogg).")) from exc
        found = probe(path)
        return _decode(path, found, workdir)


def _check_size(size: int) -> None:
    if size == 0:
        raise AudioError(_("The file is empty."), code="empty")
    if size > settings.PROMPT_MAX_UPLOAD_BYTES:
        raise AudioError(_("The file is too large; the limit is %(limit)s.")
                         % {"limit": filesizeformat(settings.PROMPT_MAX_UPLOAD_BYTES)}, code="too_large")


def _input_options() -> list[str]:
    return ["-protocol_whitelist", "file", "-format_whitelist", ",".join(DEMUXERS),
            "-codec_whitelist", ",".join(DECODERS + COVER_ART_DECODERS)]


def probe(path: Path) -> Probe:
    """What the container says about its first audio stream, refused if we would not decode it."""
    result = _run(["ffprobe", "-v", "error", *_input_options(),
                   "-show_entries", "format=format_name,duration:stream=codec_type,codec_name,channels,sample_rate",
                   "-of", "json", f"file:{path}"], timeout=PROBE_TIMEOUT_S)
    if result.returncode != 0:
        if b"Too many channels" in result.stderr:
            raise _too_wide(None)
        raise _not_audio()
    try:
        info = json.loads(result.stdout)
        stream = next(s for s in info.get("streams", []) if s.get("codec_type") == "audio")
        channels, rate = int(stream.get("channels") or 0), int(stream.get("sample_rate") or 0)
        duration = info.get("format", {}).get("duration")
        found = Probe(format_name=str(info["format"]["format_name"]), codec=str(stream.get("codec_name")),
                      channels=channels, sample_rate=rate,
                      duration_s=float(duration) if duration not in (None, "N/A") else None)
    except (ValueError, KeyError, StopIteration, TypeError) as exc:
        raise _not_audio() from exc
    if found.codec not in CODECS:
        raise _not_audio()
    if not 1 <= found.channels <= MAX_CHANNELS:
        raise _too_wide(found.channels)
    if not MIN_RATE <= found.sample_rate <= MAX_RATE:
        raise AudioError(_("The sample rate of %(rate)d Hz is not one we accept; use 8,000 to 192,000 Hz.")
                         % {"rate": found.sample_rate}, code="odd_rate")
    if found.duration_s is not None and found.duration_s > MAX_SECONDS:
        raise _too_long()
    return found


def _decode(path: Path, found: Probe, workdir: Path) -> ConvertedPrompt:
    outputs = {fmt: workdir / f"out-{rate}.wav" for fmt, rate in FORMATS.items()}
    command = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-threads", "1", *_input_options(),
               # An input option: ffmpeg stops reading past the limit (plus a second, to tell "too long"
               # from "exactly ten minutes"), whatever the header claimed.
               "-t", str(MAX_SECONDS + 1), "-i", f"file:{path}"]
    for fmt, rate in FORMATS.items():
        # bitexact and no metadata: a plain RIFF header with only fmt and data chunks, as Asterisk's
        # format_wav expects, and the same bytes for the same input.
        command += ["-map", "0:a:0", "-ac", "1", "-ar", str(rate), "-c:a", "pcm_s16le", "-map_metadata", "-1",
                    "-fflags", "+bitexact", "-flags:a", "+bitexact", "-f", "wav", "-y", f"file:{outputs[fmt]}"]
    result = _run(command, timeout=DECODE_TIMEOUT_S)
    if result.returncode != 0:
        raise _not_audio() if result.returncode > 0 else _over_limits()
    try:
        with wave.open(str(outputs["wav"])) as narrow:
            duration_ms = narrow.getnframes() * 1000 // narrow.getframerate()
    except (OSError, EOFError, wave.Error) as exc:
        raise _not_audio() from exc
    if duration_ms > MAX_SECONDS * 1000:
        raise _too_long()
    if duration_ms < MIN_MS:
        raise AudioError(_("The recording is too short to be a prompt."), code="too_short")
    return ConvertedPrompt(duration_ms=duration_ms, files={fmt: out.read_bytes() for fmt, out in outputs.items()})


def _run(command: list[str], *, timeout: float) -> subprocess.CompletedProcess:
    """Runs an ffmpeg tool in its own process, under resource limits and a wall-clock timeout.

    ``prlimit`` sets the limits in the child just before it execs the tool (preexec_fn would
    run Python between fork and exec, which is unsafe in a threaded web server).
    """
    largest_output = (MAX_SECONDS + 2) * max(FORMATS.values()) * 2 + 1024 * 1024
    limited = [shutil.which("prlimit") or "prlimit",
               f"--as={MEMORY_LIMIT_BYTES}", f"--cpu={CPU_SECONDS}",
               f"--fsize={largest_output}", "--core=0", "--", *command]
    try:
        # The command is a list (no shell) and every path is ours or resolved and prefixed "file:".
        return subprocess.run(limited, capture_output=True, timeout=timeout, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:  # run() has killed the child already
        raise _over_limits() from exc
    except OSError as exc:
        raise AudioError(_("Sound files cannot be converted on this server right now."), code="unavailable") from exc


def _not_audio() -> AudioError:
    return AudioError(_("This is not an audio file we can read (wav, mp3, m4a or ogg)."))


def _too_long() -> AudioError:
    return AudioError(_("A prompt may be at most %(n)d minutes long.") % {"n": MAX_SECONDS // 60}, code="too_long")


def _too_wide(channels: int | None) -> AudioError:
    if channels is None:
        return AudioError(_("The file claims too many audio channels; upload mono or stereo sound."),
                          code="too_wide")
    return AudioError(_("The file has %(n)d audio channels; upload mono or stereo sound.") % {"n": channels},
                      code="too_wide")


def _over_limits() -> AudioError:
    return AudioError(_("The file could not be converted within our limits; export it again as an ordinary "
                        "wav or mp3 file."), code="over_limits")


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
