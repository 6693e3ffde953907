"""Core AMI actions of the fake: Ping, Events, Core*, Command, Reload, AstDB, Setvar/Getvar (globals and the
DEVICE_STATE / PRESENCE_STATE functions), extension/device/presence state lists, dialplan extensions, mailboxes.

Responses are those of a_login_*, k_device_extension_presence_state, l_astdb, m_core_actions, o_voicemail and
r_error_responses; the rest follows manager.c / db.c / pbx_config.c of Asterisk 22.
"""

from __future__ import annotations

import base64
import binascii
import functools
import random
import time

from . import config_files
from . import events as ev
from .ami_base import ack, action, error, id_first, id_last, listing
from .captures import ami_records, parse_raw
from .recording import POOL_FUNCTIONS, read_function, write_function
from .state import DEVICE_STATES, PRESENCE_STATES, Route

# Functions registered "escalating" for reads (func_db.c, func_lock.c, func_shell.c...): refused from AMI.
ESCALATING_READS = frozenset({"DB", "LOCK", "TRYLOCK", "UNLOCK", "SHELL", "FILE"})

VERSION_LINE = "Asterisk 22.10.1 built by root @ vm on a x86_64 running Linux on 2026-11-23 03:45:57 UTC"


@action("Ping")
def ping(srv, s, req):
    return [ack(req, None, ("Ping", "Pong"), ("Timestamp", f"{time.time():.6f}"))]


@action("UserEvent")
def user_event(srv, s, req):
    # main/manager.c action_userevent: "Event Sent", then a UserEvent carrying every header of the request but
    # Action and UserEvent (ActionID included).
    body = [(k, v) for k, v in req.pairs if k.lower() not in ("action", "userevent")]
    srv.world.emit([("Event", "UserEvent"), ("Privilege", "user,all"), ("UserEvent", req.get("UserEvent")), *body])
    return [ack(req, "Event Sent")]


@action("Challenge")
def challenge(srv, s, req):
    if req.get("AuthType").lower() != "md5":
        return [error(req, "Must specify AuthType")]
    return [ack(req, None, ("Challenge", str(random.randint(10**8, 10**9))))]


@action("Events")
def events_action(srv, s, req):
    mask = req.get("EventMask").strip().lower()
    if mask in ("on", "yes", "true", "all", "1") or (mask and mask not in ("off", "no", "false", "0")):
        s.events_on = True
        return [ack(req, None, ("Events", "On"))]
    if mask in ("off", "no", "false", "0"):
        s.events_on = False
        return [ack(req, None, ("Events", "Off"))]
    return [error(req, "Invalid event mask")]


@action("CoreStatus")
def core_status(srv, s, req):
    st = srv.state
    boot, reload_ = time.localtime(st.boot_time), time.localtime(st.reload_time)
    calls = len(st.channels)  # ast_active_calls(): m_core_actions shows 2 during one two-leg call
    return [ack(req, None,
                ("CoreStartupDate", time.strftime("%Y-%m-%d", boot)),
                ("CoreStartupTime", time.strftime("%H:%M:%S", boot)),
                ("CoreReloadDate", time.strftime("%Y-%m-%d", reload_)),
                ("CoreReloadTime", time.strftime("%H:%M:%S", reload_)),
                ("CoreCurrentCalls", str(calls)),
                ("CoreProcessedCalls", str(st.processed_calls)))]


@action("CoreSettings")
def core_settings(srv, s, req):
    return [ack(req, None, ("AMIversion", "11.0.0"), ("AsteriskVersion", "22.10.1"), ("SystemName", ""),
                ("CoreMaxCalls", "0"), ("CoreMaxLoadAvg", "0.000000"), ("CoreRunUser", ""), ("CoreRunGroup", ""),
                ("CoreMaxFilehandles", "0"), ("CoreRealTimeEnabled", "No"), ("CoreCDRenabled", "Yes"),
                ("CoreHTTPenabled", "No"), ("SoundsSearchCustomDir", "No"))]


