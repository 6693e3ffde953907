"""Automatic recording of outbound, internal, transferred and forwarded calls, of an approved direct number, and the
direct caller's announcement, on a real Asterisk 22.10.1 (tests/fixtures/asterisk-real/ami/recording_*: each
``.map.json`` says who, what and the policy). Every capture is replayed through the bridge (parse → call tracker)
and the recording handlers into Recording rows of Demo AB; the call's end closes them.

What the real runs showed (docs/recording.md): the recording runs on the answering person's own channel (their
phone, or the trunk leg of an outbound call or a forward), so it ends when that person leaves the call: a blind
or attended transfer gives the person who took the call on a recording of their own (their policy decides), and
the one who transferred it keeps only their part. The caller of a recorded direct call hears the announcement at
the answer (Dial's A()), before the recording starts.
"""

from __future__ import annotations

import dataclasses
import re
import wave

import numpy as np
import pytest

from pbx.asterisk.bridge import dialplan_events
from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.persist import persist_call
from pbx.asterisk.bridge.subscriptions import on_user_event
from pbx.models import AsteriskNode
from recording.models import LicenceRefusal, Recording
from stats.models import CallLog
from tests.bridge_fixtures import REAL, events_of, parse_event, real_capture_map, real_capture_resolver, replay_real

# Who the captures' person ids are in the test's Demo AB (the .map.json files name them).
CAPTURED = {3: "bob", 4: "cecilia", 6: "eva"}


def captured(events, feature: str = "PbxRecording") -> list[d.RecordingCaptured]:
    return [e for e in events if isinstance(e, d.RecordingCaptured) and e.feature == feature]


@pytest.fixture
def node(db):
    return AsteriskNode.objects.get_or_create(name="default", defaults={"is_default": True})[0]


@pytest.fixture
def people(demo):
    return {"bob": demo.agents[0], "cecilia": demo.agents[1], "eva": demo.users[0]}


@pytest.fixture
def index(demo, people, node, django_capture_on_commit_callbacks):
    """Replays a capture into Demo AB: its recording events through the handlers, then its calls' ends through
    persist_call (the call-log row, which closes the recordings). Returns the replayed events."""

    def run(name: str) -> list:
        events = replay_real(name)
        for event in (e for e in events if isinstance(e, d.RecordingCaptured)):
            user = people[CAPTURED[event.user_id]]
            values = dict(event.values)
            if "File" in values:  # the capture's company is 1; the test database's may not be
                values["File"] = values["File"].replace("/pbx/t1/", f"/pbx/t{demo.tenant.pk}/")
            moved = d.RecordingCaptured(demo.tenant.pk, event.at, user.pk, event.feature, values,
                                        channel=event.channel, call_id=event.call_id, uniqueid=event.uniqueid)
            dialplan_events.run_handler(dialplan_events.HANDLERS[moved.feature], moved)
        with django_capture_on_commit_callbacks(execute=False):
            for ended in (e for e in events if isinstance(e, d.CallEnded)):
                persist_call(dataclasses.replace(ended.record, tenant_id=demo.tenant.pk, user_ids=[], caller_user_id=None,
                                                 answered_user_id=None, queue_id=None, queue_log=[]))
        return events

    return run


def rows(demo) -> list[Recording]:
    return list(Recording.objects.filter(tenant=demo.tenant).order_by("started_at"))


def test_an_outbound_call_is_recorded_for_the_caller_with_the_number_dialled(demo, people, index):
    events = index("recording_outbound")
    (started,) = captured(events)
    assert started.channel.startswith("PJSIP/t1-trunk-1-")  # the trunk's leg: the far end answered there
    (recording,) = rows(demo)
    assert (recording.user, recording.direction, recording.reason) == (
        people["bob"], Recording.Direction.OUT, Recording.Reason.DEPARTMENT)
    assert recording.other_number == "+46701234567" and recording.dialled_number == ""
    assert recording.status == Recording.Status.RAW and recording.call == CallLog.objects.get(tenant=demo.tenant)
    assert recording.department == people["bob"].department


def test_an_internal_call_is_recorded_for_the_callee_when_the_callees_rule_says_so(demo, people, index):
    index("recording_internal_callee")
    (recording,) = rows(demo)
    assert (recording.user, recording.direction) == (people["eva"], Recording.Direction.INTERNAL)
    assert recording.other_number == people["bob"].extension


