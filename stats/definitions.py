"""What each statistic means, as code: the one place the web, the exports, the API and the wallboard read.

Every figure is computed from the raw rows the event bridge writes (``stats.models``):

* ``QueueEvent`` — the queue log. A caller's *visit* to a queue is the rows sharing the caller's channel,
  the queue and the visit number (the row key ``<uniqueid>:<queue>:<visit>:<kind>:<seq>``, the visit counted
  per caller channel and queue): ``enter`` then ``connect`` + ``complete`` (answered), ``abandon`` (the
  caller hung up), ``timeout`` (maximum wait reached), ``noagents`` after ``enter`` (the queue emptied of
  agents while the caller waited: app_queue's LEAVEEMPTY, a timeout too), ``callback`` (the caller pressed
  the queue's callback key and left a number: a Local channel keeps the place, as a visit of its own),
  ``ringnoanswer`` (an agent rang and did not answer; one per ring). A call turned away before joining has a
  single row: ``noagents`` (no agent logged in), ``closed`` (the number's schedule was closed) or
  ``overflow`` (the queue was full).
* ``CallLog`` — one row per call (direction, result, talk, who took part).
* ``AgentEvent`` — an agent's log-ins, log-outs and pauses (with the reason), per queue.
* ``pbx.CallbackRequest`` — callbacks asked for (``requested_at``) and made (``done_at``).

Boundaries and time:

* A visit counts in the 15-minute interval in which it *started* (entered the queue, or was turned away),
  with everything that followed (its wait, its answer, its talk) — so a call that spans two intervals,
  or midnight, is counted once, where it began. Times in a state (logged in, paused) are different: they
  are split across the intervals they cover, to the second.
* Intervals are UTC instants 15 minutes long; a day, week or month is taken in the company's time zone
  (Europe/Stockholm): its first interval starts at local midnight. Because Sweden's offsets are whole
  hours, every local quarter-hour is a UTC quarter-hour: the DST days simply have 92 (last Sunday of
  March) or 100 (last Sunday of October) intervals.
* "Within" a threshold includes it: answered after exactly 20 s with a 20 s service level is in time
  (app_queue compares the same way, ``holdtime <= servicelevel``).

The classes below hold additive counters (what an interval row stores) and derive the rest (averages,
percentages), so summing intervals and then deriving gives the same figure as deriving over all calls.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, fields
from typing import Any

from django.utils.translation import gettext_lazy as _

INTERVAL = dt.timedelta(minutes=15)
INTERVAL_S = 900
ZONE = "Europe/Stockholm"  # the default; a company's own zone is used where it has one

# The visit outcomes (from the queue log's last row of the visit).
ANSWERED, ABANDONED, TIMEOUT, CALLBACK, OVERFLOW, NO_AGENTS, CLOSED, WAITING = (
    "answered", "abandoned", "timeout", "callback", "overflow", "noagents", "closed", "waiting")
TURNED_AWAY = frozenset({NO_AGENTS, CLOSED, OVERFLOW})
STARTS = frozenset({"enter", NO_AGENTS, CLOSED, OVERFLOW})
# The rows that end a visit that was not answered (the last one says how).
ENDS = frozenset({"abandon", TIMEOUT, CALLBACK, NO_AGENTS, CLOSED, OVERFLOW})
# What the rebuilds read of a queue log row (stats.aggregate, the wallboard).
QUEUE_ROW_FIELDS = ("key", "node_id", "tenant_id", "queue_id", "queue_name", "uniqueid", "call_id", "linkedid",
                    "kind", "at", "wait_s", "talk_s", "agent_id")


def interval_start(at: dt.datetime) -> dt.datetime:
    """The start of the 15-minute interval holding ``at`` (an aware datetime), in UTC."""
    stamp = int(at.timestamp())
    return dt.datetime.fromtimestamp(stamp - stamp % INTERVAL_S, tz=dt.UTC)


def intervals(start: dt.datetime, end: dt.datetime) -> Iterator[dt.datetime]:
    """Every interval start in [start, end) (start aligned down)."""
    at = interval_start(start)
    while at < end:
        yield at
        at += INTERVAL


def split_seconds(start: dt.datetime, end: dt.datetime) -> Iterator[tuple[dt.datetime, float]]:
    """A span of time cut at the interval boundaries: (interval start, seconds of the span in it)."""
    at = start
    while at < end:
        slot = interval_start(at)
        until = min(end, slot + INTERVAL)
        yield slot, (until - at).total_seconds()
        at = until


# ------------------------------------------------------------------------------------------- queue visits


@dataclass(slots=True, frozen=True)
class Thresholds:
    """A queue's boundaries: answered within ``service_level_s`` is in time; hung up within
    ``short_abandon_s`` is a short abandon (not missed); ``wrapup_s`` follows every answered call."""

    service_level_s: float = 20
    short_abandon_s: float = 5
    wrapup_s: float = 0


@dataclass(slots=True)
class Visit:
    """One caller's one visit to one queue, read from its queue log rows."""

    tenant_id: int
    queue_id: int | None
    queue_name: str
    call_id: int | None
    linkedid: str
    uniqueid: str
    number: int
    started_at: dt.datetime
    outcome: str = WAITING
    entered: bool = False  # it has an ``enter`` row: the caller joined the queue (else it was turned away)
    ended_at: dt.datetime | None = None
    wait_s: float = 0.0
    talk_s: float = 0.0
    agent_id: int | None = None
    rang: list[tuple[int | None, dt.datetime]] = field(default_factory=list)  # ring-no-answer: (agent, when)


