"""The event bridge's vocabulary: typed, in the product's words, free of Asterisk field names.

Two kinds of dataclass live here:

- **Facts**: what Asterisk reported about channels and bridges (``ChannelCreated``, ``DialStarted``,
  ``BridgeEntered``...). They are the output of the one parse in ``subscriptions.py`` and the input of the
  call tracker (``calls.py``), which alone turns them into call events.
- **Events**: what happened to calls, queues and people (``CallAnswered``, ``QueueCallerAbandoned``,
  ``PresenceChanged``...). They update the live state, are persisted when a call ends and are published
  to browsers. Each has a ``type`` (the name browsers see) and ``message()`` (its JSON form).

Times are epoch seconds (floats); messages carry them as ISO 8601 strings.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar


def iso(ts: float | None) -> str | None:
    if ts is None:
        return None
    return dt.datetime.fromtimestamp(ts, tz=dt.UTC).isoformat(timespec="milliseconds")


# --------------------------------------------------------------------------------------------
# Who takes part


@dataclass(slots=True, frozen=True)
class Party:
    """Someone on a call: one of the company's people, the outside world, or the PBX itself."""

    kind: str  # "user" | "external" | "system"
    number: str = ""
    name: str = ""
    tenant_id: int | None = None
    user_id: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "number": self.number, "name": self.name, "user_id": self.user_id}


NOBODY = Party("system")


@dataclass(slots=True, frozen=True)
class ChannelInfo:
    """One channel as an event described it."""

    name: str
    uniqueid: str
    linkedid: str
    state: str  # "down" | "ring" | "ringing" | "up" | "busy" | ...
    number: str  # the channel's own caller ID number
    caller_name: str
    context: str
    exten: str

    @classmethod
    def only_id(cls, uniqueid: str) -> ChannelInfo:
        """A channel known by its Uniqueid only (a console hold's music channel names its holder so)."""
        return cls("", uniqueid, "", "", "", "", "", "")


# --------------------------------------------------------------------------------------------
# Facts: the call tracker's input


@dataclass(slots=True, frozen=True)
class Fact:
    at: float


@dataclass(slots=True, frozen=True)
class ChannelCreated(Fact):
    channel: ChannelInfo


@dataclass(slots=True, frozen=True)
class ChannelStateChanged(Fact):
    channel: ChannelInfo


@dataclass(slots=True, frozen=True)
class ChannelCallerChanged(Fact):
    channel: ChannelInfo


@dataclass(slots=True, frozen=True)
class ChannelRenamed(Fact):
    uniqueid: str
    new_name: str


@dataclass(slots=True, frozen=True)
class ChannelHungUp(Fact):
    channel: ChannelInfo
    cause: int
    cause_text: str


@dataclass(slots=True, frozen=True)
class DialStarted(Fact):
    caller: ChannelInfo | None  # None: Originate (or ARI) dialled the channel, no caller channel
    callee: ChannelInfo
    dial_string: str


@dataclass(slots=True, frozen=True)
class DialEnded(Fact):
    caller: ChannelInfo | None
    callee: ChannelInfo
    status: str  # "ANSWER" | "BUSY" | "NOANSWER" | "CANCEL" | "CHANUNAVAIL" | "CONGESTION" | ...


@dataclass(slots=True, frozen=True)
class BridgeEntered(Fact):
    bridge_id: str
    channel: ChannelInfo


@dataclass(slots=True, frozen=True)
class BridgeLeft(Fact):
    bridge_id: str
    channel: ChannelInfo


@dataclass(slots=True, frozen=True)
class BridgesMerged(Fact):
    from_bridge: str
    to_bridge: str


@dataclass(slots=True, frozen=True)
class LocalPaired(Fact):
    one: ChannelInfo
    two: ChannelInfo


@dataclass(slots=True, frozen=True)
class LocalOptimized(Fact):
    one: ChannelInfo
    two: ChannelInfo
    finished: bool  # False at LocalOptimizationBegin, True at ...End


@dataclass(slots=True, frozen=True)
class HoldChanged(Fact):
    channel: ChannelInfo
    held: bool
    console: bool = False  # a console hold (music channel), not the phone's own hold key


@dataclass(slots=True, frozen=True)
class BlindTransferDone(Fact):
    transferer: ChannelInfo
    transferee: ChannelInfo | None
    exten: str
    context: str


