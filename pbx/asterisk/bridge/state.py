"""Live state for the consoles: what is happening now, per company, behind one interface.

``LiveState`` projects domain events onto six sections per company (``calls``, ``waiting``, ``agents``,
``devices``, ``lines``, ``presence``), each a mapping of key → JSON-ready dict, and reads them back as a
``snapshot(tenant_id)``. Where the sections live is the store's business:

- ``MemoryStore``: a dict in this process (the embedded default: web and bridge in one process);
- ``RedisStore``: Redis hashes (production: the bridge writes, every web process reads), one hash per
  company and section, ``<prefix>:t<tenant>:<section>``, plus ``<prefix>:node:<node>:tenants``, the companies
  a node has written for (what a resynchronisation of that node replaces).

Both get exactly the same operations from ``LiveState``, batched per call of ``apply``.
"""

from __future__ import annotations

import asyncio
import json
import weakref
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from . import domain as d

SECTIONS = ("calls", "waiting", "agents", "devices", "lines", "presence")

# An operation: ("put", tenant, section, key, value) | ("del", tenant, section, key, None)
Op = tuple[str, int, str, str, Any]


class Store(Protocol):
    async def write(self, ops: list[Op], node: str) -> None: ...

    async def section(self, tenant_id: int, section: str) -> dict[str, dict]: ...

    async def replace(self, node: str, data: dict[int, dict[str, dict[str, dict]]]) -> set[int]: ...

    async def close(self) -> None: ...


class MemoryStore:
    def __init__(self) -> None:
        self.sections: dict[tuple[int, str], dict[str, dict]] = {}
        self.node_tenants: dict[str, set[int]] = {}

    async def write(self, ops: list[Op], node: str) -> None:
        tenants = self.node_tenants.setdefault(node, set())
        for verb, tenant_id, section, key, value in ops:
            tenants.add(tenant_id)
            if verb == "put":
                self.sections.setdefault((tenant_id, section), {})[key] = value
            else:
                self.sections.get((tenant_id, section), {}).pop(key, None)

    async def section(self, tenant_id: int, section: str) -> dict[str, dict]:
        return dict(self.sections.get((tenant_id, section), {}))

    async def replace(self, node: str, data: dict[int, dict[str, dict[str, dict]]]) -> set[int]:
        tenants = self.node_tenants.get(node, set()) | set(data)
        for tenant_id in tenants:
            for section in SECTIONS:
                self.sections[(tenant_id, section)] = dict(data.get(tenant_id, {}).get(section, {}))
        self.node_tenants[node] = set(data)
        return tenants

    async def close(self) -> None:
        return None


class RedisStore:
    """Redis hashes through redis-py's asyncio client (one round trip per batch of events)."""

    def __init__(self, url: str, *, prefix: str = "pbx:live", client=None):
        self.url = url
        self._client = client  # a given client is used as is (tests)
        self._per_loop: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
        self.prefix = prefix

    @property
    def redis(self):
        """The client of the running event loop: an asyncio Redis connection belongs to the loop that
        opened it, and sync callers (``async_to_sync`` in a worker or a shell) get a new loop each call."""
        if self._client is not None:
            return self._client
        loop = asyncio.get_running_loop()
        client = self._per_loop.get(loop)
        if client is None:
            import redis.asyncio as redis

            client = self._per_loop[loop] = redis.Redis.from_url(self.url)
        return client

    def _key(self, tenant_id: int, section: str) -> str:
        return f"{self.prefix}:t{tenant_id}:{section}"

    def _node_key(self, node: str) -> str:
        return f"{self.prefix}:node:{node}:tenants"

    async def write(self, ops: list[Op], node: str) -> None:
        pipe = self.redis.pipeline(transaction=False)
        tenants = set()
        for verb, tenant_id, section, key, value in ops:
            tenants.add(tenant_id)
            if verb == "put":
                pipe.hset(self._key(tenant_id, section), key, json.dumps(value, separators=(",", ":")))
            else:
                pipe.hdel(self._key(tenant_id, section), key)
        if tenants:
            pipe.sadd(self._node_key(node), *tenants)
        await pipe.execute()

    async def section(self, tenant_id: int, section: str) -> dict[str, dict]:
        raw = await self.redis.hgetall(self._key(tenant_id, section))
        return {k.decode(): json.loads(v) for k, v in raw.items()}

    async def replace(self, node: str, data: dict[int, dict[str, dict[str, dict]]]) -> set[int]:
        before = {int(t) for t in await self.redis.smembers(self._node_key(node))}
        pipe = self.redis.pipeline(transaction=True)
        for tenant_id in before | set(data):
            for section in SECTIONS:
                key = self._key(tenant_id, section)
                pipe.delete(key)
                rows = data.get(tenant_id, {}).get(section)
                if rows:
                    pipe.hset(key, mapping={k: json.dumps(v, separators=(",", ":")) for k, v in rows.items()})
        pipe.delete(self._node_key(node))
        if data:
            pipe.sadd(self._node_key(node), *data)
        await pipe.execute()
        return before | set(data)

    async def close(self) -> None:
        await self.redis.aclose()


