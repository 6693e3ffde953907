"""Call control, end to end: an action → the control message → the event bridge → AMI → the fake Asterisk →
events → the bridge's live state, which the next action reads.

The fake carries Demo AB's and Exempel AB's phones, queues and routes (tests/fake_asterisk/demo_traffic.py,
no simulated traffic: every call here is placed by the test). The bridge runs in the test's event loop
with the in-memory channel layer; the actions run in asgiref's sync thread, as from the console's
``database_sync_to_async``, on this test's database connection (so what they write is rolled back).
"""

from __future__ import annotations

import asyncio
import datetime
import re

import pytest
from asgiref.sync import sync_to_async
from django.core.cache import cache

from pbx.actions import calls as call_actions
from pbx.actions.errors import ActionRefused, CallGone
from pbx.asterisk.ami import AmiClient
from pbx.asterisk.ari import AriClient
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text
from pbx.asterisk.errors import AsteriskError
from pbx.asterisk.resolve import Resolver
from pbx.models import AsteriskNode, AuditLog, Device, Tenant
from recording.models import LicenceRefusal, Recording
from tests.bridge_fixtures import until
from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk
from tests.fake_asterisk.demo_traffic import TRUNK, install, load_worlds
from tests.helpers import capture_events

# ----------------------------------------------------------------------------------------------- the world


@pytest.fixture(scope="module")
def default_node(django_db_setup, django_db_blocker):
    """The demo companies have no node of their own: the default node serves them (committed, so the
    actions' thread sees it; removed after this module if this module made it)."""
    with django_db_blocker.unblock():
        existing = AsteriskNode.objects.filter(is_default=True).first()
        node = existing or AsteriskNode.default()
    yield node
    if existing is None:
        with django_db_blocker.unblock():
            AsteriskNode.objects.filter(pk=node.pk).delete()


@pytest.fixture
def worlds(demo, exempel):
    return load_worlds("demo")


def world_resolver(worlds) -> Resolver:
    """Names → people without the database (the bridge runs in the event loop here, not in a thread)."""
    resolver = Resolver()
    for world in worlds:
        for person in world.people.values():
            for endpoint in person.endpoints:
                resolver.alias_endpoint(endpoint, world.tenant_id, person.user_id)
            if person.extension:
                resolver.alias_extension(world.tenant_id, person.extension, person.user_id)
    return resolver


async def _no_astdb(node, ami):
    return None


@pytest.fixture
def pushed():
    with capture_events() as captured:
        yield captured


@pytest.fixture
def test_connection(db):
    """This test's connection, inside its transaction (taken here, in sync code: inside the event loop
    Django hands out a connection of the running context instead)."""
    from django.db import connections

    connection = connections["default"]
    connection.inc_thread_sharing()
    yield connection
    connection.dec_thread_sharing()


@pytest.fixture
async def pbx(worlds, default_node, pushed, test_connection):
    """Fake Asterisk + running Bridge (with its control server) + the actions' thread on this transaction."""
    from channels.layers import channel_layers
    from django.db import connections

    from pbx.asterisk.bridge import state as live
    from pbx.asterisk.bridge.service import Bridge

    channel_layers.backends.clear()  # a fresh in-memory layer, bound to this test's loop
    live._process_state = None  # a fresh live state: the one the actions read
    cache.clear()  # no licence reservation of another test
    connection = test_connection

    def share():
        connections["default"] = connection

    await sync_to_async(share)()
    fake = FakeAsterisk(time_scale=1.0)
    install(fake, *worlds)
    await fake.start(ami_port=0, ari_port=0)
    logged = []

    def client(node, node_bridge):
        return AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=1.0,
                         ping_interval=60.0, on_event=node_bridge.on_event, on_connect=node_bridge.on_connect,
                         on_disconnect=node_bridge.on_disconnect, reconnect_min=0.05, reconnect_max=0.2)

    def ari_client(node, node_bridge):
        return AriClient(f"http://127.0.0.1:{fake.ari.port}/ari", DEFAULT_USERNAME, DEFAULT_SECRET, node.ari_app,
                         timeout=1.0, on_event=node_bridge.on_ari_event, on_connect=node_bridge.on_ari_connect,
                         reconnect_min=0.05, reconnect_max=0.2)

    bridge = Bridge([default_node], state=live.live_state(), resolver=lambda: world_resolver(worlds),
                    client_factory=client, ari_factory=ari_client, threaded=False, persist=logged.append,
                    astdb=_no_astdb, followups=followups_on(connection),
                    dialplan_options={"thread_sensitive": True, "run": run_committing})
    await bridge.start()
    (_node, node_bridge), = bridge.nodes
    await until(lambda: node_bridge.synced and node_bridge.ari.connected)
    world = PBX(fake, bridge, worlds[0], logged)
    try:
        yield world
    finally:
        await bridge.stop()
        await fake.stop()

        def unshare():
            del connections["default"]

        await sync_to_async(unshare)()
        live._process_state = None


def followups_on(connection):
    """The bridge's follow-ups (a recording's pauses and stop), which its worker thread runs in production: here
    in asgiref's sync thread, where the actions run, on the test's shared connection (one thread at a time)."""
    from pbx.asterisk.bridge.followups import run_followups

    def run(events) -> None:
        task = asyncio.get_running_loop().create_task(sync_to_async(run_followups)(list(events)))
        FOLLOWUP_TASKS.add(task)
        task.add_done_callback(FOLLOWUP_TASKS.discard)

    return run


FOLLOWUP_TASKS: set = set()