@action("ListCommands")
def list_commands(srv, s, req):
    for rec in ami_records("m_core_actions"):
        if rec["dir"] == "recv" and "m_core_actions-025" in rec["raw"]:
            body = [(k, v) for k, v in parse_raw(rec["raw"]) if k not in ("Response", "ActionID")]
            return [ack(req, None, *body)]
    return [ack(req, None)]


# ---------------------------------------------------------------------- Command
def _cli(srv, command: str) -> tuple[bool, list[str]] | None:
    """Run a CLI command; (ok, output lines); None = the process goes away (core restart now)."""
    st, world = srv.state, srv.world
    words = command.split()
    low = [w.lower() for w in words]
    if low[:3] == ["core", "show", "version"]:
        return True, [VERSION_LINE]
    if low[:2] == ["dialplan", "reload"]:
        srv.reloads.append("pbx_config")
        if getattr(srv, "config_dir", None) is not None:
            config_files.load_dialplan(st, srv.config_dir)
        return True, ["Dialplan reloaded."]
    changed = config_files.cli(srv, words)
    if changed is not None:
        return changed
    if low[:3] == ["core", "show", "channels"]:
        lines = [f"{'Channel':<64} {'Location':<32} {'State':<7} {'Application(Data)':<30}"]
        for ch in reversed(list(st.channels.values())):
            loc = f"{ch.exten}@{ch.context}:{ch.priority}" if ch.exten else "(None)"
            app = f"{ch.application}({ch.appdata})"
            lines.append(f"{ch.name:<64} {loc:<32} {ch.state_desc:<7} {app:<30}")
        n, calls = len(st.channels), len({c.linkedid for c in st.channels.values()})
        lines += [f"{n} active channel{'s' if n != 1 else ''}", f"{calls} active call{'s' if calls != 1 else ''}",
                  f"{st.processed_calls} calls processed"]
        return True, lines
    if low[:2] == ["devstate", "change"]:
        if len(words) != 4 or words[3].upper() not in DEVICE_STATES or words[3].upper() == "UNKNOWN":
            return False, DEVSTATE_USAGE
        if not low[2].startswith("custom:"):
            return False, ["The devstate command can only be used to set 'Custom:' device state!"]
        world.set_custom_devstate(words[2], words[3].upper(), device_first=True)
        return True, [f"Changing {words[2].split(':', 1)[1]} to {words[3]}"]
    if low[:2] == ["presencestate", "change"]:
        if len(words) != 4:
            return False, PRESENCE_USAGE
        if not low[2].startswith("custompresence:"):
            return False, ["The presencestate command can only be used to set 'CustomPresence:' presence state!"]
        parsed = parse_presence(words[3])
        if parsed is None:
            return False, PRESENCE_USAGE
        world.set_presence(words[2], *parsed)
        return True, [f"Changing {words[2].split(':', 1)[1]} to {words[3]}"]
    if low[:2] == ["database", "put"] and len(words) == 5:
        st.astdb[f"/{words[2]}/{words[3]}"] = words[4]
        return True, ["Updated database successfully"]
    if low[:2] == ["database", "get"] and len(words) == 4:
        value = st.astdb.get(f"/{words[2]}/{words[3]}")
        return (True, [f"Value: {value}"]) if value is not None else (True, ["Database entry not found."])
    if low[:2] == ["database", "show"]:
        items = st.db_tree(*(words[2:4]))
        return True, [f"{k:<50}: {v:<25}" for k, v in items] + [f"{len(items)} results found."]
    if low[:3] == ["core", "restart", "now"] or low[:3] == ["core", "stop", "now"]:
        return None
    return False, [f"No such command '{command}' (type 'core show help {' '.join(words[:2])}' for other "
                   "possible commands)"]


