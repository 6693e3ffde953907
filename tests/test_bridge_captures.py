"""Every real Asterisk 22 capture, replayed through the real subscription table and call tracker.

The captures' phones are mapped onto Demo AB (tests/bridge_fixtures.py): 1001 is Alice, 1002 is Olle,
``sipp`` is the outside world, queue ``support`` is Demo AB's Support.
"""

from __future__ import annotations

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from pbx.asterisk.bridge.subscriptions import SUBSCRIPTIONS
from tests.bridge_fixtures import ami_capture_names, ari_capture_names, capture_resolver, events_of, replay

ASTERISK_NAMES = {"Channel", "Uniqueid", "Linkedid", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "DestChannel",
                  "BridgeUniqueid", "DialStatus", "Exten", "Context", "Interface", "Presentity"}


@pytest.fixture
def core(demo):
    return BridgeCore("default", capture_resolver(demo))


def of(events, cls):
    return [e for e in events if isinstance(e, cls)]


def ended(events) -> d.CallEnded:
    (end,) = of(events, d.CallEnded)
    return end


def keys(value) -> set[str]:
    if isinstance(value, dict):
        return set(value) | {k for v in value.values() for k in keys(v)}
    if isinstance(value, list):
        return {k for v in value for k in keys(v)}
    return set()


@pytest.mark.parametrize("name", ami_capture_names() + ari_capture_names())
def test_every_capture_replays_without_leaving_a_ghost_call(core, name):
    events = replay(core, name)
    tracker = core.tracker
    # A call stays only while one of its channels does: only ari_redirect_and_move ends with sipp still up.
    live = {uid for call in tracker.calls.values() for uid in call.channels}
    assert live == set(tracker.channels)
    if name != "ari_redirect_and_move":
        assert tracker.calls == {} and tracker.channels == {} and tracker.bridges == {}
    for event in events:
        assert not keys(event.message()) & ASTERISK_NAMES, f"Asterisk field names leak from {event.type}"


def test_high_volume_events_are_dropped_by_one_lookup(core):
    for name in ("VarSet", "Newexten", "RTCPSent", "RTCPReceived", "DTMFEnd", "Cdr", "DialState"):
        assert name not in SUBSCRIPTIONS
        assert core.process({"Event": name, "Channel": "PJSIP/1001-00000001"}, 1.0) == ()


def test_an_answered_call_is_one_call_answered_by_the_callee_with_the_talk_time_of_the_capture(core, demo):
    alice, olle = demo.admin, demo.operator
    events = replay(core, "b_call_1001_to_1002_answered_caller_hangup")
    calls = {e.call_id for e in events if isinstance(e, d.CallEvent)}
    assert calls == {"1795406452.6"}
    assert [e.type for e in events if isinstance(e, d.CallEvent) and e.type != "call.updated"] == [
        "call.created", "call.ringing", "call.answered", "call.ended"]
    assert of(events, d.CallAnswered)[0].party.user_id == olle.pk
    end = ended(events)
    record = end.record
    assert (end.result, end.cause, end.tenant_id) == ("answered", 16, demo.tenant.pk)
    assert 3.0 <= record.talk_s <= 4.0  # the capture: answered at +0.607 s, hung up at +4.11 s
    assert (record.direction, record.from_number, record.to_number) == ("internal", "1001", "1002")
    assert (record.caller_user_id, record.answered_user_id) == (alice.pk, olle.pk)
    assert record.user_ids == [alice.pk, olle.pk] and record.loggable and record.complete


def test_a_call_nobody_answers_within_the_dial_timeout_ends_with_no_answer(core):
    events = replay(core, "c1_call_no_answer_timeout")
    end = ended(events)
    assert end.result == "no_answer"
    assert end.record.answered_at is None and end.record.talk_s == 0
    assert end.record.wait_s == pytest.approx(6.0, abs=0.05)  # Dial(PJSIP/1002,6)
    assert end.record.dialled_number == "1012"


def test_a_rejected_call_ends_busy_with_cause_17(core):
    end = ended(replay(core, "c2_call_rejected_busy"))
    assert (end.result, end.cause, end.cause_text) == ("busy", 17, "User busy")


