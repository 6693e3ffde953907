"""The licence pool, recording on demand, listen-in and pauses on a real Asterisk 22.10.1
(tests/fixtures/asterisk-real/ami/recording_{pool_console_refused,listen_in_pool,star9_two_legs,queue_star7_pause}),
replayed through the bridge and the recording handlers: where the recording runs, what Asterisk said when the
pool was full, and the paused time it reported."""

from __future__ import annotations

import dataclasses

import pytest
from django.test import TestCase

from pbx.asterisk.bridge import dialplan_events, followups
from pbx.asterisk.bridge import domain as d
from pbx.models import AsteriskNode
from recording.models import LicenceRefusal, Recording
from tests.bridge_fixtures import events_of, real_capture_map, replay_real
from tests.helpers import capture_events


def raw(name: str, event: str, **headers) -> list[dict]:
    return [e for _at, e in events_of(name) if e.get("Event") == event
            and all(e.get(k) == v for k, v in headers.items())]


def of(events, cls) -> list:
    return [e for e in events if isinstance(e, cls)]


@pytest.fixture
def node(db):
    return AsteriskNode.objects.get_or_create(name="default", defaults={"is_default": True})[0]


def in_demo(event, demo, user=None):
    """The capture's ids are company 1 / its own people; the test database's may differ."""
    values = dict(getattr(event, "values", {}) or {})
    if "File" in values:
        values["File"] = values["File"].replace("/pbx/t1/", f"/pbx/t{demo.tenant.pk}/")
    changes = {"tenant_id": demo.tenant.pk}
    if hasattr(event, "values"):
        changes.update(values=values, user_id=user.pk if user is not None else None)
    return dataclasses.replace(event, **changes)


# ------------------------------------------------------------------------------- the pool: console refused, stop


def test_the_console_was_refused_while_the_queue_recorded_and_recorded_once_the_queue_stopped():
    name = "recording_pool_console_refused"
    events = replay_real(name)
    started = of(events, d.RecordingStarted)
    stopped = of(events, d.RecordingStopped)
    # The queue's runs on Bob's member channel (a Local, nobody's phone), the console's on Cecilia's phone line.
    assert [(e.party.kind, e.party.user_id) for e in started] == [("system", None), ("user", 4)]
    assert started[0].call["recorders"][0]["channel"].startswith("Local/3@t1-agents-")
    assert started[0].channel_id == started[0].call["recorders"][0]["uid"]
    # The console's stop of the queue's recording: MixMonitorStop on the Local;1, from StopMixMonitor only.
    (stop,) = stopped
    assert stop.channel_id == started[0].channel_id and stop.call["recorders"] == [] and not stop.call["recording"]
    assert started[1].call["recorders"][0]["channel"].startswith("PJSIP/t1-4172a13da9-")
    # No MixMonitorStop at any hangup: the call's end closes the on-demand recording (close_call_recordings).
    assert len(raw(name, "MixMonitorStop")) == 1 and len(raw(name, "MixMonitorStart")) == 2


def test_a_stopped_recordings_row_ends_when_asterisk_said_so(demo, bob, node):
    events = replay_real("recording_pool_console_refused")
    (captured,) = of(events, d.RecordingCaptured)
    dialplan_events.run_handler(dialplan_events.HANDLERS[captured.feature], in_demo(captured, demo, bob))
    (stop,) = of(events, d.RecordingStopped)
    followups.run_followups([in_demo(stop, demo)])
    recording = Recording.objects.get(tenant=demo.tenant)
    assert recording.reason == "queue" and recording.status == Recording.Status.RECORDING
    assert recording.ended_at.timestamp() == pytest.approx(stop.at, abs=0.001)
    # Another company's stop of a channel with the same Uniqueid ends nothing here.
    followups.run_followups([dataclasses.replace(stop, tenant_id=demo.tenant.pk + 1000, at=stop.at + 5)])
    assert Recording.objects.get(pk=recording.pk).ended_at.timestamp() == pytest.approx(stop.at, abs=0.001)


# ------------------------------------------------------------------------------- listen-in


def test_the_dialplans_refusal_of_a_listen_in_is_a_refusal_row_and_the_listener_is_told(demo, olle, node):
    events = replay_real("recording_listen_in_pool")
    (refused,) = of(events, d.RecordingCaptured)
    assert refused.feature == "PbxRecordingRefused" and refused.user_id == real_capture_map(
        "recording_listen_in_pool")["people"]["olle"]["user_pk"]
    assert (refused.values["Kind"], refused.values["InUse"], refused.values["Limit"]) == ("listen_in", "1", "1")
    assert refused.channel.startswith("PJSIP/t1-6bd7db3ced-")  # the listener's own phone channel
    (spied,) = [e for _at, e in events_of("recording_listen_in_pool") if e.get("Event") == "ChanSpyStart"]
    assert spied["SpyeeChannel"].startswith("PJSIP/t1-1cde6b4e57-") and spied["SpyerContext"] == "pbx-listen"
    with capture_events() as pushed, TestCase.captureOnCommitCallbacks(execute=True):
        dialplan_events.run_handler(dialplan_events.HANDLERS[refused.feature], in_demo(refused, demo, olle))
    refusal = LicenceRefusal.objects.get(tenant=demo.tenant)
    assert (refusal.kind, refusal.user, refusal.in_use, refusal.limit) == ("listen_in", olle, 1, 1)
    assert pushed == [([f"user-{olle.pk}"], {"type": "listen_in.refused", "in_use": 1, "limit": 1})]


