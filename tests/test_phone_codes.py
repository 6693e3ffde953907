"""Feature codes from a phone, end to end: the fake Asterisk runs the generated dialplan's priorities for the
dialled code (tests/fake_asterisk/feature_codes.py: the UserEvent with its real headers) → the event bridge's
subscription table → pbx/asterisk/bridge/dialplan_events → the do_* action (audit row, database) → on commit
the AstDB/queue member write through AMI and the browser event → the bridge's Setvar of PBX_ANSWER on the
dialling channel → what the dialplan then plays (the phone says the truth).

The bridge runs in the test's event loop (as in test_call_control); the handlers run in asgiref's sync
thread on this test's transaction, and the on-commit work of each handler is carried out as it returns
(``captureOnCommitCallbacks``), as a real commit would.
"""

from __future__ import annotations

import re
import time

import pytest
from asgiref.sync import sync_to_async
from django.test import TestCase

from pbx.asterisk import astdb_sync
from pbx.asterisk.bridge import dialplan_events, feature_codes
from pbx.demo import tone_wav
from pbx.models import AuditLog, PresenceStatus, Prompt, Queue, QueueAgent, Tenant, UserPresence
from recording.models import LicenceRefusal, Recording
from tests import test_call_control as call_control
from tests.fake_asterisk.demo_traffic import TRUNK, install, load_worlds
from tests.test_call_control import PBX, followups_on, until, until_async, world_resolver

# The call control tests' fixtures: the default node, captured pushes, this test's shared connection.
default_node = call_control.default_node
pushed = call_control.pushed
test_connection = call_control.test_connection

# ----------------------------------------------------------------------------------------------- the world


def run_committing(handler, event):
    """The handler, then its on-commit work (inside the test's transaction nothing commits by itself)."""
    with TestCase.captureOnCommitCallbacks(execute=True):
        return dialplan_events.run_handler(handler, event)


@pytest.fixture
def worlds(demo, exempel):
    return load_worlds("demo")


@pytest.fixture
async def phones(worlds, default_node, pushed, test_connection, settings, tmp_path):
    """Fake Asterisk + the running Bridge; the node's AMI (the AstDB writer's) points at the fake."""
    from channels.layers import channel_layers
    from django.core.cache import cache
    from django.db import connections

    from pbx.asterisk.ami import AmiClient
    from pbx.asterisk.bridge import state as live
    from pbx.asterisk.bridge.service import Bridge
    from tests.fake_asterisk import DEFAULT_SECRET, DEFAULT_USERNAME, FakeAsterisk

    settings.ASTERISK_SOUNDS_DIR = tmp_path / "sounds"
    channel_layers.backends.clear()
    live._process_state = None
    cache.clear()
    connection = test_connection

    def share():
        connections["default"] = connection

    await sync_to_async(share)()
    fake = FakeAsterisk(time_scale=1.0)
    install(fake, *worlds)
    await fake.start(ami_port=0, ari_port=None)

    def point_node():
        default_node.ami_host, default_node.ami_port = "127.0.0.1", fake.ami.port
        default_node.ami_username, default_node.ami_secret = DEFAULT_USERNAME, DEFAULT_SECRET
        default_node.save()

    await sync_to_async(point_node)()
    await sync_to_async(astdb_sync.close_writer)()

    def client(node, node_bridge):
        return AmiClient("127.0.0.1", fake.ami.port, DEFAULT_USERNAME, DEFAULT_SECRET, timeout=2.0,
                         ping_interval=60.0, on_event=node_bridge.on_event, on_connect=node_bridge.on_connect,
                         on_disconnect=node_bridge.on_disconnect, reconnect_min=0.05, reconnect_max=0.2)

    async def no_astdb(node, ami):
        return None

    bridge = Bridge([default_node], state=live.live_state(), resolver=lambda: world_resolver(worlds),
                    client_factory=client, ari_factory=None, threaded=False, persist=None, astdb=no_astdb,
                    followups=followups_on(connection),
                    dialplan_options={"thread_sensitive": True, "run": run_committing})
    await bridge.start()
    (_node, node_bridge), = bridge.nodes
    await until(lambda: node_bridge.synced)
    world = Phones(fake, bridge, worlds[0], [])
    world.worlds = worlds
    try:
        yield world
    finally:
        await bridge.stop()
        await sync_to_async(astdb_sync.close_writer)()
        await fake.stop()

        def unshare():
            del connections["default"]

        await sync_to_async(unshare)()
        live._process_state = None


