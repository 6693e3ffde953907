"""The bridge per node: publishing scoped to companies, restarts and reconnects, the consumer loop."""

from __future__ import annotations

import asyncio

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.service import NodeBridge, _astdb_rewrite
from pbx.asterisk.bridge.state import LiveState, MemoryStore
from tests.bridge_fixtures import Clock, StubAmi, capture_resolver, drive, events_of, until
from tests.helpers import capture_events

B = "b_call_1001_to_1002_answered_caller_hangup"
B_ANSWERED = 1795406453.0  # b's call is up from +0.607 s to +4.11 s


@pytest.fixture
def logged():
    return []


@pytest.fixture(autouse=True)
def pushed():
    """What the bridge pushed to browsers (through pbx.events, with the publisher swapped)."""
    with capture_events() as captured:
        yield captured


@pytest.fixture
def clock():
    return Clock()


@pytest.fixture
def node(demo, logged, clock):
    return NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()), ami=StubAmi(),
                      persist=logged.append, clock=clock, threaded=False)


def groups_of(pushed, call_id):
    return {tuple(groups) for groups, event in pushed if event.get("call_id") == call_id}


async def test_events_of_demo_channels_go_to_demo_only_and_nothing_to_exempel(node, demo, exempel, pushed):
    # Exempel's phones, as an alias map: the same capture shape, another company's people.
    node.resolver.alias_endpoint("x1001", exempel.tenant.pk, exempel.admin.pk)
    node.resolver.alias_endpoint("x1002", exempel.tenant.pk, exempel.operator.pk)
    theirs = [(at, {k: v.replace("PJSIP/100", "PJSIP/x100") if isinstance(v, str) else v for k, v in e.items()})
              for at, e in events_of("h1_hold_moh_via_sip_reinvite")]
    await drive(node, B)
    for at, event in theirs:
        await node.handle([(event, at)])
    demo_group, exempel_group = f"tenant-{demo.tenant.pk}", f"tenant-{exempel.tenant.pk}"
    assert groups_of(pushed, "1795406452.6") == {(demo_group,)}
    assert groups_of(pushed, "1795406547.34") == {(exempel_group,)}
    assert {"call.created", "call.answered", "call.ended"} <= {e["type"] for g, e in pushed if g == [demo_group]}
    assert {"call.held", "call.resumed"} <= {e["type"] for g, e in pushed if g == [exempel_group]}
    assert all(groups in ([demo_group], [exempel_group]) for groups, _e in pushed)
    # Whoever Exempel hears of is one of Exempel's people (its phones' device states, its own call).
    exempel_people = {u.pk for u in (exempel.admin, exempel.operator, *exempel.agents, *exempel.users)}
    mentioned = {uid for g, e in pushed if g == [exempel_group] for uid in user_ids(e)}
    assert mentioned and mentioned <= exempel_people


def user_ids(value) -> set[int]:
    if isinstance(value, dict):
        found = {value["user_id"]} if value.get("user_id") is not None else set()
        return found | {u for v in value.values() for u in user_ids(v)}
    if isinstance(value, list):
        return {u for v in value for u in user_ids(v)}
    return set()


async def test_a_shutdown_ends_every_call_and_the_resync_after_the_restart_publishes_an_empty_picture(
        node, demo, logged, clock, pushed):
    await drive(node, B, clock=clock, until=B_ANSWERED)
    assert (await node.state.snapshot(demo.tenant.pk))["calls"] != []
    events = await drive(node, "p2_core_restart_now_via_cli", clock=clock)
    (end,) = [e for e in events if isinstance(e, d.CallEnded)]
    assert end.call_id == "1795406452.6" and end.record.complete is False
    assert [r.call_id for r in logged] == ["1795406452.6"]
    snapshots = [e for groups, e in pushed if e["type"] == "snapshot"]
    assert snapshots and snapshots[-1]["calls"] == [] and snapshots[-1]["waiting"] == []
    assert node.core.tracker.calls == {}


