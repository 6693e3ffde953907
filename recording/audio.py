"""A finished MixMonitor file → the stored recording: Opus audio, duration, waveform peaks, talk analysis.

What Asterisk leaves (``app_mixmonitor.c``, option ``D``): a headerless ``.raw`` file of signed 16-bit
little-endian samples at 8 kHz, two channels interleaved, the *left* one the audio read from the recorded
channel (the person's own voice) and the *right* one the audio written to it (the other party). We also take
a stereo or mono wav (tests, a manual import) and the two legs of ``r()``/``t()`` as separate mono files.

The samples are read once into numpy; the analysis runs on them in this process; ffmpeg (no shell, under
``prlimit`` like :mod:`pbx.audio`) only encodes the same samples to Opus. Nothing here touches the database
or deletes anything: the caller decides what happens to the raw file once the stored form is written.
"""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import wave
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import webrtcvad

RATE = 8000
FRAME_MS = 30  # webrtcvad takes 10, 20 or 30 ms frames
FRAME = RATE * FRAME_MS // 1000
PEAKS = 400  # waveform buckets per channel, whatever the length (the player scales them)
# A talk spurt ends after this much quiet: the pauses between words are not silences.
HANGOVER_FRAMES = 10  # 300 ms
# Frames quieter than this (RMS, full scale 32768) are silence without asking the VAD: line noise and
# comfort noise stay out of the talk time, and most of a call's frames skip the detector.
QUIET_RMS = 120
VAD_MODE = 2  # 0 (lenient) .. 3 (strict)
OPUS_BITRATE = "24k"
# libopus defaults to 10; 3 costs a quarter of the CPU and still sounds like the phone call it was.
OPUS_COMPLEXITY = 3

MEMORY_LIMIT_BYTES = 768 * 1024 * 1024
CPU_SECONDS = 120
ENCODE_TIMEOUT_S = 300
MAX_SECONDS = 8 * 3600  # a day's shift; MixMonitor files beyond it are cut