@dataclass(slots=True, frozen=True)
class AttendedTransferDone(Fact):
    transferer: ChannelInfo
    transferee: ChannelInfo | None
    target: ChannelInfo | None
    second_transferer: ChannelInfo | None
    destination: str  # "Bridge" | "App" | "Link" | "Threeway" | "Fail"


@dataclass(slots=True, frozen=True)
class CallForwarded(Fact):
    """The dialplan sent a call to a person on (``UserEvent(PbxForward)``): their status or profile."""

    channel: ChannelInfo
    user_id: int | None
    reason: str  # "status" | "always" | "busy" | "no_answer" | "unreachable"
    to: str  # a number, or a destination as ``<kind>:<id>`` (a status's destination)


@dataclass(slots=True, frozen=True)
class VoicemailReached(Fact):
    """The caller is about to leave a message (``UserEvent(PbxVoicemail)``)."""

    channel: ChannelInfo
    user_id: int | None  # the box's owner, when it is a person's own box
    mailbox: str  # the box number


@dataclass(slots=True, frozen=True)
class QueueMissed(Fact):
    """A queue could not take the call (``UserEvent(PbxQueueResult)``): no agents, closed, full, timeout."""

    channel: ChannelInfo
    queue: str  # Asterisk's name of the queue (t<tenant>-q<id>)
    result: str  # "noagents" | "closed" | "overflow" | "timeout"


@dataclass(slots=True, frozen=True)
class QueueJoined(Fact):
    channel: ChannelInfo
    queue: str
    position: int


@dataclass(slots=True, frozen=True)
class QueueAbandoned(Fact):
    channel: ChannelInfo
    queue: str
    position: int
    hold_time: int


@dataclass(slots=True, frozen=True)
class QueueLeft(Fact):
    channel: ChannelInfo
    queue: str
    position: int


@dataclass(slots=True, frozen=True)
class AgentOffered(Fact):
    """The queue rang an agent (AgentCalled), connected one (AgentConnect), the agent's call ended
    (AgentComplete) or the agent did not answer (AgentRingNoAnswer): ``what`` says which."""

    what: str  # "called" | "connect" | "complete" | "ringnoanswer"
    caller: ChannelInfo
    agent_channel: ChannelInfo | None
    queue: str
    member: str  # the member's interface
    state_interface: str
    hold_time: int = 0
    talk_time: int = 0
    ring_time: int = 0
    reason: str = ""


@dataclass(slots=True, frozen=True)
class RecordingChanged(Fact):
    channel: ChannelInfo
    what: str  # "start" | "stop" | "mute" | "unmute"
    direction: str = ""


@dataclass(slots=True, frozen=True)
class SpyChanged(Fact):
    spyer: ChannelInfo
    spyee: ChannelInfo
    started: bool


# --------------------------------------------------------------------------------------------
# Events: what the rest of the product sees


@dataclass(slots=True, frozen=True)
class Event:
    type: ClassVar[str] = ""
    # Published only to these people (never the whole company) when set; see ``audience``.
    private: ClassVar[bool] = False

    tenant_id: int | None
    at: float

    def message(self) -> dict[str, Any]:
        data: dict[str, Any] = {"type": self.type}
        for f in fields(self):
            if f.name == "tenant_id":
                continue
            value = getattr(self, f.name)
            if f.name == "at" or f.name.endswith("_at"):
                value = iso(value)
            elif isinstance(value, Party):
                value = value.as_dict()
            elif isinstance(value, CallRecord):
                data["summary"] = {"direction": value.direction, "wait_s": value.wait_s, "talk_s": value.talk_s,
                                   "transfers": value.transfers, "recorded": value.recorded}
                continue
            data[f.name] = value
        return data

    def audience(self) -> list[int] | None:
        """The people a private event goes to; None: the whole company."""
        return None


# Calls ------------------------------------------------------------------------------------
# ``call`` is the call's current picture for the console (see CallTracker.view).


@dataclass(slots=True, frozen=True)
class CallEvent(Event):
    call_id: str
    call: dict = field(default_factory=dict)


@dataclass(slots=True, frozen=True)
class CallCreated(CallEvent):
    type: ClassVar[str] = "call.created"


