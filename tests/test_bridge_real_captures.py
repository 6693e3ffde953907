"""Calls captured on a real Asterisk 22.10.1 running this project's own configuration, replayed through the
real subscription table and call tracker (tests/fixtures/asterisk-real; each capture's .map.json names
the demo's people and channels).

``queue_agent_atxfer``: an outside caller dials Demo AB's number and waits in Support (``t1-q1``); Bob is
rung through his queue member ``Local/3@t1-agents`` and answers; the console's announced transfer
(``Atxfer``) rings Eva (1006), she answers, and ``do_complete_transfer`` hangs Bob's phone up; the caller
and Eva talk until the caller hangs up. On the real Asterisk the transferee Asterisk names is Bob's
``Local/3@t1-agents;2`` (the queue's Local pair stays: members are ``/n``), music on hold plays there, the
consultation's Local pair is optimised away 0.48 s *after* the completion with LocalOptimizationEnd
saying ``Success: No``, and AgentComplete comes only with the caller's hangup (TalkTime 13 s including
Eva's part). ``queue_agent_atxfer_cancel``: the same, but the transfer is taken back (``CancelAtxfer``).
"""

from __future__ import annotations

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from tests.bridge_fixtures import events_of, real_capture_map, real_capture_resolver
from tests.bridge_fixtures import replay as replay_capture

BOB, EVA, SUPPORT = 3, 6, 1


def replay(name: str) -> tuple[BridgeCore, list]:
    core = BridgeCore("real", real_capture_resolver(name))
    return core, replay_capture(core, name)


def of(events, cls):
    return [e for e in events if isinstance(e, cls)]


def seconds_between(name: str, first: tuple[str, str], last: tuple[str, str]) -> float:
    """Capture time from the first event ``first`` = (Event, Channel prefix) to the first ``last``."""
    times = {}
    for at, event in events_of(name):
        for key in (first, last):
            if key not in times and event.get("Event") == key[0] and event.get("Channel", "").startswith(key[1]):
                times[key] = at
    return times[last] - times[first]


@pytest.mark.parametrize("name", ["queue_agent_atxfer", "queue_agent_atxfer_cancel"])
def test_a_real_queue_call_with_an_announced_transfer_leaves_no_ghost(name):
    core, events = replay(name)
    assert core.tracker.calls == {} and core.tracker.channels == {} and core.tracker.bridges == {}
    (ended,) = of(events, d.CallEnded)
    record = ended.record
    assert record.loggable and record.queue_id == SUPPORT and record.answered_user_id == BOB
    assert record.direction == "in" and record.from_number == "+46701234567"
    caller = real_capture_map(name)["trunk"]["endpoint"]
    wait = seconds_between(name, ("QueueCallerJoin", f"PJSIP/{caller}"), ("AgentConnect", f"PJSIP/{caller}"))
    assert record.wait_s == pytest.approx(wait, abs=0.05)


def test_the_completed_transfer_moves_the_caller_from_bob_to_eva():
    name = "queue_agent_atxfer"
    core, events = replay(name)
    (ended,) = of(events, d.CallEnded)
    record = ended.record
    (transfer,) = record.transfers
    assert transfer["kind"] == "attended"
    assert transfer["by"]["user_id"] == BOB and transfer["to"]["user_id"] == EVA
    # The transferee Asterisk names is Bob's queue Local;2: the call log says who really moved.
    assert transfer["transferee"]["kind"] == "external" and transfer["transferee"]["number"] == "+46701234567"
    (transferred,) = of(events, d.CallTransferred)
    assert transferred.kind == "attended" and transferred.transferee.kind == "external"
    # AgentComplete names the agent who took the call, though it arrives only at the caller's hangup.
    (completed,) = of(events, d.AgentCompleted)
    assert completed.agent.user_id == BOB
    # Talk time: from Bob's answer to the caller's hangup (Eva's part included), as Asterisk counts it.
    talk = seconds_between(name, ("AgentConnect", "PJSIP/t1-trunk"), ("Hangup", "PJSIP/t1-trunk"))
    assert record.talk_s == pytest.approx(talk, abs=0.05) and talk > 13
    assert set(record.user_ids) == {BOB, EVA}


def test_the_cancelled_transfer_gives_the_call_back_to_bob():
    core, events = replay("queue_agent_atxfer_cancel")
    (ended,) = of(events, d.CallEnded)
    assert ended.record.transfers == [] and not of(events, d.CallTransferred)
    assert ended.record.answered_user_id == BOB
    # While Eva's phone rang, the call was "transferring"; after the cancel it is Bob's again.
    states = [e.call["state"] for e in of(events, d.CallUpdated) if e.call]
    assert "transferring" in states and states[-1] == "up"


def test_the_console_hold_on_a_real_call_is_read_from_its_music_channel():
    """ari_hold_volume_snoop: Bob holds Eva from the console (VOLUME + snoop with music), then resumes."""
    core, events = replay("ari_hold_volume_snoop")
    held, resumed = of(events, d.CallHeld), of(events, d.CallResumed)
    assert len(held) == 1 and len(resumed) == 1 and held[0].by.user_id == BOB
    assert resumed[0].at > held[0].at
    assert not of(events, d.ListenInStarted)  # the music channel's ChanSpyStart is no listen-in
    assert core.tracker.calls == {}
