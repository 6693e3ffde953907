"""The call tracker's working objects: channels, calls, queue visits, and the call state machine."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from pbx.asterisk.resolve import DEVICE, LOCAL, TRUNK, Endpoint, QueueRef

from .domain import NOBODY, Party


class CallState(StrEnum):
    ROUTING = "routing"  # in the PBX's own hands: menus, announcements, voicemail, a redirect on its way
    RINGING = "ringing"  # a phone rings for it
    QUEUED = "queued"  # waiting in a queue
    UP = "up"  # people talk
    HELD = "held"  # someone put the others on hold
    TRANSFERRING = "transferring"  # on hold while the holder consults the transfer target
    ENDED = "ended"


S = CallState
# The small explicit state machine. A transfer is an edge, not a state: up → (routing → ringing →) up
# with new parties, or transferring → up when an attended transfer completes (or is cancelled).
TRANSITIONS: dict[CallState, frozenset[CallState]] = {
    S.ROUTING: frozenset({S.RINGING, S.QUEUED, S.UP, S.ENDED}),
    S.RINGING: frozenset({S.ROUTING, S.QUEUED, S.UP, S.ENDED}),
    S.QUEUED: frozenset({S.ROUTING, S.RINGING, S.UP, S.ENDED}),
    S.UP: frozenset({S.ROUTING, S.RINGING, S.QUEUED, S.HELD, S.TRANSFERRING, S.ENDED}),
    S.HELD: frozenset({S.UP, S.TRANSFERRING, S.ROUTING, S.ENDED}),
    S.TRANSFERRING: frozenset({S.UP, S.HELD, S.ROUTING, S.ENDED}),
    S.ENDED: frozenset(),
}

PARTY_KINDS = {DEVICE: "user", TRUNK: "external"}
NUMBER = re.compile(r"\+?[0-9*#]+")


@dataclass(slots=True, eq=False)
class Chan:
    uniqueid: str
    name: str
    linkedid: str
    call_id: str
    endpoint: Endpoint
    number: str
    caller_name: str
    context: str
    exten: str
    state: str
    created_at: float
    bridge: str | None = None
    dialled_by: str | None = None  # the dialling channel's uniqueid; "" when Originate/ARI dialled it
    local_peer: str | None = None  # the other half of a Local pair
    holding: bool = False  # this channel put the others on hold (Hold is raised on the holder)
    console_hold: bool = False  # ... from the console (music channels, pbx.asterisk.hold), not the phone
    recording: bool = False
    recording_paused: bool = False  # MixMonitorMute State 1 (both directions silenced)
    answered: bool = False
    moved: bool = False  # a blind transfer sent it back to the dialplan: its next BridgeLeave is no redirect
    last_peers: tuple[Party, ...] = ()  # whom it last talked with (for attributing a redirect)

    @property
    def kind(self) -> str:
        return self.endpoint.kind

    @property
    def is_party(self) -> bool:
        """A person's phone or the outside world; Local and Snoop channels are only connectors."""
        return self.endpoint.kind != LOCAL

    @property
    def party(self) -> Party:
        ep = self.endpoint
        # A phone whose endpoint has no caller ID number (a person without an extension) shows the From user
        # of its SIP request, i.e. its account ("t1-a69833609e"): that is no number anyone could call.
        number = self.number if NUMBER.fullmatch(self.number) else ""
        return Party(PARTY_KINDS.get(ep.kind, "external" if ep.kind != LOCAL else "system"), number,
                     self.caller_name, ep.tenant_id, ep.user_id)


@dataclass(slots=True, eq=False)
class Dial:
    callee: str
    caller: str | None
    started_at: float
    dial_string: str = ""
    status: str | None = None


@dataclass(slots=True, eq=False)
class Visit:
    """One stay of the call in a queue."""

    queue: QueueRef
    index: int
    uniqueid: str
    joined_at: float
    position: int  # where it waits now: app_queue renumbers its callers whenever one joins or leaves
    left_at: float | None = None
    left_published: bool = False
    # "connect" | "abandon"; the dialplan's "noagents" | "closed" | "overflow" | "timeout" | "callback"; None
    # while waiting, or after leaving without a word (a redirect out of Queue())
    outcome: str | None = None
    entered: bool = True  # False: the queue turned the call away before it joined (no agents, closed)
    joined_position: int = 0
    connected_at: float | None = None
    agent: Party | None = None
    agent_member: str = ""
    completed_at: float | None = None
    reason: str = ""
    offered: dict[str, float] = field(default_factory=dict)  # agent channel → when it started ringing
    missed: list[tuple[Party, str, float, float]] = field(default_factory=list)  # agent, member, ring_s, at


@dataclass(slots=True, eq=False)
class Call:
    id: str
    node: str
    started_at: float
    tenant_id: int | None = None
    state: CallState = CallState.ROUTING
    visible: bool = False  # a real party (phone or outside line) has been on it
    announced: bool = False  # CallCreated went out (once the company is known)
    caller_uid: str | None = None
    caller: Party = NOBODY
    dialled: str = ""
    channels: dict[str, Chan] = field(default_factory=dict)
    parties: dict[str, Party] = field(default_factory=dict)  # every real party that took part, in order
    external: bool = False
    answered_at: float | None = None
    answered_by: list[Party] = field(default_factory=list)
    caller_up_at: float | None = None
    dials: dict[str, Dial] = field(default_factory=dict)
    dial_statuses: list[str] = field(default_factory=list)
    visits: list[Visit] = field(default_factory=list)
    transfers: list[dict] = field(default_factory=list)
    held_by: str | None = None
    recorded: bool = False
    # Uniqueid of a channel that recorded → when its recording ended (MixMonitorStop, or the channel's hangup):
    # a person who transferred the call on has a recording of their own part only.
    recording_ends: dict[str, float] = field(default_factory=dict)
    listen_in: bool = False
    cause: int | None = None
    cause_text: str = ""
    last_cause: int | None = None
    last_cause_text: str = ""
    complete: bool = True
    aliases: list[str] = field(default_factory=list)
    # The first forward by a person's status or profile: whose, why, where to (the dialplan's PbxForward).
    forwarded_from: int | None = None
    forward_reason: str = ""
    forwarded_to: str = ""
    voicemail_at: float | None = None  # the caller reached voicemail (PbxVoicemail)
    voicemail_box: str = ""
    voicemail_user: int | None = None  # the box's owner when it is a person's own box

    def open_visit(self) -> Visit | None:
        for visit in reversed(self.visits):
            if visit.left_at is None:
                return visit
        return None

    def visit(self, queue: str, uniqueid: str) -> Visit | None:
        for visit in reversed(self.visits):
            if visit.queue.name == queue and visit.uniqueid == uniqueid:
                return visit
        return None