def test_a_queue_call_answered_by_an_agent_has_the_captured_wait_and_the_agent(core, demo):
    olle, support = demo.operator, demo.queues["Support"]
    events = replay(core, "d_queue_call_answered_by_agent")
    (joined,) = of(events, d.QueueCallerJoined)
    (connected,) = of(events, d.AgentConnected)
    (completed,) = of(events, d.AgentCompleted)
    assert (joined.queue_id, joined.position, joined.caller.number) == (support.pk, 1, "1001")
    # QueueCallerJoin at +0.6094 s, AgentConnect at +0.6123 s (Asterisk rounds it to HoldTime: 0)
    assert connected.wait_s == pytest.approx(0.003, abs=0.001)
    assert connected.agent.user_id == olle.pk
    assert completed.reason == "caller" and completed.talk_s == pytest.approx(3.0, abs=0.01)
    record = ended(events).record
    assert (record.result, record.queue_id, record.answered_user_id) == ("answered", support.pk, olle.pk)
    assert record.wait_s == pytest.approx(0.003, abs=0.001)
    assert [(row.kind, row.agent_user_id) for row in record.queue_log] == [
        ("enter", None), ("connect", olle.pk), ("complete", olle.pk)]
    assert record.queue_log[2].talk_s == pytest.approx(3.0, abs=0.01)


def test_a_caller_who_hangs_up_in_the_queue_abandons_once_despite_the_repeated_dial_end(core, demo):
    raw = [event for _at, event in events_of("e_queue_caller_abandon") if event["Event"] == "DialEnd"]
    assert [e["DialStatus"] for e in raw] == ["CANCEL", "CANCEL"]  # what Asterisk really sends
    events = replay(core, "e_queue_caller_abandon")
    (abandoned,) = of(events, d.QueueCallerAbandoned)
    assert abandoned.wait_s == pytest.approx(5.0, abs=0.01)  # Asterisk: HoldTime 5
    assert len(of(events, d.QueueCallerLeft)) == 1
    record = ended(events).record
    assert record.result == "abandoned" and record.answered_at is None
    assert [row.kind for row in record.queue_log] == ["enter", "abandon"]


def test_a_redirect_of_the_caller_is_a_transfer_by_the_party_it_talked_with(core, demo):
    alice, olle = demo.admin, demo.operator
    events = replay(core, "g1_redirect_answered_call")
    (moved,) = of(events, d.CallTransferred)
    assert moved.kind == "redirect"
    assert (moved.by.user_id, moved.transferee.number, moved.to.user_id) == (olle.pk, "9999", alice.pk)
    assert [a.party.user_id for a in of(events, d.CallAnswered)] == [olle.pk, alice.pk]
    record = ended(events).record
    assert (record.direction, record.result) == ("in", "answered")
    assert [t["kind"] for t in record.transfers] == ["redirect"]
    assert {e.call_id for e in events if isinstance(e, d.CallEvent)} == {"1795406499.16"}


def test_redirecting_both_legs_records_where_each_leg_went(core, demo):
    events = replay(core, "g1b_redirect_both_legs_extrachannel")
    moves = [(t.transferee.number, t.to.number) for t in of(events, d.CallTransferred)]
    assert moves == [("1001", "611"), ("1002", "610")]


def test_a_blind_transfer_is_attributed_to_the_transferer_and_reaches_the_target(core, demo):
    alice, olle = demo.admin, demo.operator
    events = replay(core, "g2_blindtransfer_action")
    (transfer,) = of(events, d.CallTransferred)
    assert (transfer.kind, transfer.by.user_id, transfer.transferee.number, transfer.to.user_id) == (
        "blind", olle.pk, "9999", alice.pk)
    # The Unhold Asterisk raises on the transferer just before the transfer resumes nothing.
    assert of(events, d.CallResumed) == []
    record = ended(events).record
    assert [t["kind"] for t in record.transfers] == ["blind"]
    assert record.user_ids == [olle.pk, alice.pk]


def test_a_completed_attended_transfer_sees_through_the_local_channels_to_the_target(core, demo):
    alice, olle = demo.admin, demo.operator
    events = replay(core, "g3_atxfer_completed")
    states = [e.call["state"] for e in events if isinstance(e, d.CallEvent) and e.call]
    assert "held" in states and "transferring" in states
    (transfer,) = of(events, d.CallTransferred)
    assert transfer.kind == "attended"
    assert (transfer.by.user_id, transfer.transferee.number, transfer.to.user_id) == (olle.pk, "9999", alice.pk)
    assert transfer.call["state"] == "up"
    assert {e.call_id for e in events if isinstance(e, d.CallEvent)} == {"1795406520.24"}
    record = ended(events).record
    assert record.transfers[0]["to"]["user_id"] == alice.pk
    assert record.result == "answered" and record.complete