# ------------------------------------------------------------------------------- *9 and *7


def test_star9_on_a_phone_is_the_presser_asking_and_the_recording_runs_on_the_pressers_line():
    events = replay_real("recording_star9_two_legs")
    keys = [e for e in events if isinstance(e, d.FeatureCodeUsed)]
    assert [(e.feature, e.values["Key"], e.user_id) for e in keys] == [("PbxOnDemandRecording", "toggle", 3)] * 2
    (started,) = of(events, d.RecordingStarted)
    assert started.channel_id and keys[0].channel == started.call["recorders"][0]["channel"]
    (mixmonitor,) = [e for _at, e in events_of("recording_star9_two_legs") if e.get("Event") == "MixMonitorStart"]
    assert mixmonitor["Channel"] == keys[0].channel
    (stopped,) = of(events, d.RecordingStopped)
    assert stopped.channel_id == started.channel_id


def test_star7_on_a_queue_call_paused_the_local_channel_and_the_row_gets_asterisks_times(demo, bob, node):
    name = "recording_queue_star7_pause"
    events = replay_real(name)
    (captured,) = of(events, d.RecordingCaptured)
    dialplan_events.run_handler(dialplan_events.HANDLERS[captured.feature], in_demo(captured, demo, bob))
    pauses = of(events, d.RecordingPaused)
    assert [(p.paused, p.direction) for p in pauses] == [(True, "both"), (False, "both")]
    keys = [e for e in events if isinstance(e, d.FeatureCodeUsed)]
    assert all(k.channel.startswith("PJSIP/t1-1cde6b4e57-") for k in keys)  # pressed on Bob's phone ...
    assert all(p.call["recorders"][0]["channel"].startswith("Local/3@t1-agents-") for p in pauses)  # muted here
    followups.run_followups([in_demo(p, demo) for p in pauses])
    recording = Recording.objects.get(tenant=demo.tenant)
    ((paused_from, paused_to),) = recording.paused
    # What the run measured in the files (the map): -other.wav all zero from 6.72 s to 14.32 s of the recording.
    assert paused_from == pytest.approx(6.73, abs=0.02) and paused_to == pytest.approx(14.336, abs=0.02)


async def test_the_fakes_star9_raises_the_event_the_real_phone_raised():
    from tests.fake_asterisk import FakeAsterisk

    fake = FakeAsterisk(time_scale=1.0)
    fake.answer_timeout_scale = 0.01  # nobody answers here: the phone says "try later" at once
    ch = fake.new_channel("PJSIP/t1-1cde6b4e57-00000016", state=6, context="t1-internal",
                          endpoint="PJSIP/t1-1cde6b4e57")
    ch.variables.update({"PBX_TENANT": "1", "PBX_USER": "3"})
    dial = fake.press_feature_key(ch, "*9")
    await dial.done.wait()
    (ours,) = [dict(h) for h in fake.history if dict(h).get("UserEvent") == "PbxOnDemandRecording"]
    real = next(e for _at, e in events_of("recording_star9_two_legs") if e.get("UserEvent") == "PbxOnDemandRecording")
    assert list(ours) == list(real)  # the same headers in the same order
    for header in ("Channel", "Context", "Exten", "Priority", "Key", "Tenant", "User"):
        assert ours[header] == real[header], header


def test_the_fakes_pbx_listen_refuses_as_the_real_one_did():
    from tests.fake_asterisk import recording as rec
    from tests.fake_asterisk.world import World

    world = World()
    world.state.astdb["/pbx/t1/rec/lic"] = "1"
    bob = world.new_channel("PJSIP/t1-1cde6b4e57-00000010", state=6)
    world.state.groups.set(world.new_channel("PJSIP/t1-4172a13da9-00000012", state=6).uniqueid, "t1", rec.CATEGORY)
    olle = world.new_channel("PJSIP/t1-6bd7db3ced-00000014", state=6)
    olle.variables.update({"PBX_USER": "2", "PBX_SPY": bob.name})
    assert rec.listen(world, olle, "listen") == "refused"
    (ours,) = [dict(h) for h in world.history if dict(h).get("UserEvent") == "PbxRecordingRefused"]
    real = next(e for _at, e in events_of("recording_listen_in_pool") if e.get("UserEvent") == "PbxRecordingRefused")
    assert list(ours)[list(ours).index("UserEvent"):] == list(real)[list(real).index("UserEvent"):]
    for header in ("Context", "Exten", "Priority", "Tenant", "User", "Kind", "InUse", "Limit"):
        assert ours[header] == real[header], header
    assert world.state.groups.count("t1", rec.CATEGORY) == 1  # joined, counted 2, left again