def _get(row: Any, name: str):
    return row[name] if isinstance(row, dict) else getattr(row, name)


def visit_number(key: str) -> int:
    """The visit number of a queue log key ``<uniqueid>:<queue>:<visit>:<kind>:<seq>`` (the third field from
    the end: a Uniqueid may carry a system name, and only our own queue names come between)."""
    _head, visit, _kind, _seq = key.rsplit(":", 3)
    return int(visit)


def visits(rows: Iterable[Any]) -> list[Visit]:
    """The visits in queue log rows (model instances or dicts with ``QUEUE_ROW_FIELDS``). A visit is the rows of
    one node, caller channel, queue and visit number; one without its starting row is left out."""
    by_visit: dict[tuple, list] = {}
    for row in rows:
        ident = (_get(row, "node_id"), _get(row, "uniqueid"), _get(row, "queue_name"), visit_number(_get(row, "key")))
        by_visit.setdefault(ident, []).append(row)
    found: list[Visit] = []
    for (_node, uniqueid, queue_name, number), group in by_visit.items():
        group.sort(key=lambda r: _get(r, "at"))
        start = next((r for r in group if _get(r, "kind") in STARTS), None)
        if start is None:
            continue
        visit = Visit(_get(start, "tenant_id"), _get(start, "queue_id"), queue_name, _get(start, "call_id"),
                      _get(start, "linkedid"), uniqueid, number, _get(start, "at"))
        for row in group:
            kind = _get(row, "kind")
            if kind == "enter":
                visit.entered = True
            elif kind == "ringnoanswer":
                visit.rang.append((_get(row, "agent_id"), _get(row, "at")))
            elif kind == "connect":
                visit.outcome, visit.agent_id = ANSWERED, _get(row, "agent_id")
                visit.wait_s = _get(row, "wait_s") or 0.0
            elif kind == "complete":
                visit.outcome, visit.ended_at = ANSWERED, _get(row, "at")
                visit.agent_id = _get(row, "agent_id") or visit.agent_id
                visit.talk_s = _get(row, "talk_s") or 0.0
                visit.wait_s = _get(row, "wait_s") or visit.wait_s
            elif kind in ENDS:
                outcome = ABANDONED if kind == "abandon" else kind
                if visit.outcome != ANSWERED:
                    visit.outcome, visit.ended_at, visit.wait_s = outcome, _get(row, "at"), _get(row, "wait_s") or 0.0
        found.append(visit)
    return found


# ------------------------------------------------------------------------------------------ queue figures