def test_a_cancelled_attended_transfer_returns_the_call_to_the_transferer(core, demo):
    olle = demo.operator
    events = replay(core, "g4_atxfer_cancelled")
    assert of(events, d.CallTransferred) == []
    (resumed,) = of(events, d.CallResumed)
    assert resumed.by.user_id == olle.pk and resumed.call["state"] == "up"
    # After the consultation leg is gone the call is sipp and Olle again.
    after = [e for e in events if isinstance(e, d.CallUpdated) and e.at > resumed.at][0]
    assert sorted(p["number"] for p in after.call["parties"]) == ["1002", "9999"]
    assert ended(events).record.transfers == []


def test_hold_is_on_the_call_of_the_holding_party_not_where_the_music_plays(core, demo):
    alice = demo.admin
    events = replay(core, "h1_hold_moh_via_sip_reinvite")
    (held,) = of(events, d.CallHeld)
    (resumed,) = of(events, d.CallResumed)
    assert held.call_id == resumed.call_id == "1795406547.34"
    assert held.by.user_id == alice.pk and held.call["held"] is True and held.call["state"] == "held"
    assert resumed.call["state"] == "up"


def test_music_on_hold_without_hold_does_not_hold_the_call(core):
    events = replay(core, "h2_moh_app_610")
    assert of(events, d.CallHeld) == []
    assert ended(events).record.dialled_number == "610"


def test_mixmonitor_start_pause_and_stop_become_recording_events(core, demo):
    events = replay(core, "i_mixmonitor")
    kinds = [(e.type, e.party.number) for e in events if isinstance(e, d.RecordingStarted | d.RecordingStopped)]
    assert kinds == [("recording.started", "1001"), ("recording.stopped", "1001"), ("recording.started", "1002")]
    assert [(e.paused, e.direction) for e in of(events, d.RecordingPaused)] == [
        (True, "both"), (False, "read"), (False, "both")]
    assert ended(events).record.recorded is True


def test_chanspy_becomes_listen_in_events_told_only_to_the_listener(core, demo):
    events = replay(core, "j_chanspy_local_originate")
    started, stopped = of(events, d.ListenInStarted), of(events, d.ListenInStopped)
    assert len(started) == len(stopped) == 1
    assert started[0].call_id == "1795406572.39" and started[0].target.user_id == demo.operator.pk
    assert started[0].audience() == []  # the listener is no person here (a Local originate): nobody is told
    # The spy's own Local channels are no call of the company.
    assert {e.call_id for e in of(events, d.CallCreated)} == {"1795406572.39"}
    assert len(of(events, d.CallEnded)) == 1


def test_device_hint_and_presence_states_become_people_s_states(core, demo):
    alice, olle = demo.admin, demo.operator
    events = replay(core, "k_device_extension_presence_state")
    devices = [(e.user_id, e.state) for e in of(events, d.DeviceStateChanged)]
    assert (olle.pk, "ringing") in devices and (olle.pk, "inuse") in devices
    lines = [(e.user_id, e.state) for e in of(events, d.LineStateChanged) if e.user_id]
    assert (olle.pk, "ringing") in lines and (alice.pk, "in_use") in lines
    presence = [(e.user_id, e.state, e.subtype, e.note) for e in of(events, d.PresenceChanged)]
    assert presence[0] == (alice.pk, "away", "Lunch", "Back at 2")
    assert presence[-1][:2] == (alice.pk, "available")
    assert all(e.tenant_id == demo.tenant.pk for e in events if not isinstance(e, d.NodeBooted))


def test_queue_member_actions_become_agent_log_in_pause_and_log_out(core, demo):
    alice, sales = demo.admin, demo.queues["Sales"]
    events = [e for e in replay(core, "f_queue_member_actions") if isinstance(e, d.AgentEvent)]
    assert [(e.type, e.paused, e.reason) for e in events if e.queue == "sales"] == [
        ("agent.logged_in", False, ""), ("agent.paused", True, "lunch"), ("agent.paused", False, ""),
        ("agent.logged_out", False, "")]
    assert {(e.queue_id, e.user_id) for e in events if e.queue == "sales"} == {(sales.pk, alice.pk)}


def test_a_call_bridged_by_ari_absorbs_the_call_of_the_channel_asterisk_relinked(core, demo):
    # Asterisk rewrote the ARI-originated 1002 channel's Linkedid to the caller's when bridging them.
    events = replay(core, "ari_bridge_snoop_continue")
    (merged,) = of(events, d.CallMerged)
    assert (merged.call_id, merged.into_call_id) == ("1795406741.58", "1795406741.57")
    record = ended(events).record
    assert record.call_id == "1795406741.57" and record.answered_user_id == demo.operator.pk
    assert of(events, d.ListenInStarted)[0].target.user_id == demo.admin.pk  # the ARI snoop on 1001