def run_committing(handler, event):
    """A dialplan event's handler (in asgiref's sync thread, on this test's transaction), then its on-commit work,
    as a real commit would run it."""
    from django.test import TestCase

    from pbx.asterisk.bridge import dialplan_events

    with TestCase.captureOnCommitCallbacks(execute=True):
        return dialplan_events.run_handler(handler, event)


class PBX:
    def __init__(self, fake, bridge, world, logged):
        self.fake, self.bridge, self.world, self.logged = fake, bridge, world, logged
        self.t = world.tenant_id

    # -- reading
    async def snapshot(self, tenant_id=None) -> dict:
        from pbx.asterisk.bridge.state import live_state

        return await live_state().snapshot(tenant_id or self.t)

    async def call(self, call_id) -> dict | None:
        return next((c for c in (await self.snapshot())["calls"] if c["id"] == call_id), None)

    async def wait_call(self, call_id, check, timeout=5.0) -> dict:
        found = {}

        async def ok():
            found["call"] = await self.call(call_id)
            return found["call"] is not None and check(found["call"])

        await until_async(ok, timeout)
        return found["call"]

    def sent(self, name=None):
        return [r for r in self.fake.ami.actions(name) if r.action not in ("Ping", "Login")]

    def endpoints(self, user) -> list[str]:
        return self.world.people[user.pk].endpoints

    def ringing(self, user):
        return [c for c in self.fake.state.channels.values()
                if c.state == 5 and c.endpoint and c.endpoint.split("/", 1)[1] in self.endpoints(user)]

    async def answer(self, user):
        """The person picks up the phone that rings."""
        await until(lambda: self.ringing(user))
        self.fake.answer(self.ringing(user)[0])

    def leg(self, call, user) -> dict:
        return next(p for p in call["parties"] if p.get("user_id") == user.pk)

    # -- making calls
    async def queue_caller(self, number: str, queue: str = "Support") -> dict:
        info = next(q for q in self.world.queues if q.label == queue)
        placed = self.fake.place_call(TRUNK, info.number, context=f"t{self.t}-queue-{info.queue_id}",
                                      caller_num=number)
        call_id = placed.caller.linkedid
        await until_async(lambda: self._waiting(call_id))
        return await self.call(call_id)

    async def _waiting(self, call_id) -> bool:
        return any(w["call_id"] == call_id for w in (await self.snapshot())["waiting"])

    async def talking_with(self, user, number: str = "+46701112233") -> dict:
        """An outside caller rings the person's direct number and the person answers."""
        person = self.world.people[user.pk]
        placed = self.fake.place_call(TRUNK, person.direct_number, context=f"t{self.t}-inbound", caller_num=number)
        await self.answer(user)
        return await self.wait_call(placed.caller.linkedid, lambda c: c["state"] == "up" and any(
            p.get("user_id") == user.pk and p["state"] == "up" for p in c["parties"]))


async def until_async(condition, timeout: float = 5.0) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while not await condition():
        if loop.time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.01)


async def act(func, *args, **kwargs):
    """Run a sync action the way the console does (database_sync_to_async: asgiref's sync thread)."""
    return await sync_to_async(func)(*args, **kwargs)


async def audit(**filters) -> list[AuditLog]:
    return await sync_to_async(lambda: list(AuditLog.objects.filter(object_type="call", **filters)
                                            .order_by("id")))()


def no_members(fake):
    """Nobody answers the queues: callers wait (the fake retries every 5 s)."""
    for queue in fake.state.queues.values():
        queue.members.clear()


# ----------------------------------------------------------------------------------------------- click-to-call


async def test_click_to_call_rings_the_operators_phone_first_then_the_colleague(pbx, olle, bob):
    result = await act(call_actions.do_click_to_call, olle, bob.extension)
    (originate,) = pbx.sent("Originate")
    assert originate.get("Channel") == f"PJSIP/{pbx.endpoints(olle)[0]}"
    assert (originate.get("Context"), originate.get("Exten"), originate.get("Priority")) == (
        f"t{pbx.t}-internal", bob.extension, "1")
    assert originate.get("Async") == "true" and originate.get("ChannelId") == result["call_id"]
    assert "Olle" in originate.get("CallerID")
    await pbx.answer(olle)  # Olle's phone rang first; then the dialplan rings Bob
    await pbx.answer(bob)
    call = await pbx.wait_call(result["call_id"], lambda c: c["state"] == "up" and len(c["parties"]) == 2)
    assert {p["user_id"] for p in call["parties"]} == {olle.pk, bob.pk}
    (row,) = await audit(action="call_click_to_call")
    assert row.actor_id == olle.pk and row.tenant_id == pbx.t and row.after["number"] == bob.extension


async def test_click_to_call_makes_a_national_number_international_and_refuses_nonsense(pbx, olle):
    await act(call_actions.do_click_to_call, olle, "070-123 45 67")
    assert pbx.sent("Originate")[-1].get("Exten") == "+46701234567"
    for nonsense in ("9999", "12ab", "+46 70 1,2", olle.extension):
        with pytest.raises(ActionRefused):
            await act(call_actions.do_click_to_call, olle, nonsense)
    assert len(pbx.sent("Originate")) == 1


# ----------------------------------------------------------------------------------------------- queues