class Phones(PBX):
    def phone(self, user) -> str:
        return next(w.people[user.pk].endpoints[0] for w in self.worlds if user.pk in w.people)

    async def dial(self, user, digits: str, **kwargs):
        dial = self.fake.dial_feature_code(self.phone(user), digits, **kwargs)
        await _wait(dial)
        return dial

    def queue_name(self, queue) -> str:
        return f"t{queue.tenant_id}-q{queue.pk}"

    def interface(self, user) -> str:
        return f"local/{user.pk}@t{user.tenant_id}-agents/n"

    def answers(self, dial) -> list[str]:
        return [r.get("Value") for r in self.fake.ami.actions("Setvar")
                if r.get("Channel") == dial.channel.name and r.get("Variable") == "PBX_ANSWER"]


async def _wait(dial, timeout: float = 10.0) -> None:
    import asyncio

    await asyncio.wait_for(dial.done.wait(), timeout)


async def db(func, *args):
    return await sync_to_async(func)(*args)


def pushed_types(pushed, kind: str) -> list[dict]:
    return [event for _groups, event in pushed if event.get("type") == kind]


# ----------------------------------------------------------------------------------------------- queues


async def test_star45_logs_the_agent_in_and_the_phone_hears_ok_only_after_the_member_exists(phones, bob, demo, pushed):
    support = demo.queues["Support"]
    await db(lambda: QueueAgent.objects.filter(queue=support, user=bob).update(logged_in=False))
    phones.fake.state.queues[phones.queue_name(support)].members.pop(phones.interface(bob), None)

    dial = await phones.dial(bob, f"*45{support.extension}")

    (user_event,) = phones.fake.events_named("UserEvent")
    assert dict(user_event)["UserEvent"] == "PbxQueueAgent" and dict(user_event)["QueueExtension"] == support.extension
    adds = phones.fake.ami.actions("QueueAdd")
    assert [(a.get("Queue"), a.get("Interface").lower()) for a in adds] == \
        [(phones.queue_name(support), phones.interface(bob))]
    assert phones.interface(bob) in phones.fake.state.queues[phones.queue_name(support)].members
    (_node, node_bridge), = phones.bridge.nodes
    listing = await node_bridge.ami.action({"Action": "QueueStatus", "Queue": phones.queue_name(support)})
    assert any(item.get("Event") == "QueueMember" and item.get("Location", "").lower() == phones.interface(bob)
               for item in listing)
    assert (await db(lambda: QueueAgent.objects.get(queue=support, user=bob))).logged_in
    assert any(e["user_id"] == bob.pk and e["logged_in"] for e in pushed_types(pushed, "agent.changed"))
    assert await db(lambda: AuditLog.objects.filter(action="queue_login", actor=bob).count()) == 1
    assert phones.answers(dial) == ["ok"] and dial.played == ["agent-loginok"]
    # The answer went out after the member was added: the phone never says "ok" before it is true.
    names = [r.action for r in phones.fake.ami.actions()]
    assert names.index("QueueAdd") < max(i for i, n in enumerate(names) if n == "Setvar")


async def test_star45_without_an_extension_logs_in_to_all_the_agents_queues(phones, bob, demo):
    await db(lambda: QueueAgent.objects.filter(user=bob).update(logged_in=False))
    for queue in phones.fake.state.queues.values():
        queue.members.pop(phones.interface(bob), None)
    dial = await phones.dial(bob, "*45")
    assert dial.answer == "ok"
    assert await db(lambda: sorted(QueueAgent.objects.filter(user=bob, logged_in=True).values_list("queue_id", flat=True))) \
        == sorted(q.pk for q in demo.queues.values())