def test_originated_calls_end_answered_busy_or_unanswered(core):
    results = [e.result for e in of(replay(core, "n_originate"), d.CallEnded)]
    assert results == ["answered", "busy", "no_answer"]


def test_a_shutdown_ends_the_node_s_calls_as_incomplete(core):
    replay(core, "b_call_1001_to_1002_answered_caller_hangup", until=1795406453.0)
    assert list(core.tracker.calls) == ["1795406452.6"]
    events = replay(core, "p2_core_restart_now_via_cli")
    end = ended(events)
    assert end.record.complete is False and end.record.result == "answered"
    assert of(events, d.NodeShutdown)[0].restart is True
    assert core.tracker.calls == {} and core.tracker.channels == {}


def test_a_console_hold_is_read_from_its_music_channel(core):
    """The snoop that plays a console hold's music names the holder (pbx.asterisk.hold): its music is the
    hold, its hangup the resume, and its ChanSpyStart is no listen-in."""
    from tests.bridge_fixtures import parse_event

    # The captured call up to the answer, then a hold from Olle's phone (1002).
    fresh, call, olle, alice, at = _answered_call(core)
    music = f"hold-0-{olle.uniqueid}"
    snoop = {"Channel": f"Snoop/{alice.uniqueid}-00000000", "Uniqueid": music, "Linkedid": music,
             "ChannelState": "6", "ChannelStateDesc": "Up"}
    spy = parse_event("Event: ChanSpyStart\r\nSpyerChannel: Snoop/x\r\nSpyerUniqueid: " + music
                      + f"\r\nSpyeeChannel: {alice.name}\r\nSpyeeUniqueid: {alice.uniqueid}\r\n"
                      + f"SpyeeLinkedid: {alice.linkedid}\r\n")
    out = [*fresh.process({"Event": "Newchannel", **snoop}, at), *fresh.process(spy, at)]
    out += fresh.process({"Event": "MusicOnHoldStart", "Class": "default", **snoop}, at)
    (held,) = of(out, d.CallHeld)
    assert held.by.user_id == olle.party.user_id and not of(out, d.ListenInStarted)
    assert call.state.value == "held" and olle.holding and olle.console_hold
    out = fresh.process({"Event": "MusicOnHoldStop", **snoop}, at + 5)
    out += fresh.process({"Event": "Hangup", "Cause": "16", **snoop}, at + 5)
    assert len(of(out, d.CallResumed)) == 1 and call.state.value == "up" and not olle.holding
    assert set(fresh.tracker.channels) == {olle.uniqueid, alice.uniqueid}  # the snoop was never a party


def _answered_call(core):
    """Capture b up to Alice (1001) and Olle (1002) talking: (core, call, Olle's channel, Alice's, a time after)."""
    fresh = BridgeCore("default", core.resolver)
    answered = events_of("b_call_1001_to_1002_answered_caller_hangup")
    up_to = next(i for i, (_at, e) in enumerate(answered) if e.get("Event") == "BridgeEnter"
                 and e.get("Channel", "").startswith("PJSIP/1001"))
    for at, event in answered[: up_to + 1]:
        fresh.process(event, at)
    (call,) = fresh.tracker.calls.values()
    olle = next(c for c in call.channels.values() if c.name.startswith("PJSIP/1002"))
    alice = next(c for c in call.channels.values() if c.name.startswith("PJSIP/1001"))
    return fresh, call, olle, alice, answered[up_to][0] + 1


def test_a_reconnect_finds_console_holds_in_the_listed_music_channels(core):
    fresh, call, olle, alice, _at = _answered_call(core)

    def listed(uid, name):
        return (d.ChannelInfo(name, uid, uid, "up", "", "", "", ""), "", 3)

    live = [listed(olle.uniqueid, olle.name), listed(alice.uniqueid, alice.name)]
    out = fresh.tracker.reconcile([*live, listed(f"hold-0-{olle.uniqueid}", f"Snoop/{alice.uniqueid}-0")], [], 100.0)
    assert of(out, d.CallHeld) and olle.console_hold
    out = fresh.tracker.reconcile(live, [], 101.0)  # the music went while the bridge was away
    assert of(out, d.CallResumed) and not olle.holding