async def test_answering_a_chosen_waiting_call_takes_that_caller_not_the_first(pbx, olle):
    no_members(pbx.fake)
    first = await pbx.queue_caller("+46701000001")
    second = await pbx.queue_caller("+46701000002")
    await act(call_actions.do_answer_waiting_call, olle, second["id"])
    (redirect,) = pbx.sent("Redirect")
    assert redirect.get("Channel") == second["parties"][0]["channel"]
    # Olle is no queue agent, but the caller rings all his phones directly, whatever his forwarding says.
    assert (redirect.get("Context"), redirect.get("Exten")) == (f"t{pbx.t}-agents", str(olle.pk))
    files = await sync_to_async(render_from_db)()
    agents = parse_dialplan_text(files["extensions.conf"]).contexts[f"t{pbx.t}-agents"]
    route = agents.extensions[str(olle.pk)].priorities
    assert (route[1].app, route[1].data.split("(")[0], route[3].app) == ("Gosub", "pbx-reachable,s,1", "Dial")
    await pbx.answer(olle)
    call = await pbx.wait_call(second["id"], lambda c: c["state"] == "up")
    assert {p["user_id"] for p in call["parties"]} == {None, olle.pk}
    waiting = (await pbx.snapshot())["waiting"]
    assert [w["call_id"] for w in waiting] == [first["id"]]  # the first caller still waits, first in line
    (row,) = await audit(action="call_answer_waiting")
    assert row.object_id == second["id"] and row.actor_id == olle.pk


async def test_an_agent_takes_a_waiting_caller_to_all_of_their_phones_and_a_plain_user_cannot(pbx, bob, eva):
    no_members(pbx.fake)
    waiting = await pbx.queue_caller("+46701000003")
    with pytest.raises(ActionRefused):
        await act(call_actions.do_answer_waiting_call, eva, waiting["id"])
    await act(call_actions.do_answer_waiting_call, bob, waiting["id"])
    (redirect,) = pbx.sent("Redirect")
    assert (redirect.get("Context"), redirect.get("Exten")) == (f"t{pbx.t}-agents", str(bob.pk))
    await until(lambda: len(pbx.ringing(bob)) == len(pbx.endpoints(bob)) == 2)  # desk phone and browser


# ----------------------------------------------------------------------------------------------- transfers


async def test_a_blind_transfer_sends_the_caller_on_and_frees_the_operator(pbx, olle, bob):
    call = await pbx.talking_with(olle)
    caller_channel = next(p["channel"] for p in call["parties"] if p["role"] == "caller")
    await act(call_actions.do_transfer_call, olle, call["id"], bob.extension)
    (redirect,) = pbx.sent("Redirect")
    assert (redirect.get("Channel"), redirect.get("Context"), redirect.get("Exten")) == (
        caller_channel, f"t{pbx.t}-forward", bob.extension)
    await pbx.answer(bob)
    after = await pbx.wait_call(call["id"], lambda c: c["state"] == "up" and any(
        p.get("user_id") == bob.pk for p in c["parties"]))
    assert olle.pk not in {p.get("user_id") for p in after["parties"]} and after["transfers"] == 1
    (row,) = await audit(action="call_transfer")
    assert row.after == {"call_id": call["id"], "target": bob.extension, "kind": "extension", "announced": False}


async def test_a_transfer_to_an_outside_number_goes_out_in_international_form(pbx, olle):
    call = await pbx.talking_with(olle)
    await act(call_actions.do_transfer_call, olle, call["id"], "08-123 456 78")
    assert pbx.sent("Redirect")[-1].get("Exten") == "+46812345678"


async def announced(pbx, olle, bob) -> dict:
    call = await pbx.talking_with(olle)
    await act(call_actions.do_transfer_call, olle, call["id"], bob.extension, announced=True)
    (atxfer,) = pbx.sent("Atxfer")
    assert (atxfer.get("Channel"), atxfer.get("Exten"), atxfer.get("Context")) == (
        pbx.leg(call, olle)["channel"], bob.extension, f"t{pbx.t}-internal")
    await pbx.answer(bob)  # Olle now talks with Bob while the caller waits
    return await pbx.wait_call(call["id"], lambda c: c["state"] == "transferring" and pbx.leg(c, olle)["holding"])


async def test_an_announced_transfer_completes_caller_and_colleague_together(pbx, olle, bob):
    call = await announced(pbx, olle, bob)
    olle_channel = pbx.leg(call, olle)["channel"]
    await act(call_actions.do_complete_transfer, olle, call["id"])
    assert pbx.sent("Hangup")[-1].get("Channel") == olle_channel  # the transferer leaving completes it
    after = await pbx.wait_call(call["id"], lambda c: c["state"] == "up" and olle.pk not in {
        p.get("user_id") for p in c["parties"]})
    assert {p.get("user_id") for p in after["parties"]} == {None, bob.pk}
    assert [r.action for r in await audit()] == ["call_transfer_announced", "call_transfer_completed"]


async def test_cancelling_an_announced_transfer_takes_the_caller_back(pbx, olle, bob):
    call = await announced(pbx, olle, bob)
    await act(call_actions.do_cancel_transfer, olle, call["id"])
    (cancel,) = pbx.sent("CancelAtxfer")
    assert cancel.get("Channel") == pbx.leg(call, olle)["channel"]
    after = await pbx.wait_call(call["id"], lambda c: c["state"] == "up" and not pbx.leg(c, olle)["holding"]
                                and bob.pk not in {p.get("user_id") for p in c["parties"]})
    assert {p.get("user_id") for p in after["parties"]} == {None, olle.pk}
    with pytest.raises(ActionRefused):  # nothing left to complete
        await act(call_actions.do_complete_transfer, olle, call["id"])


# ----------------------------------------------------------------------------------------------- hang up, hold