@dataclass(slots=True)
class QueueFigures:
    """Additive counters for one queue (or a company) over some intervals; the rest is derived."""

    offered: int = 0             # visits that entered the queue
    answered: int = 0            # of those, connected to an agent
    answered_in_sl: int = 0      # answered with wait <= the queue's service-level threshold
    abandoned: int = 0           # the caller hung up while waiting (short ones included)
    short_abandoned: int = 0     # abandoned with wait <= the queue's short-abandon threshold
    timeouts: int = 0            # left unanswered by the queue: maximum wait reached (or emptied of agents)
    left_for_callback: int = 0   # left with the callback key: a Local channel waits in their place (its own visit)
    overflows: int = 0           # turned away: the queue was full (never entered)
    no_agents: int = 0           # turned away: no agent logged in (never entered)
    closed: int = 0              # turned away: the schedule was closed (never entered)
    wait_answered_s: float = 0.0  # sum of the waits of answered visits
    wait_max_s: float = 0.0      # the longest wait of any visit that entered (answered or not)
    talk_s: float = 0.0          # sum of the talk of answered visits (connect → complete)
    callbacks_requested: int = 0  # callback requests made for the queue
    callbacks_made: int = 0      # callback requests for the queue marked done

    def count(self, visit: Visit, limits: Thresholds) -> None:
        if not visit.entered:
            if visit.outcome == OVERFLOW:
                self.overflows += 1
            elif visit.outcome == NO_AGENTS:
                self.no_agents += 1
            elif visit.outcome == CLOSED:
                self.closed += 1
            return
        self.offered += 1
        self.wait_max_s = max(self.wait_max_s, visit.wait_s)
        if visit.outcome == ANSWERED:
            self.answered += 1
            self.wait_answered_s += visit.wait_s
            self.talk_s += visit.talk_s
            if visit.wait_s <= limits.service_level_s:
                self.answered_in_sl += 1
        elif visit.outcome == ABANDONED:
            self.abandoned += 1
            if visit.wait_s <= limits.short_abandon_s:
                self.short_abandoned += 1
        elif visit.outcome in (TIMEOUT, NO_AGENTS):  # the maximum wait, or the last agent gone (LEAVEEMPTY)
            self.timeouts += 1
        elif visit.outcome == CALLBACK:
            self.left_for_callback += 1

    def add(self, other: QueueFigures) -> QueueFigures:
        for f in fields(self):
            if f.name == "wait_max_s":
                self.wait_max_s = max(self.wait_max_s, other.wait_max_s)
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    # Derived figures -------------------------------------------------------------------------------

    @property
    def unanswered(self) -> int:
        """Entered and neither answered nor left for a callback: abandoned + timeouts — what app_queue counts as
        "Abandoned" (record_abandoned: a hang-up, the maximum wait, LEAVEEMPTY; not EXITWITHKEY)."""
        return self.abandoned + self.timeouts

    @property
    def missed(self) -> int:
        """"Missade samtal": callers who wanted the queue and reached no one — abandoned after the
        short-abandon threshold, timed out, turned away by a full queue or for want of agents. Short abandons
        (a wrong number, a change of mind), callers who left for a callback (the queue calls them) and calls
        while closed are not missed."""
        return self.abandoned - self.short_abandoned + self.timeouts + self.overflows + self.no_agents

    @property
    def counted(self) -> int:
        """The calls a share is taken of: offered minus short abandons and minus those who left for a callback
        (their place goes on as the callback's own visit, which is offered and answered or not in its turn)."""
        return self.offered - self.short_abandoned - self.left_for_callback

    @property
    def service_level_pct(self) -> float | None:
        """Answered within the threshold as a share of the calls that counted (``counted``)."""
        base = self.counted
        return round(100.0 * self.answered_in_sl / base, 1) if base else None

    @property
    def answered_pct(self) -> float | None:
        base = self.counted
        return round(100.0 * self.answered / base, 1) if base else None

    @property
    def wait_avg_s(self) -> float | None:
        """Average wait of the answered calls (joining the queue → an agent answering)."""
        return round(self.wait_answered_s / self.answered, 1) if self.answered else None

    @property
    def talk_avg_s(self) -> float | None:
        return round(self.talk_s / self.answered, 1) if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(unanswered=self.unanswered, missed=self.missed, service_level_pct=self.service_level_pct,
                    answered_pct=self.answered_pct, wait_avg_s=self.wait_avg_s, talk_avg_s=self.talk_avg_s)
        return data