DEVSTATE_USAGE = [
    "Usage: devstate change <device> <state>",
    "       Change a custom device to a new state.",
    "       The possible values for the state are:",
    "UNKNOWN | NOT_INUSE | INUSE | BUSY | INVALID | UNAVAILABLE | RINGING",
    "RINGINUSE | ONHOLD",
    "",
    "Examples:",
    "       devstate change Custom:mystate1 INUSE",
    "       devstate change Custom:mystate1 NOT_INUSE",
    "       ",
]

PRESENCE_USAGE = [
    "Usage: presencestate change <entity> <state>[,<subtype>[,message[,options]]]",
    "       Change a custom presence to a new state.",
    "       The possible values for the state are:",
    "NOT_SET | UNAVAILABLE | AVAILABLE | AWAY | XA | CHAT | DND",
    "Optionally, a custom subtype and message may be provided, along with any options",
    "accepted by func_presencestate. If the subtype or message provided contain spaces,",
    'be sure to enclose the data in quotation marks ("")',
    "",
    "Examples:",
    "       presencestate change CustomPresence:mystate1 AWAY",
    "       presencestate change CustomPresence:mystate1 AVAILABLE",
    '       presencestate change CustomPresence:mystate1 "Away,upstairs,eating lunch"',
    "       ",
]


def _b64(text: str) -> str:
    try:
        return base64.b64decode(text.encode()).decode("utf-8", "replace") if text else ""
    except (binascii.Error, ValueError):
        return ""


def parse_presence(value: str) -> tuple[str, str, str] | None:
    """func_presencestate parse_data(): state[,subtype[,message[,options]]]."""
    parts = value.split(",", 3)
    state = parts[0].strip().lower()
    if state not in PRESENCE_STATES:
        return None
    subtype = parts[1] if len(parts) > 1 else ""
    message = parts[2] if len(parts) > 2 else ""
    options = parts[3] if len(parts) > 3 else ""
    if options and "e" not in options:
        return None
    return state, subtype, message


@action("Command")
def command(srv, s, req):
    cmd = req.get("Command")
    if not cmd:
        return [error(req, "No command provided")]
    result = _cli(srv, cmd)
    if result is None:  # p_core_restart_now: no Response, no Shutdown event, the socket just closes
        srv.world.later(0.012, functools.partial(srv.restart, downtime=0.5 * srv.world.time_scale,
                                                 reset_first=True))
        return None
    ok, lines = result
    outputs = [("Output", line) for line in lines]  # an invalid command still uses Message + Output (m, k)
    return [(ack if ok else error)(req, "Command output follows", *outputs)]


# ---------------------------------------------------------------------- Reload
RELOAD_ERRORS = {
    "not_found": (2, "No such module"),
    "error": (3, "An unknown error occurred"),
    "in_progress": (4, "A reload is in progress"),
    "not_implemented": (6, "Module does not support reload"),
}


@action("Reload")
def reload(srv, s, req):
    module = req.get("Module")
    name = module.removesuffix(".so") if module else ""
    known = {m.removesuffix(".so") for m in srv.state.modules}
    failure = srv.reload_failures.get(name) or (None if not name or name in known else "not_found")
    if failure:
        status, message = RELOAD_ERRORS[failure]
        srv.world.emit(ev.event("Reload", "system,all", Module=module or "All", Status=str(status)))
        return [error(req, message)]
    srv.reloads.append(name or "All")
    srv.state.reload_time = time.time()
    if name in ("", "app_queue") and getattr(srv, "config_dir", None) is not None:
        config_files.load_queues(srv.state, srv.config_dir)
    if name in ("", "app_queue"):
        srv.state.log_queue("NONE", "NONE", "NONE", "CONFIGRELOAD", "")
    srv.world.emit(ev.event("Reload", "system,all", Module=module or "All", Status="0"))
    return [ack(req, "Module Reloaded")]


