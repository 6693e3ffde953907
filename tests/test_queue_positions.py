"""Waiting callers' positions follow the queue as app_queue numbers it (join_queue / leave_queue renumber).

Through the whole path: the fake Asterisk's queue (QueueCallerJoin/Leave/Abandon as captured) over AMI,
the NodeBridge, its live state (what a console's snapshot holds) and the pushes a console applies.
"""

from __future__ import annotations

import asyncio

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.resolve import TRUNK, Resolver
from tests.bridge_fixtures import bridge_on_fake, capture_resolver
from tests.fake_asterisk.state import AsteriskState, Route
from tests.helpers import capture_events

DDI = "+46855500001"


@pytest.fixture(autouse=True)
def pushed():
    with capture_events() as captured:
        yield captured


def queue_world(demo) -> tuple[AsteriskState, str]:
    st = AsteriskState.default()
    name = f"t{demo.tenant.pk}-q{demo.queues['Support'].pk}"
    queue = st.add_queue(name)
    st.add_member(queue, "PJSIP/1001", "1001", membership="static")
    st.endpoints["1001"].answer = "manual"
    st.routes[("default", DDI)] = Route("queue", name)
    return st, name


def run(demo, st, act):
    seen: dict = {}

    async def scenario():
        async with bridge_on_fake(st, capture_resolver(demo), time_scale=0.05, persist=lambda record: None) as (
                fake, bridge):
            await act(fake, bridge, seen)

    asyncio.run(scenario())
    return seen


async def waiting_positions(bridge, tenant_id: int) -> dict[str, int]:
    snap = await bridge.state.snapshot(tenant_id)
    return {w["caller"]["number"]: w["position"] for w in snap["waiting"]}


async def three_callers(fake, bridge, tenant_id):
    calls = []
    for number in ("+46701000001", "+46701000002", "+46701000003"):
        calls.append(fake.place_call("sipp", DDI, context="default", caller_num=number, caller_name=""))
        await asyncio.sleep(0.05)
    return calls


def test_when_number_one_is_answered_number_two_becomes_number_one(demo, pushed):
    st, _name = queue_world(demo)
    tenant = demo.tenant.pk

    async def act(fake, bridge, seen):
        calls = await three_callers(fake, bridge, tenant)
        for _ in range(300):
            seen["before"] = await waiting_positions(bridge, tenant)
            if len(seen["before"]) == 3:
                break
            await asyncio.sleep(0.01)
        agent_leg = calls[0].ringing[0]
        fake.answer(agent_leg)  # Alice takes No. 1: AgentConnect, QueueCallerLeave
        for _ in range(300):
            seen["after"] = await waiting_positions(bridge, tenant)
            if len(seen["after"]) == 2 and seen["after"].get("+46701000002") == 1:
                break
            await asyncio.sleep(0.01)

    seen = run(demo, st, act)
    assert seen["before"] == {"+46701000001": 1, "+46701000002": 2, "+46701000003": 3}
    assert seen["after"] == {"+46701000002": 1, "+46701000003": 2}
    moved = [(e["caller"]["number"], e["position"]) for groups, e in pushed if e["type"] == "queue.position"]
    assert moved == [("+46701000002", 1), ("+46701000003", 2)]
    assert all(groups == [f"tenant-{tenant}"] for groups, e in pushed if e["type"] == "queue.position")


def test_when_a_caller_ahead_hangs_up_the_ones_behind_move_up(demo, pushed):
    st, _name = queue_world(demo)
    tenant = demo.tenant.pk

    async def act(fake, bridge, seen):
        calls = await three_callers(fake, bridge, tenant)
        for _ in range(300):
            if len(await waiting_positions(bridge, tenant)) == 3:
                break
            await asyncio.sleep(0.01)
        fake.hangup(calls[1].caller)  # No. 2 gives up: QueueCallerAbandon, QueueCallerLeave
        for _ in range(300):
            seen["after"] = await waiting_positions(bridge, tenant)
            if len(seen["after"]) == 2 and seen["after"].get("+46701000003") == 2:
                break
            await asyncio.sleep(0.01)

    seen = run(demo, st, act)
    assert seen["after"] == {"+46701000001": 1, "+46701000003": 2}
    moved = [(e["caller"]["number"], e["position"]) for groups, e in pushed if e["type"] == "queue.position"]
    assert moved == [("+46701000003", 2)]


def test_a_caller_put_back_at_their_old_place_pushes_the_others_back():
    """join_queue inserts at the position asked for (Queue()'s position argument, our callback's Local channel)
    and renumbers those behind; the tracker does the same from the events alone."""
    from pbx.asterisk.bridge.core import BridgeCore

    resolver = Resolver()
    resolver.alias_endpoint("trunk", 1, kind=TRUNK)
    resolver.alias_queue("q", 1, 7)
    core = BridgeCore("n", resolver)

    def chan(uid: str) -> dict:
        return {"Channel": f"PJSIP/trunk-{uid}", "Uniqueid": uid, "Linkedid": uid, "ChannelStateDesc": "Up",
                "CallerIDNum": f"+4670{uid}", "CallerIDName": "", "Context": "default", "Exten": DDI}

    out = []
    for at, uid, pos in ((1.0, "100.1", 1), (2.0, "100.2", 2), (3.0, "100.3", 1)):
        out += core.process({"Event": "Newchannel", **chan(uid)}, at)
        out += core.process({"Event": "QueueCallerJoin", **chan(uid), "Queue": "q", "Position": str(pos),
                             "Count": "3"}, at)
    moved = [(e.call_id, e.position) for e in out if isinstance(e, d.QueuePositionChanged)]
    assert moved == [("100.1", 2), ("100.2", 3)]
    waiting = {c["id"]: c["queue"]["position"] for c in core.tracker.views()}
    assert waiting == {"100.1": 2, "100.2": 3, "100.3": 1}


def test_the_tracker_numbers_a_real_queue_as_asterisk_does():
    """Real Asterisk 22.10.1 (tests/fixtures/asterisk-real/ami/queue_positions_after_an_abandon): three callers
    wait in Support, the first gives up; Asterisk's own QueueStatus (QueueEntry) numbers the two left 1 and 2,
    and the tracker says the same from the caller events alone, before anyone asks."""
    from pbx.asterisk.bridge.core import BridgeCore
    from tests.bridge_fixtures import events_of, real_capture_resolver

    name = "queue_positions_after_an_abandon"
    core = BridgeCore("real", real_capture_resolver(name))
    moved, checked = [], 0
    for at, event in events_of(name):
        if event.get("Event") == "QueueEntry":  # Asterisk's answer to QueueStatus: compare before applying
            ours = {c["caller"]["number"]: c["queue"]["position"] for c in core.tracker.views() if c["queue"]}
            assert ours[event["CallerIDNum"]] == int(event["Position"]), (at, event["CallerIDNum"])
            checked += 1
        for e in core.process(event, at):
            if isinstance(e, d.QueuePositionChanged):
                moved.append((e.caller.number, e.position))
    assert checked == 5  # 3 entries before the first caller left, 2 after
    assert moved == [("+46709876543", 1), ("+46701111113", 2), ("+46701111113", 1)]