# ------------------------------------------------------------------------------------------ agent figures


@dataclass(slots=True)
class AgentFigures:
    """Additive counters for one agent (in one queue, or all) over some intervals."""

    offered: int = 0         # rung for a queue call: answered + rang without answer
    answered: int = 0        # queue calls the agent answered (connect)
    rang_no_answer: int = 0  # rings the agent let go unanswered (AgentRingNoAnswer; one per ring)
    talk_s: float = 0.0      # talk of the answered calls (connect → complete)
    wrapup_s: float = 0.0    # the queue's wrap-up time after each answered call (app_queue's wrapuptime)
    logged_in_s: float = 0.0  # logged in to at least one queue
    paused_s: float = 0.0    # logged in and paused in every queue logged in to
    paused_by_reason: dict[str, float] = field(default_factory=dict)

    def count_answer(self, visit: Visit, limits: Thresholds) -> None:
        self.offered += 1
        self.answered += 1
        self.talk_s += visit.talk_s
        self.wrapup_s += limits.wrapup_s

    def count_ring(self) -> None:
        self.offered += 1
        self.rang_no_answer += 1

    def add(self, other: AgentFigures) -> AgentFigures:
        for f in fields(self):
            if f.name == "paused_by_reason":
                for reason, seconds in other.paused_by_reason.items():
                    self.paused_by_reason[reason] = self.paused_by_reason.get(reason, 0.0) + seconds
            else:
                setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))
        return self

    @property
    def aht_s(self) -> float | None:
        """Average handling time: (talk + wrap-up) ÷ answered."""
        return round((self.talk_s + self.wrapup_s) / self.answered, 1) if self.answered else None

    @property
    def talk_avg_s(self) -> float | None:
        return round(self.talk_s / self.answered, 1) if self.answered else None

    def as_dict(self) -> dict[str, Any]:
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data.update(aht_s=self.aht_s, talk_avg_s=self.talk_avg_s)
        return data


def queue_figures(rows: Iterable[Any], limits: dict[int | None, Thresholds]) -> dict[int | None, QueueFigures]:
    """Per queue id: the figures of the visits in the queue log ``rows`` (callbacks not included)."""
    out: dict[int | None, QueueFigures] = {}
    for visit in visits(rows):
        out.setdefault(visit.queue_id, QueueFigures()).count(visit, limits.get(visit.queue_id, Thresholds()))
    return out


def agent_call_figures(rows: Iterable[Any], limits: dict[int | None, Thresholds]) -> dict[int, AgentFigures]:
    """Per agent (user id): offered / answered / rang-no-answer / talk / wrap-up from the queue log."""
    out: dict[int, AgentFigures] = {}
    for visit in visits(rows):
        for agent_id, _at in visit.rang:
            if agent_id is not None:
                out.setdefault(agent_id, AgentFigures()).count_ring()
        if visit.outcome == ANSWERED and visit.agent_id is not None:
            out.setdefault(visit.agent_id, AgentFigures()).count_answer(visit, limits.get(visit.queue_id, Thresholds()))
    return out


# ------------------------------------------------------------------------------------- agents' time in states


@dataclass(slots=True)
class AgentState:
    """An agent's membership state across queues, replayed from AgentEvent rows."""

    logged: set = field(default_factory=set)      # queue names logged in to
    paused: dict = field(default_factory=dict)    # queue name → pause reason, for paused memberships

    def apply(self, kind: str, queue: str, reason: str = "") -> None:
        if kind == "login":
            self.logged.add(queue)
        elif kind == "logout":
            self.logged.discard(queue)
            self.paused.pop(queue, None)
        elif kind == "pause":  # a pause or a resume says the agent is a member (logged in)
            self.logged.add(queue)
            self.paused.pop(queue, None)
            self.paused[queue] = reason  # last in, the latest reason
        elif kind == "unpause":
            self.logged.add(queue)
            self.paused.pop(queue, None)

    @property
    def logged_in(self) -> bool:
        return bool(self.logged)

    @property
    def pause_reason(self) -> str | None:
        """The reason when paused in every queue logged in to (the latest pause's), else None."""
        if not self.logged or not all(q in self.paused for q in self.logged):
            return None
        return self.paused[next(reversed(self.paused))] if self.paused else ""


