"""Live state, the same tests against the memory store and the Redis store."""

from __future__ import annotations

import os
import uuid

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from pbx.asterisk.bridge.state import LiveState, MemoryStore, RedisStore
from tests.bridge_fixtures import capture_resolver, events_of

REDIS_URL = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/14"


@pytest.fixture(params=["memory", "redis"])
async def live(request):
    if request.param == "memory":
        yield LiveState(MemoryStore())
        return
    import redis.asyncio as redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        await client.ping()
    except Exception:  # any failure means: no Redis here
        await client.aclose()
        pytest.skip(f"no Redis at {REDIS_URL}")
    # Our own key space on the test database: cleared before and after, nobody else's keys touched.
    prefix = f"test-live-{uuid.uuid4().hex[:8]}"

    async def flush():
        async for key in client.scan_iter(match=f"{prefix}:*"):
            await client.delete(key)

    await flush()
    yield LiveState(RedisStore(REDIS_URL, prefix=prefix, client=client))
    await flush()
    await client.aclose()


@pytest.fixture
def core(demo):
    return BridgeCore("default", capture_resolver(demo))


async def feed(core, live, name, *, until=None):
    out = []
    for at, event in events_of(name):
        if until is not None and at > until:
            break
        events = core.process(event, at)
        await live.apply(events, "default")
        out.extend(events)
    return out


async def test_a_waiting_caller_shows_with_queue_and_join_time(core, live, demo):
    # d_queue_call_answered_by_agent: QueueCallerJoin at +0.6094 s, the agent answers at +0.612 s.
    await feed(core, live, "d_queue_call_answered_by_agent", until=1795406470.507)
    snapshot = await live.snapshot(demo.tenant.pk)
    (waiting,) = snapshot["waiting"]
    assert waiting["queue_id"] == demo.queues["Support"].pk and waiting["caller"]["user_id"] == demo.admin.pk
    assert waiting["joined_at"].startswith("2026-11-23T04:01:10.50")
    (call,) = snapshot["calls"]
    assert call["state"] == "queued" and call["queue"]["id"] == demo.queues["Support"].pk


async def test_an_answered_call_shows_its_parties_and_nobody_waits(core, live, demo):
    await feed(core, live, "d_queue_call_answered_by_agent", until=1795406472.0)
    snapshot = await live.snapshot(demo.tenant.pk)
    assert snapshot["waiting"] == []
    (call,) = snapshot["calls"]
    assert call["state"] == "up" and snapshot["waiting"] == []
    assert call["queue"]["id"] == demo.queues["Support"].pk  # it still shows where it came in
    assert {(p["role"], p["user_id"]) for p in call["parties"]} == {
        ("caller", demo.admin.pk), ("callee", demo.operator.pk)}
    (support,) = [q for q in snapshot["queues"] if q["queue_id"] == demo.queues["Support"].pk]
    assert [(a["user_id"], a["status"]) for a in support["agents"]] == [(demo.operator.pk, "in_use")]


async def test_an_ended_call_leaves_no_trace(core, live, demo):
    await feed(core, live, "d_queue_call_answered_by_agent")
    snapshot = await live.snapshot(demo.tenant.pk)
    assert snapshot["calls"] == [] and snapshot["waiting"] == []


async def test_lines_devices_and_presence_are_in_the_snapshot(core, live, demo):
    alice, olle = demo.admin, demo.operator
    await feed(core, live, "k_device_extension_presence_state", until=1795406588.1)
    snapshot = await live.snapshot(demo.tenant.pk)
    lines = {line["extension"]: (line["user_id"], line["state"]) for line in snapshot["lines"]}
    assert lines["1001"] == (alice.pk, "idle") and lines["1002"] == (olle.pk, "idle")
    devices = {x["device"]: x["state"] for x in snapshot["devices"]}
    assert devices["PJSIP/1001"] == "not_inuse"
    (presence,) = snapshot["presence"]
    assert (presence["user_id"], presence["state"], presence["note"]) == (alice.pk, "away", "Back at 2")


async def test_one_company_s_snapshot_holds_nothing_of_another(core, live, demo, exempel):
    await feed(core, live, "d_queue_call_answered_by_agent", until=1795406472.0)
    snapshot = await live.snapshot(exempel.tenant.pk)
    assert (snapshot["calls"], snapshot["waiting"], snapshot["queues"], snapshot["lines"]) == ([], [], [], [])


async def test_a_rebuild_replaces_what_the_node_wrote_before(core, live, demo):
    await feed(core, live, "d_queue_call_answered_by_agent", until=1795406472.0)
    tenant = demo.tenant.pk
    line = d.LineStateChanged(tenant, 1.0, demo.admin.pk, "1001", "idle")
    tenants = await live.rebuild("default", [line])
    assert tenants == {tenant}
    snapshot = await live.snapshot(tenant)
    assert snapshot["calls"] == [] and snapshot["queues"] == []
    assert [x["extension"] for x in snapshot["lines"]] == ["1001"]


async def test_both_stores_give_the_same_snapshot_for_the_same_events(core, live, demo):
    events = await feed(core, live, "g3_atxfer_completed", until=1795406524.0)
    reference = LiveState(MemoryStore())
    await reference.apply(events, "default")
    assert await live.snapshot(demo.tenant.pk) == await reference.snapshot(demo.tenant.pk)


def test_sync_callers_read_the_redis_store_again_and_again():
    """A worker or a shell reads live calls through async_to_sync: a new event loop each time, and an
    asyncio Redis connection belongs to the loop that opened it."""
    from asgiref.sync import async_to_sync

    prefix = f"pbx:test:{uuid.uuid4().hex}"
    live = LiveState(RedisStore(REDIS_URL, prefix=prefix))
    for _ in range(3):
        assert async_to_sync(live.snapshot)(1)["calls"] == []