# Projections: domain event → store operations ---------------------------------------------------


def _call(e: d.CallEvent, ops: list[Op]) -> None:
    if e.call:
        ops.append(("put", e.tenant_id, "calls", e.call_id, e.call))


def _call_gone(e: d.CallEvent, ops: list[Op]) -> None:
    ops.append(("del", e.tenant_id, "calls", e.call_id, None))
    ops.append(("del", e.tenant_id, "waiting", e.call_id, None))


def _waiting(e: d.QueueCallerJoined, ops: list[Op]) -> None:
    ops.append(("put", e.tenant_id, "waiting", e.call_id, {
        "call_id": e.call_id, "queue_id": e.queue_id, "queue": e.queue, "position": e.position,
        "joined_at": d.iso(e.at), "caller": e.caller.as_dict(),
    }))


def _waiting_moved(e: d.QueuePositionChanged, ops: list[Op]) -> None:
    ops.append(("put", e.tenant_id, "waiting", e.call_id, {
        "call_id": e.call_id, "queue_id": e.queue_id, "queue": e.queue, "position": e.position,
        "joined_at": d.iso(e.joined_at), "caller": e.caller.as_dict(),
    }))


def _not_waiting(e: d.QueueEvent, ops: list[Op]) -> None:
    ops.append(("del", e.tenant_id, "waiting", e.call_id, None))


def _agent_key(e: d.AgentEvent) -> str:
    return f"{e.queue}|{e.member}"


def _agent(e: d.AgentEvent, ops: list[Op]) -> None:
    ops.append(("put", e.tenant_id, "agents", _agent_key(e), {
        "queue_id": e.queue_id, "queue": e.queue, "user_id": e.user_id, "member": e.member, "paused": e.paused,
        "reason": e.reason, "status": e.status, "in_call": e.in_call, "since": d.iso(e.at),
    }))


def _agent_gone(e: d.AgentEvent, ops: list[Op]) -> None:
    ops.append(("del", e.tenant_id, "agents", _agent_key(e), None))


def _device(e: d.DeviceStateChanged, ops: list[Op]) -> None:
    ops.append(("put", e.tenant_id, "devices", e.device,
                {"device": e.device, "user_id": e.user_id, "state": e.state, "since": d.iso(e.at)}))


def _line(e: d.LineStateChanged, ops: list[Op]) -> None:
    ops.append(("put", e.tenant_id, "lines", e.extension,
                {"extension": e.extension, "user_id": e.user_id, "state": e.state, "since": d.iso(e.at)}))


def _presence(e: d.PresenceChanged, ops: list[Op]) -> None:
    ops.append(("put", e.tenant_id, "presence", e.key, {
        "key": e.key, "user_id": e.user_id, "state": e.state, "subtype": e.subtype, "note": e.note,
        "since": d.iso(e.at),
    }))