def agent_time(events: Iterable[Any], start: dt.datetime, end: dt.datetime,
               initial: dict[int, AgentState] | None = None) -> dict[int, dict[dt.datetime, AgentFigures]]:
    """Per agent and interval: logged-in and paused seconds (by reason) within [start, end).

    ``events`` are AgentEvent rows (or dicts: ``agent_id``, ``queue_name``, ``kind``, ``reason``, ``at``) in
    time order within the window; ``initial`` is each agent's state at ``start`` (from the events before it).
    A state lasts until the agent's next event or the window's end, cut at each interval boundary.
    """
    states = dict(initial or {})
    since: dict[int, dt.datetime] = dict.fromkeys(states, start)
    out: dict[int, dict[dt.datetime, AgentFigures]] = {}

    def close(agent: int, until: dt.datetime) -> None:
        state = states.get(agent)
        begun = since.get(agent, start)
        if state is None or not state.logged_in or until <= begun:
            return
        reason = state.pause_reason
        for slot, seconds in split_seconds(begun, until):
            figures = out.setdefault(agent, {}).setdefault(slot, AgentFigures())
            figures.logged_in_s += seconds
            if reason is not None:
                figures.paused_s += seconds
                figures.paused_by_reason[reason] = figures.paused_by_reason.get(reason, 0.0) + seconds

    for row in events:
        agent, at = _get(row, "agent_id"), _get(row, "at")
        if agent is None or at >= end:
            continue
        at = max(at, start)
        close(agent, at)
        states.setdefault(agent, AgentState()).apply(_get(row, "kind"), _get(row, "queue_name"), _get(row, "reason"))
        since[agent] = at
    for agent in list(states):
        close(agent, end)
    return out


# ------------------------------------------------------------------------------------------- call volumes


@dataclass(slots=True)
class VolumeFigures:
    """Calls of one direction (in / out / internal) for a company, person, number or queue."""

    calls: int = 0
    answered: int = 0   # result "answered" (by a person, or by the switchboard: a menu, an announcement)
    talk_s: float = 0.0

    def count(self, result: str, talk_s: float) -> None:
        self.calls += 1
        if result == "answered":
            self.answered += 1
            self.talk_s += talk_s

    def add(self, other: VolumeFigures) -> VolumeFigures:
        self.calls += other.calls
        self.answered += other.answered
        self.talk_s += other.talk_s
        return self

    @property
    def unanswered(self) -> int:
        return self.calls - self.answered


# A call counts for: the company; each person whose phone took part (CallLog.users); the company number it
# came in on or was dialled (dialled_number for an incoming call, from_number of an outgoing one is the
# person's own, so "number" is the DDI only); its first queue. In the interval of its start.
DIMENSIONS = ("company", "user", "number", "queue")


# ------------------------------------------------------------------------------- the definitions, in words


@dataclass(slots=True, frozen=True)
class Definition:
    key: str
    label: Any
    text: Any
    group: str = "queue"


