"""Channel and bridge actions of the fake: CoreShowChannels, CoreShowChannelMap, Status, Hangup, Redirect,
Originate, BlindTransfer, Atxfer, CancelAtxfer, MixMonitor, MixMonitorMute, StopMixMonitor, BridgeList,
PJSIPShowEndpoints, PJSIPShowContacts.

Responses as captured in m_core_actions, n_originate, g1*/g2/g3/g4, i_mixmonitor and r_error_responses
(messages not captured come from manager.c / app_mixmonitor.c of Asterisk 22).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time

from . import events as ev
from .ami_base import ack, action, error, id_first, id_last, listing
from .originate import OriginateRequest
from .recording import LISTEN_OPTIONS
from .wire import truthy

MONITOR_DIR = "/var/spool/asterisk/monitor"


def _duration(seconds: float) -> str:
    s = int(seconds)
    return f"{s // 3600:02d}:{s % 3600 // 60:02d}:{s % 60:02d}"


@action("CoreShowChannels")
def core_show_channels(srv, s, req):
    items = []
    now = time.time()
    for ch in reversed(list(srv.state.channels.values())):
        items.append(id_first(req, "CoreShowChannel", *ev.chan(ch), ("Application", ch.application),
                              ("ApplicationData", ch.appdata), ("Duration", _duration(now - ch.created)),
                              ("BridgeId", ch.bridge or "")))
    return listing(req, "Channels will follow", "CoreShowChannelsComplete", items)


@action("CoreShowChannelMap")
def core_show_channel_map(srv, s, req):
    name = req.get("Channel")
    if not name:
        return [error(req, "No channel specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "Channel does not exist")]
    linked = [c for c in srv.state.channels.values() if c.linkedid == ch.linkedid and c is not ch]
    items = [id_first(req, "CoreShowChannelMap", ("Channel", ch.name), ("ConnectedChannel", c.name)) for c in linked]
    return listing(req, "Channel map will follow", "CoreShowChannelMapComplete", items)


def _status_event(srv, req, ch, variables: list[str]):
    fields = [*ev.chan(ch), ("Type", ch.tech), ("DNID", ch.dnid),
              ("EffectiveConnectedLineNum", ch.connected_num or "<unknown>"),
              ("EffectiveConnectedLineName", ch.connected_name or "<unknown>"), ("TimeToHangup", "0"),
              ("BridgeID", ch.bridge or ""), ("Application", ch.application), ("Data", ch.appdata),
              ("Nativeformats", "(ulaw)"), ("Readformat", "ulaw"), ("Readtrans", ""), ("Writeformat", "ulaw"),
              ("Writetrans", ""), ("Callgroup", "0"), ("Pickupgroup", "0"),
              ("Seconds", str(int(time.time() - (ch.answered or ch.created))))]
    for var in variables:
        if var.upper() == "CHANNEL(NAME)":
            value = ch.name
        elif var.upper() == "DIALSTATUS":
            value = ch.variables.get("DIALSTATUS", "ANSWER" if ch.bridge else "")
        else:
            value = ch.variables.get(var, "")
        fields.append(("Variable", f"{var}={value}"))
    return id_last(req, "Status", ("Privilege", "Call"), *fields)


@action("Status")
def status(srv, s, req):
    name = req.get("Channel")
    variables = [v.strip() for v in req.get("Variables").split(",") if v.strip()]
    if name and name.lower() != "all":
        ch = srv.state.channel_by_name(name)
        if ch is None:
            return [error(req, "No such channel")]
        chans = [ch]
    else:
        chans = list(reversed(list(srv.state.channels.values())))
    items = [_status_event(srv, req, ch, variables) for ch in chans]
    return listing(req, "Channel status will follow", "StatusComplete", items, ("Items", str(len(items))))


@action("Hangup")
def hangup(srv, s, req):
    name = req.get("Channel")
    if not name:
        return [error(req, "No channel specified")]
    cause_s = req.get("Cause")
    cause = int(cause_s) if cause_s.isdigit() and 0 < int(cause_s) <= 127 else 16
    if name.startswith("/") and name.endswith("/") and len(name) > 1:
        try:
            rx = re.compile(name[1:-1])
        except re.error:
            return [error(req, f"Regex compile failed on: {name}")]
        matched = [c for c in list(srv.state.channels.values()) if rx.search(c.name)]
        items = [id_last(req, "ChannelHungup", ("Channel", c.name)) for c in matched]
        for c in matched:
            srv.world.later(0, functools.partial(srv.world.hangup, c, cause, by_manager=True))
        return listing(req, "Channels hung up will follow", "ChannelsHungupListComplete", items)
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "No such channel")]
    if srv.world.atxfer_for(ch):
        # the transfer completes on the channel's own thread, after the reply (queue_agent_atxfer)
        srv.world.later(0, functools.partial(srv.world.hangup, ch, cause, by_manager=True))
    else:
        srv.world.hangup(ch, cause, by_manager=True)
    return [ack(req, "Channel Hungup")]


@action("Redirect")
def redirect(srv, s, req):
    name, context, exten, priority = req.get("Channel"), req.get("Context"), req.get("Exten"), req.get("Priority")
    name2 = req.get("ExtraChannel")
    if not name:
        return [error(req, "Channel not specified")]
    if not context:
        return [error(req, "Context not specified")]
    if not exten:
        return [error(req, "Exten not specified")]
    if not priority:
        return [error(req, "Priority not specified")]
    if not priority.isdigit() or int(priority) < 1:
        return [error(req, "Priority is invalid")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, f"Channel does not exist: {name}")]
    if not name2:
        srv.world.redirect(ch, context, exten, int(priority))
        return [ack(req, "Redirect successful")]
    ch2 = srv.state.channel_by_name(name2)
    if ch2 is None:
        return [error(req, f"ExtraChannel does not exist: {name2}")]
    context2 = req.get("ExtraContext") or context
    exten2 = req.get("ExtraExten") or exten
    priority2 = req.get("ExtraPriority") or priority
    srv.world.redirect(ch, context, exten, int(priority), extra=(ch2, context2, exten2, int(priority2)))
    return [ack(req, "Dual Redirect successful")]


@action("Originate")
def originate(srv, s, req):
    dest = req.get("Channel")
    if not dest:
        return [error(req, "Channel not specified")]
    timeout_s, priority = req.get("Timeout"), req.get("Priority")
    if timeout_s and not timeout_s.lstrip("-").isdigit():
        return [error(req, "Invalid timeout")]
    if priority and not priority.isdigit():
        return [error(req, "Invalid priority")]
    if "/" not in dest:
        return [error(req, "Invalid channel")]
    context, exten, app = req.get("Context"), req.get("Exten"), req.get("Application")
    shared = context == "pbx-listen" and exten in LISTEN_OPTIONS  # the shared dialplan every node has
    if exten and context and not app and not shared and srv.state.route(context, exten) is None \
            and not any(k[0] == context and k[1] == exten for k in srv.state.extensions):
        return [error(req, "Extension does not exist.")]
    variables = {}
    for item in req.getall("Variable"):
        for pair in item.split(","):
            key, _, value = pair.partition("=")
            if key:
                variables[key.strip()] = value
    timeout = int(timeout_s) / 1000 if timeout_s and int(timeout_s) > 0 else 30.0
    o = OriginateRequest(dest=dest, context=context, exten=exten, priority=int(priority or 1), application=app,
                         data=req.get("Data"), caller_id=req.get("CallerID"), timeout=timeout, variables=variables,
                         action_id=req.action_id, channel_id=req.get("ChannelId") or None)
    if truthy(req.get("Async")):
        srv.world.later(0, srv.world.originate, o)
        return [ack(req, "Originate successfully queued")]

    async def wait_sync():  # a synchronous Originate blocks the session until answer or failure (n_originate)
        o.future = asyncio.get_running_loop().create_future()
        srv.world.originate(o)
        ok = await o.future
        return [ack(req, "Originate successfully queued") if ok else error(req, "Originate failed")]

    return wait_sync()


@action("BlindTransfer")
def blind_transfer(srv, s, req):
    name, exten = req.get("Channel"), req.get("Exten")
    if not name:
        return [error(req, "No channel specified")]
    if not exten:
        return [error(req, "No extension specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "Channel specified does not exist")]
    if not ch.bridge:
        return [error(req, "Transfer invalid")]
    srv.world.later(0, srv.world.blind_transfer, ch, req.get("Context") or ch.context, exten)
    return [ack(req, "Transfer succeeded")]


@action("Atxfer")
def atxfer(srv, s, req):
    name, exten = req.get("Channel"), req.get("Exten")
    if not name:
        return [error(req, "No channel specified")]
    if not exten:
        return [error(req, "No extension specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "Channel specified does not exist")]
    if not srv.world.features.get("atxfer"):
        return [error(req, "No attended transfer feature code found")]
    srv.world.later(0, srv.world.start_atxfer, ch, req.get("Context") or ch.context, exten)
    return [ack(req, "Atxfer successfully queued")]


@action("CancelAtxfer")
def cancel_atxfer(srv, s, req):
    name = req.get("Channel")
    if not name:
        return [error(req, "No channel specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "Channel specified does not exist")]
    if not srv.world.features.get("atxferabort"):
        return [error(req, "No disconnect feature code found")]
    srv.world.later(0, srv.world.cancel_atxfer, ch)
    return [ack(req, "CancelAtxfer successfully queued")]


# ---------------------------------------------------------------------- MixMonitor (app_mixmonitor.c)
@action("MixMonitor")
def mixmonitor(srv, s, req):
    name = req.get("Channel")
    if not name:
        return [error(req, "No channel specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "No such channel")]
    # r(<file>) / t(<file>): what the channel reads / what it is sent, each to a file of its own (no mixed file
    # without File). A relative name is under the monitor directory (app_mixmonitor.c filename_parse).
    options = req.get("Options") or ""
    legs = dict(re.findall(r"([rt])\(([^)]*)\)", options))
    filename = req.get("File") or ""
    if not filename and not legs:
        return [error(req, "Could not start monitoring channel")]

    def absolute(name: str) -> str:
        return name if name.startswith("/") else f"{MONITOR_DIR}/{name}"

    ch.mixmonitor = absolute(filename or legs.get("r") or legs["t"])
    ch.variables["MIXMONITOR_FILENAME"] = absolute(filename) if filename else ""
    # MixMonitorStart comes from the recording's own thread: after the action's response (as captured).
    srv.world.later(0, lambda: srv.world.emit(ev.call_event("MixMonitorStart", ch)))
    uid_variable = re.search(r"i\(([^)]*)\)", options)
    if uid_variable is None:
        return [ack(req, None)]
    # i(<variable>): the channel variable gets the MixMonitor's id (the datastore's address), and the response
    # carries it (recording_pool_console_refused: "MixMonitorID: 0x7f6c0817b970").
    ch.variables[uid_variable[1]] = mixmonitor_id = f"0x7f6c08{id(ch) & 0xFFFFFF:06x}"
    return [ack(req, None, ("MixMonitorID", mixmonitor_id))]


@action("MixMonitorMute")
def mixmonitor_mute(srv, s, req):
    direction = req.get("Direction").lower()
    if not direction:
        return [error(req, "No direction specified. Must be read, write or both")]
    if direction not in ("read", "write", "both"):
        return [error(req, "Invalid direction specified. Must be read, write or both")]
    name, state = req.get("Channel"), req.get("State")
    if not name:
        return [error(req, "No channel specified")]
    if not state:
        return [error(req, "No state specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "No such channel")]
    if not ch.mixmonitor:
        return [error(req, "Cannot set mute flag")]
    srv.world.emit(ev.call_event("MixMonitorMute", ch, Direction=direction, State="1" if truthy(state) else "0"))
    return [ack(req, None)]


@action("StopMixMonitor")
def stop_mixmonitor(srv, s, req):
    name = req.get("Channel")
    if not name:
        return [error(req, "No channel specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "No such channel")]
    if not ch.mixmonitor:
        return [error(req, "Could not stop monitoring channel")]
    ch.mixmonitor = None
    srv.world.emit(ev.call_event("MixMonitorStop", ch))
    return [ack(req, None)]


# ---------------------------------------------------------------------- MuteAudio (res_mutestream.c)
@action("MuteAudio")
def mute_audio(srv, s, req):
    """Not captured; answers as res_mutestream.c's manager_mutestream: checks in this order, a bare Success."""
    name, state, direction = req.get("Channel"), req.get("State"), req.get("Direction")
    if not name:
        return [error(req, "Channel not specified")]
    if not state:
        return [error(req, "State not specified")]
    if not direction:
        return [error(req, "Direction not specified")]
    ch = srv.state.channel_by_name(name)
    if ch is None:
        return [error(req, "No such channel")]
    if direction.lower() not in ("in", "out", "all"):
        return [error(req, "Failed to mute/unmute stream")]
    muted = srv.world.__dict__.setdefault("muted", {})  # uniqueid -> muted directions (no event in Asterisk)
    directions = {"in", "out"} if direction.lower() == "all" else {direction.lower()}
    current = muted.setdefault(ch.uniqueid, set())
    if truthy(state):
        current |= directions
    else:
        current -= directions
    return [ack(req, None)]