# ---------------------------------------------------------------------- AstDB (db.c)
@action("DBPut")
def db_put(srv, s, req):
    family, key = req.get("Family"), req.get("Key")
    if not family:
        return [error(req, "No family specified")]
    if not key:
        return [error(req, "No key specified")]
    srv.state.astdb[f"/{family}/{key}"] = req.get("Val")
    return [ack(req, "Updated database successfully")]


@action("DBGet")
def db_get(srv, s, req):
    family, key = req.get("Family"), req.get("Key")
    if not family:
        return [error(req, "No family specified.")]
    if not key:
        return [error(req, "No key specified.")]
    value = srv.state.astdb.get(f"/{family}/{key}")
    if value is None:
        return [error(req, "Database entry not found")]
    item = id_last(req, "DBGetResponse", ("Family", family), ("Key", key), ("Val", value))
    return listing(req, "Result will follow", "DBGetComplete", [item])


@action("DBGetTree")
def db_get_tree(srv, s, req):
    items = [id_last(req, "DBGetTreeResponse", ("Key", k), ("Val", v))
             for k, v in srv.state.db_tree(req.get("Family"), req.get("Key"))]
    return listing(req, "Result will follow", "DBGetTreeComplete", items)


@action("DBDel")
def db_del(srv, s, req):
    family, key = req.get("Family"), req.get("Key")
    if not family:
        return [error(req, "No family specified.")]
    if not key:
        return [error(req, "No key specified.")]
    if srv.state.astdb.pop(f"/{family}/{key}", None) is None:
        return [error(req, "Database entry could not be deleted")]
    return [ack(req, "Key deleted successfully")]


@action("DBDelTree")
def db_del_tree(srv, s, req):
    family = req.get("Family")
    if not family:
        return [error(req, "No family specified.")]
    if srv.state.db_deltree(family, req.get("Key")) == 0:
        return [error(req, "Database entry not found")]
    return [ack(req, "Key tree deleted successfully")]


# ---------------------------------------------------------------------- variables and functions
def _function(name: str) -> tuple[str, str] | None:
    if name.endswith(")") and "(" in name:
        func, _, arg = name[:-1].partition("(")
        return func.upper(), arg
    return None


@action("Setvar")
def setvar(srv, s, req):
    name, value, chan_name = req.get("Variable"), req.get("Value"), req.get("Channel")
    if not name:
        return [error(req, "No variable specified")]
    ch = None
    if chan_name:
        ch = srv.state.channel_by_name(chan_name)
        if ch is None:
            return [error(req, "No such channel")]
    func = _function(name)
    if func and func[0] == "DEVICE_STATE":
        device, state = func[1], value.strip().upper()
        if not device.lower().startswith("custom:") or not device[7:] or state not in DEVICE_STATES \
                or state == "UNKNOWN":
            return [error(req, "Variable not set")]
        srv.world.set_custom_devstate(device, state)
    elif func and func[0] == "PRESENCE_STATE":
        parsed = parse_presence(value)
        if not func[1].lower().startswith("custompresence:") or parsed is None:
            return [error(req, "Variable not set")]
        state, subtype, message = parsed
        options = value.split(",", 3)[3] if value.count(",") >= 3 else ""
        if "e" in options:  # func_presencestate.c: base64 subtype and message, decoded for the events
            subtype, message = _b64(subtype), _b64(message)
        srv.world.set_presence(func[1], state, subtype, message)
        srv.state.astdb[f"/CustomPresence/{func[1].split(':', 1)[1]}"] = value  # the literal value, as written
    elif func and func[0] == "DB":
        family, _, key = func[1].partition("/")
        srv.state.astdb[f"/{family}/{key}"] = value
    elif func and ch is not None and write_function(srv.state, ch, func[0], func[1], value or ""):
        pass  # GROUP(category): the channel joins (or, with an empty value, leaves) a group
    elif ch is not None:
        ch.variables[name] = value
        # pbx_builtin_setvar_helper publishes the change (ast_channel_publish_varset) like a dialplan Set.
        srv.world.emit(ev.event("VarSet", "dialplan,all", ev.chan(ch), Variable=name, Value=value))
    else:
        srv.state.globals[name] = value
    return [ack(req, "Variable Set")]