async def test_star45_by_someone_who_is_no_agent_of_the_queue_is_heard_as_a_refusal(phones, eva, demo):
    dial = await phones.dial(eva, f"*45{demo.queues['Support'].extension}")
    assert phones.answers(dial) == ["refused"] and dial.played == ["feature-not-avail-line"]
    assert phones.fake.ami.actions("QueueAdd") == []
    assert not await db(lambda: QueueAgent.objects.filter(user=eva).exists())


async def test_star45_of_another_companys_queue_extension_is_refused(phones, bob, exempel):
    other = await db(lambda: Queue.objects.create(tenant=exempel.tenant, name="Kundtjänst", extension="210"))
    await db(lambda: QueueAgent.objects.create(tenant=exempel.tenant, queue=other, user=exempel.agents[0]))
    dial = await phones.dial(bob, "*45210")
    assert dial.answer == "refused" and not dial.heard_ok
    assert phones.fake.ami.actions("QueueAdd") == []
    assert not await db(lambda: QueueAgent.objects.filter(queue=other, logged_in=True).exists())


async def test_a_forged_event_naming_another_company_is_not_acted_on(phones, carol, demo):
    """Carol's phone is Exempel AB's: an event from it claiming Demo AB is dropped; the phone hears 'try later'."""
    phones.fake.answer_timeout_scale = 0.1
    ep = phones.fake.state.endpoints[phones.phone(carol)]
    ep.variables = {**ep.variables, "PBX_TENANT": str(demo.tenant.pk)}
    dial = phones.fake.dial_feature_code(phones.phone(carol), "*450")
    dial.channel.context = f"t{demo.tenant.pk}-internal"  # as if the dialplan were Demo's
    await _wait(dial)
    assert phones.answers(dial) == [] and dial.played == ["please-try-call-later"]
    assert await db(lambda: AuditLog.objects.filter(action="queue_login").count()) == 0


async def test_star46_logs_out_and_removes_the_member(phones, bob, demo, pushed):
    support = demo.queues["Support"]
    dial = await phones.dial(bob, f"*46{support.extension}")
    assert dial.played == ["agent-loggedoff"]
    assert [(a.get("Queue"), a.get("Interface").lower()) for a in phones.fake.ami.actions("QueueRemove")] == \
        [(phones.queue_name(support), phones.interface(bob))]
    assert phones.interface(bob) not in phones.fake.state.queues[phones.queue_name(support)].members
    assert not (await db(lambda: QueueAgent.objects.get(queue=support, user=bob))).logged_in
    assert any(e["user_id"] == bob.pk and not e["logged_in"] for e in pushed_types(pushed, "agent.changed"))


async def test_star47_pauses_with_the_default_reason_and_resumes(phones, bob, demo):
    support = demo.queues["Support"]
    first = await phones.dial(bob, f"*47{support.extension}")
    assert first.played == ["beep"]
    (pause,) = phones.fake.ami.actions("QueuePause")
    reason = await db(feature_codes.pause_reason_for, bob)
    assert reason in ("Break", "Rast")  # the person's language (Demo AB speaks Swedish, if it is compiled)
    assert (pause.get("Queue"), pause.get("Paused"), pause.get("Reason")) == (phones.queue_name(support), "true", reason)
    member = phones.fake.state.queues[phones.queue_name(support)].members[phones.interface(bob)]
    assert member.paused
    agent = await db(lambda: QueueAgent.objects.get(queue=support, user=bob))
    assert agent.paused and agent.pause_reason == reason
    await phones.dial(bob, f"*47{support.extension}")
    assert not member.paused
    assert not (await db(lambda: QueueAgent.objects.get(queue=support, user=bob))).paused


async def test_star47_when_not_logged_in_is_refused(phones, bob, demo):
    support = demo.queues["Support"]
    await db(lambda: QueueAgent.objects.filter(queue=support, user=bob).update(logged_in=False))
    dial = await phones.dial(bob, f"*47{support.extension}")
    assert dial.answer == "refused" and phones.fake.ami.actions("QueuePause") == []