# ---------------------------------------------------------------------- bridges and endpoints
@action("BridgeList")
def bridge_list(srv, s, req):
    btype = req.get("BridgeType")
    items = [id_first(req, "BridgeListItem", *ev.bridge(b)) for b in srv.state.bridges.values()
             if not btype or b.type == btype]
    return listing(req, "Bridge listing will follow", "BridgeListComplete", items)


@action("PJSIPShowEndpoints")
def pjsip_show_endpoints(srv, s, req):
    items = []
    st = srv.state
    for ep in st.endpoints.values():
        active = sum(1 for c in st.channels.values() if c.endpoint == ep.device)
        dev = st.device_state(ep.device)
        fields = [("ObjectType", "endpoint"), ("ObjectName", ep.name), ("Transport", "transport-udp"),
                  ("Aor", ep.name if ep.registered or ep.contact else ""),
                  ("Auths", f"{ep.name}-auth" if ep.contact else ""), ("OutboundAuths", "")]
        if ep.contact:
            fields.append(("Contacts", f"{ep.name}/{ep.contact},"))
        fields += [("DeviceState", DEVICE_TEXT.get(dev, dev.title())), ("ActiveChannels", str(active))]
        items.append(id_first(req, "EndpointList", *fields))
    return listing(req, "A listing of Endpoints follows, presented as EndpointList events",
                   "EndpointListComplete", items)