@dataclass(slots=True, frozen=True)
class CallRinging(CallEvent):
    type: ClassVar[str] = "call.ringing"
    party: Party = NOBODY


@dataclass(slots=True, frozen=True)
class CallAnswered(CallEvent):
    type: ClassVar[str] = "call.answered"
    party: Party = NOBODY


@dataclass(slots=True, frozen=True)
class CallHeld(CallEvent):
    type: ClassVar[str] = "call.held"
    by: Party = NOBODY


@dataclass(slots=True, frozen=True)
class CallResumed(CallEvent):
    type: ClassVar[str] = "call.resumed"
    by: Party = NOBODY


@dataclass(slots=True, frozen=True)
class CallTransferred(CallEvent):
    type: ClassVar[str] = "call.transferred"
    kind: str = ""  # "blind" | "attended" | "redirect"
    by: Party = NOBODY
    transferee: Party = NOBODY
    to: Party = NOBODY


@dataclass(slots=True, frozen=True)
class CallUpdated(CallEvent):
    """The call changed in a way no more specific event names (queued, transferring, recording...)."""

    type: ClassVar[str] = "call.updated"


@dataclass(slots=True, frozen=True)
class CallMerged(CallEvent):
    """Asterisk joined two calls into one (a channel's Linkedid changed on bridging)."""

    type: ClassVar[str] = "call.merged"
    into_call_id: str = ""


@dataclass(slots=True, frozen=True)
class CallEnded(CallEvent):
    type: ClassVar[str] = "call.ended"
    result: str = ""  # "answered" | "abandoned" | "no_answer" | "busy" | "failed"
    cause: int | None = None
    cause_text: str = ""
    record: CallRecord | None = None


# Queues -----------------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class QueueEvent(Event):
    call_id: str
    queue_id: int | None
    queue: str


@dataclass(slots=True, frozen=True)
class QueueCallerJoined(QueueEvent):
    type: ClassVar[str] = "queue.caller_joined"
    position: int = 0
    caller: Party = NOBODY


@dataclass(slots=True, frozen=True)
class QueueCallerLeft(QueueEvent):
    type: ClassVar[str] = "queue.caller_left"
    position: int = 0


@dataclass(slots=True, frozen=True)
class QueuePositionChanged(QueueEvent):
    """A waiting caller moved up (or down): app_queue renumbered its callers when another joined or left."""

    type: ClassVar[str] = "queue.position"
    position: int = 0
    joined_at: float = 0.0
    caller: Party = NOBODY


@dataclass(slots=True, frozen=True)
class QueueCallerAbandoned(QueueEvent):
    type: ClassVar[str] = "queue.caller_abandoned"
    position: int = 0
    wait_s: float = 0.0


@dataclass(slots=True, frozen=True)
class AgentRinging(QueueEvent):
    type: ClassVar[str] = "queue.agent_ringing"
    agent: Party = NOBODY


@dataclass(slots=True, frozen=True)
class AgentConnected(QueueEvent):
    type: ClassVar[str] = "queue.agent_connected"
    agent: Party = NOBODY
    wait_s: float = 0.0


@dataclass(slots=True, frozen=True)
class AgentCompleted(QueueEvent):
    type: ClassVar[str] = "queue.agent_completed"
    agent: Party = NOBODY
    talk_s: float = 0.0
    reason: str = ""  # "caller" | "agent" | "transfer"


@dataclass(slots=True, frozen=True)
class AgentMissed(QueueEvent):
    type: ClassVar[str] = "queue.agent_missed"
    agent: Party = NOBODY
    ring_s: float = 0.0


# Agents (queue membership) ----------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class AgentEvent(Event):
    queue_id: int | None
    queue: str
    user_id: int | None
    member: str
    paused: bool = False
    reason: str = ""
    status: str = ""  # "idle" | "in_use" | "busy" | "unavailable" | "ringing" | "on_hold" | ...
    in_call: bool = False


@dataclass(slots=True, frozen=True)
class AgentLoggedIn(AgentEvent):
    type: ClassVar[str] = "agent.logged_in"


@dataclass(slots=True, frozen=True)
class AgentLoggedOut(AgentEvent):
    type: ClassVar[str] = "agent.logged_out"