# ----------------------------------------------------------------------------------------------- presence


def astdb_key(user, name) -> str:
    return f"/pbx/t{user.tenant_id}/u{user.pk}/{name}"


async def test_star20_sets_a_status_that_survives_the_astdb_rewrite(phones, eva, demo, pushed, default_node):
    away = await db(lambda: PresenceStatus.objects.get(tenant=demo.tenant, name="Borta"))
    dial = await phones.dial(eva, f"*20{away.code}")
    assert dial.played == ["beep"] and phones.answers(dial) == ["ok"]
    row = await db(lambda: UserPresence.objects.get(user=eva))
    assert row.status_id == away.pk and row.until is None
    assert any(e["user_id"] == eva.pk and e["status_id"] == away.pk for e in pushed_types(pushed, "presence.changed"))
    await until(lambda: phones.fake.state.astdb.get(astdb_key(eva, "status")) == str(away.code))
    await until(lambda: phones.fake.state.presence.get(f"CustomPresence:t{demo.tenant.pk}-u{eva.pk}", ("",))[0] == "away")
    # The bridge's reconnect rewrites AstDB from the database: the status stays.
    (_node, node_bridge), = phones.bridge.nodes
    state = await db(astdb_sync.load_node_state, default_node)
    await astdb_sync.rewrite_all(default_node, node_bridge.ami, state=state)
    assert phones.fake.state.astdb[astdb_key(eva, "status")] == str(away.code)


async def test_star20_for_a_status_needing_an_end_time_takes_its_default_and_says_until_when(phones, eva, demo):
    lunch = await db(lambda: PresenceStatus.objects.get(tenant=demo.tenant, name="Lunch"))
    await db(lambda: PresenceStatus.objects.filter(pk=lunch.pk).update(default_minutes=45))
    before = time.time()
    dial = await phones.dial(eva, f"*20{lunch.code}")
    row = await db(lambda: UserPresence.objects.get(user=eva))
    assert row.status_id == lunch.pk and abs(row.until.timestamp() - (before + 45 * 60)) < 30
    (until_set,) = [r for r in phones.fake.ami.actions("Setvar") if r.get("Variable") == "PBX_UNTIL"]
    assert until_set.get("Channel") == dial.channel.name and int(until_set.get("Value")) == int(row.until.timestamp())
    assert dial.played == ["beep", f"time:{int(row.until.timestamp())}"]


async def test_star20_of_an_unknown_code_plays_invalid_and_star21_clears(phones, eva, demo, pushed):
    dial = await phones.dial(eva, "*2077")
    assert dial.played == ["invalid"] and phones.fake.events_named("UserEvent") == []
    away = await db(lambda: PresenceStatus.objects.get(tenant=demo.tenant, name="Borta"))
    await phones.dial(eva, f"*20{away.code}")
    cleared = await phones.dial(eva, "*21")
    assert cleared.played == ["beep"]
    assert (await db(lambda: UserPresence.objects.get(user=eva))).status_id is None
    await until(lambda: phones.fake.state.astdb.get(astdb_key(eva, "status")) == "")


async def test_star20_sets_only_the_dialling_persons_own_status(phones, carol, eva, exempel):
    """Exempel AB's status code from Carol's phone changes Carol, never a Demo AB person."""
    away = await db(lambda: PresenceStatus.objects.get(tenant=exempel.tenant, name="Borta"))
    dial = await phones.dial(carol, f"*20{away.code}")
    assert dial.answer == "ok"
    assert (await db(lambda: UserPresence.objects.get(user=carol))).status_id == away.pk
    assert (await db(lambda: UserPresence.objects.filter(user=eva, status__isnull=False).exists())) is False


# ----------------------------------------------------------------------------------------------- recording keys


async def set_licences(phones, count: int) -> None:
    """The licence count in the database and in Asterisk's copy (AstDB pbx/t<T>/rec/lic)."""
    await db(lambda: Tenant.objects.filter(pk=phones.t).update(max_recording_channels=count))
    phones.fake.state.astdb[f"/pbx/t{phones.t}/rec/lic"] = str(count)