async def test_hanging_up_ends_the_call_for_everybody(pbx, olle, bob):
    call = await pbx.talking_with(bob)
    await act(call_actions.do_hangup_call, olle, call["id"])  # the operator, from the console
    assert {r.get("Channel") for r in pbx.sent("Hangup")} == {p["channel"] for p in call["parties"]}
    await until_async(lambda: _gone(pbx, call["id"]))
    assert [r.call_id for r in pbx.logged] == [call["id"]]
    (row,) = await audit(action="call_hangup")
    assert row.actor_id == olle.pk


async def _gone(pbx, call_id) -> bool:
    return await pbx.call(call_id) is None


async def test_hold_silences_the_operators_line_and_plays_music_to_the_caller(pbx, olle, pushed, test_connection):
    call = await pbx.talking_with(olle)
    channel = pbx.leg(call, olle)["channel"]
    uniqueid = pbx.fake.state.channel_by_name(channel).uniqueid
    caller = next(p for p in call["parties"] if p["role"] == "caller")
    before = len(test_connection.run_on_commit)
    result = await act(call_actions.do_hold_call, olle, call["id"])
    for _savepoints, publish, _robust in test_connection.run_on_commit[before:]:  # "commit"
        publish()
    assert result["held"] is True and result["music"] is True
    # Olle's line is silenced both ways (VOLUME, not MuteAudio: muted frames would carry no music).
    assert {(r.get("Channel"), r.get("Variable"), r.get("Value")) for r in pbx.sent("Setvar")} == {
        (channel, "VOLUME(RX)", "-100000"), (channel, "VOLUME(TX)", "-100000")}
    # The caller hears music: a snoop channel whispers into what the caller's channel hears.
    music = pbx.fake.state.channels[f"hold-0-{uniqueid}"]
    assert music.name.startswith(f"Snoop/{caller['uid']}-") and music.snooped == caller["uid"] and music.moh
    assert ([f"tenant-{pbx.t}"], {"type": "call.hold", "call_id": call["id"], "held": True, "user_id": olle.pk}) \
        in pushed
    # The live call says so once Asterisk reported the music (and shows no listen-in for the snoop).
    held = await pbx.wait_call(call["id"], lambda c: c["held"] and pbx.leg(c, olle)["holding"])
    assert held["state"] == "held"
    assert not [e for _groups, e in pushed if e["type"].startswith("listen_in.")]  # the snoop listens to nobody

    await act(call_actions.do_hold_call, olle, call["id"], hold=False)
    olle_channel = pbx.fake.state.channels[uniqueid]
    assert (olle_channel.variables["VOLUME(RX)"], olle_channel.variables["VOLUME(TX)"]) == ("0", "0")
    assert f"hold-0-{uniqueid}" not in pbx.fake.state.channels
    await pbx.wait_call(call["id"], lambda c: not c["held"] and c["state"] == "up")
    assert [r.action for r in await audit()] == ["call_hold", "call_resume"]


async def test_the_music_stops_when_the_holder_hangs_up(pbx, olle, bob):
    """A queue-like case where the held party stays: Bob's hangup alone ends the music channel at once."""
    call = await pbx.talking_with(olle)
    await act(call_actions.do_hold_call, olle, call["id"])
    uid = pbx.leg(call, olle)["uid"]
    await until(lambda: uid in pbx.bridge.nodes[0][1].hold_music)
    pbx.fake.hangup(pbx.leg(call, olle)["channel"])
    await until(lambda: not any(c.startswith("hold-") for c in pbx.fake.state.channels))
    await until_async(lambda: _gone(pbx, call["id"]))
    (record,) = pbx.logged
    assert record.call_id == call["id"]


async def test_a_call_held_from_the_console_is_taken_back_before_it_is_transferred(pbx, olle, bob):
    call = await pbx.talking_with(olle)
    await act(call_actions.do_hold_call, olle, call["id"])
    uid = pbx.leg(call, olle)["uid"]
    held = await pbx.wait_call(call["id"], lambda c: c["state"] == "held" and pbx.leg(c, olle)["console_hold"])
    with pytest.raises(ActionRefused):  # a console hold is no announced transfer to complete
        await act(call_actions.do_complete_transfer, olle, held["id"])
    await act(call_actions.do_transfer_call, olle, call["id"], bob.extension, announced=True)
    # Olle hears again (to announce) and the caller's music stops, then the transfer starts.
    names = [r.action for r in pbx.sent() if r.action in ("Setvar", "Atxfer")]
    assert names == ["Setvar", "Setvar", "Setvar", "Setvar", "Atxfer"]
    assert [r.get("Value") for r in pbx.sent("Setvar")][-2:] == ["0", "0"]
    assert f"hold-0-{uid}" not in pbx.fake.state.channels
    await pbx.answer(bob)
    await pbx.wait_call(call["id"], lambda c: c["state"] == "transferring" and not pbx.leg(c, olle)["console_hold"])
    await act(call_actions.do_complete_transfer, olle, call["id"])
    after = await pbx.wait_call(call["id"], lambda c: c["state"] == "up" and olle.pk not in {
        p.get("user_id") for p in c["parties"]})
    assert {p.get("user_id") for p in after["parties"]} == {None, bob.pk}


async def test_hold_without_ari_still_holds_in_silence(pbx, olle):
    call = await pbx.talking_with(olle)
    await pbx.bridge.nodes[0][1].ari.stop()
    result = await act(call_actions.do_hold_call, olle, call["id"])
    assert result["held"] is True and result["music"] is False
    assert [r.get("Value") for r in pbx.sent("Setvar")] == ["-100000", "-100000"]
    assert not any(c.startswith("hold-") for c in pbx.fake.state.channels)
    assert [r.action for r in await audit()] == ["call_hold"]