async def test_after_a_silent_restart_the_resync_ends_the_ghost_call_once(node, demo, logged, clock, pushed):
    await drive(node, B, clock=clock, until=B_ANSWERED)
    del pushed[:]
    events = await drive(node, "p_core_restart_now", clock=clock)  # no Shutdown: the socket just closes
    (end,) = [e for e in events if isinstance(e, d.CallEnded)]
    assert end.record.complete is False and end.record.result == "answered"
    assert [e["type"] for g, e in pushed if e.get("call_id") == "1795406452.6"] == ["call.ended"]
    assert [e for g, e in pushed if e["type"] == "snapshot"][-1]["calls"] == []
    # The capture's own Hangups arriving late (or a second resync) change nothing.
    await drive(node, B, clock=clock, since=B_ANSWERED)
    await node.resynchronise()
    assert [r.call_id for r in logged] == ["1795406452.6"]


def listed(name: str, action_id: str) -> list[dict]:
    return [e for _at, e in events_of(name) if e.get("ActionID") == action_id and "EventList" not in e]


M = "m_core_actions"
M_LISTED = 1795406602.52  # m lists its live call (CoreShowChannels, m_core_actions-005) at +2.309 s


async def test_a_reconnect_keeps_the_calls_that_survived_it(demo, logged, clock):
    ami = StubAmi({"CoreShowChannels": listed(M, "m_core_actions-005")})
    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()), ami=ami,
                      persist=logged.append, clock=clock, threaded=False)
    node.ami = StubAmi()  # nothing is live when the capture starts
    await drive(node, M, clock=clock, until=M_LISTED)
    node.ami = ami
    await node.on_disconnect(None)
    events = await node.resynchronise()
    assert not [e for e in events if isinstance(e, d.CallEnded)]
    (call,) = (await node.state.snapshot(demo.tenant.pk))["calls"]
    assert call["state"] == "up" and len(call["parties"]) == 2
    await drive(node, M, clock=clock, since=M_LISTED)
    assert [(r.call_id, r.complete) for r in logged] == [("1795406602.46", True)]


async def test_a_bridge_started_mid_call_takes_the_call_in_and_logs_it_as_incomplete(demo, logged, clock, pushed):
    ami = StubAmi({"CoreShowChannels": listed(M, "m_core_actions-005")})
    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()), ami=ami,
                      persist=logged.append, clock=clock, threaded=False)
    clock.now = M_LISTED
    events = await node.resynchronise()
    assert [type(e) for e in events if isinstance(e, d.CallCreated | d.CallAnswered)] == [d.CallCreated, d.CallAnswered]
    (snapshot,) = [e for g, e in pushed if e["type"] == "snapshot"]
    (call,) = snapshot["calls"]
    assert {p["user_id"] for p in call["parties"]} == {demo.admin.pk, demo.operator.pk}
    await drive(node, M, clock=clock, since=M_LISTED)
    (record,) = logged
    assert (record.call_id, record.result, record.complete) == ("1795406602.46", "answered", False)
    assert record.caller_user_id == demo.admin.pk  # the oldest channel of the call is its caller


async def test_a_queue_call_taken_in_mid_conversation_still_counts_for_its_queue(demo, logged, clock):
    """The bridge restarted while a Support caller talked with the agent: Queue() still holds the caller
    (CoreShowChannels' Application), so the call's row names Support, though incomplete."""
    items = [dict(item) for item in listed(M, "m_core_actions-005")]
    for item in items:
        if item["Uniqueid"] == "1795406602.46":  # the caller, as a queue caller talking to its agent
            item["Application"], item["ApplicationData"] = "Queue", "support,tT,,,300"
    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()),
                      ami=StubAmi({"CoreShowChannels": items}), persist=logged.append, clock=clock, threaded=False)
    clock.now = M_LISTED
    await node.resynchronise()
    (call,) = (await node.state.snapshot(demo.tenant.pk))["calls"]
    assert (await node.state.snapshot(demo.tenant.pk))["waiting"] == []
    await drive(node, M, clock=clock, since=M_LISTED)
    (record,) = logged
    assert (record.queue_id, record.complete, record.answered_user_id) == (
        demo.queues["Support"].pk, False, demo.operator.pk)


