"""The event bridge's facts, as webhook events: one function the bridge calls for each batch.

What a receiver gets is the console's picture of the call without the switchboard's internals (channel
names and Asterisk's ids stay here), and on ``call.ended`` the call-log row as it was written: the "call
logging" the operators sell. A call's events share its id as their order key, so they arrive in order.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable, Mapping
from typing import Any

from pbx.asterisk.bridge import domain as d

from .emit import Event, emit_many, subscriptions

log = logging.getLogger(__name__)

_HIDDEN_PARTY_KEYS = ("channel", "uid", "console_hold")


def public_call(view: Mapping[str, Any]) -> dict[str, Any]:
    call = {k: v for k, v in view.items() if k != "tenant_id"}
    call["parties"] = [{k: v for k, v in p.items() if k not in _HIDDEN_PARTY_KEYS} for p in view.get("parties", ())]
    return call


def iso(value: dt.datetime | None) -> str | None:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z") if value else None


def call_log_row(entry) -> dict[str, Any]:
    """The call-log row as the API shows it (stats.CallLog)."""
    return {
        "id": entry.pk, "call_id": entry.linkedid, "started_at": iso(entry.started_at),
        "answered_at": iso(entry.answered_at), "ended_at": iso(entry.ended_at), "direction": entry.direction,
        "from_number": entry.from_number, "from_name": entry.from_name, "to_number": entry.to_number,
        "dialled_number": entry.dialled_number, "caller_user_id": entry.caller_id,
        "answered_by_user_id": entry.answered_by_id, "queue_id": entry.queue_id, "wait_s": round(entry.wait_s, 1),
        "talk_s": round(entry.talk_s, 1), "result": entry.result, "queue_result": entry.queue_result,
        "forwarded_from_user_id": entry.forwarded_from_id, "forwarded_to": entry.forwarded_to,
        "forward_reason": entry.forward_reason, "voicemail_box": entry.voicemail_box,
        "hangup_cause": entry.hangup_cause, "transfers": entry.transfers, "recorded": entry.recorded,
        "complete": entry.complete,
    }


def _data(event: d.Event) -> dict[str, Any]:
    data = event.message()
    data.pop("type", None)
    if "call" in data:
        data["call"] = public_call(data["call"])
    return data


CALL_TYPES: dict[type, str] = {
    d.CallCreated: "call.started",
    d.CallAnswered: "call.answered",
    d.CallTransferred: "call.transferred",
    d.CallEnded: "call.ended",
    d.QueueCallerJoined: "queue.caller_joined",
    d.QueueCallerAbandoned: "queue.caller_abandoned",
}
AGENT_TYPES: dict[type, str] = {
    d.AgentLoggedIn: "agent.logged_in",
    d.AgentLoggedOut: "agent.logged_out",
    d.AgentPaused: "agent.paused",
}


def webhook_events(events: Iterable[d.Event], call_logs: Mapping[str, Any] | None = None) -> list[Event]:
    out: list[Event] = []
    for event in events:
        tenant_id = event.tenant_id
        if tenant_id is None:
            continue
        at = dt.datetime.fromtimestamp(event.at, tz=dt.UTC)
        kind = CALL_TYPES.get(type(event))
        if kind is not None:
            data = _data(event)
            data.pop("record", None)
            data.pop("summary", None)
            if kind == "call.ended":
                entry = (call_logs or {}).get(event.call_id)
                data["call_log"] = call_log_row(entry) if entry is not None else None
            out.append(Event(tenant_id, kind, data, order_key=f"call:{event.call_id}", at=at))
            continue
        kind = AGENT_TYPES.get(type(event))
        if kind is not None:
            data = _data(event)
            data.pop("member", None)  # the queue member's Asterisk interface
            who = event.user_id if event.user_id is not None else event.member
            out.append(Event(tenant_id, kind, data, order_key=f"agent:{who}", at=at))
            continue
        if isinstance(event, d.VoicemailArrived) and subscriptions.endpoints(tenant_id, "voicemail.left"):
            out.extend(voicemail_events(tenant_id, event.mailbox, at))
    return out


def voicemail_events(tenant_id: int, mailbox: str, at: dt.datetime) -> list[Event]:
    """Each new message of the box, once (``MessageWaiting`` repeats; the message id is the key)."""
    from pbx import voicemail_store as store
    from pbx.models import VoicemailBox

    box = VoicemailBox.objects.filter(tenant_id=tenant_id, number=mailbox).values("pk", "user_id", "name").first()
    if box is None:
        return []
    try:
        messages = store.list_messages(tenant_id, mailbox, store.NEW_FOLDERS)
    except ValueError:
        return []
    out = []
    for message in messages:
        if not message.msg_id:
            continue
        data = {"mailbox": mailbox, "mailbox_id": box["pk"], "user_id": box["user_id"], "message_id": message.msg_id,
                "caller_number": message.caller_number, "caller_name": message.caller_name,
                "received_at": iso(message.received), "duration_s": message.duration_s,
                "urgent": message.is_urgent}
        out.append(Event(tenant_id, "voicemail.left", data, order_key=f"voicemail:{mailbox}",
                         dedup_key=f"voicemail:{mailbox}:{message.msg_id}", at=message.received or at))
    return out


def emit_bridge_events(events: list[d.Event], call_logs: Mapping[str, Any] | None = None) -> int:
    """The bridge's one call per batch; a failure is logged, never raised (the batch is published anyway)."""
    try:
        return emit_many(webhook_events(events, call_logs))
    except Exception:
        log.exception("could not queue webhooks for %d events", len(events))
        return 0
