"""Builders for AMI events, with the header names and order seen in the captures.

Every builder returns a header list (``[(key, value), ...]``) starting with ``Event``.  The test suite checks
every event the fake emits against ``captures.event_schemas()``, so a new builder must follow a captured shape.
"""

from __future__ import annotations

import time

from .state import CAUSE_TEXT, DEVICE_STATE_CODE, AsteriskState, Bridge, Channel, Queue, QueueMember
from .wire import Headers

UNKNOWN = "<unknown>"


def chan(ch: Channel, prefix: str = "") -> Headers:
    """The standard channel snapshot block (ast_manager_build_channel_state_string)."""
    return [
        (f"{prefix}Channel", ch.name),
        (f"{prefix}ChannelState", str(ch.state)),
        (f"{prefix}ChannelStateDesc", ch.state_desc),
        (f"{prefix}CallerIDNum", ch.caller_num or UNKNOWN),
        (f"{prefix}CallerIDName", ch.caller_name or UNKNOWN),
        (f"{prefix}ConnectedLineNum", ch.connected_num or UNKNOWN),
        (f"{prefix}ConnectedLineName", ch.connected_name or UNKNOWN),
        (f"{prefix}Language", ch.language),
        (f"{prefix}AccountCode", ch.accountcode),
        (f"{prefix}Context", ch.context),
        (f"{prefix}Exten", ch.exten),
        (f"{prefix}Priority", str(ch.priority)),
        (f"{prefix}Uniqueid", ch.uniqueid),
        (f"{prefix}Linkedid", ch.linkedid),
    ]


def bridge(b: Bridge, prefix: str = "") -> Headers:
    return [
        (f"{prefix}BridgeUniqueid", b.id),
        (f"{prefix}BridgeType", b.type),
        (f"{prefix}BridgeTechnology", b.technology),
        (f"{prefix}BridgeCreator", b.creator),
        (f"{prefix}BridgeName", b.name),
        (f"{prefix}BridgeNumChannels", str(len(b.channels))),
        (f"{prefix}BridgeVideoSourceMode", b.video_mode),
    ]


def event(name: str, privilege: str | None, *blocks: Headers, **fields: str) -> Headers:
    headers: Headers = [("Event", name)]
    if privilege:
        headers.append(("Privilege", privilege))
    for block in blocks:
        headers.extend(block)
    headers.extend((k.replace("_", "-"), str(v)) for k, v in fields.items())
    return headers


def message_waiting(mailbox: str, *, new: int, old: int, channel: Channel | None = None) -> Headers:
    """MessageWaiting (main/manager_mwi.c): the channel snapshot of the caller whose VoiceMail() left the
    message when there is one (both real captures have it: o_voicemail, voicemail_unreachable_message), then
    ``Mailbox``, ``Waiting``, ``New``, ``Old``."""
    return event("MessageWaiting", "call,all", chan(channel) if channel is not None else [],
                 Mailbox=mailbox, Waiting="1" if new else "0", New=str(new), Old=str(old))


def call_event(name: str, ch: Channel, **fields) -> Headers:
    return event(name, "call,all", chan(ch), **fields)


def user_event(ch: Channel, name: str, fields: tuple[tuple[str, str], ...]) -> Headers:
    """UserEvent(name,Key: value,...) on a channel (main/stasis.c multi_user_event_to_ami: the channel
    snapshot, then ``UserEvent: <name>``, then the body's fields in order)."""
    return [("Event", "UserEvent"), ("Privilege", "user,all"), *chan(ch), ("UserEvent", name), *fields]


def dial_event(name: str, src: Channel | None, dst: Channel, **fields) -> Headers:
    blocks = ([chan(src)] if src else []) + [chan(dst, "Dest")]
    return event(name, "call,all", *blocks, **fields)


def hangup(ch: Channel, cause: int) -> Headers:
    return call_event("Hangup", ch, Cause=str(cause), Cause_txt=CAUSE_TEXT.get(cause, "Unknown"))


def bridge_event(name: str, b: Bridge, ch: Channel | None = None) -> Headers:
    blocks = [bridge(b)] + ([chan(ch)] if ch else [])
    return event(name, "call,all", *blocks)


def device_state_change(device: str, state: str, action_id: str | None = None) -> Headers:
    if action_id is not None:
        return [("Event", "DeviceStateChange"), ("ActionID", action_id), ("Device", device), ("State", state)]
    return [("Event", "DeviceStateChange"), ("Privilege", "call,all"), ("Device", device), ("State", state)]


def extension_status(exten: str, context: str, hint: str, code: int, text: str,
                     action_id: str | None = None) -> Headers:
    head = [("Event", "ExtensionStatus")]
    head.append(("ActionID", action_id) if action_id is not None else ("Privilege", "call,all"))
    return head + [("Exten", exten), ("Context", context), ("Hint", hint), ("Status", str(code)),
                   ("StatusText", text)]


def presence_state_change(provider: str, state: str, subtype: str, message: str,
                          action_id: str | None = None) -> Headers:
    head = [("Event", "PresenceStateChange")]
    head.append(("ActionID", action_id) if action_id is not None else ("Privilege", "call,all"))
    return head + [("Presentity", provider), ("Status", state), ("Subtype", subtype), ("Message", message)]


