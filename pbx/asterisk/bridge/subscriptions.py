"""The subscription table: each AMI event we listen to → the one function that parses it.

A parser reads the raw event (a mapping of AMI headers, as the AMI client delivers it) once and returns
a typed fact or event from ``domain.py`` (or None when the event says nothing we use). Asterisk's
header names stop here. Everything not in ``SUBSCRIPTIONS`` is dropped by a single dict lookup: the
high-volume ``VarSet``/``Newexten``/``RTCPSent``/``RTCPReceived``/``DTMF*`` events on purpose, and so
are ``Cdr`` (the call log is built from the channel events: Asterisk sends several Cdr per channel,
sometimes before and sometimes after its Hangup), ``HangupRequest``/``SoftHangupRequest`` (the Hangup
that follows carries the cause), ``DialState`` (ringing is already known from DialBegin/Newstate),
``NewConnectedLine`` (parties are known from the channels themselves), ``BridgeCreate``/``BridgeDestroy``
(bridges are known from their members), ``MusicOnHoldStart/Stop`` (Hold/Unhold say who holds; music
also plays while callers wait in a queue) except on a console hold's music channel (``pbx.asterisk.hold``:
its Uniqueid names the holder, so its music starting or stopping, or its Hangup, is the holder's hold or
resume) and ``PresenceStatus`` (it repeats PresenceStateChange per hint).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

from pbx.asterisk import hold
from pbx.asterisk.resolve import Resolver

from . import domain as d

Raw = Mapping[str, Any]
Parser = Callable[[Raw, float, Resolver], Any]

_FIELDS = ("Channel", "Uniqueid", "Linkedid", "ChannelStateDesc", "CallerIDNum", "CallerIDName", "Context", "Exten")
_KEYS = {
    prefix: tuple(prefix + name for name in _FIELDS)
    for prefix in ("", "Dest", "Transferer", "Transferee", "OrigTransferer", "SecondTransferer",
                   "TransferTarget", "Spyer", "Spyee", "LocalOne", "LocalTwo")
}


def text(raw: Raw, key: str) -> str:
    value = raw.get(key, "")
    if isinstance(value, list):  # a repeated header (Variable:); the first one is the one Asterisk means
        value = value[0] if value else ""
    return value


def number(raw: Raw, key: str, default: int = 0) -> int:
    try:
        return int(text(raw, key))
    except ValueError:
        return default


def channel(raw: Raw, prefix: str = "") -> d.ChannelInfo | None:
    k_name, k_uid, k_linked, k_state, k_num, k_cname, k_ctx, k_exten = _KEYS[prefix]
    uniqueid = raw.get(k_uid)
    if not uniqueid or uniqueid == "<unknown>":
        return None
    num = raw.get(k_num, "")
    cname = raw.get(k_cname, "")
    return d.ChannelInfo(
        name=raw.get(k_name, ""),
        uniqueid=uniqueid,
        linkedid=raw.get(k_linked) or uniqueid,
        state=raw.get(k_state, "").lower(),
        number="" if num == "<unknown>" else num,
        caller_name="" if cname == "<unknown>" else cname,
        context=raw.get(k_ctx, ""),
        exten=raw.get(k_exten, ""),
    )


# Channels -------------------------------------------------------------------------------------


def on_newchannel(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    return d.ChannelCreated(at, ch) if ch else None


def on_newstate(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    return d.ChannelStateChanged(at, ch) if ch else None


def on_newcallerid(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    return d.ChannelCallerChanged(at, ch) if ch else None


def on_rename(raw: Raw, at: float, r: Resolver):
    uniqueid = text(raw, "Uniqueid")
    return d.ChannelRenamed(at, uniqueid, text(raw, "Newname")) if uniqueid else None


def on_hangup(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    if ch is None:
        return None
    holder = hold.holder_of(ch.uniqueid)
    if holder is not None:  # a console hold's music channel went: the holder no longer holds
        return d.HoldChanged(at, d.ChannelInfo.only_id(holder), False, console=True)
    return d.ChannelHungUp(at, ch, number(raw, "Cause"), text(raw, "Cause-txt"))


def on_dial_begin(raw: Raw, at: float, r: Resolver):
    callee = channel(raw, "Dest")
    return d.DialStarted(at, channel(raw), callee, text(raw, "DialString")) if callee else None


def on_dial_end(raw: Raw, at: float, r: Resolver):
    callee = channel(raw, "Dest")
    return d.DialEnded(at, channel(raw), callee, text(raw, "DialStatus")) if callee else None


def on_bridge_enter(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    return d.BridgeEntered(at, text(raw, "BridgeUniqueid"), ch) if ch else None


def on_bridge_leave(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    return d.BridgeLeft(at, text(raw, "BridgeUniqueid"), ch) if ch else None


def on_bridge_merge(raw: Raw, at: float, r: Resolver):
    return d.BridgesMerged(at, text(raw, "FromBridgeUniqueid"), text(raw, "ToBridgeUniqueid"))


def on_local_bridge(raw: Raw, at: float, r: Resolver):
    one, two = channel(raw, "LocalOne"), channel(raw, "LocalTwo")
    return d.LocalPaired(at, one, two) if one and two else None


def _local_optimization(finished: bool) -> Parser:
    def parse(raw: Raw, at: float, r: Resolver):
        one, two = channel(raw, "LocalOne"), channel(raw, "LocalTwo")
        return d.LocalOptimized(at, one, two, finished) if one and two else None

    return parse


def _console_music(held: bool) -> Parser:
    """MusicOnHoldStart/Stop: only a console hold's music channel says something (who holds)."""

    def parse(raw: Raw, at: float, r: Resolver):
        holder = hold.holder_of(raw.get("Uniqueid"))
        return d.HoldChanged(at, d.ChannelInfo.only_id(holder), held, console=True) if holder else None

    return parse


