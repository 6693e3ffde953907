"""The live state of the fake Asterisk: endpoints, channels, bridges, queues, AstDB, device and presence states.

Everything here is plain data plus the derivations Asterisk makes (device state of an endpoint from its
channels, extension state of a hint from its devices, queue pseudo-devices).  Events are produced by
``events.py`` / ``calls.py``; the servers only read and mutate this object.

``AsteriskState.default()`` mirrors ``tests/fixtures/asterisk/config-used`` (the configuration the captures
were made with): endpoints 1001/1002 (registered) and sipp (not registered), hints 1001/1002/1099, queue
``support`` with the static member PJSIP/1002 and the empty queue ``sales``.  ``AsteriskState.empty()`` has
nothing, for tests that build their own world.
"""

from __future__ import annotations

import itertools
import time
import uuid
from dataclasses import dataclass, field

# ast_device_state values (also the numeric "Status" of queue members)
DEVICE_STATES = ["UNKNOWN", "NOT_INUSE", "INUSE", "BUSY", "INVALID", "UNAVAILABLE", "RINGING", "RINGINUSE", "ONHOLD"]
DEVICE_STATE_CODE = {name: code for code, name in enumerate(DEVICE_STATES)}

# ast_extension_state values and ast_extension_state2str()
EXTENSION_STATE_TEXT = {
    -2: "Removed",
    -1: "Unknown",
    0: "Idle",
    1: "InUse",
    2: "Busy",
    4: "Unavailable",
    8: "Ringing",
    9: "InUse&Ringing",
    16: "Hold",
    17: "InUse&Hold",
}

# app_queue.c extensionstate2devicestate(): a hint's state as the device state of a member using it
EXTENSION_TO_DEVICE_STATE = {0: "NOT_INUSE", 1: "INUSE", 2: "BUSY", 4: "UNAVAILABLE", 8: "RINGING", 9: "RINGINUSE",
                             16: "ONHOLD", 17: "INUSE"}

PRESENCE_STATES = ["not_set", "unavailable", "available", "away", "xa", "chat", "dnd"]

CHANNEL_STATE_DESC = {
    0: "Down",
    1: "Rsrvd",
    2: "OffHook",
    3: "Dialing",
    4: "Ring",
    5: "Ringing",
    6: "Up",
    7: "Busy",
    8: "Dialing Offhook",
    9: "Pre-ring",
}

CAUSE_TEXT = {
    0: "Unknown",
    1: "Unallocated (unassigned) number",
    16: "Normal Clearing",
    17: "User busy",
    18: "No user responding",
    19: "User alerting, no answer",
    21: "Call Rejected",
    26: "Answered elsewhere",
    32: "Circuit/channel congestion",
    34: "Circuit/channel congestion",
}


@dataclass
class Endpoint:
    name: str
    caller_name: str = ""
    tech: str = "PJSIP"
    registered: bool = True
    # how the phone reacts to an incoming call: auto (answers), manual (rings until answer()/timeout),
    # busy (rejects with 486 -> cause 17), noanswer (rings forever)
    answer: str = "auto"
    contact: str = ""
    context: str = "internal"  # the endpoint's dialplan context
    variables: dict[str, str] = field(default_factory=dict)  # pjsip set_var: set on each of its channels

    @property
    def device(self) -> str:
        return f"{self.tech}/{self.name}"


@dataclass
class Channel:
    name: str
    uniqueid: str
    linkedid: str
    state: int = 0
    caller_num: str = ""
    caller_name: str = ""
    connected_num: str = ""
    connected_name: str = ""
    context: str = "default"
    exten: str = "s"
    priority: int = 1
    application: str = ""
    appdata: str = ""
    endpoint: str | None = None  # device, e.g. "PJSIP/1001"
    created: float = field(default_factory=time.time)
    answered: float | None = None
    bridge: str | None = None
    variables: dict[str, str] = field(default_factory=dict)
    dnid: str = ""
    protocol_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    language: str = "en"
    accountcode: str = ""
    held: bool = False
    moh: bool = False
    mixmonitor: str | None = None
    features: set[str] = field(default_factory=set)  # "atxfer" when Dial had t/T
    stasis_app: str | None = None  # in Stasis() right now
    ari_app: str | None = None  # created by ARI POST /channels for this app (stays subscribed)
    peer: str | None = None  # uniqueid of the other leg of a simple call
    local_peer: str | None = None  # the other half of a Local/...;1/;2 pair
    originate: object = None  # pending OriginateRequest while an originated leg rings
    snooped: str | None = None  # a Snoop/ channel: the uniqueid of the channel it spies or whispers on

    @property
    def state_desc(self) -> str:
        return CHANNEL_STATE_DESC.get(self.state, "Unknown")

    @property
    def tech(self) -> str:
        return self.name.split("/", 1)[0]