@dataclass(slots=True, frozen=True)
class AgentPaused(AgentEvent):
    type: ClassVar[str] = "agent.paused"


@dataclass(slots=True, frozen=True)
class AgentStatusChanged(AgentEvent):
    type: ClassVar[str] = "agent.status"


# People's lines and presence --------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class DeviceStateChanged(Event):
    type: ClassVar[str] = "device.state"
    user_id: int | None
    device: str
    state: str  # "not_inuse" | "inuse" | "busy" | "ringing" | "onhold" | "unavailable" | ...


@dataclass(slots=True, frozen=True)
class LineStateChanged(Event):
    """A person's line as the phones' BLF see it (the hint of their extension)."""

    type: ClassVar[str] = "line.state"
    user_id: int | None
    extension: str
    state: str  # "idle" | "in_use" | "busy" | "unavailable" | "ringing" | "on_hold" | ...


@dataclass(slots=True, frozen=True)
class PresenceChanged(Event):
    type: ClassVar[str] = "presence.state"
    user_id: int | None
    key: str
    state: str  # Asterisk presence: "available" | "away" | "dnd" | "xa" | "chat" | "unavailable" | ...
    subtype: str = ""
    note: str = ""


# Recording and listen-in ------------------------------------------------------------------


# ``channel_id``: the Uniqueid of the channel MixMonitor runs on (a queue member's Local;1, a phone's channel):
# the recording's row is found by it (recording.capture).
@dataclass(slots=True, frozen=True)
class RecordingStarted(CallEvent):
    type: ClassVar[str] = "recording.started"
    party: Party = NOBODY
    channel_id: str = ""


@dataclass(slots=True, frozen=True)
class RecordingStopped(CallEvent):
    type: ClassVar[str] = "recording.stopped"
    party: Party = NOBODY
    channel_id: str = ""


@dataclass(slots=True, frozen=True)
class RecordingPaused(CallEvent):
    type: ClassVar[str] = "recording.paused"
    party: Party = NOBODY
    paused: bool = True
    direction: str = ""
    channel_id: str = ""


@dataclass(slots=True, frozen=True)
class ListenInEvent(CallEvent):
    # The person listened to must never learn of it from a push: only the listener is told.
    private: ClassVar[bool] = True
    listener: Party = NOBODY
    target: Party = NOBODY

    def audience(self) -> list[int] | None:
        return [self.listener.user_id] if self.listener.user_id is not None else []


@dataclass(slots=True, frozen=True)
class ListenInStarted(ListenInEvent):
    type: ClassVar[str] = "listen_in.started"


@dataclass(slots=True, frozen=True)
class ListenInStopped(ListenInEvent):
    type: ClassVar[str] = "listen_in.stopped"


# Dialplan requests (UserEvent) ------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class CallbackRequested(Event):
    """A caller asked to be called back: in a queue (``UserEvent(PbxCallback...)``, kind "queue": the queue
    dials them back by itself) or through a menu's callback choice (``UserEvent(PbxCallbackRequest...)``,
    kind "request": someone calls back by hand); or a queue's callback that left the queue with nobody to take it
    (``UserEvent(PbxCallbackUnserved...)``, kind "unserved": it goes on the list)."""

    type: ClassVar[str] = "queue.callback_requested"
    call_id: str
    queue_id: int | None
    queue: str
    number: str
    kind: str = "queue"
    destination_id: int | None = None
    channel_id: str = ""  # the Uniqueid of the channel the dialplan ran on
    caller: Party = NOBODY
    position: int | None = None

    # What the dialplan events' consumer (dialplan_events.py) dispatches on, as for a FeatureCodeUsed.
    @property
    def feature(self) -> str:
        return {"request": "PbxCallbackRequest", "unserved": "PbxCallbackUnserved"}.get(self.kind, "PbxCallback")

    @property
    def user_id(self) -> None:
        return None  # a caller from outside, nobody of the company


@dataclass(slots=True, frozen=True)
class VoicemailArrived(Event):
    """app_voicemail left a message (``MessageWaiting`` with new messages) in the company's ``mailbox``.

    Only the worker needs it (it mails the message); browsers read mailboxes through the user web."""

    type: ClassVar[str] = "voicemail.arrived"
    private: ClassVar[bool] = True
    mailbox: str
    new: int
    old: int

    def audience(self) -> list[int] | None:
        return []