DEFINITIONS: tuple[Definition, ...] = (
    Definition("offered", _("Offered"), _(
        "Calls that entered the queue (Asterisk's QueueCallerJoin). A call that comes back to the queue (after a "
        "transfer, say) is offered again. Calls turned away before entering (full, no agents, closed) are counted "
        "apart.")),
    Definition("answered", _("Answered"), _(
        "Offered calls that an agent answered (AgentConnect). A call answered and then transferred counts once, "
        "as answered by the agent who took it from the queue.")),
    Definition("answered_in_sl", _("Answered within service level"), _(
        "Answered calls whose wait (joining the queue → the agent answering) was at most the queue's service "
        "level threshold, the same comparison app_queue makes.")),
    Definition("service_level_pct", _("Service level %"), _(
        "Answered within service level ÷ (offered − short abandons − left for a callback) × 100. Asterisk's own "
        "ServicelevelPerf divides by the answered calls only (and ServicelevelPerf2 by answered + abandoned, "
        "timeouts included, counting quick abandons as in time).")),
    Definition("abandoned", _("Abandoned"), _(
        "Offered calls where the caller hung up while waiting (QueueCallerAbandon with the caller gone), short "
        "abandons included.")),
    Definition("short_abandoned", _("Short abandons"), _(
        "Abandoned calls whose wait was at most the queue's short-abandon threshold: a wrong number or a change "
        "of mind, not a missed call.")),
    Definition("timeouts", _("Timeouts"), _(
        "Offered calls the queue gave up on: the maximum wait was reached, or the last agent left while the "
        "caller waited; the call went on to the queue's overflow or no-agents destination. Asterisk counts "
        "these among its abandoned calls.")),
    Definition("left_for_callback", _("Left for a callback"), _(
        "Offered calls whose caller pressed the queue's callback key and left a number: the queue keeps their "
        "place and calls them back when an agent is free. Neither missed nor a timeout, and not in the service "
        "level's base: the place kept counts as a call of its own in the queue (offered, and answered or not). "
        "Asterisk counts them neither as completed nor as abandoned.")),
    Definition("overflows", _("Overflows (queue full)"), _(
        "Calls turned away because the queue already had its maximum number of callers waiting; not offered.")),
    Definition("no_agents", _("No agent logged in"), _(
        "Calls turned away because no agent was logged in to the queue (sent to the no-agents destination); "
        "not offered.")),
    Definition("closed", _("Closed"), _(
        "Calls to the queue's number while its schedule was closed; not offered, not missed.")),
    Definition("missed", _("Missed"), _(
        "Callers who wanted the queue and reached no one: abandoned after the short-abandon threshold + timeouts "
        "+ overflows + no agent logged in. Short abandons, callers who left for a callback and calls while "
        "closed are not missed.")),
    Definition("wait_avg_s", _("Average wait"), _(
        "Mean wait of the answered calls, from joining the queue to an agent answering, in seconds.")),
    Definition("wait_max_s", _("Longest wait"), _(
        "The longest any offered caller waited in the period, answered or not (until answer, hang-up or "
        "timeout).")),
    Definition("talk_avg_s", _("Average talk"), _(
        "Mean talk time of the answered calls, from the agent answering to the call leaving the agent "
        "(AgentComplete: a hang-up or a transfer away).")),
    Definition("callbacks_requested", _("Callbacks requested"), _(
        "Callers who asked the queue to call them back, counted when they asked.")),
    Definition("callbacks_made", _("Callbacks made"), _(
        "Callback requests marked as done, counted when they were done.")),
    Definition("agent_offered", _("Offered (agent)"), _(
        "Queue calls the agent was rung for and answered or let ring out: answered + rang without answer. A "
        "ring cancelled because another agent answered first does not count."), "agent"),
    Definition("agent_answered", _("Answered (agent)"), _("Queue calls the agent answered (AgentConnect)."),
               "agent"),
    Definition("rang_no_answer", _("Rang, no answer"), _(
        "Rings the agent let go unanswered until the queue's ring time ran out (AgentRingNoAnswer), one per "
        "ring."), "agent"),
    Definition("agent_talk_s", _("Talk time"), _("Sum of the talk of the calls the agent answered."), "agent"),
    Definition("wrapup_s", _("Wrap-up time"), _(
        "The queue's wrap-up time after each answered call, during which app_queue offers the agent no new "
        "call."), "agent"),
    Definition("aht_s", _("Average handling time"), _("(Talk time + wrap-up time) ÷ answered calls."), "agent"),
    Definition("logged_in_s", _("Logged-in time"), _(
        "Time logged in to at least one queue (QueueMemberAdded → QueueMemberRemoved), split across the "
        "intervals it covers."), "agent"),
    Definition("paused_s", _("Paused time"), _(
        "Logged-in time during which the agent was paused in every queue logged in to, by the latest pause "
        "reason (QueueMemberPause), split across the intervals it covers."), "agent"),
    Definition("volume", _("Calls (volume)"), _(
        "Every call in the call log, by direction: incoming (from outside), outgoing (to outside), internal. "
        "Per person: calls their phone took part in; per number: incoming calls to that company number; per "
        "queue: calls whose first queue it was. Counted in the interval where the call started."), "volume"),
    Definition("volume_answered", _("Answered (volume)"), _(
        "Calls whose result was answered, by a person or by the switchboard (a menu, an announcement)."),
        "volume"),
)