@action("Getvar")
def getvar(srv, s, req):
    name, chan_name = req.get("Variable"), req.get("Channel")
    if not name:
        return [error(req, "No variable specified")]
    st, ch = srv.state, None
    if chan_name:
        ch = st.channel_by_name(chan_name)
        if ch is None:
            return [error(req, "No such channel")]
    func = _function(name)
    value = ""
    if func and func[0] == "DEVICE_STATE":
        value = st.device_state(func[1])
    elif func and func[0] == "PRESENCE_STATE":
        field = func[1].split(",", 1)[1] if "," in func[1] else "value"
        state, subtype, message = st.presence_state(func[1].split(",", 1)[0])
        value = {"value": state, "subtype": subtype, "message": message}.get(field, "")
    elif func and func[0] in ESCALATING_READS:
        # asterisk.conf's live_dangerously = no: pbx_functions.c refuses these from AMI ("Dangerous function
        # LOCK read blocked" in the log) and the answer is a Success with an empty Value (seen on 22.10.1).
        value = ""
    elif func and func[0] in POOL_FUNCTIONS:
        value = read_function(st, ch, *func) or ""  # GROUP_COUNT, GROUP, CHANNEL_EXISTS
    elif func and func[0] == "CALLERID" and ch is not None:
        value = {"num": ch.caller_num, "name": ch.caller_name}.get(func[1], ch.caller_num)
    elif func and func[0] == "CHANNEL" and ch is not None:
        value = {"name": ch.name, "uniqueid": ch.uniqueid, "linkedid": ch.linkedid}.get(func[1], "")
    elif ch is not None:
        value = ch.variables.get(name, "")
        if name == "MIXMONITOR_FILENAME" and ch.mixmonitor:
            value = ch.mixmonitor
    else:
        value = st.globals.get(name, "")
    return [ack(req, None, ("Variable", name), ("Value", value))]


# ---------------------------------------------------------------------- extension / device / presence states
@action("ExtensionState")
def extension_state(srv, s, req):
    exten, context = req.get("Exten"), req.get("Context") or "default"
    h = srv.state.find_hint(exten, context)
    if h is None:
        return [ack(req, "Extension Status", ("Exten", exten), ("Context", context), ("Hint", ""),
                    ("Status", "-1"), ("StatusText", "Unknown"))]
    code, text = srv.state.extension_state(h)
    return [ack(req, "Extension Status", ("Exten", exten), ("Context", context), ("Hint", h.hint),
                ("Status", str(code)), ("StatusText", text))]


@action("ExtensionStateList")
def extension_state_list(srv, s, req):
    items = []
    for h in srv.state.hints:
        code, text = srv.state.extension_state(h)
        items.append(id_first(req, "ExtensionStatus", ("Exten", h.exten), ("Context", h.context),
                              ("Hint", h.hint), ("Status", str(code)), ("StatusText", text)))
    return listing(req, "Extension Statuses will follow", "ExtensionStateListComplete", items)


@action("DeviceStateList")
def device_state_list(srv, s, req):
    items = [id_first(req, "DeviceStateChange", ("Device", d), ("State", v))
             for d, v in srv.state.all_device_states()]
    return listing(req, "Device State Changes will follow", "DeviceStateListComplete", items)


@action("PresenceState")
def presence_state(srv, s, req):
    provider = req.get("Provider")
    if not provider:
        return [error(req, "No provider specified")]
    if ":" not in provider:
        return [error(req, f"Invalid provider {provider} or provider in invalid state")]
    state, subtype, message = srv.state.presence_state(provider)
    extra = [("Message", "Presence State"), ("State", state)]
    if subtype:
        extra.append(("Subtype", subtype))
    if message:
        extra += [("Message", message), ("PresenceMessage", message)]
    return [ack(req, None, *extra)]


