"""A finished call, summed up: result, wait and talk time, direction, queue log rows, and the console view."""

from __future__ import annotations

from .domain import CallRecord, Party, QueueLogEntry, iso
from .model import Call, Chan

# Hangup causes (Q.850) that mean the call could not be put through at all.
FAILED_CAUSES = frozenset({1, 2, 3, 20, 21, 22, 27, 28, 29, 31, 34, 38, 41, 42, 44, 50, 58, 65, 66, 69, 79, 88, 111, 127})
FAILED_DIALS = frozenset({"CHANUNAVAIL", "CONGESTION", "INVALIDARGS"})


def direction(call: Call) -> str:
    if call.caller.kind == "external":
        return "in"
    return "out" if call.external else "internal"


def result(call: Call) -> str:
    """answered / abandoned / no_answer / busy / failed, from what happened in this order."""
    if call.answered_at is not None:
        return "answered"
    if call.voicemail_at is not None:
        return "voicemail"  # the PBX answered to take a message: no one answered, and it is no abandon
    if any(v.outcome == "abandon" or (v.outcome is None and v.left_at is None) for v in call.visits):
        return "abandoned"
    statuses = call.dial_statuses
    if "BUSY" in statuses:
        return "busy"
    if any(s in FAILED_DIALS for s in statuses):
        return "failed"
    if statuses:  # NOANSWER, CANCEL
        return "no_answer"
    if call.visits:  # left the queue unanswered (timeout, no agents) and went on elsewhere
        return "no_answer"
    cause = call.cause if call.cause is not None else call.last_cause
    if cause == 17:
        return "busy"
    if cause in FAILED_CAUSES:
        return "failed"
    if call.caller_up_at is not None:
        return "answered"  # answered by the PBX itself: a menu, an announcement, voicemail
    return "no_answer"


def wait_seconds(call: Call, ended_at: float) -> float:
    """In a queue: joined → connected (or abandoned, or left). Otherwise: start → answer (or end)."""
    visits = [v for v in call.visits if v.entered]
    if visits:
        total = 0.0
        for v in visits:
            end = v.connected_at or v.left_at or ended_at
            total += max(0.0, end - v.joined_at)
        return round(total, 3)
    until = call.answered_at or call.voicemail_at or ended_at
    return round(max(0.0, until - call.started_at), 3)


def queue_log(call: Call, ended_at: float) -> list[QueueLogEntry]:
    rows: list[QueueLogEntry] = []
    for v in call.visits:
        def row(kind: str, at: float, v=v, **values) -> QueueLogEntry:
            return QueueLogEntry(kind, v.queue.name, v.queue.queue_id, v.uniqueid, v.index, at, **values)

        if not v.entered:  # turned away before joining (no agents, closed): one row says so
            rows.append(row(v.outcome or "noagents", v.joined_at, wait_s=0.0))
            continue
        rows.append(row("enter", v.joined_at, position=v.joined_position or v.position))
        for seq, (agent, member, ring_s, at) in enumerate(v.missed):
            rows.append(row("ringnoanswer", at, agent_user_id=agent.user_id, agent=member, wait_s=round(ring_s, 3),
                            seq=seq))
        if v.outcome == "connect" and v.connected_at is not None:
            agent_id = v.agent.user_id if v.agent else None
            wait = round(v.connected_at - v.joined_at, 3)
            rows.append(row("connect", v.connected_at, wait_s=wait, agent_user_id=agent_id, agent=v.agent_member))
            done = v.completed_at or ended_at
            rows.append(row("complete", done, wait_s=wait, talk_s=round(max(0.0, done - v.connected_at), 3),
                            agent_user_id=agent_id, agent=v.agent_member))
        elif v.outcome == "abandon" or v.left_at is None:
            left = v.left_at or ended_at
            rows.append(row("abandon", left, wait_s=round(left - v.joined_at, 3), position=v.position))
        else:
            rows.append(row(v.outcome or "timeout", v.left_at, wait_s=round(v.left_at - v.joined_at, 3),
                            position=v.position))
    return rows


def queue_result(call: Call) -> str:
    """How the call's first queue ended for it: answered, abandoned, or what the dialplan said."""
    if not call.visits:
        return ""
    v = call.visits[0]
    if v.outcome == "connect":
        return "answered"
    if v.outcome == "abandon" or v.left_at is None:
        return "abandoned"
    return v.outcome or ""


