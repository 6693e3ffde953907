"""Automatic recording on a real Asterisk 22.10.1 (tests/fixtures/asterisk-real/ami/recording_*), replayed through
the bridge and the recording handlers: the Recording row of the recorded call, the refusal of the one over the
licence, their close when the call ends; and the consent menu's "no" queue, where nothing is recorded."""

from __future__ import annotations

import dataclasses

import pytest

from pbx.asterisk.bridge import dialplan_events
from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.persist import persist_call
from pbx.models import AsteriskNode
from recording.models import LicenceRefusal, Recording
from stats.models import CallLog
from tests.bridge_fixtures import real_capture_map, replay_real

LICENCE = "recording_queue_licence_one"


def test_the_real_recorded_answer_and_the_refused_one_become_two_recording_events():
    about = real_capture_map(LICENCE)
    captured = [e for e in replay_real(LICENCE) if isinstance(e, d.RecordingCaptured)]
    assert [e.feature for e in captured] == ["PbxRecording", "PbxRecordingRefused"]
    started, refused = captured
    assert started.user_id == about["people"]["bob"]["user_pk"] and started.tenant_id == about["tenant"]["pk"]
    assert started.values["Reason"] == "queue" and started.values["Other"] == "46701234567"
    assert started.values["Ddi"] == "+4681559999" and started.values["Queue"] == "1"
    assert started.channel.startswith("Local/3@t1-agents-") and started.channel.endswith(";1")
    assert refused.user_id == about["people"]["cecilia"]["user_pk"]
    assert (refused.values["InUse"], refused.values["Limit"]) == ("1", "01")  # recorded before "Limit: ${lic}"
    assert started.audience() == [] and refused.audience() == []  # nobody's browser hears of it live


def test_the_consent_menus_no_queue_records_nothing():
    events = replay_real("recording_consent_key2")
    assert not [e for e in events if isinstance(e, d.RecordingCaptured)]
    (ended,) = [e for e in events if isinstance(e, d.CallEnded)]  # the call itself was answered and logged
    assert ended.record.answered_at is not None and not ended.record.recorded


def _in_company(event, tenant, user):
    """The capture's ids are company 1 / person 3; the test database's may differ."""
    values = dict(event.values)
    if "File" in values:
        values["File"] = values["File"].replace("/pbx/t1/", f"/pbx/t{tenant.pk}/")
    return d.RecordingCaptured(tenant.pk, event.at, user.pk, event.feature, values, channel=event.channel,
                               call_id=event.call_id, uniqueid=event.uniqueid)


@pytest.fixture
def node(db):
    return AsteriskNode.objects.get_or_create(name="default", defaults={"is_default": True})[0]


def test_the_handlers_index_the_recording_and_the_refusal_and_the_call_end_closes_it(demo, bob, node,
                                                                                     django_capture_on_commit_callbacks):
    cecilia = demo.agents[1]
    events = replay_real(LICENCE)
    started, refused = (e for e in events if isinstance(e, d.RecordingCaptured))
    for event, user in ((started, bob), (refused, cecilia)):
        dialplan_events.run_handler(dialplan_events.HANDLERS[event.feature], _in_company(event, demo.tenant, user))
    recording = Recording.objects.get(tenant=demo.tenant)
    assert recording.user == bob and recording.reason == Recording.Reason.QUEUE
    assert recording.status == Recording.Status.RECORDING
    assert (recording.other_number, recording.dialled_number) == ("+46701234567", "+4681559999")
    assert recording.direction == Recording.Direction.IN and recording.department == bob.department
    assert recording.raw_person_path.endswith("-person.wav") and f"/pbx/t{demo.tenant.pk}/" in recording.raw_person_path
    refusal = LicenceRefusal.objects.get(tenant=demo.tenant)
    assert (refusal.user, refusal.in_use, refusal.limit) == (cecilia, 1, 1)

    # The call ends: its call-log row is written, and with it the recording is closed and queued.
    (record,) = [e.record for e in events if isinstance(e, d.CallEnded) and e.record.call_id == started.call_id]
    assert record.recorded  # the tracker saw MixMonitorStart
    record = dataclasses.replace(record, tenant_id=demo.tenant.pk, user_ids=[], caller_user_id=None,
                                 answered_user_id=None, queue_id=None, queue_log=[])
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        entry = persist_call(record)
    recording.refresh_from_db()
    assert recording.call == entry and recording.status == Recording.Status.RAW
    assert recording.ended_at is not None and recording.duration_s > 5
    assert len(callbacks) == 1  # process_recording, after the commit
    assert CallLog.objects.get(pk=entry.pk).recorded


def test_a_file_name_the_dialplan_does_not_write_is_not_indexed(demo, bob, node):
    started = next(e for e in replay_real(LICENCE) if isinstance(e, d.RecordingCaptured))
    for bad in ("/etc/passwd", "/var/spool/asterisk/monitor/pbx/t1/20261206/1.2-3/../../x",
                "/var/spool/asterisk/monitor/pbx/t999/20261206/1796601653.66-1796601653"):
        event = _in_company(started, demo.tenant, bob)
        event = d.RecordingCaptured(event.tenant_id, event.at, bob.pk, event.feature, {**event.values, "File": bad},
                                    channel=event.channel, call_id=event.call_id)
        dialplan_events.run_handler(dialplan_events.HANDLERS[event.feature], event)
    assert not Recording.objects.exists()


def test_another_companys_person_is_not_taken_from_the_event(demo, carol, node):
    started = next(e for e in replay_real(LICENCE) if isinstance(e, d.RecordingCaptured))
    event = _in_company(started, demo.tenant, carol)  # Carol is Exempel's: not a person of Demo
    dialplan_events.run_handler(dialplan_events.HANDLERS[event.feature], event)
    assert Recording.objects.get(tenant=demo.tenant).user is None