async def test_the_bridge_hangs_up_stale_music_and_sends_strays_back_after_an_ari_reconnect(pbx, olle):
    call = await pbx.talking_with(olle)
    caller = next(p for p in call["parties"] if p["role"] == "caller")
    node_bridge = pbx.bridge.nodes[0][1]
    ari = node_bridge.ari
    # A music channel whose holder is long gone (the bridge was away when the holder hung up).
    await ari.snoop(caller["uid"], spy="none", whisper="out", snoop_id="hold-0-1795400000.1")
    connects = ari.connect_count
    pbx.fake.ari.drop_websockets()
    await until(lambda: ari.connect_count > connects and ari.connected)
    await until(lambda: "hold-0-1795400000.1" not in pbx.fake.state.channels)
    assert (await pbx.call(call["id"]))["state"] == "up"  # the call itself is untouched


async def test_only_someone_on_the_call_can_hold_it(pbx, olle, bob):
    call = await pbx.talking_with(bob)
    with pytest.raises(ActionRefused):
        await act(call_actions.do_hold_call, olle, call["id"])
    assert pbx.sent("Setvar") == []


# ----------------------------------------------------------------------------------------------- recording


async def set_licences(pbx, count: int) -> None:
    """The company's licence count, in the database and in Asterisk's copy (AstDB t<T>/rec/lic, which the
    orchestrator writes on commit: here the test writes it, the bridge's AstDB sync being off)."""
    await sync_to_async(lambda: Tenant.objects.filter(pk=pbx.t).update(max_recording_channels=count))()
    pbx.fake.state.astdb[f"/pbx/t{pbx.t}/rec/lic"] = str(count)


def in_pool(pbx) -> int:
    """The licences in use, as Asterisk counts them: GROUP_COUNT(t<T>@pbxrec)."""
    return pbx.fake.state.groups.count(f"t{pbx.t}", "pbxrec")


async def recordings(**filters) -> list[Recording]:
    return await sync_to_async(lambda: list(Recording.objects.filter(**filters).order_by("id")))()


async def recorded(check) -> bool:
    return check(await recordings())


async def refusals(**filters) -> list[LicenceRefusal]:
    return await sync_to_async(lambda: list(LicenceRefusal.objects.filter(**filters).order_by("id")))()


async def test_recording_on_demand_takes_a_licence_of_the_pool_and_writes_two_legs_indexed(pbx, olle, bob):
    await set_licences(pbx, 1)
    first = await pbx.talking_with(bob, "+46701000011")
    second = await pbx.talking_with(olle, "+46701000012")
    await act(call_actions.do_record_call, olle, first["id"], "start")  # the operator records Bob's call

    bobs = pbx.leg(first, bob)
    (mixmonitor,) = pbx.sent("MixMonitor")
    assert mixmonitor.get("Channel") == bobs["channel"] and not mixmonitor.get("File")
    day = datetime.datetime.now(datetime.UTC).strftime("%Y%m%d")
    base = f"pbx/t{pbx.t}/{day}/{bobs['uid']}-"
    person, other = re.fullmatch(r"br\((.+)\)t\((.+)\)i\(PBX_RECID\)", mixmonitor.get("Options")).groups()
    assert person.startswith(base) and person.endswith("-person.wav") and other == person[:-10] + "other.wav"
    # Asterisk counted it: joined the pool on Bob's channel, then counted (AMI may not take LOCK()).
    assert in_pool(pbx) == 1 and pbx.fake.state.groups.group_of(bobs["uid"], "pbxrec") == f"t{pbx.t}"
    (limit,) = pbx.sent("DBGet")
    assert (limit.get("Family"), limit.get("Key")) == ("pbx", f"t{pbx.t}/rec/lic")
    assert [r.get("Variable") for r in pbx.sent("Getvar")] == ["GROUP(pbxrec)", f"GROUP_COUNT(t{pbx.t}@pbxrec)"]
    (row,) = await recordings()
    assert (row.tenant_id, row.user_id, row.requested_by_id, row.reason) == (pbx.t, bob.pk, olle.pk, "on_demand")
    assert (row.raw_person_path, row.raw_other_path) == (person, other) and row.linkedid == first["id"]
    assert (row.other_number, row.direction, row.status) == ("+46701000011", "in", "recording")
    await pbx.wait_call(first["id"], lambda c: c["recording"] and c["recorders"][0]["channel"] == bobs["channel"])

    with pytest.raises(ActionRefused, match="licences are in use"):
        await act(call_actions.do_record_call, olle, second["id"], "start")
    assert len(pbx.sent("MixMonitor")) == 1 and in_pool(pbx) == 1  # joined, counted 2, left again
    (refusal,) = await refusals()
    assert (refusal.kind, refusal.user_id, refusal.in_use, refusal.limit) == ("on_demand", olle.pk, 1, 1)

    await act(call_actions.do_record_call, olle, first["id"], "stop")
    assert pbx.sent("StopMixMonitor")[-1].get("Channel") == bobs["channel"]
    assert in_pool(pbx) == 0  # the stop gave the licence back
    await pbx.wait_call(first["id"], lambda c: not c["recording"])
    # The MixMonitorStop Asterisk reported ends the row (it turns raw with the call's end).
    await until_async(lambda: recorded(lambda rows: rows[0].ended_at is not None))
    await act(call_actions.do_record_call, olle, second["id"], "start")  # the licence is free again
    assert in_pool(pbx) == 1
    assert [r.action for r in await audit()] == ["call_record_start", "call_record_stop", "call_record_start"]