def test_an_internal_call_recorded_by_the_callers_rule_names_the_caller_and_the_callees_extension(demo, people, index):
    events = index("recording_internal_caller")
    (started,) = captured(events)
    assert started.channel.startswith("PJSIP/t1-db3a4a958e-")  # still on Eva's phone, the sides swapped
    (recording,) = rows(demo)
    assert (recording.user, recording.direction) == (people["bob"], Recording.Direction.INTERNAL)
    assert recording.other_number == people["eva"].extension  # before: Bob's own extension


def test_a_call_forwarded_at_once_to_the_mobile_is_recorded_for_the_person_it_was_for(demo, people, index):
    events = index("recording_forward_first_to_mobile")
    (ended,) = [e for e in events if isinstance(e, d.CallEnded)]
    assert ended.record.forwarded_to == "+46701112222"  # through the trunk, no phone of Eva's rang
    (recording,) = rows(demo)
    assert (recording.user, recording.direction, recording.reason) == (
        people["eva"], Recording.Direction.IN, Recording.Reason.DEPARTMENT)
    assert (recording.other_number, recording.dialled_number) == ("+46701234567", "+4681550060")


def test_calls_to_and_from_an_approved_direct_number_are_recorded_as_such(demo, people, index):
    index("recording_approved_number_inbound")
    index("recording_approved_number_outbound")
    inbound, outbound = rows(demo)
    assert {inbound.reason, outbound.reason} == {Recording.Reason.APPROVED_NUMBER}
    assert (inbound.direction, inbound.dialled_number) == (Recording.Direction.IN, "+4681550030")
    assert (outbound.direction, outbound.other_number) == (Recording.Direction.OUT, "+46701234567")
    assert inbound.user == outbound.user == people["bob"]


@pytest.mark.parametrize("name", ["recording_blind_transfer_dtmf", "recording_queue_blind_transfer_dtmf"])
def test_a_blind_transfer_ends_the_first_persons_recording_and_starts_the_next_persons(demo, people, index, name):
    events = index(name)
    first, second = captured(events)
    (ended,) = [e for e in events if isinstance(e, d.CallEnded)]
    assert [t["kind"] for t in ended.record.transfers] == ["blind"]
    # Both on the people's own phones (a queue agent's too, not the member's Local channel).
    assert first.channel.startswith("PJSIP/t1-5e0616a089-") and second.channel.startswith("PJSIP/t1-db3a4a958e-")
    bob, eva = rows(demo)
    assert (bob.user, eva.user) == (people["bob"], people["eva"])
    assert bob.ended_at <= eva.started_at  # Bob's part only: it ended when his phone left the call
    assert eva.ended_at == CallLog.objects.get(tenant=demo.tenant).ended_at
    assert bob.call == eva.call and bob.reason == eva.reason  # one call, and the call's kind and policy go with it
    assert 0 < bob.duration_s < (eva.ended_at - bob.started_at).total_seconds()


@pytest.mark.parametrize("name", ["recording_attended_transfer_dtmf", "recording_queue_attended_transfer_console"])
def test_an_attended_transfer_records_the_next_person_from_the_consultation_on(demo, people, index, name):
    events = index(name)
    (ended,) = [e for e in events if isinstance(e, d.CallEnded)]
    (transfer,) = ended.record.transfers
    assert transfer["kind"] == "attended" and transfer["to"]["user_id"] == 6
    bob, eva = rows(demo)
    assert (bob.user, eva.user) == (people["bob"], people["eva"])
    # Eva's recording starts when she answers the consultation (the transferred call's kind: inbound, the
    # customer as the other party) and runs to the end; Bob's ends when his phone hangs up (the completion).
    assert eva.started_at < bob.ended_at < eva.ended_at
    assert eva.ended_at == CallLog.objects.get(tenant=demo.tenant).ended_at
    assert (eva.direction, eva.other_number) == (Recording.Direction.IN, "+46701234567")


def test_the_console_transfer_is_the_bridges_atxfer_then_the_hangup_of_the_agents_phone():
    sent = [parse_event(line["raw"]) for line in _lines("recording_queue_attended_transfer_console") if line["dir"] == "send"]
    actions = [(a["Action"], a.get("Channel", "")) for a in sent if a.get("Action") in ("Atxfer", "Hangup")]
    assert [a for a, _ch in actions] == ["Atxfer", "Hangup"]
    assert {ch for _a, ch in actions} == {next(e.channel for e in captured(replay_real(
        "recording_queue_attended_transfer_console")) if e.user_id == 3)}