@dataclass
class Bridge:
    id: str
    type: str = "basic"
    technology: str = "simple_bridge"
    creator: str = "<unknown>"
    name: str = "<unknown>"
    channels: list[str] = field(default_factory=list)  # uniqueids
    video_mode: str = "none"
    created: float = field(default_factory=time.time)
    ari: bool = False  # created through ARI (bridge_type mixing, class stasis)
    ari_type: str = "mixing"
    ari_app: str | None = None  # the Stasis app that uses it (gets BridgeDestroyed)


@dataclass
class QueueMember:
    interface: str
    name: str
    state_interface: str
    membership: str = "dynamic"
    penalty: int = 0
    calls_taken: int = 0
    last_call: int = 0
    last_pause: int = 0
    login_time: int = field(default_factory=lambda: int(time.time()))
    in_call: int = 0
    status: int = 1
    paused: bool = False
    paused_reason: str = ""
    ringinuse: int = 1
    wrapuptime: int = 0


@dataclass
class QueueCaller:
    uniqueid: str
    joined: float = field(default_factory=time.time)
    position: int = 1
    priority: int = 0


@dataclass
class Queue:
    name: str
    strategy: str = "ringall"
    max: int = 0
    timeout: int = 15
    members: dict[str, QueueMember] = field(default_factory=dict)  # by lower-cased interface
    callers: list[QueueCaller] = field(default_factory=list)
    holdtime: int = 0
    talktime: int = 0
    completed: int = 0
    abandoned: int = 0
    completed_in_sl: int = 0
    abandoned_in_sl: int = 0
    servicelevel: int = 0
    weight: int = 0


@dataclass
class Hint:
    exten: str
    context: str
    hint: str

    @property
    def devices(self) -> list[str]:
        return [d for d in self.hint.split(",", 1)[0].split("&") if d]

    @property
    def presence(self) -> str:
        parts = self.hint.split(",", 1)
        return parts[1] if len(parts) > 1 else ""


@dataclass
class Route:
    """What the fake 'dialplan' does when a channel arrives at (context, exten).

    kind: dial (data = endpoint devices joined by '&', timeout seconds, options), queue (data = queue name),
    stasis (data = app[,args]), answer (answer and wait), moh (answer + MusicOnHold), playback (answer, play,
    hang up after ``duration``), voicemail (answer, VoiceMail(data), hang up after ``duration``), userevent
    (``UserEvent(data,<fields>)`` then on at ``next``), hangup.

    As the generated dialplan goes on after an application returns: ``next`` is where a failed Dial() (the
    person's busy / no answer / unreachable step) or a Queue() that timed out after ``max_wait`` continues, and
    ``otherwise`` where a queue with no member logged in sends the caller (the QUEUE_MEMBER check before
    Queue()). Without them the call ends there, as before. ``exit_context``: where a key pressed in the queue
    leads (``FakeAsterisk.queue_exit_key``).
    """

    kind: str
    data: str = ""
    timeout: int = 30
    options: str = ""
    duration: float = 1.5
    fields: tuple[tuple[str, object], ...] = ()  # a value: text, or a function of the channel (an expression)
    next: tuple[str, str] | None = None
    otherwise: tuple[str, str] | None = None
    max_wait: float = 0.0
    exit_context: str | None = None  # a queue's queues.conf ``context``: a key with an extension there leaves


