"""Recordings for tests: synthetic two-sided calls (no binary fixtures) and rows in the two companies."""

from __future__ import annotations

import datetime
import functools
import tempfile
import wave
from pathlib import Path

import numpy as np
from django.conf import settings
from django.utils import timezone

RATE = 8000


def voice(seconds: float, f0: float = 140.0) -> np.ndarray:
    """A voiced sound with syllable rhythm: harmonics of f0, amplitude-modulated at 4 Hz (the VAD hears speech)."""
    t = np.arange(int(seconds * RATE)) / RATE
    harmonics = sum(np.sin(2 * np.pi * f0 * k * t) / k for k in range(1, 20))
    return (harmonics * (0.5 + 0.5 * np.sin(2 * np.pi * 4 * t)) * 3000).astype(np.int16)


def conversation(seconds: int = 20) -> np.ndarray:
    """Person talks 0–5 s and 11–13 s, the other party 6–12 s (1 s of overtalk), silence 13 s to the end."""
    length = max(seconds, 13)
    person, other = np.zeros(RATE * length, np.int16), np.zeros(RATE * length, np.int16)
    person[0:RATE * 5] = voice(5)
    other[RATE * 6:RATE * 12] = voice(6, 220)
    person[RATE * 11:RATE * 13] = voice(2)
    return np.ascontiguousarray(np.stack([person, other], axis=1)[: RATE * seconds])


def write_wav(path: Path, samples: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(samples.shape[1] if samples.ndim == 2 else 1)
        handle.setsampwidth(2)
        handle.setframerate(RATE)
        handle.writeframes(samples.astype("<i2").tobytes())
    return path


def audio_peaks(samples: np.ndarray) -> dict:
    from recording import audio

    return audio.peaks(samples)


def raw_legs(name: str, seconds: int = 20) -> tuple[str, str]:
    """Two mono wav legs as MixMonitor r()/t() leaves them, under RECORDINGS_DIR; returns relative paths."""
    samples = conversation(seconds)
    root = Path(settings.RECORDINGS_DIR)
    person = write_wav(root / "t1" / f"{name}-r.wav", samples[:, 0])
    other = write_wav(root / "t1" / f"{name}-t.wav", samples[:, 1])
    return str(person.relative_to(root)), str(other.relative_to(root))


@functools.cache
def opus_bytes(seconds: int = 4) -> bytes:
    from recording import audio

    with tempfile.TemporaryDirectory() as work:
        target = Path(work) / "x.opus"
        audio.process_samples(conversation(seconds), target)
        return target.read_bytes()


def make_recording(tenant, user=None, *, stored: bool = True, started_at=None, long: bool = False, **fields):
    """``long``: a 20-second file (the browser test seeks in it) instead of 4 seconds."""
    """A recording row of ``user`` (their extension and department); with ``stored`` a real Opus file."""
    from django.core.files.base import ContentFile

    from pbx.models import AsteriskNode
    from recording.models import Recording
    from recording.storage import recordings_storage, stored_name

    node = AsteriskNode.objects.filter(is_default=True).first() or AsteriskNode.default()
    started_at = started_at or timezone.now() - datetime.timedelta(minutes=5)
    values = {
        "tenant": tenant, "node": node, "linkedid": f"L{timezone.now().timestamp()}", "uniqueid": "U1",
        "key": f"k{Recording.objects.count()}-{timezone.now().timestamp()}", "started_at": started_at,
        "ended_at": started_at + datetime.timedelta(seconds=4), "user": user,
        "extension": getattr(user, "extension", ""), "department_id": getattr(user, "department_id", None),
        "other_number": "+46701234567", "dialled_number": "+4681234500", "direction": "in", "reason": "queue",
        "status": Recording.Status.STORED if stored else Recording.Status.RAW, "duration_s": 4.0,
        "peaks": {"agent": [10, 50, 90], "customer": [0, 20, 40]},
    }
    if "department" in fields:
        values.pop("department_id")
    values.update(fields)
    recording = Recording.objects.create(**values)
    if stored:
        content = opus_bytes(20 if long else 4)
        name = recordings_storage().save(stored_name(recording), ContentFile(content))
        recording.stored_path = name
        recording.stored_size = len(content)
        if long:
            recording.duration_s = 20.0
            recording.peaks = audio_peaks(conversation(20))
        recording.save(update_fields=["stored_path", "stored_size", "duration_s", "peaks"])
    return recording


def set_recording_roles(demo, alice, bob, eva, carol) -> dict:
    """The recording web's people in its tests: Alice (and Carol, Exempel AB's admin) super users, Bob and David
    their own recordings, Cecilia Kundtjänst's, Eva none (the demo gives every non-admin their own)."""
    from pbx.models import Department, User

    role = User.RecordingRole
    cecilia, david = demo.agents[1], demo.agents[2]
    for person, given in ((alice, role.SUPER), (bob, role.OWN), (cecilia, role.DEPARTMENTS), (david, role.OWN),
                          (carol, role.SUPER), (eva, role.NONE)):
        person.recording_role = given
        person.save(update_fields=["recording_role"])
    kundtjanst = Department.objects.get(tenant=demo.tenant, name="Kundtjänst")
    cecilia.recording_departments.set([kundtjanst])
    return {"alice": alice, "bob": bob, "cecilia": cecilia, "david": david, "eva": eva, "carol": carol,
            "kundtjanst": kundtjanst}