async def test_the_astdb_rewrite_runs_after_every_connect(demo, clock):
    calls = []

    async def rewrite(node, ami):
        calls.append(ami)

    ami = StubAmi()
    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()), ami=ami,
                      persist=None, clock=clock, threaded=False, astdb=rewrite)
    await node.on_connect()
    await node.on_connect()
    assert calls == [ami, ami]
    assert [a["Action"] for a in ami.sent[:5]] == [
        "CoreShowChannels", "QueueStatus", "DeviceStateList", "ExtensionStateList", "PresenceStateList"]
    assert _astdb_rewrite() is None or callable(_astdb_rewrite())


async def test_the_consumer_handles_queued_events_in_order_and_stops_cleanly(node, demo, logged):
    node.start()
    for _at, event in events_of(B):
        node.on_event(event)
    await node.stop()
    assert node.handled == len(events_of(B))
    assert [r.call_id for r in logged] == ["1795406452.6"]
    assert (await node.state.snapshot(demo.tenant.pk))["calls"] == []


async def test_the_bridge_follows_a_call_of_the_fake_asterisk_across_a_dropped_connection_and_a_restart(
        demo, logged, pushed):
    from pbx.asterisk.ami import AmiClient
    from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk

    fake = await FakeAsterisk(time_scale=0.01).start(ami_port=0, ari_port=None)
    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()),
                      persist=logged.append, threaded=False)
    client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=2.0, ping_interval=5.0,
                       on_event=node.on_event, on_connect=node.on_connect, on_disconnect=node.on_disconnect,
                       reconnect_min=0.05, reconnect_max=0.2)
    node.ami = client
    node.start()
    tenant = demo.tenant.pk
    calls = []

    async def live_calls():
        calls[:] = (await node.state.snapshot(tenant))["calls"]

    try:
        await client.start()
        await client.wait_connected(5)
        await until(lambda: node.synced)
        fake.place_call("1001", "1002")
        for _ in range(500):
            await live_calls()
            if calls and calls[0]["state"] == "up":
                break
            await asyncio.sleep(0.01)
        assert [c["state"] for c in calls] == ["up"]
        call_id = calls[0]["id"]

        fake.ami.drop_all()  # the network fails; the call goes on in Asterisk
        await until(lambda: client.connect_count == 2 and node.synced)
        await live_calls()
        assert [c["id"] for c in calls] == [call_id] and logged == []

        await fake.ami.restart()  # Asterisk restarts: the call is gone with it
        await until(lambda: client.connect_count == 3 and node.synced and logged)
        await live_calls()
        assert calls == []
        assert [(r.call_id, r.complete, r.result) for r in logged] == [(call_id, False, "answered")]
        snapshots = [e for g, e in pushed if e["type"] == "snapshot" and g == [f"tenant-{tenant}"]]
        assert len(snapshots) == 3 and snapshots[-1]["calls"] == []
    finally:
        await client.stop()
        await node.stop()
        await fake.stop()


async def test_the_bridge_is_back_soon_after_a_restart_that_refused_its_logins(demo, logged, pushed):
    """``core restart`` with calls up: the old Asterisk answers every Login "Asterisk is shutting down" (seen
    on Asterisk 22.10.1) before the new one takes over. The bridge must resync as soon as it can, not after
    the 30 s meant for a wrong secret."""
    from pbx.asterisk.ami import AmiClient
    from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk

    fake = await FakeAsterisk(time_scale=0.01).start(ami_port=0, ari_port=None)
    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()),
                      persist=logged.append, threaded=False)
    client = AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=2.0, ping_interval=5.0,
                       on_event=node.on_event, on_connect=node.on_connect, on_disconnect=node.on_disconnect,
                       reconnect_min=0.05, reconnect_max=30.0, refusal_max=0.2)
    node.ami = client
    node.start()
    loop = asyncio.get_running_loop()
    try:
        await client.start()
        await client.wait_connected(5)
        await until(lambda: node.synced)
        await fake.ami.restart(shutdown_window=0.5, downtime=0.2)
        back = loop.time()
        await until(lambda: client.connect_count == 2 and node.synced)
        assert loop.time() - back < 1.5
        refused = [r for _sid, r in fake.ami.received if r.action.lower() == "login"][1:-1]
        assert refused, "no Login was tried while Asterisk was shutting down"
        snapshots = [e for g, e in pushed if e["type"] == "snapshot" and g == [f"tenant-{demo.tenant.pk}"]]
        assert len(snapshots) == 2  # the consoles got the fresh picture after the restart
    finally:
        await client.stop()
        await node.stop()
        await fake.stop()


