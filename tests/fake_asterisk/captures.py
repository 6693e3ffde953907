"""Access to the real Asterisk 22.10.1 captures copied into tests/fixtures/asterisk/.

AMI scenarios live in ``ami/<name>.jsonl`` (ARI-side AMI captures in ``ari/<name>.ami.jsonl``); each line is
``{"t", "conn", "dir": "send"|"recv"|"note", "raw"}`` with the exact wire text.  ARI captures are
``ari/<name>.jsonl``.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path

from .wire import Headers, parse_block

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "asterisk"

# Events produced by the phones' SIP traffic or by RTP, which carry no call-control meaning.
NOISE_EVENTS = frozenset({"VarSet", "Newexten", "RTCPSent", "RTCPReceived", "ChallengeSent", "SuccessfulAuth"})


def _ami_path(name: str) -> Path:
    for candidate in (FIXTURES / "ami" / f"{name}.jsonl", FIXTURES / "ari" / f"{name}.ami.jsonl"):
        if candidate.exists():
            return candidate
    raise FileNotFoundError(f"no AMI capture named {name!r} under {FIXTURES}")


@cache
def ami_records(name: str) -> tuple[dict, ...]:
    with _ami_path(name).open(encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh if line.strip())


def parse_raw(raw: str) -> Headers:
    return parse_block(raw.rstrip("\r\n"), exact=True)


def is_event(raw: str) -> bool:
    return raw.startswith("Event:")


def event_name(headers: Headers) -> str:
    return headers[0][1] if headers and headers[0][0] == "Event" else ""


def ami_events(name: str, *, skip_noise: bool = False, with_time: bool = False) -> list:
    """The events received in a scenario, in order, as header lists (or ``(t, headers)`` pairs)."""
    out = []
    for rec in ami_records(name):
        if rec["dir"] != "recv" or not is_event(rec["raw"]):
            continue
        headers = parse_raw(rec["raw"])
        if skip_noise and event_name(headers) in NOISE_EVENTS:
            continue
        out.append((rec["t"], headers) if with_time else headers)
    return out


def ami_names() -> list[str]:
    return sorted(p.name[: -len(".jsonl")] for p in (FIXTURES / "ami").glob("*.jsonl"))


@cache
def event_schemas() -> dict[str, frozenset[tuple[str, ...]]]:
    """Every header-name sequence seen per event type across all AMI captures."""
    found: dict[str, set[tuple[str, ...]]] = {}
    paths = list((FIXTURES / "ami").glob("*.jsonl")) + list((FIXTURES / "ari").glob("*.ami.jsonl"))
    for path in paths:
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["dir"] != "recv" or not is_event(rec["raw"]):
                continue
            headers = parse_raw(rec["raw"])
            found.setdefault(event_name(headers), set()).add(tuple(k for k, _ in headers))
    return {k: frozenset(v) for k, v in found.items()}


@cache
def ari_records(name: str) -> tuple[dict, ...]:
    path = FIXTURES / "ari" / f"{name}.jsonl"
    with path.open(encoding="utf-8") as fh:
        return tuple(json.loads(line) for line in fh if line.strip())


def ari_events(name: str) -> list[dict]:
    return [rec["event"] for rec in ari_records(name) if rec["kind"] == "ws-event"]