async def test_pause_and_resume_act_where_the_recording_runs_and_fill_its_paused_time(pbx, olle, bob):
    await set_licences(pbx, 2)
    call = await pbx.talking_with(bob)
    await act(call_actions.do_record_call, bob, call["id"], "start")  # Bob's own call, from his user web
    await act(call_actions.do_record_call, olle, call["id"], "pause")
    await pbx.wait_call(call["id"], lambda c: c["recording_paused"])
    await act(call_actions.do_record_call, bob, call["id"], "resume")
    await pbx.wait_call(call["id"], lambda c: c["recording"] and not c["recording_paused"])
    await until_async(lambda: recorded(lambda rows: rows[0].paused and rows[0].paused[-1][1] is not None))
    mutes = pbx.sent("MixMonitorMute")
    assert [(r.get("Channel"), r.get("Direction"), r.get("State")) for r in mutes] == [
        (pbx.leg(call, bob)["channel"], "both", "1"), (pbx.leg(call, bob)["channel"], "both", "0")]
    (row,) = await recordings()
    ((paused_from, paused_to),) = row.paused
    assert 0 <= paused_from <= paused_to


async def test_a_company_without_licences_cannot_record_and_a_plain_user_not_others_calls(pbx, olle, bob, eva):
    await set_licences(pbx, 0)
    call = await pbx.talking_with(bob)
    with pytest.raises(ActionRefused, match="no licences"):
        await act(call_actions.do_record_call, olle, call["id"], "start")
    with pytest.raises(ActionRefused):
        await act(call_actions.do_record_call, eva, call["id"], "start")
    assert pbx.sent("MixMonitor") == [] and await recordings() == []


# ----------------------------------------------------------------------------------------------- listen-in


async def test_listen_in_is_refused_to_a_plain_user(pbx, bob, eva):
    call = await pbx.talking_with(bob)
    with pytest.raises(ActionRefused, match="not allowed to listen"):
        await act(call_actions.do_listen_in, eva, call["id"], "listen")
    assert pbx.sent("Originate") == [] and await audit() == []


@pytest.mark.parametrize(("mode", "options"), [("listen", "qE"), ("whisper", "qEw"), ("barge", "qEB")])
async def test_the_operator_listens_in_through_the_dialplan_which_takes_a_licence(pbx, olle, bob, mode, options):
    await set_licences(pbx, 1)
    call = await pbx.talking_with(bob)
    await act(call_actions.do_listen_in, olle, call["id"], mode)
    (originate,) = pbx.sent("Originate")
    assert originate.get("Channel") == f"PJSIP/{pbx.endpoints(olle)[0]}"
    assert (originate.get("Context"), originate.get("Exten"), originate.get("Priority")) == ("pbx-listen", mode, "1")
    assert originate.get("Variable") == f"PBX_SPY={pbx.leg(call, bob)['channel']}"
    assert in_pool(pbx) == 0  # nothing is reserved while the phone rings
    await pbx.answer(olle)
    await until(lambda: pbx.fake.events_named("ChanSpyStart"))
    spyer = next(c for c in pbx.fake.state.channels.values() if c.application == "ChanSpy")
    assert spyer.appdata == f"{pbx.leg(call, bob)['channel']},{options}" and in_pool(pbx) == 1
    with pytest.raises(ActionRefused, match="licences are in use"):  # the listen-in holds the only licence
        await act(call_actions.do_record_call, olle, call["id"], "start")
    (row,) = await audit()
    assert row.action == f"call_listen_{mode}"
    pbx.fake.hangup(spyer)  # the listener hangs up: the licence is free again
    await until(lambda: in_pool(pbx) == 0)


async def test_a_listen_in_over_the_licences_is_refused_by_asterisk_and_told_to_the_listener(pbx, olle, bob, eva,
                                                                                            pushed):
    await set_licences(pbx, 1)
    call = await pbx.talking_with(bob)
    other = await pbx.talking_with(eva, "+46701000013")
    await act(call_actions.do_listen_in, olle, call["id"], "listen")  # one licence free: Olle's phone rings
    await act(call_actions.do_record_call, olle, other["id"], "start")  # ... and a recording takes it meanwhile
    await pbx.answer(olle)
    await until(lambda: [e for e in events(pbx, "UserEvent") if e.get("UserEvent") == "PbxRecordingRefused"])
    refused = next(e for e in events(pbx, "UserEvent") if e.get("UserEvent") == "PbxRecordingRefused")
    assert (refused.get("Kind"), refused.get("InUse"), refused.get("Limit"), refused.get("User")) == (
        "listen_in", "1", "1", str(olle.pk))
    assert not pbx.fake.events_named("ChanSpyStart") and in_pool(pbx) == 1  # only the recording holds one
    assert played(pbx) == ["all-circuits-busy-now&please-try-call-later"]
    await until(lambda: [r for r in pushed if r[1]["type"] == "listen_in.refused"])
    (told,) = [(groups, e) for groups, e in pushed if e["type"] == "listen_in.refused"]
    assert told[0] == [f"user-{olle.pk}"] and (told[1]["in_use"], told[1]["limit"]) == (1, 1)
    refusals_now = await refusals(kind="listen_in")
    assert [(r.user_id, r.in_use, r.limit) for r in refusals_now] == [(olle.pk, 1, 1)]