async def test_in_production_the_pipeline_and_its_effects_run_in_a_worker_thread(demo, logged, pushed):
    import threading

    threads = set()
    main = threading.get_ident()

    def persist(record):
        threads.add(threading.get_ident())
        logged.append(record)

    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(MemoryStore()), ami=StubAmi(),
                      persist=persist, threaded=True)
    for at, event in events_of(B):
        await node.handle([(event, at)])
    assert [r.call_id for r in logged] == ["1795406452.6"]
    assert threads and main not in threads  # the ORM never runs on the event loop's thread
    assert {tuple(g) for g, e in pushed if e.get("call_id")} == {(f"tenant-{demo.tenant.pk}",)}


class StubClient:
    def __init__(self, node_bridge):
        self.bridge = node_bridge
        self.stopped = False

    async def start(self):
        await self.bridge.on_connect()

    async def stop(self):
        self.stopped = True
        await self.bridge.on_disconnect(None)

    async def action(self, action):
        return []


async def test_the_bridge_starts_one_node_bridge_per_node_and_stops_them(demo):
    from types import SimpleNamespace

    from pbx.asterisk.bridge.service import Bridge

    nodes = [SimpleNamespace(name=n, ami_host="127.0.0.1", ami_port=5038) for n in ("a", "b")]
    bridge = Bridge(nodes, state=LiveState(MemoryStore()), resolver=lambda: capture_resolver(demo),
                    client_factory=lambda node, nb: StubClient(nb), threaded=False, persist=None)
    await bridge.start()
    assert [nb.synced for _n, nb in bridge.nodes] == [True, True]
    assert [nb.node_row for _n, nb in bridge.nodes] == nodes
    await bridge.stop()
    assert all(nb.ami.stopped and not nb.synced for _n, nb in bridge.nodes)


class FlakyStore(MemoryStore):
    """A store that fails while ``down`` (Redis restarting)."""

    down = False

    async def write(self, ops, node):
        if self.down:
            raise ConnectionError("store away")
        await super().write(ops, node)

    async def replace(self, node, data):
        if self.down:
            raise ConnectionError("store away")
        return await super().replace(node, data)


async def test_a_failing_live_store_loses_no_call_log_row_and_is_rebuilt_when_back(demo, logged, pushed, clock):
    store = FlakyStore()
    node = NodeBridge("default", resolver=capture_resolver(demo), state=LiveState(store), ami=StubAmi(),
                      persist=logged.append, clock=clock, threaded=False)
    node.rebuild_every = 0.0  # try again at every batch (production: every 5 s)
    await drive(node, B, clock=clock, until=B_ANSWERED)
    store.down = True
    await drive(node, B, clock=clock, since=B_ANSWERED)  # the call ends while the store is away
    assert [r.call_id for r in logged] == ["1795406452.6"]
    assert [e["type"] for g, e in pushed if e.get("call_id") == "1795406452.6"][-1] == "call.ended"
    assert node.stale and (await node.state.snapshot(demo.tenant.pk))["calls"] != []  # stale: still shows it
    store.down = False
    await node.handle([({"Event": "DeviceStateChange", "Device": "PJSIP/1001", "State": "NOT_INUSE"}, clock.now)])
    assert not node.stale and (await node.state.snapshot(demo.tenant.pk))["calls"] == []
