"""The call log's results, from calls recorded on a real Asterisk 22.10.1 running this branch's generated
dialplan (tests/fixtures/asterisk-real/ami/<name>.jsonl; each .map.json says who is who and what ran).

An outside caller (SIPp on the trunk) dials Demo AB's numbers: Eva's, whose status forwards to a voicemail
box; Bob's, whose phones are all offline (unreachable: his voicemail, or his profile's forward to the
Support number while nobody is logged in); and Support's while its schedule is closed. The dialplan's
``PbxForward`` / ``PbxQueueResult`` / ``PbxVoicemail`` come between the channel events exactly as Asterisk
raised them; the real subscription table and call tracker turn them into the call's record.
"""

from __future__ import annotations

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from tests.bridge_fixtures import events_of, real_capture_map, real_capture_resolver

BOB, EVA, SUPPORT = 3, 6, 1


def record_of(name: str) -> d.CallRecord:
    core = BridgeCore("real", real_capture_resolver(name))
    out = []
    for at, event in events_of(name):
        out.extend(core.process(event, at))
    assert core.tracker.calls == {} and core.tracker.channels == {}  # no ghost left behind
    (ended,) = [e for e in out if isinstance(e, d.CallEnded)]
    return ended.record


def first_event_at(name: str, event: str, **headers) -> float:
    return next(at for at, raw in events_of(name)
                if raw.get("Event") == event and all(raw.get(k) == v for k, v in headers.items()))


def test_a_status_forward_to_voicemail_keeps_eva_and_is_voicemail():
    name = "status_forward_to_voicemail"
    about = real_capture_map(name)
    record = record_of(name)
    assert (record.forwarded_from_user_id, record.forward_reason, record.forwarded_to) == (
        EVA, "status", f"dest:{about['status']['forwards_to_destination']}")
    assert (record.result, record.voicemail_box, record.answered_at) == ("voicemail", "800", None)
    assert (record.direction, record.from_number, record.dialled_number) == ("in", "+46701234567", "+46855500001")
    # Waiting ends when the PBX takes the message, not when the caller hangs up 6 s later.
    until = first_event_at(name, "UserEvent", UserEvent="PbxVoicemail") - record.started_at
    assert record.wait_s == pytest.approx(until, abs=0.01)
    assert record.ended_at - record.started_at > record.wait_s + 5


def test_an_unreachable_person_without_a_rule_is_voicemail_in_their_own_box():
    record = record_of("unreachable_to_voicemail")
    assert (record.result, record.voicemail_box, record.forward_reason) == ("voicemail", "1003", "")
    assert record.voicemail_user_id == BOB and BOB in record.user_ids  # the message is Bob's
    assert record.answered_user_id is None and record.talk_s == 0
    assert record.dialled_number == "+46855500002"


def test_an_unreachable_forward_into_an_empty_queue_is_logged_with_both():
    name = "unreachable_forward_to_empty_queue"
    record = record_of(name)
    assert (record.forwarded_from_user_id, record.forward_reason, record.forwarded_to) == (
        BOB, "unreachable", "+46855500003")
    assert (record.queue_id, record.queue_result, record.result) == (SUPPORT, "noagents", "voicemail")
    assert [(row.kind, row.queue_id) for row in record.queue_log] == [("noagents", SUPPORT)]
    assert record.queue_log[0].at == pytest.approx(first_event_at(name, "UserEvent", UserEvent="PbxQueueResult"))


def test_a_queue_number_called_while_closed_counts_for_the_queue():
    record = record_of("closed_queue_number")
    assert (record.queue_id, record.queue_result, record.result) == (SUPPORT, "closed", "voicemail")
    assert [row.kind for row in record.queue_log] == ["closed"]
    assert record.forward_reason == ""


@pytest.mark.parametrize(("name", "kind"), [("status_forward_to_voicemail", "PbxForward"),
                                            ("unreachable_forward_to_empty_queue", "PbxQueueResult"),
                                            ("unreachable_to_voicemail", "PbxVoicemail")])