def in_pool(phones) -> int:
    return phones.fake.state.groups.count(f"t{phones.t}", "pbxrec")


async def rows(model, **filters) -> list:
    return await db(lambda: list(model.objects.filter(**filters).order_by("id")))


async def test_star9_records_the_pressers_own_line_in_two_legs_and_star7_pauses_it(phones, olle):
    await set_licences(phones, 1)
    call = await phones.talking_with(olle, "+46701000021")
    mine = phones.leg(call, olle)

    start = phones.fake.press_feature_key(mine["channel"], "*9")
    await _wait(start)
    assert start.answer == "ok" and start.played == ["beep"]
    (mixmonitor,) = phones.fake.ami.actions("MixMonitor")
    assert mixmonitor.get("Channel") == mine["channel"]  # Olle's own line: what it reads is Olle
    assert re.fullmatch(rf"br\(pbx/t{phones.t}/[0-9]{{8}}/{re.escape(mine['uid'])}-[0-9]+-person\.wav\)"
                        rf"t\(pbx/t{phones.t}/[0-9]{{8}}/{re.escape(mine['uid'])}-[0-9]+-other\.wav\)i\(PBX_RECID\)",
                        mixmonitor.get("Options"))
    assert in_pool(phones) == 1
    (recording,) = await rows(Recording)
    assert (recording.reason, recording.user_id, recording.requested_by_id) == ("on_demand", olle.pk, olle.pk)
    assert (recording.other_number, recording.linkedid) == ("+46701000021", call["id"])
    await phones.wait_call(call["id"], lambda c: c["recording"])

    pause = phones.fake.press_feature_key(mine["channel"], "*7")
    await _wait(pause)
    await phones.wait_call(call["id"], lambda c: c["recording_paused"])
    resume = phones.fake.press_feature_key(mine["channel"], "*7")
    await _wait(resume)
    assert [(r.get("Channel"), r.get("State")) for r in phones.fake.ami.actions("MixMonitorMute")] == [
        (mine["channel"], "1"), (mine["channel"], "0")]
    stop = phones.fake.press_feature_key(mine["channel"], "*9")
    await _wait(stop)
    assert phones.fake.ami.actions("StopMixMonitor")[-1].get("Channel") == mine["channel"] and in_pool(phones) == 0
    assert [a.action for a in await db(lambda: list(AuditLog.objects.filter(object_type="call").order_by("id")))] == [
        "call_record_start", "call_record_pause", "call_record_resume", "call_record_stop"]
    assert all(d.answer == "ok" for d in (pause, resume, stop))
    await until_async(lambda: rows_match(Recording, lambda r: r[0].ended_at is not None and len(r[0].paused) == 1
                                         and r[0].paused[0][1] is not None))


async def rows_match(model, check) -> bool:
    return check(await rows(model))