async def test_a_listen_in_is_refused_at_once_when_every_licence_is_in_use(pbx, olle, bob, eva):
    await set_licences(pbx, 1)
    call = await pbx.talking_with(bob)
    other = await pbx.talking_with(eva, "+46701000014")
    await act(call_actions.do_record_call, olle, other["id"], "start")
    with pytest.raises(ActionRefused, match="licences are in use"):
        await act(call_actions.do_listen_in, olle, call["id"], "listen")
    assert pbx.sent("Originate") == []  # nobody's phone rings for a listen-in that cannot start
    assert [(r.kind, r.user_id) for r in await refusals()] == [("listen_in", olle.pk)]


async def test_pbx_listen_only_listens_to_the_listeners_own_company(pbx, worlds, olle, carol):
    """Whatever PBX_SPY names, the dialplan lets a phone listen to its own company's channels only."""
    from tests.fake_asterisk.originate import OriginateRequest

    await set_licences(pbx, 1)
    carols = pbx.fake.new_channel(f"PJSIP/{worlds[1].people[carol.pk].endpoints[0]}-000000ff", state=6)
    pbx.fake.originate(OriginateRequest(f"PJSIP/{pbx.endpoints(olle)[0]}", context="pbx-listen", exten="listen",
                                        variables={"PBX_SPY": carols.name}))
    await pbx.answer(olle)
    await until(lambda: played(pbx))
    assert played(pbx) == ["feature-not-avail-line"]
    assert not pbx.fake.events_named("ChanSpyStart") and in_pool(pbx) == 0


def events(pbx, name: str) -> list[dict]:
    return [dict(e) for e in pbx.fake.events_named(name)]


def played(pbx) -> list[str]:
    return [e["AppData"] for e in events(pbx, "Newexten") if e.get("Application") == "Playback"]


# ----------------------------------------------------------------------------------------------- refusals


async def test_another_company_can_do_nothing_with_a_demo_call(pbx, carol, olle):
    call = await pbx.talking_with(olle)
    waiting = await pbx.queue_caller("+46701000004")
    before = len(pbx.sent())
    attempts = [
        (call_actions.do_answer_waiting_call, waiting["id"]),
        (call_actions.do_transfer_call, call["id"], "1002"),
        (call_actions.do_complete_transfer, call["id"]),
        (call_actions.do_cancel_transfer, call["id"]),
        (call_actions.do_hangup_call, call["id"]),
        (call_actions.do_hold_call, call["id"]),
        (call_actions.do_record_call, call["id"], "start"),
        (call_actions.do_listen_in, call["id"], "listen"),
    ]
    for func, *args in attempts:
        with pytest.raises(ActionRefused):
            await act(func, carol, *args)
    await act(call_actions.do_transfer_call, olle, call["id"], "0701234567", announced=False)  # still Demo's
    assert [r.action for r in pbx.sent()[before:]] == ["Redirect"]
    assert [r.actor_id for r in await audit()] == [olle.pk]


async def test_an_action_on_a_call_that_just_ended_says_so(pbx, olle):
    call = await pbx.talking_with(olle)
    # The call is over in Asterisk, but the bridge has not heard yet: Asterisk says "No such channel".
    for channel in [pbx.fake.state.channel_by_name(p["channel"]) for p in call["parties"]]:
        del pbx.fake.state.channels[channel.uniqueid]
    with pytest.raises(CallGone, match="just ended"):
        await act(call_actions.do_hangup_call, olle, call["id"])
    # The bridge has heard: the call is gone from the live state before anything is sent.
    sent = len(pbx.sent())
    with pytest.raises(CallGone):
        await act(call_actions.do_hold_call, olle, "1795406452.6")
    assert len(pbx.sent()) == sent and await audit() == []


async def test_when_asterisk_does_not_answer_the_action_fails_clearly(pbx, olle, settings):
    call = await pbx.talking_with(olle)
    pbx.fake.ami.hang()  # a hung Asterisk: the bridge's AMI action times out
    with pytest.raises(AsteriskError, match="timed out"):
        await act(call_actions.do_hangup_call, olle, call["id"])
    pbx.fake.ami.unhang()
    for server in pbx.bridge.controls:  # no bridge takes the command at all
        await server.stop()
    settings.ASTERISK_CONTROL_TIMEOUT = 0.3
    with pytest.raises(AsteriskError, match="Asterisk did not answer"):
        await act(call_actions.do_hangup_call, olle, call["id"])
    assert await audit() == []


async def test_a_person_without_a_phone_is_told_so(pbx, olle, bob):
    await sync_to_async(lambda: Device.objects.filter(user=olle).update(is_enabled=False))()
    with pytest.raises(ActionRefused, match="no phone"):
        await act(call_actions.do_click_to_call, olle, bob.extension)
    assert pbx.sent("Originate") == []


# ----------------------------------------------------------------------------------------------- the protocol


class StubAmi:
    def __init__(self):
        self.sent = []

    async def action(self, action):
        self.sent.append(action)
        if action["Action"] == "CoreShowChannels":
            return [{"Event": "CoreShowChannel", "Channel": "PJSIP/t1-abc-00000001", "Application": "ChanSpy"}]
        return {"Response": "Success", "Message": "Redirect successful"}


async def test_the_bridge_runs_only_call_control_actions_whatever_a_message_asks():
    from pbx.asterisk.control import ControlServer, step

    ami = StubAmi()
    server = ControlServer(1, lambda: ami, layer=object())
    for forbidden in ({"Action": "Command", "Command": "core restart now"}, {"Action": "DBDelTree", "Family": "pbx"},
                      {"Action": "Setvar", "Variable": "SHELL(rm -rf /)", "Value": "x"},
                      {"Action": "Setvar", "Variable": "VOLUME(RX)", "Value": "0"}):  # no channel: a global
        reply = await server.handle({"id": "x", "steps": [step({"Action": "Redirect", "Channel": "PJSIP/a"}),
                                                         step(forbidden)]})
        assert reply["ok"] is False and "not allowed" in reply["error"]
    assert ami.sent == []  # refused as a whole: not even the allowed first step ran