def test_each_recording_ends_when_its_own_channel_hangs_up(demo):
    events = replay_real("recording_attended_transfer_dtmf")
    bob, eva = captured(events)
    (ended,) = [e for e in events if isinstance(e, d.CallEnded)]
    hangups = {e["Uniqueid"]: at for at, e in events_of("recording_attended_transfer_dtmf") if e["Event"] == "Hangup"}
    assert ended.record.recording_ends == {bob.uniqueid: hangups[bob.uniqueid], eva.uniqueid: hangups[eva.uniqueid]}


def test_with_one_licence_the_second_agents_phone_is_refused(demo, people, index):
    events = index("recording_queue_licence_one_agents")
    (refused,) = captured(events, "PbxRecordingRefused")
    assert refused.channel.startswith("PJSIP/t1-0c3565b7fc-")  # Cecilia's phone
    (recording,) = rows(demo)
    assert (recording.user, recording.reason, recording.queue) == (people["bob"], Recording.Reason.QUEUE,
                                                                    demo.queues["Support"])
    refusal = LicenceRefusal.objects.get(tenant=demo.tenant)
    assert (refusal.user, refusal.in_use, refusal.limit) == (people["cecilia"], 1, 1)


def _lines(name: str) -> list[dict]:
    import json

    return [json.loads(line) for line in (REAL / "ami" / f"{name}.jsonl").read_text(encoding="utf-8").splitlines()]


def _blocks(path, seconds: float) -> list[tuple[int, float]]:
    """(dominant frequency in Hz, level in dBFS) of each block of the (8 kHz mono) wav."""
    with wave.open(str(path)) as w:
        rate = w.getframerate()
        samples = np.frombuffer(w.readframes(w.getnframes()), dtype=np.int16).astype(float)
    n = int(rate * seconds)
    out = []
    for start in range(0, len(samples) - n + 1, n):
        block = samples[start:start + n]
        spectrum = np.abs(np.fft.rfft(block * np.hanning(n)))
        level = 20 * np.log10(np.sqrt(np.mean(block ** 2)) / 32768 + 1e-12)
        out.append((int(round(np.fft.rfftfreq(n, 1 / rate)[np.argmax(spectrum)])), level))
    return out


def test_the_direct_caller_heard_the_announcement_then_the_person(demo):
    """The customer's phone kept what it received: the prompt Asterisk played, block for block, then Bob's sine."""
    about = real_capture_map("recording_direct_announcement")
    prompt = _blocks(REAL / "ami" / "recording_direct_announcement.prompt.wav", 0.3)
    heard = _blocks(REAL / "ami" / "recording_direct_announcement.kund-received.wav", 0.3)
    assert [f for f, _level in heard[:len(prompt)]] == [f for f, _level in prompt]
    bobs_tone = int(re.search(r"(\d+) Hz", about["people"]["bob"]["phone"])[1])
    after = heard[len(prompt):]
    assert after and all(abs(f - bobs_tone) <= 4 and level > -30 for f, level in after)


def test_the_recording_of_the_announced_call_starts_after_the_prompt(demo):
    events = events_of("recording_direct_announcement")
    # Dial's "a": the caller is answered together with Bob's phone, so that the prompt reaches them (their Up
    # comes at once; Dial's own DialEnd ANSWER only after U() has run).
    phone_up = next(at for at, e in events if e["Event"] == "Newstate" and e["ChannelStateDesc"] == "Up")
    caller_up = next(at for at, e in events if e["Event"] == "Newstate" and e["ChannelStateDesc"] == "Up"
                     and e["Channel"].startswith("PJSIP/t1-trunk-1-"))
    started = next(at for at, e in events if e["Event"] == "UserEvent" and e.get("UserEvent") == "PbxRecording")
    with wave.open(str(REAL / "ami" / "recording_direct_announcement.prompt.wav")) as w:
        prompt_s = w.getnframes() / w.getframerate()
    assert caller_up - phone_up < 0.1
    assert started - caller_up >= prompt_s  # Dial's A() played it to both first; U() started the recording after


def test_a_recording_event_of_another_company_than_its_channel_is_dropped():
    (_at, raw) = next((at, e) for at, e in events_of("recording_outbound")
                      if e["Event"] == "UserEvent" and e.get("UserEvent") == "PbxRecording")
    resolver = real_capture_resolver("recording_outbound")
    assert on_user_event(raw, 0.0, resolver) is not None
    assert on_user_event({**raw, "Tenant": "2"}, 0.0, resolver) is None  # the trunk's channel is company 1's