async def test_star7_on_a_queue_call_pauses_the_recording_where_it_runs(phones, bob, demo):
    """Support records every call: t<T>-agents' Dial U(pbx-rec-answer^r^<Bob>^^^q) records on Bob's phone when it
    answers (as on the real Asterisk since recordings moved off the member's Local;1); Bob's *7 pauses it on the
    channel the bridge saw MixMonitor start on, and the recording's paused time follows MixMonitorMute."""
    support = next(q for q in phones.world.queues if q.label == "Support")
    astdb = phones.fake.state.astdb
    astdb.update({f"/pbx/t{phones.t}/rec/auto": "1", f"/pbx/t{phones.t}/u{bob.pk}/rec": "e"})
    await set_licences(phones, 1)
    for queue in phones.fake.state.queues.values():  # only Bob takes Support's calls here
        queue.members = {k: m for k, m in queue.members.items() if m.name == str(bob.pk)}
    phones.fake.state.routes[(f"t{phones.t}-agents", str(bob.pk))].options = f"tU(pbx-rec-answer^r^{bob.pk}^^^q)"
    placed = phones.fake.place_call(TRUNK, support.number, context=f"t{phones.t}-queue-{support.queue_id}",
                                    caller_num="+46701000023")
    # What pbx-recording-hook put on the caller's channel (inherited by the member's channels).
    placed.caller.variables.update({"PBX_RECT": str(phones.t), "PBX_RECQ": "always", "PBX_RECK": "i",
                                    "PBX_RECO": "46701000023", "PBX_QUEUE": str(support.queue_id)})
    await phones.answer(bob)
    call = await phones.wait_call(placed.caller.linkedid, lambda c: c["recording"])
    (recorder,) = call["recorders"]
    assert recorder["channel"] == phones.leg(call, bob)["channel"]  # Bob's phone, not the queue's Local;1
    await until_async(lambda: rows_match(Recording, lambda r: len(r) == 1))

    phone_line = phones.leg(call, bob)["channel"]
    pause = phones.fake.press_feature_key(phone_line, "*7")
    await _wait(pause)
    await phones.wait_call(call["id"], lambda c: c["recording_paused"])
    resume = phones.fake.press_feature_key(phone_line, "*7")
    await _wait(resume)
    assert [(r.get("Channel"), r.get("State")) for r in phones.fake.ami.actions("MixMonitorMute")] == [
        (recorder["channel"], "1"), (recorder["channel"], "0")]
    await until_async(lambda: rows_match(Recording, lambda r: r[0].paused and r[0].paused[0][1] is not None))
    (recording,) = await rows(Recording)
    assert (recording.reason, recording.user_id, recording.requested_by_id) == ("queue", bob.pk, None)
    ((paused_from, paused_to),) = recording.paused
    assert 0 <= paused_from <= paused_to
    assert pause.answer == resume.answer == "ok"


async def test_star9_without_licences_is_heard_as_a_refusal(phones, olle):
    await set_licences(phones, 0)
    call = await phones.talking_with(olle, "+46701000022")
    key = phones.fake.press_feature_key(phones.leg(call, olle)["channel"], "*9")
    await _wait(key)
    assert key.answer == "refused" and key.played == ["feature-not-avail-line"]
    assert phones.fake.ami.actions("MixMonitor") == []


async def test_star9_when_every_licence_is_in_use_is_refused_and_listed(phones, olle, bob):
    await set_licences(phones, 1)
    first = await phones.talking_with(bob, "+46701000024")
    second = await phones.talking_with(olle, "+46701000025")
    assert (await _pressed(phones, phones.leg(first, bob)["channel"], "*9")).answer == "ok"
    refused = await _pressed(phones, phones.leg(second, olle)["channel"], "*9")
    assert refused.answer == "refused" and refused.played == ["feature-not-avail-line"]
    assert len(phones.fake.ami.actions("MixMonitor")) == 1 and in_pool(phones) == 1
    (refusal,) = await rows(LicenceRefusal)
    assert (refusal.kind, refusal.user_id, refusal.in_use, refusal.limit) == ("on_demand", olle.pk, 1, 1)


async def _pressed(phones, channel: str, key: str):
    dial = phones.fake.press_feature_key(channel, key)
    await _wait(dial)
    return dial


# ----------------------------------------------------------------------------------------------- prompts by phone


async def test_star99_installs_the_recording_as_the_prompt(phones, alice, demo, settings):
    prompt = await db(lambda: Prompt.objects.filter(tenant=demo.tenant).order_by("id").first())
    sound = settings.ASTERISK_SOUNDS_DIR / f"t{demo.tenant.pk}" / f"prompt-{prompt.pk}.wav"
    dial = await phones.dial(alice, f"*99{prompt.pk}", recording=tone_wav(2.5, 550),
                             sounds_dir=settings.ASTERISK_SOUNDS_DIR)
    assert phones.answers(dial) == ["ok"] and dial.played == ["auth-thankyou"]
    fresh = await db(lambda: Prompt.objects.get(pk=prompt.pk))
    assert 2400 <= fresh.duration_ms <= 2600
    assert sound.is_file() and sound.with_suffix(".wav16").is_file()
    assert not (settings.ASTERISK_SOUNDS_DIR / f"t{demo.tenant.pk}" / f"recorded-prompt-{prompt.pk}.wav").exists()
    assert await db(lambda: AuditLog.objects.filter(actor=alice, object_type="pbx.prompt", action="changed").count()) == 1