def record(call: Call, ended_at: float) -> CallRecord:
    way = direction(call)
    answered = next((p for p in call.answered_by if p.user_id is not None), None)
    first_answer = call.answered_by[0] if call.answered_by else None
    others = [p for uid, p in call.parties.items() if uid != call.caller_uid]
    if first_answer is not None and way != "out":
        to_number = first_answer.number  # who took it (for "out": the trunk leg, so the number dialled)
    else:
        to_number = call.dialled or next((p.number for p in others), "")
    user_ids: list[int] = []
    for party in [call.caller, *call.parties.values()]:
        if party.user_id is not None and party.user_id not in user_ids:
            user_ids.append(party.user_id)
    if call.voicemail_user is not None and call.voicemail_user not in user_ids:
        user_ids.append(call.voicemail_user)  # the message is theirs, even if no phone of theirs rang
    first_visit = call.visits[0] if call.visits else None
    outcome = result(call)
    answered_at = call.answered_at
    if answered_at is None and outcome == "answered":
        answered_at = call.caller_up_at  # the PBX answered (menu, announcement, voicemail)
    return CallRecord(
        node=call.node,
        call_id=call.id,
        tenant_id=call.tenant_id,
        started_at=call.started_at,
        answered_at=answered_at,
        ended_at=ended_at,
        direction=way,
        from_number=call.caller.number,
        from_name=call.caller.name,
        to_number=to_number,
        dialled_number=call.dialled,
        caller_user_id=call.caller.user_id,
        answered_user_id=answered.user_id if answered else None,
        user_ids=user_ids,
        queue_id=first_visit.queue.queue_id if first_visit else None,
        queue=first_visit.queue.name if first_visit else "",
        wait_s=wait_seconds(call, ended_at),
        talk_s=round(max(0.0, ended_at - answered_at), 3) if answered_at is not None else 0.0,
        result=outcome,
        cause=call.cause if call.cause is not None else call.last_cause,
        transfers=list(call.transfers),
        recorded=call.recorded,
        complete=call.complete,
        loggable=call.visible and not call.listen_in and call.tenant_id is not None,
        queue_log=queue_log(call, ended_at),
        queue_result=queue_result(call),
        forwarded_from_user_id=call.forwarded_from,
        forwarded_to=call.forwarded_to,
        forward_reason=call.forward_reason,
        voicemail_box=call.voicemail_box,
        voicemail_user_id=call.voicemail_user,
        recording_ends=dict(call.recording_ends),
    )


def transfer_entry(kind: str, at: float, by: Party, transferee: Party, to: Party) -> dict:
    return {"kind": kind, "at": iso(at), "by": by.as_dict(), "transferee": transferee.as_dict(), "to": to.as_dict()}


def view(call: Call) -> dict:
    """The call as the operator console draws it (JSON-ready)."""
    parties = []
    for chan in call.channels.values():
        if not chan.is_party:
            continue
        parties.append(_party_view(call, chan))
    # The queue it waits in, else the one it was answered from (the console keeps showing where it came in).
    visit = call.open_visit() or next((v for v in reversed(call.visits) if v.outcome == "connect"), None)
    return {
        "id": call.id,
        "state": str(call.state),
        "direction": direction(call),
        "started_at": iso(call.started_at),
        "answered_at": iso(call.answered_at),
        "caller": call.caller.as_dict(),
        "dialled": call.dialled,
        "parties": parties,
        "queue": {"id": visit.queue.queue_id, "name": visit.queue.name, "joined_at": iso(visit.joined_at),
                  "position": visit.position if visit.left_at is None else None}
        if visit else None,
        "forwarded": {"reason": call.forward_reason, "to": call.forwarded_to, "user_id": call.forwarded_from}
        if call.forward_reason else None,
        "voicemail": call.voicemail_at is not None,
        "held": call.held_by is not None,
        "recording": any(c.recording for c in call.channels.values()),
        "recording_paused": any(c.recording and c.recording_paused for c in call.channels.values()),
        # Where MixMonitor runs (a queue member's Local;1 is no party): pause, resume and stop act there.
        "recorders": [{"channel": c.name, "uid": c.uniqueid, "paused": c.recording_paused}
                      for c in call.channels.values() if c.recording],
        "transfers": len(call.transfers),
    }


def _party_view(call: Call, chan: Chan) -> dict:
    return {
        "channel": chan.name,
        "uid": chan.uniqueid,
        "role": "caller" if chan.uniqueid == call.caller_uid else "callee",
        "state": chan.state,
        "holding": chan.holding,
        "console_hold": chan.console_hold,  # held from the console (pbx/asterisk/hold.py), not the phone
        **chan.party.as_dict(),
    }