def _hold(held: bool) -> Parser:
    def parse(raw: Raw, at: float, r: Resolver):
        ch = channel(raw)
        return d.HoldChanged(at, ch, held) if ch else None

    return parse


# Transfers ------------------------------------------------------------------------------------


def on_blind_transfer(raw: Raw, at: float, r: Resolver):
    if text(raw, "Result") != "Success":
        return None
    transferer = channel(raw, "Transferer")
    if transferer is None:
        return None
    return d.BlindTransferDone(at, transferer, channel(raw, "Transferee"), text(raw, "Extension"), text(raw, "Context"))


def on_attended_transfer(raw: Raw, at: float, r: Resolver):
    if text(raw, "Result") != "Success":
        return None
    transferer = channel(raw, "OrigTransferer")
    if transferer is None:
        return None
    return d.AttendedTransferDone(
        at, transferer, channel(raw, "Transferee"), channel(raw, "TransferTarget"),
        channel(raw, "SecondTransferer"), text(raw, "DestType"),
    )


# Queues: callers ------------------------------------------------------------------------------


def on_queue_caller_join(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    return d.QueueJoined(at, ch, text(raw, "Queue"), number(raw, "Position")) if ch else None


def on_queue_caller_abandon(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    if ch is None:
        return None
    return d.QueueAbandoned(at, ch, text(raw, "Queue"), number(raw, "OriginalPosition", number(raw, "Position")),
                            number(raw, "HoldTime"))


def on_queue_caller_leave(raw: Raw, at: float, r: Resolver):
    ch = channel(raw)
    return d.QueueLeft(at, ch, text(raw, "Queue"), number(raw, "Position")) if ch else None


def _agent(what: str) -> Parser:
    def parse(raw: Raw, at: float, r: Resolver):
        caller = channel(raw)
        if caller is None:
            return None
        return d.AgentOffered(
            at, what, caller, channel(raw, "Dest"), text(raw, "Queue"), text(raw, "Interface"),
            text(raw, "StateInterface"), hold_time=number(raw, "HoldTime"), talk_time=number(raw, "TalkTime"),
            ring_time=number(raw, "RingTime"), reason=text(raw, "Reason"),
        )

    return parse


# Queues: members (agents) ---------------------------------------------------------------------

# app_queue's member Status is Asterisk's device state number.
DEVICE_STATES = {
    0: "unknown", 1: "idle", 2: "in_use", 3: "busy", 4: "invalid", 5: "unavailable", 6: "ringing",
    7: "ringing_in_use", 8: "on_hold",
}


def _member(kind: type[d.AgentEvent]) -> Parser:
    def parse(raw: Raw, at: float, r: Resolver):
        return parse_member(kind, raw, at, r)

    return parse


def parse_member(kind: type[d.AgentEvent], raw: Raw, at: float, r: Resolver) -> d.AgentEvent:
    queue = r.queue(text(raw, "Queue"))
    # QueueMember (from QueueStatus) says Location where the live events say Interface.
    interface = text(raw, "Interface") or text(raw, "Location")
    who = r.member(interface, text(raw, "StateInterface"))
    return kind(
        queue.tenant_id if queue.tenant_id is not None else (who.tenant_id if who else None), at,
        queue.queue_id, queue.name, who.user_id if who else None, interface,
        paused=text(raw, "Paused") == "1", reason=text(raw, "PausedReason"),
        status=DEVICE_STATES.get(number(raw, "Status", -1), "unknown"), in_call=text(raw, "InCall") == "1",
    )


# People: devices, lines, presence -------------------------------------------------------------


def on_device_state(raw: Raw, at: float, r: Resolver):
    device = text(raw, "Device")
    who = r.device(device)
    if who is None or who.tenant_id is None:
        return None
    return d.DeviceStateChanged(who.tenant_id, at, who.user_id, device, text(raw, "State").lower())


# ExtensionStatus Status: Asterisk's extension state bit field.
EXTENSION_STATES = {
    -2: "removed", -1: "unknown", 0: "idle", 1: "in_use", 2: "busy", 4: "unavailable", 8: "ringing",
    9: "ringing_in_use", 16: "on_hold", 17: "on_hold_in_use",
}


def on_extension_status(raw: Raw, at: float, r: Resolver):
    tenant_id = r.context(text(raw, "Context"))
    if tenant_id is None:
        return None
    exten = text(raw, "Exten")
    return d.LineStateChanged(tenant_id, at, r.extension(tenant_id, exten), exten,
                              EXTENSION_STATES.get(number(raw, "Status", -1), "unknown"))


def on_presence_state(raw: Raw, at: float, r: Resolver):
    key = text(raw, "Presentity")
    who = r.presentity(key)
    if who is None or who.tenant_id is None:
        return None
    return d.PresenceChanged(who.tenant_id, at, who.user_id, key, text(raw, "Status"), text(raw, "Subtype"),
                             text(raw, "Message"))


# Recording and listen-in ----------------------------------------------------------------------


def _recording(what: str) -> Parser:
    def parse(raw: Raw, at: float, r: Resolver):
        ch = channel(raw)
        if ch is None:
            return None
        if what == "mute":
            return d.RecordingChanged(at, ch, "mute" if text(raw, "State") == "1" else "unmute",
                                      text(raw, "Direction"))
        return d.RecordingChanged(at, ch, what)

    return parse


def _spy(started: bool) -> Parser:
    def parse(raw: Raw, at: float, r: Resolver):
        spyer, spyee = channel(raw, "Spyer"), channel(raw, "Spyee")
        if spyer is None or spyee is None or hold.is_hold_snoop(spyer.uniqueid):
            return None  # a console hold's music channel whispers, nobody listens
        return d.SpyChanged(at, spyer, spyee, started)

    return parse


# The node and the dialplan --------------------------------------------------------------------


def on_fully_booted(raw: Raw, at: float, r: Resolver):
    uptime = text(raw, "Uptime")
    return d.NodeBooted(None, at, int(uptime) if uptime.isdigit() else None)


def on_shutdown(raw: Raw, at: float, r: Resolver):
    return d.NodeShutdown(None, at, text(raw, "Restart") == "True")


# UserEvents our dialplan raises (pbx/asterisk/confgen): each carries ``Tenant`` and the channel it ran on.

# What the call log needs and no standard AMI event says: where a person's status or profile sent the
# call, that the caller reached voicemail, and why a queue did not take the call (QUEUESTATUS, or the
# dialplan's own checks before Queue(), which raise no queue event at all). Facts for the call tracker.
FORWARD_REASONS = {"status": "status", "first": "always", "busy": "busy", "noanswer": "no_answer",
                   "unreach": "unreachable"}
QUEUE_RESULTS = frozenset({"noagents", "closed", "overflow", "timeout"})


def _user_id(raw: Raw) -> int | None:
    user = text(raw, "User")
    return int(user) if user.isdigit() else None


def on_forward(raw: Raw, at: float):
    ch, reason = channel(raw), FORWARD_REASONS.get(text(raw, "Reason"))
    if ch is None or reason is None:
        return None
    to = text(raw, "To")
    to = to if all(c.isalnum() or c in "+:" for c in to) else ""
    return d.CallForwarded(at, ch, _user_id(raw), reason, to[:80])


def on_voicemail(raw: Raw, at: float):
    ch = channel(raw)
    box = text(raw, "Mailbox").partition("@")[0]
    return d.VoicemailReached(at, ch, _user_id(raw), box[:20] if box.isdigit() else "") if ch else None


def on_queue_result(raw: Raw, at: float):
    ch, queue, result = channel(raw), text(raw, "Queue"), text(raw, "Result")
    if ch is None or not queue.isdigit() or result not in QUEUE_RESULTS:
        return None
    return d.QueueMissed(at, ch, f"t{int(text(raw, 'Tenant'))}-q{int(queue)}", result)


CALL_EVENTS: dict[str, Callable[[Raw, float], Any]] = {
    "PbxForward": on_forward,
    "PbxVoicemail": on_voicemail,
    "PbxQueueResult": on_queue_result,
}
CALLBACK_EVENTS = frozenset({"PbxCallback", "PbxCallbackRequest", "PbxCallbackUnserved"})
CALLBACK_KINDS = {"PbxCallbackRequest": "request", "PbxCallback": "queue", "PbxCallbackUnserved": "unserved"}
# Call recording's (recording.capture): an automatic recording started, or refused for want of a licence.
RECORDING_EVENTS = frozenset({"PbxRecording", "PbxRecordingRefused"})
FEATURE_EVENTS = frozenset({"PbxPresence", "PbxQueueAgent", "PbxOnDemandRecording", "PbxPromptRecorded"})
_USER_EVENT_CHANNEL = frozenset({*_FIELDS, "Event", "Privilege", "UserEvent", "Tenant", "User", "ChannelState",
                                 "Priority", "Language", "AccountCode", "ConnectedLineNum", "ConnectedLineName"})


def on_user_event(raw: Raw, at: float, r: Resolver):
    kind = text(raw, "UserEvent")
    # Any other Pbx* event is ours too: it reaches the dialplan events' consumer, which logs it as a bug
    # (an event nobody consumes), instead of vanishing here. The call tracker's own (CALL_EVENTS) go to the tracker.
    if kind not in CALLBACK_EVENTS and kind not in FEATURE_EVENTS and not kind.startswith("Pbx"):
        return None
    tenant = text(raw, "Tenant")
    tenant_id = int(tenant) if tenant.isdigit() else None
    # The dialplan names the company; the channel it ran on must agree (a header is only text).
    where = r.channel(text(raw, "Channel")).tenant_id
    if where is None:
        where = r.context(text(raw, "Context"))
    if tenant_id is None or (where is not None and where != tenant_id):
        return None
    if kind in CALL_EVENTS:
        return CALL_EVENTS[kind](raw, at)
    if kind in CALLBACK_EVENTS:
        return parse_callback(kind, tenant_id, raw, at)
    user = text(raw, "User")
    values = {k: text(raw, k) for k in raw if k not in _USER_EVENT_CHANNEL}
    if kind in RECORDING_EVENTS:
        return d.RecordingCaptured(tenant_id, at, int(user) if user.isdigit() else None, kind, values,
                                   channel=text(raw, "Channel"), call_id=text(raw, "Linkedid"),
                                   uniqueid=text(raw, "Uniqueid"))
    return d.FeatureCodeUsed(tenant_id, at, int(user) if user.isdigit() else None, kind, values,
                             channel=text(raw, "Channel"), call_id=text(raw, "Linkedid"))


VOICEMAIL_CONTEXT = re.compile(r"t([0-9]+)")
UNIQUEID = re.compile(r"[0-9]{1,20}\.[0-9]{1,10}")


def parse_callback(kind: str, tenant_id: int, raw: Raw, at: float) -> d.CallbackRequested | None:
    queue = text(raw, "Queue")
    destination = text(raw, "Destination")
    position = text(raw, "Position")
    number_ = "".join(c for c in text(raw, "Number") if c.isdigit() or c == "+")
    uniqueid = text(raw, "Uniqueid")
    # The Uniqueid names the dialplan's AstDB entry (pbxcb t<T>/<Uniqueid>), deleted later: Asterisk's own form only.
    if not number_ or not UNIQUEID.fullmatch(uniqueid):
        return None
    ch = channel(raw)
    caller = d.Party("external", ch.number, ch.caller_name, tenant_id) if ch else d.NOBODY
    return d.CallbackRequested(
        tenant_id, at, text(raw, "Linkedid"), int(queue) if queue.isdigit() else None,
        f"t{tenant_id}-q{queue}" if queue.isdigit() else "", number_,
        kind=CALLBACK_KINDS[kind],
        destination_id=int(destination) if destination.isdigit() else None,
        channel_id=uniqueid, caller=caller, position=int(position) if position.isdigit() else None,
    )


def on_message_waiting(raw: Raw, at: float, r: Resolver):
    """``Mailbox: <number>@t<tenant>``: the company's voicemail context names it (confgen/voicemail.py)."""
    mailbox, _, context = text(raw, "Mailbox").partition("@")
    match = VOICEMAIL_CONTEXT.fullmatch(context)
    tenant_id = int(match[1]) if match else None
    if tenant_id is None or not mailbox.isdigit():
        return None
    new = number(raw, "New")
    return d.VoicemailArrived(tenant_id, at, mailbox, new, number(raw, "Old")) if new > 0 else None


SUBSCRIPTIONS: dict[str, Parser] = {
    # channels and bridges → the call tracker
    "Newchannel": on_newchannel,
    "Newstate": on_newstate,
    "NewCallerid": on_newcallerid,
    "Rename": on_rename,
    "Hangup": on_hangup,
    "DialBegin": on_dial_begin,
    "DialEnd": on_dial_end,
    "BridgeEnter": on_bridge_enter,
    "BridgeLeave": on_bridge_leave,
    "BridgeMerge": on_bridge_merge,
    "LocalBridge": on_local_bridge,
    "LocalOptimizationBegin": _local_optimization(False),
    "LocalOptimizationEnd": _local_optimization(True),
    "Hold": _hold(True),
    "Unhold": _hold(False),
    "MusicOnHoldStart": _console_music(True),
    "MusicOnHoldStop": _console_music(False),
    "BlindTransfer": on_blind_transfer,
    "AttendedTransfer": on_attended_transfer,
    # queues
    "QueueCallerJoin": on_queue_caller_join,
    "QueueCallerAbandon": on_queue_caller_abandon,
    "QueueCallerLeave": on_queue_caller_leave,
    "AgentCalled": _agent("called"),
    "AgentConnect": _agent("connect"),
    "AgentComplete": _agent("complete"),
    "AgentRingNoAnswer": _agent("ringnoanswer"),
    "QueueMemberAdded": _member(d.AgentLoggedIn),
    "QueueMemberRemoved": _member(d.AgentLoggedOut),
    "QueueMemberPause": _member(d.AgentPaused),
    "QueueMemberStatus": _member(d.AgentStatusChanged),
    # people
    "DeviceStateChange": on_device_state,
    "ExtensionStatus": on_extension_status,
    "PresenceStateChange": on_presence_state,
    # recording and listen-in
    "MixMonitorStart": _recording("start"),
    "MixMonitorStop": _recording("stop"),
    "MixMonitorMute": _recording("mute"),
    "ChanSpyStart": _spy(True),
    "ChanSpyStop": _spy(False),
    # the node and the dialplan
    "FullyBooted": on_fully_booted,
    "Shutdown": on_shutdown,
    "UserEvent": on_user_event,
    "MessageWaiting": on_message_waiting,
}


def parse(raw: Raw, at: float, resolver: Resolver):
    """The typed fact or event for one raw AMI event, or None (not subscribed, or nothing in it)."""
    parser = SUBSCRIPTIONS.get(raw.get("Event"))
    return parser(raw, at, resolver) if parser is not None else None