async def test_star99_is_refused_to_someone_who_is_no_company_admin(phones, bob, demo, settings):
    """Even a phone that claims PBX_ADMIN (a wrong set_var) gets nothing past the action's own check."""
    prompt = await db(lambda: Prompt.objects.filter(tenant=demo.tenant).order_by("id").first())
    ep = phones.fake.state.endpoints[phones.phone(bob)]
    ep.variables = {**ep.variables, "PBX_ADMIN": "1"}
    dial = await phones.dial(bob, f"*99{prompt.pk}", recording=tone_wav(1.0, 550),
                             sounds_dir=settings.ASTERISK_SOUNDS_DIR)
    assert dial.answer == "refused" and dial.played == ["feature-not-avail-line"]
    assert (await db(lambda: Prompt.objects.get(pk=prompt.pk))).duration_ms == prompt.duration_ms


async def test_star99_of_another_companys_prompt_goes_nowhere(phones, carol, demo, settings):
    prompt = await db(lambda: Prompt.objects.filter(tenant=demo.tenant).order_by("id").first())
    dial = await phones.dial(carol, f"*99{prompt.pk}", recording=tone_wav(1.0, 550),
                             sounds_dir=settings.ASTERISK_SOUNDS_DIR)
    assert phones.fake.events_named("UserEvent") == [] and not dial.heard_ok
    assert (await db(lambda: Prompt.objects.get(pk=prompt.pk))).duration_ms == prompt.duration_ms


# ----------------------------------------------------------------------------------------------- no answer


async def test_without_the_bridge_the_phone_says_try_later_never_ok(phones, bob, demo):
    phones.fake.answer_timeout_scale = 0.1
    await phones.bridge.stop()
    dial = await phones.dial(bob, f"*46{demo.queues['Support'].extension}")
    assert dial.answer == "" and dial.played == ["please-try-call-later"]
    assert (await db(lambda: QueueAgent.objects.get(queue=demo.queues["Support"], user=bob))).logged_in


async def test_an_event_nobody_consumes_is_logged_as_a_bug(phones, bob, caplog):
    from pbx.asterisk.bridge.domain import FeatureCodeUsed

    (_node, node_bridge), = phones.bridge.nodes
    event = FeatureCodeUsed(phones.t, time.time(), bob.pk, "PbxSomethingNew", {}, channel="", call_id="")
    answer = await node_bridge.dialplan.handle(event)
    assert answer.result == "refused"
    assert "nothing consumes it" in caplog.text


async def test_a_failing_handler_is_heard_as_try_later_and_the_bridge_goes_on(phones, eva, demo):
    (_node, node_bridge), = phones.bridge.nodes

    def broken(event):
        raise RuntimeError("a bug in a handler")

    node_bridge.dialplan.handlers = {**dialplan_events.HANDLERS, "PbxPresence": broken}
    away = await db(lambda: PresenceStatus.objects.get(tenant=demo.tenant, name="Borta"))
    first = await phones.dial(eva, f"*20{away.code}")
    assert phones.answers(first) == ["later"] and first.played == ["please-try-call-later"]
    node_bridge.dialplan.handlers = dialplan_events.HANDLERS
    second = await phones.dial(eva, f"*20{away.code}")
    assert second.answer == "ok" and (await db(lambda: UserPresence.objects.get(user=eva))).status_id == away.pk


# ----------------------------------------------------------------------------------------------- default end