PROJECTIONS: dict[type, Callable[[Any, list[Op]], None]] = {
    d.CallCreated: _call, d.CallRinging: _call, d.CallAnswered: _call, d.CallHeld: _call, d.CallResumed: _call,
    d.CallTransferred: _call, d.CallUpdated: _call, d.RecordingStarted: _call, d.RecordingStopped: _call,
    d.RecordingPaused: _call,
    d.CallMerged: _call_gone, d.CallEnded: _call_gone,
    d.QueueCallerJoined: _waiting, d.QueueCallerLeft: _not_waiting, d.QueueCallerAbandoned: _not_waiting,
    d.QueuePositionChanged: _waiting_moved,
    d.AgentLoggedIn: _agent, d.AgentPaused: _agent, d.AgentStatusChanged: _agent, d.AgentLoggedOut: _agent_gone,
    d.DeviceStateChanged: _device, d.LineStateChanged: _line, d.PresenceChanged: _presence,
}


def project(events: Iterable[d.Event]) -> list[Op]:
    ops: list[Op] = []
    for event in events:
        projection = PROJECTIONS.get(type(event))
        if projection is not None and event.tenant_id is not None:
            projection(event, ops)
    return ops


class LiveState:
    def __init__(self, store: Store):
        self.store = store

    async def apply(self, events: Iterable[d.Event], node: str) -> None:
        ops = project(events)
        if ops:
            await self.store.write(ops, node)

    async def rebuild(self, node: str, events: Iterable[d.Event]) -> set[int]:
        """Replace everything this node wrote with what ``events`` say (after a resynchronisation);
        returns the companies whose picture changed hands."""
        data: dict[int, dict[str, dict[str, dict]]] = {}
        for verb, tenant_id, section, key, value in project(events):
            rows = data.setdefault(tenant_id, {}).setdefault(section, {})
            if verb == "put":
                rows[key] = value
            else:
                rows.pop(key, None)
        return await self.store.replace(node, data)

    async def snapshot(self, tenant_id: int) -> dict:
        """Everything a console needs when it connects, JSON-ready; events then keep it current."""
        calls = await self.store.section(tenant_id, "calls")
        waiting = await self.store.section(tenant_id, "waiting")
        agents = await self.store.section(tenant_id, "agents")
        queues: dict[str, dict] = {}
        for agent in sorted(agents.values(), key=lambda a: (a["queue"], a["member"])):
            queue = queues.setdefault(agent["queue"], {"queue_id": agent["queue_id"], "queue": agent["queue"], "agents": []})
            queue["agents"].append(agent)
        return {
            "type": "snapshot",
            "calls": sorted(calls.values(), key=lambda c: (c.get("started_at") or "", c["id"])),
            "waiting": sorted(waiting.values(), key=lambda w: (w["joined_at"] or "", w["call_id"])),
            "queues": list(queues.values()),
            "lines": sorted((await self.store.section(tenant_id, "lines")).values(), key=lambda x: x["extension"]),
            "devices": sorted((await self.store.section(tenant_id, "devices")).values(), key=lambda x: x["device"]),
            "presence": sorted((await self.store.section(tenant_id, "presence")).values(), key=lambda x: x["key"]),
        }


def store_from_settings(prefix: str = "pbx:live") -> Store:
    """Redis when REDIS_URL is set (production), memory otherwise (embedded)."""
    from django.conf import settings

    url = getattr(settings, "REDIS_URL", "")
    return RedisStore(url, prefix=prefix) if url else MemoryStore()


_process_state: LiveState | None = None


def live_state() -> LiveState:
    """This process's live state, for readers (the console's snapshot on connect) and an embedded bridge.

    With Redis every process sees what the bridge wrote; with the memory store only a bridge running in
    this same process (the embedded default) fills it.
    """
    global _process_state
    if _process_state is None:
        _process_state = LiveState(store_from_settings())
    return _process_state
