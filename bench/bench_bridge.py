"""How many AMI events per second one event bridge process ingests.

The real Asterisk 22 captures (tests/fixtures/asterisk/ami/*.jsonl: calls, queues, transfers, hold,
recording, listen-in, device and presence states, with all their VarSet/Newexten/RTCP noise) are blasted
in a loop by the fake Asterisk, running in a process of its own, over TCP to one bridge: the real
``AmiClient`` (panoramisk underneath) logged in with ``Events: on``, the ``NodeBridge`` with its batches
handed to a worker thread as in production, the subscription table and its parse, the call tracker and the
live state (memory store; the Redis store gets the same operations, one pipeline per batch). Persisting
and publishing happen once per finished call and per event batch and are not in this figure.

Figures:

- ``ami_events_per_s``: wire bytes from the fake → live state, the whole path above, timed from the
  fake's first byte until the bridge has handled the last event;
- ``ami_dispatch_events_per_s``: the same events already framed, in process (subscription table +
  tracker + state): what the bridge's own work costs without the socket and the AMI client.
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


def blasted() -> list[tuple[str, float]]:
    """What the fake sends over the wire: every event but the restart capture's Shutdown (after which a
    real Asterisk closes the connection, and so does the AMI client)."""
    return [(raw, at) for raw, at in load() if not raw.startswith("Event: Shutdown\r\n")]


def _blaster(port_out, go, done, rounds: int) -> None:
    """The fake Asterisk in a process of its own: waits for one logged-in bridge, then sends every captured
    event ``rounds`` times as fast as the socket takes them (the bytes are encoded before the clock runs)."""
    import os

    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pbx.settings")
    from tests.fake_asterisk import FakeAsterisk

    async def main() -> None:
        fake = FakeAsterisk(time_scale=1.0)
        await fake.start(ami_port=0, ari_port=None)
        port_out.send(fake.ami.port)
        wire = b"".join(raw.encode() for raw, _at in blasted())
        while not go.poll(0.01):
            await asyncio.sleep(0.01)
        go.recv()
        session = [s for s in fake.ami.sessions if s.authenticated and not s.closed][-1]
        for _ in range(rounds):
            session.writer.write(wire)
            await session.writer.drain()
        done.recv()  # the bridge has it all
        await fake.stop()

    asyncio.run(main())


async def ingest_wire(rounds: int) -> tuple[int, float]:
    import multiprocessing

    from pbx.asterisk.ami import AmiClient
    from pbx.asterisk.bridge.service import NodeBridge
    from pbx.asterisk.bridge.state import LiveState, MemoryStore
    from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME

    context = multiprocessing.get_context("spawn")
    port_in, port_out = context.Pipe(duplex=False)
    go_in, go_out = context.Pipe(duplex=False)
    done_in, done_out = context.Pipe(duplex=False)
    child = context.Process(target=_blaster, args=(port_out, go_in, done_in, rounds), daemon=True)
    child.start()
    port = await asyncio.get_running_loop().run_in_executor(None, port_in.recv)
    bridge = NodeBridge("bench", resolver=resolver(), state=LiveState(MemoryStore()), persist=None,
                        send=lambda *args, **kwargs: None, threaded=True, astdb=lambda node, ami: None)
    client = AmiClient("127.0.0.1", port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=15.0, ping_interval=60.0,
                       on_event=bridge.on_event, on_connect=bridge.on_connect,
                       on_disconnect=bridge.on_disconnect, name="bench")
    bridge.ami = client
    bridge.start()
    await client.start()
    await client.wait_connected(10)
    while not bridge.synced:
        await asyncio.sleep(0.01)
    count = rounds * len(blasted())
    expected = bridge.handled + count
    started = time.perf_counter()
    go_out.send(True)
    deadline = time.perf_counter() + 120
    while bridge.handled < expected:
        if time.perf_counter() > deadline or not child.is_alive():
            raise RuntimeError(f"the bridge handled {bridge.handled} of {expected} events")
        await asyncio.sleep(0.001)
    elapsed = time.perf_counter() - started
    done_out.send(True)
    await client.stop()
    await bridge.stop()
    child.join(10)
    return count, elapsed


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
    from bench import setup_django

    setup_django()
    wire = load()
    count, elapsed = asyncio.run(ingest_wire(ROUNDS))
    framed_count, framed_elapsed = asyncio.run(ingest(wire, framed=True))
    return {
        "ami_events_per_s": round(count / elapsed),
        "ami_dispatch_events_per_s": round(framed_count / framed_elapsed),
    }


if __name__ == "__main__":
    print(run())
