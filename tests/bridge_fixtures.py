"""Replaying the real Asterisk 22 captures through the event bridge.

``capture(name)`` reads ``tests/fixtures/asterisk/ami/<name>.jsonl`` (or ``ari/<name>.ami.jsonl``) into the
sequence the bridge would have lived through: every received event as a header mapping (a repeated header,
e.g. ``Variable``, becomes a list of its values, in order), each with its time, plus the driver's note that
the TCP connection closed. Times are the capture's monotonic seconds moved onto the wall clock the
capture was made at (its channels' Uniqueids carry it), so wait and talk times come out as recorded.

``capture_resolver(demo)`` maps the captures' plain names onto Demo AB: the phones ``1001`` and ``1002`` are
Alice (extension 1001) and Olle (extension 1002), ``sipp`` is the outside world, the contexts are
Demo AB's and the queues ``support``/``sales`` are its Support and Sales.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from pbx.asterisk.bridge.core import BridgeCore
from pbx.asterisk.resolve import TRUNK, Resolver

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "asterisk"
# Captured on a real Asterisk 22.10.1 running this project's own config (asterisk_conf/ + the demo's
# generated files), with the demo's names: see real_capture_resolver and each capture's .map.json.
REAL = Path(__file__).resolve().parent / "fixtures" / "asterisk-real"
NOISE = frozenset({"VarSet", "Newexten", "RTCPSent", "RTCPReceived"})


@dataclass(frozen=True)
class Step:
    at: float
    event: dict | None  # None: the connection closed here
    conn: str = "ami"


def _path(name: str) -> Path:
    for path in (FIXTURES / "ami" / f"{name}.jsonl", FIXTURES / "ari" / f"{name}.ami.jsonl",
                 REAL / "ami" / f"{name}.jsonl"):
        if path.exists():
            return path
    raise FileNotFoundError(f"no AMI capture {name!r} under {FIXTURES}")


def ami_capture_names() -> list[str]:
    return sorted(p.name[: -len(".jsonl")] for p in (FIXTURES / "ami").glob("*.jsonl"))


def ari_capture_names() -> list[str]:
    return sorted(p.name[: -len(".ami.jsonl")] for p in (FIXTURES / "ari").glob("*.ami.jsonl"))


def parse_event(raw: str) -> dict:
    headers: dict = {}
    for line in raw.split("\r\n"):
        if not line:
            continue
        key, sep, value = line.partition(":")
        if not sep:
            continue
        value = value.lstrip(" ")
        if key in headers:
            previous = headers[key]
            headers[key] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            headers[key] = value
    return headers


def _epoch(records: list[dict]) -> float:
    """When the capture's clock started, on the wall clock (from the first Uniqueid: <epoch>.<n>)."""
    for rec in records:
        if rec["dir"] == "recv" and "\r\nUniqueid: " in rec["raw"]:
            uniqueid = rec["raw"].split("\r\nUniqueid: ", 1)[1].split("\r\n", 1)[0]
            seconds = uniqueid.split(".", 1)[0]
            if seconds.isdigit():
                return int(seconds) + 0.5 - rec["t"]
    return 1795406400.0


@cache
def capture(name: str) -> tuple[Step, ...]:
    records = [json.loads(line) for line in _path(name).read_text(encoding="utf-8").splitlines() if line.strip()]
    base = _epoch(records)
    steps = []
    for rec in records:
        if rec["dir"] == "recv" and rec["raw"].startswith("Event:"):
            steps.append(Step(base + rec["t"], parse_event(rec["raw"]), rec["conn"]))
        elif rec["dir"] == "note" and "TCP connection closed by peer" in rec["raw"]:
            # The driver's note: "conn=<name> TCP connection closed by peer (recv returned EOF)".
            steps.append(Step(base + rec["t"], None, rec["raw"].split()[0].removeprefix("conn=")))
    return tuple(steps)


def events_of(name: str) -> list[tuple[float, dict]]:
    return [(step.at, step.event) for step in capture(name) if step.event is not None]


def capture_resolver(demo, loader=None) -> Resolver:
    resolver = Resolver(loader)
    tenant_id = demo.tenant.pk
    people = {u.extension: u for u in [demo.admin, demo.operator, *demo.agents, *demo.users]}
    for exten in ("1001", "1002"):
        resolver.alias_endpoint(exten, tenant_id, people[exten].pk)
        resolver.alias_extension(tenant_id, exten, people[exten].pk)
    resolver.alias_endpoint("sipp", tenant_id, kind=TRUNK)
    for context in ("internal", "default"):
        resolver.alias_context(context, tenant_id)
    resolver.alias_queue("support", tenant_id, demo.queues["Support"].pk)
    resolver.alias_queue("sales", tenant_id, demo.queues["Sales"].pk)
    return resolver