@action("PresenceStateList")
def presence_state_list(srv, s, req):
    items = [id_first(req, "PresenceStateChange", ("Presentity", p), ("Status", st), ("Subtype", sub),
                      ("Message", msg))
             for p, (st, sub, msg) in srv.state.presence.items()]
    return listing(req, "Presence State Changes will follow", "PresenceStateListComplete", items)


# ---------------------------------------------------------------------- dialplan (pbx_config.c)
ROUTE_APPS = {"dial": "dial", "queue": "queue", "stasis": "stasis", "answer": "answer", "wait": "answer",
              "musiconhold": "moh", "playback": "playback", "hangup": "hangup"}


@action("DialplanExtensionAdd")
def dialplan_extension_add(srv, s, req):
    context, exten, priority = req.get("Context"), req.get("Extension"), req.get("Priority")
    app, data = req.get("Application"), req.get("ApplicationData")
    if not (context and exten and priority and app):
        return [error(req, "Context, Extension, Priority, and Application must be defined for "
                           "DialplanExtensionAdd.")]
    if priority != "hint" and (not priority.isdigit() or int(priority) < 0):
        return [error(req, "The priority specified was invalid.")]
    key = (context, exten, priority)
    if key in srv.state.extensions and req.get("Replace").lower() not in ("yes", "true", "1", "on"):
        return [error(req, "That extension and priority already exist at that context")]
    srv.state.extensions[key] = (app, data)
    if priority == "hint":
        srv.state.add_hint(exten, context, app)
    elif priority == "1" and app.lower() in ROUTE_APPS:
        kind = ROUTE_APPS[app.lower()]
        target = data.split(",")[0] if kind in ("dial", "queue", "moh") else data
        timeout = data.split(",")[1] if kind == "dial" and "," in data else "30"
        srv.state.routes[(context, exten)] = Route(kind, target, timeout=int(timeout or 30))
    return [ack(req, "Added requested extension")]


@action("DialplanExtensionRemove")
def dialplan_extension_remove(srv, s, req):
    context, exten, priority = req.get("Context"), req.get("Extension"), req.get("Priority")
    if not context or not exten:
        return [error(req, "Context and Extension must be provided for DialplanExtensionRemove")]
    if priority and priority != "hint" and (not priority.isdigit() or int(priority) <= 0):
        return [error(req, "The priority specified was invalid.")]
    st = srv.state
    keys = [k for k in st.extensions if k[0] == context and k[1] == exten and (not priority or k[2] == priority)]
    if not keys:
        return [error(req, "Failed to remove requested extension")]
    for k in keys:
        del st.extensions[k]
        if k[2] == "hint":
            st.hints = [h for h in st.hints if not (h.exten == exten and h.context == context)]
        if k[2] == "1":
            st.routes.pop((context, exten), None)
    if priority:
        return [ack(req, "Removed the requested priority from the extension")]
    return [ack(req, "Removed the requested extension")]


# ---------------------------------------------------------------------- voicemail (o_voicemail)
@action("MailboxCount")
def mailbox_count(srv, s, req):
    box = req.get("Mailbox")
    if not box:
        return [error(req, "Mailbox not specified")]
    urgent, new, old = srv.state.mailboxes.get(box, (0, 0, 0))
    return [ack(req, "Mailbox Message Count", ("Mailbox", box), ("UrgMessages", str(urgent)),
                ("NewMessages", str(new)), ("OldMessages", str(old)))]


@action("MailboxStatus")
def mailbox_status(srv, s, req):
    box = req.get("Mailbox")
    if not box:
        return [error(req, "Mailbox not specified")]
    _, new, _ = srv.state.mailboxes.get(box, (0, 0, 0))
    return [ack(req, "Mailbox Status", ("Mailbox", box), ("Waiting", "1" if new else "0"))]