DEVICE_TEXT = {"NOT_INUSE": "Not in use", "INUSE": "In use", "BUSY": "Busy", "UNAVAILABLE": "Unavailable",
               "RINGING": "Ringing", "RINGINUSE": "Ring+Inuse", "ONHOLD": "On Hold", "INVALID": "Invalid",
               "UNKNOWN": "Unknown"}


@action("PJSIPShowContacts")
def pjsip_show_contacts(srv, s, req):
    items = []
    for ep in srv.state.endpoints.values():
        if not (ep.registered and ep.contact):
            continue
        host = ep.contact.rsplit("@", 1)[-1]
        addr, _, port = host.partition(":")
        items.append(id_first(req, "ContactList", ("ObjectType", "contact"),
                              ("ObjectName", f"{ep.name};@{abs(hash(ep.contact)):032x}"[:len(ep.name) + 34]),
                              ("ViaAddr", addr), ("QualifyTimeout", "3.000000"), ("Qualify2xxOnly", "false"),
                              ("CallId", f"{abs(hash(ep.name)):016x}"[:16]), ("RegServer", ""),
                              ("PruneOnBoot", "no"), ("Path", ""), ("Endpoint", ep.name), ("ViaPort", port),
                              ("AuthenticateQualify", "no"), ("Uri", ep.contact), ("QualifyFrequency", "0"),
                              ("UserAgent", "baresip v1.0.0 (x86_64/linux)"),
                              ("ExpirationTime", str(int(time.time()) + 300)), ("OutboundProxy", ""),
                              ("Status", "NonQualified"), ("RoundtripUsec", "N/A")))
    return listing(req, "A listing of Contacts follows, presented as ContactList events", "ContactListComplete",
                   items)