def real_capture_map(name: str) -> dict:
    return json.loads((REAL / "ami" / f"{name}.map.json").read_text(encoding="utf-8"))


def real_capture_resolver(name: str) -> Resolver:
    """The names of a capture made with the demo's generated config, as the capture's map says (no
    database: the ids are the capture's own, e.g. Demo AB is company 1 and Bob is person 3)."""
    about = real_capture_map(name)
    resolver = Resolver()
    tenant_id = about["tenant"]["pk"]
    for person in about["people"].values():
        for endpoint in person["endpoints"].values():
            resolver.alias_endpoint(endpoint, tenant_id, person["user_pk"])
        resolver.alias_extension(tenant_id, person["extension"], person["user_pk"])
    if "trunk" in about:  # a capture of phones only (a feature code) has none
        resolver.alias_endpoint(about["trunk"]["endpoint"], tenant_id, kind=TRUNK)
    if "queue" in about:
        resolver.alias_queue(about["queue"]["name"], tenant_id, about["queue"]["queue_pk"])
    for queue_name, queue in about.get("queues", {}).items():
        resolver.alias_queue(queue_name, tenant_id, queue["queue_pk"])
    return resolver


def replay(core: BridgeCore, name: str, *, until: float | None = None) -> list:
    """Every domain event the capture gives, in order (the connection's close is skipped here)."""
    out = []
    for at, event in events_of(name):
        if until is not None and at > until:
            break
        out.extend(core.process(event, at))
    return out


def replay_real(name: str, node: str = "default") -> list:
    """Every domain event a real Asterisk capture gives through a fresh bridge core, named as its map says."""
    return replay(BridgeCore(node, real_capture_resolver(name)), name)


class StubAmi:
    """Answers the resynchronisation's list actions with what a test says Asterisk has (default: nothing)."""

    def __init__(self, lists: dict[str, list[dict]] | None = None):
        self.lists = lists or {}
        self.sent: list[dict] = []

    async def action(self, action):
        self.sent.append(dict(action))
        return list(self.lists.get(action["Action"], []))


class Clock:
    """The replay's "now" for a NodeBridge (resynchronisation time)."""

    def __init__(self, now: float = 0.0):
        self.now = now

    def __call__(self) -> float:
        return self.now


async def drive(node, name: str, *, clock: Clock | None = None, since: float | None = None,
                until: float | None = None) -> list:
    """Feed a capture to a NodeBridge as its AMI client would: events one by one, and the connection's
    closes (which the client reports through on_disconnect)."""
    out = []
    for step in capture(name):
        if since is not None and step.at <= since:
            continue
        if until is not None and step.at > until:
            break
        if clock is not None:
            clock.now = step.at
        if step.event is None:
            await node.on_disconnect(None)
        else:
            out.extend(await node.handle([(step.event, step.at)]))
    return out


# ------------------------------------------------------------------------------------------ live on the fake


async def until(condition, timeout: float = 8.0) -> None:
    """Wait until ``condition()`` is true (polled every 10 ms), or fail the test after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def _no_astdb(node, ami) -> None:
    """The AstDB rewrite after each connect is test_astdb_sync's business."""


@asynccontextmanager
async def bridge_on_fake(state, resolver: Resolver, *, time_scale: float, persist=None, threaded: bool = False,
                         **options) -> AsyncIterator[tuple]:
    """The whole path as ``run_bridge`` runs it: a fake Asterisk holding ``state`` on a free port, a NodeBridge
    (``options`` as its keyword arguments: webhooks=, statistics=, ...) and its AMI client connected to it,
    with the first sync done. Yields ``(fake, bridge)``; everything is stopped afterwards."""
    from pbx.asterisk.ami import AmiClient
    from pbx.asterisk.bridge.service import NodeBridge
    from pbx.asterisk.bridge.state import LiveState, MemoryStore
    from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk

    fake = await FakeAsterisk(state, time_scale=time_scale).start(ami_port=0, ari_port=None)
    options.setdefault("astdb", _no_astdb)
    bridge = NodeBridge("default", resolver=resolver, state=LiveState(MemoryStore()), persist=persist,
                        threaded=threaded, **options)
    client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=2.0,
                       on_event=bridge.on_event, on_connect=bridge.on_connect, on_disconnect=bridge.on_disconnect)
    bridge.ami = client
    bridge.start()
    try:
        await client.start()
        await client.wait_connected(5)
        await until(lambda: bridge.synced)
        yield fake, bridge
    finally:
        await client.stop()
        await bridge.stop()
        await fake.stop()