def presence_status(exten: str, context: str, hint: str, state: str, subtype: str, message: str) -> Headers:
    return [("Event", "PresenceStatus"), ("Privilege", "call,all"), ("Exten", exten), ("Context", context),
            ("Hint", hint), ("Status", state), ("Subtype", subtype), ("Message", message)]


def member_block(q: Queue, m: QueueMember) -> Headers:
    return [
        ("Queue", q.name),
        ("MemberName", m.name),
        ("Interface", m.interface),
        ("StateInterface", m.state_interface),
        ("Membership", m.membership),
        ("Penalty", str(m.penalty)),
        ("CallsTaken", str(m.calls_taken)),
        ("LastCall", str(m.last_call)),
        ("LastPause", str(m.last_pause)),
        ("LoginTime", str(m.login_time)),
        ("InCall", str(m.in_call)),
        ("Status", str(m.status)),
        ("Paused", "1" if m.paused else "0"),
        ("PausedReason", m.paused_reason),
        ("Ringinuse", str(m.ringinuse)),
        ("Wrapuptime", str(m.wrapuptime)),
    ]


def member_event(name: str, q: Queue, m: QueueMember) -> Headers:
    return event(name, "agent,all", member_block(q, m))


def queue_caller_event(name: str, ch: Channel, q: Queue, **fields) -> Headers:
    return event(name, "agent,all", chan(ch), [("Queue", q.name)], **fields)


def agent_event(name: str, caller: Channel, agent: Channel, q: Queue, m: QueueMember, **fields) -> Headers:
    return event(name, "agent,all", chan(caller), chan(agent, "Dest"),
                 [("Queue", q.name), ("Interface", m.interface), ("MemberName", m.name)], **fields)


def originate_response(action_id: str, ok: bool, requested: str, *, channel: Channel | None, context: str = "",
                       exten: str = "", application: str = "", data: str = "", reason: int = 0) -> Headers:
    h: Headers = [("Event", "OriginateResponse"), ("Privilege", "call,all")]
    if action_id:
        h.append(("ActionID", action_id))
    h += [("Response", "Success" if ok else "Failure"), ("Channel", channel.name if channel else requested)]
    if application:
        h += [("Application", application), ("Data", data)]
    else:
        h += [("Context", context), ("Exten", exten)]
    h += [
        ("Reason", str(reason)),
        ("Uniqueid", channel.uniqueid if channel else UNKNOWN),
        ("CallerIDNum", (channel.caller_num or UNKNOWN) if channel else UNKNOWN),
        ("CallerIDName", (channel.caller_name or UNKNOWN) if channel else UNKNOWN),
    ]
    return h


def cdr(src: Channel, dst: Channel | None, *, last_app: str, last_data: str, disposition: str,
        destination: str | None = None) -> Headers:
    def fmt(ts: float | None) -> str:
        return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ts)) if ts else ""

    end = time.time()
    duration = int(end - src.created)
    billable = int(end - src.answered) if src.answered else 0
    caller = f'"{src.caller_name}" <{src.caller_num}>' if src.caller_name else src.caller_num
    return [
        ("Event", "Cdr"),
        ("Privilege", "cdr,all"),
        ("AccountCode", src.accountcode),
        ("Source", src.caller_num),
        ("Destination", destination if destination is not None else src.exten),
        ("DestinationContext", src.context),
        ("CallerID", caller),
        ("Channel", src.name),
        ("DestinationChannel", dst.name if dst else ""),
        ("LastApplication", last_app),
        ("LastData", last_data),
        ("StartTime", fmt(src.created)),
        ("AnswerTime", fmt(src.answered)),
        ("EndTime", fmt(end)),
        ("Duration", str(duration)),
        ("BillableSeconds", str(billable)),
        ("Disposition", disposition),
        ("AMAFlags", "DOCUMENTATION"),
        ("UniqueID", src.uniqueid),
        ("UserField", ""),
    ]


def fully_booted(state: AsteriskState, *, booting: bool = False) -> Headers:
    now = time.time()
    uptime, last = int(now - state.boot_time), int(now - state.reload_time)
    if booting:  # the broadcast sent when the process finishes booting has this header order (p_core_restart)
        return [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Status", "Fully Booted"),
                ("Uptime", str(uptime)), ("LastReload", str(last))]
    return [("Event", "FullyBooted"), ("Privilege", "system,all"), ("Uptime", str(uptime)),
            ("LastReload", str(last)), ("Status", "Fully Booted")]


def _tv(ts: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(ts)) + f".{int(ts * 1000) % 1000:03d}+0000"


def security_event(name: str, session, severity: str, **fields) -> Headers:
    h: Headers = [
        ("Event", name),
        ("Privilege", "security,all"),
        ("EventTV", _tv(time.time())),
        ("Severity", severity),
        ("Service", "AMI"),
        ("EventVersion", "1"),
    ]
    if name == "SuccessfulAuth":
        h.append(("AccountID", session.username))
    h += [
        ("SessionID", session.session_id),
        ("LocalAddress", session.local_address),
        ("RemoteAddress", session.remote_address),
    ]
    h.extend((k, str(v)) for k, v in fields.items())
    h.append(("SessionTV", _tv(session.connected_at)))
    if name != "SuccessfulAuth":
        h.append(("AccountID", session.username))
    return h


def member_status_code(state: AsteriskState, m: QueueMember) -> int:
    return DEVICE_STATE_CODE[state.device_state(m.state_interface)]