@dataclass(slots=True, frozen=True)
class FeatureCodeUsed(Event):
    """A person used a feature code (presence, queue log-in, on-demand recording, prompt recording:
    the dialplan's ``UserEvent(Pbx...)``); ``values`` are the event's own fields (Code, Action, Key...)."""

    type: ClassVar[str] = "feature.used"
    private: ClassVar[bool] = True
    user_id: int | None
    feature: str
    values: dict = field(default_factory=dict)
    channel: str = ""  # the channel that raised it: the one the orchestrator answers on (PBX_ANSWER)
    call_id: str = ""  # its Linkedid (on-demand recording acts on that call)

    def audience(self) -> list[int] | None:
        return [self.user_id] if self.user_id is not None else []

    def message(self) -> dict:
        data = Event.message(self)
        data.pop("channel", None)  # Asterisk's name for the phone's line is nothing a browser needs
        return data


@dataclass(slots=True, frozen=True)
class RecordingCaptured(Event):
    """The dialplan started an automatic recording (``UserEvent(PbxRecording...)``) or refused one because every
    licence was in use (``PbxRecordingRefused``): indexed by ``recording.capture``; pushed to nobody (the
    recording web lists them)."""

    type: ClassVar[str] = "recording.captured"
    private: ClassVar[bool] = True
    user_id: int | None
    feature: str
    values: dict = field(default_factory=dict)
    channel: str = ""
    call_id: str = ""
    uniqueid: str = ""

    def audience(self) -> list[int] | None:
        return []


# The Asterisk node ------------------------------------------------------------------------


@dataclass(slots=True, frozen=True)
class NodeBooted(Event):
    """Asterisk is fully booted (sent after every login): time to resynchronise."""

    type: ClassVar[str] = "node.booted"
    uptime: int | None = None


@dataclass(slots=True, frozen=True)
class NodeShutdown(Event):
    type: ClassVar[str] = "node.shutdown"
    restart: bool = False


# --------------------------------------------------------------------------------------------
# What is persisted when a call ends


@dataclass(slots=True)
class QueueLogEntry:
    kind: str  # "enter" | "connect" | "abandon" | "complete" | "timeout" | "callback" | "ringnoanswer" | "noagents" | ...
    queue: str
    queue_id: int | None
    uniqueid: str  # the caller's channel
    visit: int  # which visit of a queue this is within the call (a call may come back to a queue)
    at: float
    position: int | None = None
    wait_s: float | None = None
    talk_s: float | None = None
    agent_user_id: int | None = None
    agent: str = ""
    seq: int = 0  # tells apart repeated rows of one kind (several ringnoanswer)

    @property
    def key(self) -> str:
        """The natural key within a node: the same row written twice is the same row. A visit is the caller's
        channel, the queue and the visit number (counted per queue): a call transferred from Support to Sales
        has visit 0 in each, and its rows must not overwrite each other."""
        return f"{self.uniqueid}:{self.queue}:{self.visit}:{self.kind}:{self.seq}"


@dataclass(slots=True)
class CallRecord:
    node: str
    call_id: str  # the Linkedid Asterisk gave the call
    tenant_id: int | None
    started_at: float
    answered_at: float | None
    ended_at: float
    direction: str  # "in" | "out" | "internal"
    from_number: str
    from_name: str
    to_number: str
    dialled_number: str
    caller_user_id: int | None
    answered_user_id: int | None
    user_ids: list[int]
    queue_id: int | None
    queue: str
    wait_s: float
    talk_s: float
    result: str
    cause: int | None
    transfers: list[dict]
    recorded: bool
    complete: bool  # False when the bridge lost sight of part of the call (restart, reconnect)
    loggable: bool  # False for a call no person took part in (a listen-in session, a Local test call)
    queue_log: list[QueueLogEntry] = field(default_factory=list)
    queue_result: str = ""  # the first queue's outcome: "answered" | "abandoned" | "noagents" | ... | ""
    forwarded_from_user_id: int | None = None
    forwarded_to: str = ""
    forward_reason: str = ""
    voicemail_box: str = ""
    voicemail_user_id: int | None = None
    recording_ends: dict[str, float] = field(default_factory=dict)  # channel Uniqueid → its recording's end