class AsteriskState:
    def __init__(self):
        self.boot_time = time.time()
        self.reload_time = self.boot_time
        self.endpoints: dict[str, Endpoint] = {}
        self.channels: dict[str, Channel] = {}  # by uniqueid, creation order
        self.bridges: dict[str, Bridge] = {}
        self.queues: dict[str, Queue] = {}
        self.hints: list[Hint] = []
        self.routes: dict[tuple[str, str], Route] = {}
        self.extensions: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.includes: dict[str, list[str]] = {}  # context -> included contexts, in order (config_files.py)
        self.astdb: dict[str, str] = {}  # "/family/key" -> value
        # GROUP()/GROUP_COUNT() and LOCK()/UNLOCK() of the recording dialplan (recording.py)
        from .recording import Groups, NamedLocks

        self.groups = Groups()
        self.named_locks = NamedLocks()
        self.custom_devstates: dict[str, str] = {}  # "Custom:x" -> state name
        self.extra_devices: dict[str, str] = {}  # other device states (MWI:..., Queue:...)
        self.presence: dict[str, tuple[str, str, str]] = {}  # "CustomPresence:x" -> (state, subtype, message)
        self.globals: dict[str, str] = {}
        # tenant id → what its generated dialplan knows for feature codes (feature_codes.py):
        # {"status_codes": {1, 4}, "prompt_ids": {7}, "time_zone": "Europe/Stockholm"}
        self.feature_settings: dict[int, dict] = {}
        self.mailboxes: dict[str, tuple[int, int, int]] = {}  # "1001@default" -> (urgent, new, old)
        self.queue_log: list[str] = []
        self.processed_calls = 0
        self.modules = {
            "app_queue.so",
            "res_pjsip.so",
            "pbx_config.so",
            "chan_pjsip.so",
            "app_voicemail.so",
            "res_musiconhold.so",
            "app_confbridge.so",
            "res_parking.so",
            "features",
            "cdr",
            "manager",
            "http",
            "res_ari.so",
            "res_stasis.so",
        }
        self._uid = itertools.count(1)
        self._pjsip = itertools.count(0)
        self._local = itertools.count(0)
        self._snoop = itertools.count(0)
        self._last_dev: dict[str, str] = {}
        self._last_ext: dict[tuple[str, str], int] = {}

    # ------------------------------------------------------------------ construction
    @classmethod
    def empty(cls) -> AsteriskState:
        return cls()

    @classmethod
    def default(cls) -> AsteriskState:
        st = cls()
        st.add_endpoint("1001", "Test 1001", contact="sip:1001-0x564949a75580@127.0.0.1:5091")
        st.add_endpoint("1002", "Test 1002", contact="sip:1002-0x5612b764e580@127.0.0.1:5082")
        st.add_endpoint("sipp", "SIPp", registered=False)
        st.add_hint("1001", "internal", "PJSIP/1001,CustomPresence:1001")
        st.add_hint("1002", "internal", "PJSIP/1002")
        st.add_hint("1099", "internal", "Custom:agent99")
        support = st.add_queue("support")
        st.add_member(support, "PJSIP/1002", "Agent 1002", membership="static")
        st.add_queue("sales")
        st.extra_devices["MWI:1001@default"] = "NOT_INUSE"
        for exten, route in {
            "600": Route("answer"),
            "601": Route("playback", "hello-world"),
            "610": Route("moh", "default"),
            "611": Route("answer"),
            "700": Route("stasis", "orchestrator"),
            "800": Route("queue", "support"),
            "801": Route("queue", "sales"),
            "1012": Route("dial", "PJSIP/1002", timeout=6),
            "1101": Route("dial", "PJSIP/1001", options="tTkK"),
            "1102": Route("dial", "PJSIP/1002", options="tTkK"),
        }.items():
            st.routes[("internal", exten)] = route
        st.snapshot_baseline()
        return st

    # Building a world: these update the baseline of device/extension states, so the new objects do not
    # produce DeviceStateChange/ExtensionStatus events by themselves (only later changes do).
    def add_endpoint(self, name: str, caller_name: str = "", **kw) -> Endpoint:
        ep = Endpoint(name=name, caller_name=caller_name or name, **kw)
        self.endpoints[name] = ep
        self.snapshot_baseline()
        return ep

    def add_hint(self, exten: str, context: str, hint: str) -> Hint:
        self.hints = [h for h in self.hints if not (h.exten == exten and h.context == context)]
        h = Hint(exten, context, hint)
        self.hints.append(h)
        self.snapshot_baseline()
        return h

    def add_queue(self, name: str, **kw) -> Queue:
        q = Queue(name=name, **kw)
        self.queues[name] = q
        self.snapshot_baseline()
        return q

    def add_member(self, queue: Queue, interface: str, name: str = "", *, membership: str = "dynamic",
                   state_interface: str = "", penalty: int = 0, paused: bool = False, reason: str = "",
                   baseline: bool = True) -> QueueMember:
        """Add a queue member (``baseline=False`` when the caller emits the device-state events itself)."""
        m = QueueMember(interface=interface, name=name or interface, state_interface=state_interface or interface,
                        membership=membership, penalty=penalty, paused=paused, paused_reason=reason if paused else "")
        if paused:
            m.last_pause = int(time.time())
        m.status = DEVICE_STATE_CODE[self.device_state(m.state_interface)]
        queue.members[interface.lower()] = m
        if baseline:
            self.snapshot_baseline()
        return m

    def snapshot_baseline(self) -> None:
        """Remember current device/extension states so later changes produce events."""
        self._last_dev = dict(self.all_device_states())
        self._last_ext = {(h.exten, h.context): self.extension_state(h)[0] for h in self.hints}

    # ------------------------------------------------------------------ ids
    def new_uniqueid(self) -> str:
        return f"{int(time.time())}.{next(self._uid)}"

    def new_pjsip_name(self, endpoint: str) -> str:
        return f"PJSIP/{endpoint}-{next(self._pjsip):08x}"

    def new_local_names(self, dest: str) -> tuple[str, str]:
        n = next(self._local)
        return f"Local/{dest}-{n:08x};1", f"Local/{dest}-{n:08x};2"

    def new_snoop_name(self, uniqueid: str) -> str:
        return f"Snoop/{uniqueid}-{next(self._snoop):08x}"

    # ------------------------------------------------------------------ channels
    def channel_by_name(self, name: str) -> Channel | None:
        for ch in self.channels.values():
            if ch.name.lower() == name.lower():
                return ch
        return None

    def channel(self, name_or_id: str) -> Channel | None:
        return self.channels.get(name_or_id) or self.channel_by_name(name_or_id)

    def route(self, context: str, exten: str) -> Route | None:
        r = self.routes.get((context, exten)) or self.routes.get(("*", exten))
        if r:
            return r
        if exten in self.endpoints:
            return Route("dial", f"PJSIP/{exten}")
        return None

    # ------------------------------------------------------------------ device states
    def endpoint_device_state(self, device: str) -> str:
        tech, _, name = device.partition("/")
        ep = self.endpoints.get(name)
        if ep is None or ep.tech.lower() != tech.lower():
            return "INVALID"
        if not ep.registered:
            return "UNAVAILABLE"
        chans = [c for c in self.channels.values() if c.endpoint and c.endpoint.lower() == device.lower()]
        # an outbound leg that rings is "Ringing" (5); an inbound leg before answer is "Ring" (4) -> in use
        ringing = any(c.state == 5 for c in chans)
        up = any(c.state in (2, 3, 4, 6) for c in chans)
        if any(c.held for c in chans):
            return "ONHOLD"
        if ringing and up:
            return "RINGINUSE"
        if ringing:
            return "RINGING"
        if up:
            return "INUSE"
        return "NOT_INUSE"

    def device_state(self, device: str) -> str:
        if device.lower().startswith("hint:"):
            return self.hint_device_state(device)
        if device.lower().startswith("custom:"):
            return self.custom_devstates.get(self._custom_key(device), "UNKNOWN")
        if device in self.extra_devices:
            return self.extra_devices[device]
        if device.lower().startswith("local/"):
            return "INUSE" if any(c.name.lower().startswith(device.lower() + "-") for c in self.channels.values()) \
                else "NOT_INUSE"
        if "/" in device:
            return self.endpoint_device_state(device)
        return "UNKNOWN"

    def hint_device_state(self, device: str) -> str:
        """A ``hint:<exten>@<context>`` state interface (queue members): the hint's extension state as a device
        state, as app_queue.c's extensionstate2devicestate() converts it."""
        exten, _, context = device[5:].partition("@")
        hint = self.find_hint(exten, context)
        if hint is None:
            return "INVALID"
        return EXTENSION_TO_DEVICE_STATE.get(self.extension_state(hint)[0], "INVALID")

    def _custom_key(self, device: str) -> str:
        return "Custom:" + device.split(":", 1)[1]

    def all_device_states(self) -> list[tuple[str, str]]:
        out: dict[str, str] = {}
        for ep in self.endpoints.values():
            out[ep.device] = self.device_state(ep.device)
        for dev, st in self.custom_devstates.items():
            out[dev] = st
        for dev, st in self.extra_devices.items():
            out[dev] = st
        for q in self.queues.values():
            out[f"Queue:{q.name}_avail"] = self.queue_avail_state(q)
            for m in q.members.values():
                out[f"Queue:{q.name}_pause_{m.interface}"] = "INUSE" if m.paused else "NOT_INUSE"
        for ch in self.channels.values():
            if ch.name.startswith("Local/"):
                dev = ch.name.rsplit("-", 1)[0]
                out[dev] = "INUSE"
        return list(out.items())

    def queue_avail_state(self, q: Queue) -> str:
        for m in q.members.values():
            if not m.paused and m.status not in (DEVICE_STATE_CODE["UNAVAILABLE"], DEVICE_STATE_CODE["INVALID"]):
                return "NOT_INUSE"
        return "INUSE"

    # ------------------------------------------------------------------ extension states
    def extension_state(self, hint: Hint) -> tuple[int, str]:
        states = [self.device_state(d) for d in hint.devices]
        code = aggregate_extension_state(states)
        return code, EXTENSION_STATE_TEXT.get(code, "Unknown")

    def find_hint(self, exten: str, context: str) -> Hint | None:
        for h in self.hints:
            if h.exten == exten and h.context == context:
                return h
        return None

    # ------------------------------------------------------------------ presence
    def presence_state(self, provider: str) -> tuple[str, str, str]:
        return self.presence.get(provider, ("not_set", "", ""))

    # ------------------------------------------------------------------ astdb
    def db_tree(self, family: str = "", key: str = "") -> list[tuple[str, str]]:
        prefix = ""
        if family:
            prefix = f"/{family}" + (f"/{key}" if key else "")
        items = []
        for k in sorted(self.astdb):
            if not prefix or (k + "/").startswith(prefix + "/"):
                items.append((k, self.astdb[k]))
        return items

    def db_deltree(self, family: str, key: str = "") -> int:
        doomed = [k for k, _ in self.db_tree(family, key)]
        for k in doomed:
            del self.astdb[k]
        return len(doomed)

    # ------------------------------------------------------------------ misc
    def log_queue(self, callid: str, queue: str, agent: str, event: str, *data: str) -> str:
        line = "|".join([str(int(time.time())), callid, queue, agent, event, *data])
        self.queue_log.append(line)
        return line


def aggregate_extension_state(states: list[str]) -> int:
    """ast_devstate_aggregate + ast_devstate_to_extenstate, for the states our fake produces."""
    if not states:
        return 4
    inuse = any(s in ("INUSE", "BUSY", "RINGINUSE", "ONHOLD") for s in states)
    ringing = any(s in ("RINGING", "RINGINUSE") for s in states)
    onhold = any(s == "ONHOLD" for s in states)
    busy = any(s == "BUSY" for s in states)
    if all(s in ("UNAVAILABLE", "INVALID") for s in states):
        return 4
    if busy:
        return 2
    if ringing and any(s in ("INUSE", "RINGINUSE", "ONHOLD") for s in states):
        return 9
    if ringing:
        return 8
    if onhold and any(s == "INUSE" for s in states):
        return 17
    if onhold:
        return 16
    if inuse:
        return 1
    return 0