class ProcessingError(Exception):
    """The file could not be turned into a stored recording; ``permanent`` when retrying cannot help."""

    def __init__(self, message: str, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


@dataclass(frozen=True)
class TalkAnalysis:
    """Who talked how long: ``agent`` is the recorded person (left), ``customer`` the other party (right)."""

    agent_s: float
    customer_s: float
    overtalk_s: float
    longest_silence_s: float

    @property
    def customer_share(self) -> int | None:
        total = self.agent_s + self.customer_s
        return round(100 * self.customer_s / total) if total else None


@dataclass(frozen=True)
class Processed:
    duration_ms: int
    channels: int
    peaks: dict[str, list[int]] = field(repr=False)  # {"agent": [0..100], "customer": [...]}
    talk: TalkAnalysis
    content_type: str = "audio/ogg"
    extension: str = "opus"


def load(sources: list[Path]) -> np.ndarray:
    """The samples as an int16 array of shape (frames, 2): one stereo file, or two mono legs (agent, customer)."""
    if not sources or len(sources) > 2:
        raise ProcessingError("one stereo file or two mono legs", permanent=True)
    # A single headerless .raw is MixMonitor's "D" stereo file; the legs of r()/t() are mono.
    legs = [_read(path, stereo_raw=len(sources) == 1) for path in sources]
    if len(legs) == 1:
        samples = legs[0]
        if samples.shape[1] == 1:  # a mono mix: both sides in one channel, nothing to tell apart
            samples = np.repeat(samples, 2, axis=1)
        return np.array(samples[:, :2])  # a writable copy (pauses are masked in place)
    agent, customer = (leg[:, 0] for leg in legs)
    length = max(len(agent), len(customer))
    out = np.zeros((length, 2), dtype=np.int16)
    out[: len(agent), 0] = agent
    out[: len(customer), 1] = customer
    return out


def _read(path: Path, *, stereo_raw: bool) -> np.ndarray:
    try:
        if path.suffix.lower() == ".wav":
            with wave.open(str(path)) as handle:
                if handle.getsampwidth() != 2 or handle.getframerate() != RATE or handle.getnchannels() > 2:
                    raise ProcessingError(f"{path.name}: not 16-bit {RATE} Hz mono/stereo wav", permanent=True)
                channels = handle.getnchannels()
                data = handle.readframes(min(handle.getnframes(), MAX_SECONDS * RATE))
        else:
            # Asterisk's .raw/.sln: no header. A two-leg file is mono; a "D" file is stereo.
            channels = 2 if stereo_raw and path.suffix.lower() == ".raw" else 1
            with path.open("rb") as handle:
                data = handle.read(MAX_SECONDS * RATE * 2 * channels)
    except (OSError, EOFError, wave.Error) as exc:
        raise ProcessingError(f"{path.name}: {exc}") from exc
    usable = len(data) - len(data) % (2 * channels)
    return np.frombuffer(data[:usable], dtype="<i2").reshape(-1, channels)


def peaks(samples: np.ndarray, buckets: int = PEAKS) -> dict[str, list[int]]:
    """Per channel, the loudest sample of each bucket in percent of full scale (the player draws these)."""
    out = {}
    for name, column in (("agent", 0), ("customer", 1)):
        channel = np.abs(samples[:, column].astype(np.int32))
        if len(channel) == 0:
            out[name] = []
            continue
        count = min(buckets, len(channel))
        edges = np.linspace(0, len(channel), count + 1, dtype=np.int64)
        loudest = np.maximum.reduceat(channel, edges[:-1])
        out[name] = [int(v) for v in np.minimum(100, (loudest * 100 + 32767) // 32768)]
    return out


def voiced(channel: np.ndarray, vad: webrtcvad.Vad) -> np.ndarray:
    """One boolean per 30 ms frame: someone talks on this channel (with a 300 ms hangover)."""
    frames = len(channel) // FRAME
    if frames == 0:
        return np.zeros(0, dtype=bool)
    blocks = channel[: frames * FRAME].reshape(frames, FRAME)
    rms = np.sqrt(np.mean(blocks.astype(np.float32) ** 2, axis=1))
    speech = np.zeros(frames, dtype=bool)
    data = blocks.astype("<i2").tobytes()
    size = FRAME * 2
    for i in np.flatnonzero(rms >= QUIET_RMS):
        start = int(i) * size
        speech[i] = vad.is_speech(data[start:start + size], RATE)
    if not speech.any():
        return speech
    # Hangover: a frame after speech still counts while the gap is shorter than HANGOVER_FRAMES.
    index = np.where(speech, np.arange(frames), -HANGOVER_FRAMES - 1)
    last_speech = np.maximum.accumulate(index)
    return (np.arange(frames) - last_speech) < HANGOVER_FRAMES


def _longest_run(flags: np.ndarray) -> int:
    if not flags.any():
        return 0
    padded = np.concatenate(([0], flags.astype(np.int8), [0]))
    changes = np.flatnonzero(np.diff(padded))
    return int((changes[1::2] - changes[::2]).max())


def talk_analysis(samples: np.ndarray) -> TalkAnalysis:
    vad = webrtcvad.Vad(VAD_MODE)
    agent = voiced(np.ascontiguousarray(samples[:, 0]), vad)
    customer = voiced(np.ascontiguousarray(samples[:, 1]), vad)
    seconds = FRAME_MS / 1000
    nobody = ~(agent | customer)
    return TalkAnalysis(
        agent_s=round(float(agent.sum()) * seconds, 2),
        customer_s=round(float(customer.sum()) * seconds, 2),
        overtalk_s=round(float((agent & customer).sum()) * seconds, 2),
        longest_silence_s=round(_longest_run(nobody) * seconds, 2),
    )


def encode(samples: np.ndarray, target: Path) -> None:
    """The samples as Ogg Opus at ``target`` (written whole, then renamed into place)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pbx-rec-", dir=target.parent) as work:
        pcm = Path(work) / "in.raw"
        samples.astype("<i2").tofile(pcm)
        out = Path(work) / "out.opus"
        command = ["ffmpeg", "-nostdin", "-hide_banner", "-v", "error", "-threads", "1",
                   "-protocol_whitelist", "file", "-f", "s16le", "-ar", str(RATE), "-ac", "2", "-i", f"file:{pcm}",
                   "-c:a", "libopus", "-b:a", OPUS_BITRATE, "-application", "voip", "-frame_duration", "60",
                   "-compression_level", str(OPUS_COMPLEXITY),
                   "-map_metadata", "-1", "-fflags", "+bitexact", "-f", "ogg", "-y", f"file:{out}"]
        result = _run(command, largest_output=pcm.stat().st_size + 1024 * 1024)
        if result.returncode != 0 or not out.exists() or out.stat().st_size == 0:
            raise ProcessingError(f"ffmpeg failed ({result.returncode}): {result.stderr[-300:]!r}")
        out.replace(target)


def _run(command: list[str], *, largest_output: int) -> subprocess.CompletedProcess:
    limited = [shutil.which("prlimit") or "prlimit", f"--as={MEMORY_LIMIT_BYTES}", f"--cpu={CPU_SECONDS}",
               f"--fsize={largest_output}", "--core=0", "--", *command]
    try:
        # A list (no shell); every path is one we made, prefixed "file:".
        return subprocess.run(limited, capture_output=True, timeout=ENCODE_TIMEOUT_S, check=False)  # noqa: S603
    except subprocess.TimeoutExpired as exc:
        raise ProcessingError("ffmpeg took too long") from exc
    except OSError as exc:
        raise ProcessingError(f"ffmpeg cannot run here: {exc}") from exc


def process(sources: list[Path], target: Path) -> Processed:
    """Reads the MixMonitor file(s), writes the Opus file at ``target`` and returns what was measured."""
    return process_samples(load(sources), target)


def process_samples(samples: np.ndarray, target: Path) -> Processed:
    if len(samples) == 0:
        raise ProcessingError("the recording is empty", permanent=True)
    talk = talk_analysis(samples)
    wave_peaks = peaks(samples)
    encode(samples, target)
    return Processed(duration_ms=len(samples) * 1000 // RATE, channels=2, peaks=wave_peaks, talk=talk)