def test_the_fake_raises_the_dialplans_user_events_as_the_real_asterisk_does(name, kind):
    from tests.fake_asterisk import events as ev
    from tests.fake_asterisk.state import Channel

    real = next(raw for _at, raw in events_of(name) if raw.get("UserEvent") == kind)
    body = [k for k in real if k not in {h for h, _v in ev.chan(Channel("x", "1", "1"))} | {"Event", "Privilege",
                                                                                                "UserEvent"}]
    ch = Channel(real["Channel"], real["Uniqueid"], real["Linkedid"], state=int(real["ChannelState"]),
                 caller_num=real["CallerIDNum"], caller_name=real["CallerIDName"], context=real["Context"],
                 exten=real["Exten"], priority=int(real["Priority"]), language=real["Language"])
    fake = ev.user_event(ch, kind, tuple((k, real[k]) for k in body))
    assert [k for k, _v in fake] == list(real)
    assert {k: v for k, v in fake if k not in ("ConnectedLineNum", "ConnectedLineName")} == {
        k: v for k, v in real.items() if k not in ("ConnectedLineNum", "ConnectedLineName")}


def test_a_queue_timeout_and_a_full_queue_are_told_apart_and_neither_is_an_abandon():
    name = "queue_timeout_and_full"
    core = BridgeCore("real", real_capture_resolver(name))
    out = []
    for at, event in events_of(name):
        out.extend(core.process(event, at))
    records = {e.record.from_number: e.record for e in out if isinstance(e, d.CallEnded)}
    waited, turned_away = records["+46701234567"], records["+46709876543"]
    # Asterisk says QueueCallerAbandon when Queue()'s 10 s run out; the dialplan's PbxQueueResult corrects it.
    assert (waited.queue_id, waited.queue_result, waited.result) == (SUPPORT, "timeout", "voicemail")
    assert [row.kind for row in waited.queue_log] == ["enter", "ringnoanswer", "timeout"]
    assert waited.queue_log[1].agent_user_id == BOB
    assert waited.wait_s == pytest.approx(10.0, abs=0.05)
    assert (turned_away.queue_id, turned_away.queue_result, turned_away.result) == (SUPPORT, "overflow", "voicemail")
    assert [row.kind for row in turned_away.queue_log] == ["overflow"] and turned_away.wait_s < 1.0


def test_a_profile_forward_on_no_answer_keeps_bob_though_evas_status_sends_it_on_again():
    name = "noanswer_forward_then_status_forward"
    record = record_of(name)
    assert (record.forwarded_from_user_id, record.forward_reason, record.forwarded_to) == (
        BOB, "no_answer", "+46855500001")
    assert (record.result, record.voicemail_box, record.answered_user_id) == ("voicemail", "800", None)
    assert BOB in record.user_ids  # his phone rang
    rang = first_event_at(name, "DialBegin") - record.started_at
    until = first_event_at(name, "UserEvent", UserEvent="PbxVoicemail") - record.started_at
    assert rang < 0.1 and record.wait_s == pytest.approx(until, abs=0.01) and 5.0 <= record.wait_s < 6.0


@pytest.mark.parametrize(("name", "reason", "to", "queue_result"), [
    ("dnd_busy_forward_to_empty_queue", "busy", "+46855500003", "noagents"),
    ("always_forward_then_status_forward", "always", "+46855500001", ""),
])
def test_a_profile_forward_before_any_ringing_says_why(name, reason, to, queue_result):
    record = record_of(name)
    assert (record.forwarded_from_user_id, record.forward_reason, record.forwarded_to) == (BOB, reason, to)
    assert (record.queue_result, record.result, record.answered_user_id) == (queue_result, "voicemail", None)
    assert BOB not in record.user_ids  # no phone of his rang (do not disturb; forward at once)