@pytest.mark.parametrize("local, expected", [
    ("2026-03-02 10:00", "2026-03-02 17:00"),  # a Monday: Kontorstid closes at 17
    ("2026-01-05 10:00", "2026-01-05 13:00"),  # Trettondagsafton: the special day's hours win
    ("2026-03-02 18:30", "2026-03-02 19:30"),  # after closing: the fixed fallback (60 min)
    ("2026-03-01 10:00", "2026-03-01 11:00"),  # a Sunday: closed all day
])
def test_a_status_needing_an_end_time_ends_with_the_working_day(demo, local, expected):
    import datetime as dt
    import zoneinfo

    from pbx.actions.presence import default_until
    from pbx.models import Schedule, SpecialDay

    zone = zoneinfo.ZoneInfo("Europe/Stockholm")
    at = dt.datetime.strptime(local, "%Y-%m-%d %H:%M").replace(tzinfo=zone)
    schedule = Schedule.objects.get(tenant=demo.tenant, name="Kontorstid")
    SpecialDay.objects.filter(schedule=schedule, is_closed=False).update(
        start_date=dt.date(2026, 1, 5), end_date=dt.date(2026, 1, 5))
    lunch = PresenceStatus.objects.get(tenant=demo.tenant, name="Lunch")
    assert default_until(lunch, at).astimezone(zone).strftime("%Y-%m-%d %H:%M") == expected
    lunch.default_minutes = 30
    assert default_until(lunch, at) == at + dt.timedelta(minutes=30)


# ----------------------------------------------------------------------------------------------- hostile input


@pytest.mark.parametrize("feature, values", [
    ("PbxQueueAgent", {"Action": "login", "QueueExtension": "200\r\nAction: Command"}),
    ("PbxQueueAgent", {"Action": "Command", "QueueExtension": "200"}),
    ("PbxPresence", {"Code": "1,2"}),
    ("PbxPresence", {"Code": "123"}),
    ("PbxPromptRecorded", {"Prompt": "../../etc/passwd"}),
    ("PbxOnDemandRecording", {"Key": "start;stop"}),
])
def test_what_the_dialplan_event_says_is_only_text_and_odd_text_is_refused(demo, bob, feature, values):
    from pbx.asterisk.bridge.domain import FeatureCodeUsed

    event = FeatureCodeUsed(demo.tenant.pk, time.time(), bob.pk, feature, values, channel="PJSIP/x-1", call_id="1.1")
    before = AuditLog.objects.count()
    answer = dialplan_events.run_handler(dialplan_events.HANDLERS[feature], event)
    assert answer.result == "refused" and AuditLog.objects.count() == before


def test_an_event_naming_a_person_of_another_company_is_refused(demo, carol):
    from pbx.asterisk.bridge.domain import FeatureCodeUsed

    event = FeatureCodeUsed(demo.tenant.pk, time.time(), carol.pk, "PbxPresence", {"Code": ""}, channel="PJSIP/x-1")
    assert dialplan_events.run_handler(feature_codes.presence, event).result == "refused"
    assert not UserPresence.objects.filter(user=carol, status__isnull=False).exists()


# ------------------------------------------------------------------------------- the admin's dashboard


async def test_the_dashboards_override_click_reaches_asterisks_astdb_and_back(phones, alice, demo):
    """Alice's "Force closed" on the company dashboard → do_set_schedule_override → on commit the AstDB write
    through AMI that the generated t<T>-schedule-<S> context reads; "Follow the schedule" empties it again."""
    from django.test import Client
    from django.urls import reverse

    from pbx.models import Schedule

    schedule = await db(lambda: Schedule.objects.get(tenant=demo.tenant, name="Kontorstid"))
    key = f"/pbx/t{demo.tenant.pk}/s{schedule.pk}/override"

    def click(override: str) -> int:
        browser = Client()
        browser.force_login(alice)
        with TestCase.captureOnCommitCallbacks(execute=True):
            return browser.post(reverse("admin:pbx_dashboard_override", args=[schedule.pk]),
                                {"override": override, "until": ""}).status_code

    assert await db(click, "closed") == 302
    await until(lambda: phones.fake.state.astdb.get(key) == "closed")
    assert await db(click, "") == 302
    await until(lambda: not phones.fake.state.astdb.get(key))