async def test_the_licence_pools_procedures_take_only_a_company_and_a_channel_and_getvar_is_no_free_step():
    from pbx.asterisk.control import ControlServer, licence_step, step

    ami = StubAmi()
    server = ControlServer(1, lambda: ami, layer=object())
    hostile = [
        {"licence": {"op": "take", "tenant": "1; DROP", "channel": "PJSIP/t1-abc-00000001"}},
        {"licence": {"op": "take", "tenant": "1", "channel": "PJSIP/a\r\nAction: Command"}},
        {"licence": {"op": "shell", "tenant": "1", "channel": "PJSIP/t1-abc-00000001"}},
        licence_step("release"),  # which channel?
        step({"Action": "Getvar", "Variable": "SHELL(id)"}),
        step({"Action": "Setvar", "Channel": "PJSIP/t1-abc-00000001", "Variable": "GROUP(pbxrec)", "Value": ""}),
    ]
    for bad in hostile:
        reply = await server.handle({"id": "x", "steps": [bad]})
        assert reply["ok"] is False and reply["permanent"] is True, bad
    assert ami.sent == []


async def test_over_ari_the_bridge_only_plays_and_stops_hold_music():
    from pbx.asterisk.control import ControlServer, ari_step, step

    ami = StubAmi()
    server = ControlServer(1, lambda: ami, layer=object())
    hostile = [
        {"ari": {"op": "hangup", "snoop": "hold-0-1795406452.6"}},  # not an operation we offer
        ari_step("hold_music_stop", snoop="1795406452.7"),  # a real call's channel, not a hold's music
        ari_step("hold_music", snoop="hold-0-../../applications"),  # a path in disguise
        ari_step("hold_music", snoop="hold-0-1795406452.6"),  # to whom?
    ]
    for bad in hostile:
        reply = await server.handle({"id": "x", "steps": [step({"Action": "Redirect", "Channel": "PJSIP/a"}), bad]})
        assert reply["ok"] is False and reply["permanent"] is True, bad
    assert ami.sent == []


async def test_the_control_protocol_works_across_processes_over_redis():
    """Production: web and bridge are separate processes on the Redis layer (msgpack, process-local reply
    channels); here both ends share one process but not one layer object's channel."""
    import os

    import redis
    from channels_redis.core import RedisChannelLayer

    from pbx.asterisk.control import ControlServer, arequest, step

    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/15"
    try:
        redis.Redis.from_url(url, socket_connect_timeout=0.5).ping()
    except redis.RedisError:
        pytest.skip("no Redis")
    web, bridge_side = RedisChannelLayer(hosts=[url], prefix="test-control"), RedisChannelLayer(
        hosts=[url], prefix="test-control")
    ami = StubAmi()
    server = await ControlServer(4242, lambda: ami, layer=bridge_side).start()
    try:
        results = await arequest(4242, [step({"Action": "Redirect", "Channel": "PJSIP/t1-abc-00000001",
                                              "Context": "t1-forward", "Exten": "+46701234567", "Priority": 1}),
                                        step({"Action": "CoreShowChannels"})], layer=web, timeout=5)
        assert results[0]["Message"] == "Redirect successful"
        assert results[1][0]["Application"] == "ChanSpy"
        assert ami.sent[0] == {"Action": "Redirect", "Channel": "PJSIP/t1-abc-00000001", "Context": "t1-forward",
                               "Exten": "+46701234567", "Priority": "1"}
        await server.stop()
        with pytest.raises(AsteriskError, match="Asterisk did not answer"):
            await arequest(4242, [step({"Action": "Ping"})], layer=web, timeout=0.3)
    finally:
        await server.stop()
        await web.flush()
        await web.close_pools()
        await bridge_side.close_pools()


def test_a_companys_commands_go_to_its_own_node_else_to_the_default_node_the_environment_describes(
        demo, settings, default_node):
    from pbx.asterisk.control import control_channel, node_id_for

    settings.ASTERISK_AMI_HOST, settings.ASTERISK_AMI_PORT = "pbx-ast.internal", 5039
    settings.ASTERISK_AMI_USER, settings.ASTERISK_AMI_SECRET = "orchestrator", "from-the-environment"
    settings.ASTERISK_ARI_URL, settings.ASTERISK_ARI_APP = "http://pbx-ast.internal:8088/ari", "vaxel"
    node = AsteriskNode.default()  # kept in step with ASTERISK_*
    assert (node.pk, node.ami_host, node.ami_port, node.ami_secret, node.ari_url, node.ari_app) == (
        default_node.pk, "pbx-ast.internal", 5039, "from-the-environment", "http://pbx-ast.internal:8088/ari", "vaxel")
    assert node_id_for(demo.tenant) == node.pk
    # Redis pub/sub does not prefix plain channels: the layer's prefix is in the name itself.
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "x", "CONFIG": {"prefix": "pbx-db3"}}}
    assert control_channel(node.pk) == f"pbx-db3.pbx-control-{node.pk}"
    settings.CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
    assert control_channel(node.pk) == f"pbx-control-{node.pk}"
    second = AsteriskNode.objects.create(name="node-2", ami_host="10.0.0.2")  # more nodes live in the database
    demo.tenant.node = second
    assert node_id_for(demo.tenant) == second.pk
