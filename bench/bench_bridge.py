"""How many AMI events per second one event bridge process ingests.

The real Asterisk 22 captures (tests/fixtures/asterisk/ami/*.jsonl: calls, queues, transfers, hold,
recording, listen-in, device and presence states, with all their VarSet/Newexten/RTCP noise) are replayed
in a loop, in process, through what the bridge does to each event: the AMI client's framing of the wire
text into a message, the subscription table and its parse, the call tracker, and the live state
(memory store; the Redis store gets the same operations, one pipeline per batch). Persisting and
publishing happen once per finished call and per event respectively and are not in this figure.

Figures: ``ami_events_per_s`` (wire text → live state) and ``ami_dispatch_events_per_s`` (the message
already framed: subscription table + tracker + state).
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CAPTURES = ROOT / "tests" / "fixtures" / "asterisk" / "ami"
ROUNDS = 40
BATCH = 500


def load() -> list[tuple[str, float]]:
    """Every received event of every capture, in order, with a wall-clock time (capture order kept)."""
    out: list[tuple[str, float]] = []
    offset = 0.0
    for path in sorted(CAPTURES.glob("*.jsonl")):
        last = 0.0
        for line in path.read_text(encoding="utf-8").splitlines():
            rec = json.loads(line)
            if rec["dir"] == "recv" and rec["raw"].startswith("Event:"):
                out.append((rec["raw"], 1795406400.0 + offset + rec["t"]))
                last = rec["t"]
        offset += last + 1.0
    return out


def resolver():
    from pbx.asterisk.resolve import TRUNK, Resolver

    r = Resolver()
    for exten, user_id in (("1001", 1), ("1002", 2)):
        r.alias_endpoint(exten, 1, user_id)
        r.alias_extension(1, exten, user_id)
    r.alias_endpoint("sipp", 1, kind=TRUNK)
    r.alias_context("internal", 1)
    r.alias_context("default", 1)
    r.alias_queue("support", 1, 1)
    r.alias_queue("sales", 1, 2)
    return r


async def ingest(wire: list[tuple[str, float]], framed: bool) -> tuple[int, float]:
    from pbx.asterisk.ami import AmiMessage
    from pbx.asterisk.ami import _parse as frame
    from pbx.asterisk.bridge.core import BridgeCore
    from pbx.asterisk.bridge.state import LiveState, MemoryStore

    core = BridgeCore("bench", resolver())
    state = LiveState(MemoryStore())
    messages = [(AmiMessage(frame(raw.replace("\r\n", "\n").strip("\n"))), at) for raw, at in wire] if framed else None
    process = core.process
    count = 0
    started = time.perf_counter()
    for round_ in range(ROUNDS):
        shift = round_ * 10_000.0
        events = []
        pending = 0
        if framed:
            for message, at in messages:
                events.extend(process(message, at + shift))
                pending += 1
                if pending == BATCH:
                    await state.apply(events, "bench")
                    events, pending = [], 0
        else:
            for raw, at in wire:
                message = AmiMessage(frame(raw.replace("\r\n", "\n").strip("\n")))
                events.extend(process(message, at + shift))
                pending += 1
                if pending == BATCH:
                    await state.apply(events, "bench")
                    events, pending = [], 0
        await state.apply(events, "bench")
        count += len(wire)
    elapsed = time.perf_counter() - started
    assert core.tracker.calls == {}, "a capture left a call behind"
    return count, elapsed


def run() -> dict[str, float]:
    wire = load()
    count, elapsed = asyncio.run(ingest(wire, framed=False))
    framed_count, framed_elapsed = asyncio.run(ingest(wire, framed=True))
    return {
        "ami_events_per_s": round(count / elapsed),
        "ami_dispatch_events_per_s": round(framed_count / framed_elapsed),
    }


if __name__ == "__main__":
    print(run())
