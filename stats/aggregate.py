"""The 15-minute intervals: built from the raw rows by ``stats.definitions``, for any company and period.

``rebuild(tenant_id, start, end)`` replaces every interval row of the company in [start, end) (widened to
whole intervals) with what the raw rows say, so running it twice, or after the live updates, changes
nothing. The live updates are the same rebuild, narrowed: the bridge, having written finished calls, calls
``refresh_calls`` with the instants they touched (their starts and their queue visits' starts); an agent's
log-in, log-out or pause calls ``refresh_agents`` from that agent's previous event on. A periodic task
(``stats.tasks``) rebuilds the last hour, for time that passes without events (an agent logged in all
morning) and for callbacks made in the console.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable

from django.db import connection, transaction
from django.utils import timezone

from pbx.models import CallbackRequest, Queue

from . import definitions as defs
from .models import AgentEvent, AgentInterval, AgentPauseInterval, CallLog, QueueEvent, QueueInterval, VolumeInterval

# A visit that started inside the window may end after it: its later rows are read this far beyond.
VISIT_SLACK = dt.timedelta(hours=12)
# An agent's state before the window: its last event per queue, looked back this far (then: logged out).
STATE_LOOKBACK = dt.timedelta(days=31)

PARTS = ("queue", "agent_calls", "agent_time", "volume")


def write(model, columns: tuple[str, ...], rows: Iterable[tuple]) -> None:
    """Insert interval rows: PostgreSQL's COPY (a month of a busy company is tens of thousands of rows, and an
    INSERT's per-value preparation was most of a rebuild), else bulk_create."""
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(model._meta.db_table)
        names = ", ".join(connection.ops.quote_name(model._meta.get_field(c).column) for c in columns)
        with connection.cursor() as cursor, cursor.cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        return
    model.objects.bulk_create([model(**dict(zip(columns, row, strict=True))) for row in rows], batch_size=2000)


def align(start: dt.datetime, end: dt.datetime) -> tuple[dt.datetime, dt.datetime]:
    first = defs.interval_start(start)
    last = defs.interval_start(end)
    if last < end:
        last += defs.INTERVAL
    return first, last


def thresholds(tenant_id: int) -> dict[int | None, defs.Thresholds]:
    return {
        pk: defs.Thresholds(sl, short, wrapup)
        for pk, sl, short, wrapup in Queue.objects.filter(tenant_id=tenant_id).values_list(
            "pk", "service_level_seconds", "short_abandon_seconds", "wrapup_seconds")
    }


def rebuild(tenant_id: int, start: dt.datetime, end: dt.datetime, parts: Iterable[str] = PARTS,
            engine: str | None = None) -> int:
    """Rebuild the company's intervals in [start, end); the number of calls (call log rows) in it.

    ``engine``: "sql" (PostgreSQL groups the rows itself, ``stats.sql``) or "python" (``stats.definitions``
    over the rows read; any database); by default SQL on PostgreSQL. Both give the same intervals."""
    start, end = align(start, end)
    parts = set(parts)
    if engine is None:
        engine = "sql" if connection.vendor == "postgresql" else "python"
    calls = 0
    with transaction.atomic():
        if engine == "sql":
            from . import sql

            if "queue" in parts:
                QueueInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end).delete()
                sql.queue_intervals(tenant_id, start, end, end + VISIT_SLACK)
            if "agent_calls" in parts:
                AgentInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end,
                                             queue__isnull=False).delete()
                sql.agent_call_intervals(tenant_id, start, end, end + VISIT_SLACK)
        elif "queue" in parts or "agent_calls" in parts:
            _rebuild_queue_and_agent_calls(tenant_id, start, end, parts)
        if "agent_time" in parts:
            _rebuild_agent_time(tenant_id, start, end)
        if "volume" in parts:
            if engine == "sql":
                from . import sql

                VolumeInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end).delete()
                calls = sql.volume_intervals(tenant_id, start, end)
            else:
                calls = _rebuild_volume(tenant_id, start, end)
    return calls


# ------------------------------------------------------------------------------------------------ queues


def _rebuild_queue_and_agent_calls(tenant_id: int, start: dt.datetime, end: dt.datetime, parts: set[str]) -> None:
    limits = thresholds(tenant_id)
    rows = QueueEvent.objects.filter(tenant_id=tenant_id, at__gte=start, at__lt=end + VISIT_SLACK).order_by()
    queue_cells: dict[tuple[int, dt.datetime], defs.QueueFigures] = {}
    agent_cells: dict[tuple[int, int, dt.datetime], defs.AgentFigures] = {}
    for visit in defs.visits(rows.values(*defs.QUEUE_ROW_FIELDS).iterator(chunk_size=5000)):
        if visit.queue_id is None or not (start <= visit.started_at < end):
            continue
        slot = defs.interval_start(visit.started_at)
        limit = limits.get(visit.queue_id, defs.Thresholds())
        cell = queue_cells.get((visit.queue_id, slot))
        if cell is None:
            cell = queue_cells[(visit.queue_id, slot)] = defs.QueueFigures()
        cell.count(visit, limit)
        for agent_id, _at in visit.rang:
            if agent_id is not None:
                agent_cells.setdefault((agent_id, visit.queue_id, slot), defs.AgentFigures()).count_ring()
        if visit.outcome == defs.ANSWERED and visit.agent_id is not None:
            agent_cells.setdefault((visit.agent_id, visit.queue_id, slot), defs.AgentFigures()).count_answer(visit, limit)

    if "queue" in parts:
        callbacks = CallbackRequest.objects.filter(tenant_id=tenant_id, queue__isnull=False).order_by()
        for queue_id, at in callbacks.filter(requested_at__gte=start, requested_at__lt=end).values_list(
                "queue_id", "requested_at"):
            queue_cells.setdefault((queue_id, defs.interval_start(at)), defs.QueueFigures()).callbacks_requested += 1
        for queue_id, at in callbacks.filter(done_at__gte=start, done_at__lt=end).values_list("queue_id", "done_at"):
            queue_cells.setdefault((queue_id, defs.interval_start(at)), defs.QueueFigures()).callbacks_made += 1
        QueueInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end).delete()
        write(QueueInterval, ("tenant_id", "queue_id", "start", *COUNTERS),
              ((tenant_id, queue_id, slot, *(getattr(cell, c) for c in COUNTERS))
               for (queue_id, slot), cell in queue_cells.items()))
    if "agent_calls" in parts:
        AgentInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end,
                                     queue__isnull=False).delete()
        write(AgentInterval, AGENT_COLUMNS,
              ((tenant_id, agent_id, queue_id, slot, cell.offered, cell.answered, cell.rang_no_answer,
                round(cell.talk_s, 3), cell.wrapup_s, 0.0, 0.0)
               for (agent_id, queue_id, slot), cell in agent_cells.items()))


COUNTERS = ("offered", "answered", "answered_in_sl", "abandoned", "short_abandoned", "timeouts", "left_for_callback",
            "overflows", "no_agents", "closed", "wait_answered_s", "wait_max_s", "talk_s", "callbacks_requested", "callbacks_made")
AGENT_COLUMNS = ("tenant_id", "agent_id", "queue_id", "start", "offered", "answered", "rang_no_answer", "talk_s",
                 "wrapup_s", "logged_in_s", "paused_s")


# ------------------------------------------------------------------------------------- agents' time in states


def agent_states_at(tenant_id: int, at: dt.datetime, agent_ids: Iterable[int] | None = None) -> dict[int, defs.AgentState]:
    """Each agent's membership state at ``at``: the last event per queue before it (within a month)."""
    earlier = AgentEvent.objects.filter(tenant_id=tenant_id, at__lt=at, at__gte=at - STATE_LOOKBACK)
    if agent_ids is not None:
        earlier = earlier.filter(agent_id__in=list(agent_ids))
    fields = ("agent_id", "queue_name", "kind", "reason")
    if connection.vendor == "postgresql":
        last = earlier.order_by("agent_id", "queue_name", "-at", "-id").distinct("agent_id", "queue_name").values_list(*fields)
    else:
        latest: dict[tuple, tuple] = {}
        for row in earlier.order_by("at", "id").values_list(*fields):
            latest[row[:2]] = row
        last = latest.values()
    states: dict[int, defs.AgentState] = {}
    for agent_id, queue_name, kind, reason in last:
        state = states.setdefault(agent_id, defs.AgentState())
        if kind != AgentEvent.Kind.LOGOUT:
            state.apply("login", queue_name)
        if kind == AgentEvent.Kind.PAUSE:
            state.apply("pause", queue_name, reason)
    return {agent: state for agent, state in states.items() if state.logged_in}


def _rebuild_agent_time(tenant_id: int, start: dt.datetime, end: dt.datetime) -> None:
    until = min(end, timezone.now())  # time that has not passed yet is no one's logged-in time
    initial = agent_states_at(tenant_id, start)
    events = AgentEvent.objects.filter(tenant_id=tenant_id, at__gte=start, at__lt=end).order_by("at", "id").values(
        "agent_id", "queue_name", "kind", "reason", "at")
    per_agent = defs.agent_time(events, start, until, initial) if until > start else {}
    AgentInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end, queue__isnull=True).delete()
    AgentPauseInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end).delete()
    rows, pauses = [], []
    for agent_id, slots in per_agent.items():
        for slot, cell in slots.items():
            rows.append((tenant_id, agent_id, None, slot, 0, 0, 0, 0.0, 0.0, round(cell.logged_in_s, 3),
                         round(cell.paused_s, 3)))
            pauses.extend((tenant_id, agent_id, slot, reason[:80], round(seconds, 3))
                          for reason, seconds in cell.paused_by_reason.items())
    write(AgentInterval, AGENT_COLUMNS, rows)
    write(AgentPauseInterval, ("tenant_id", "agent_id", "start", "reason", "paused_s"), pauses)


# ------------------------------------------------------------------------------------------------ volumes


def _rebuild_volume(tenant_id: int, start: dt.datetime, end: dt.datetime) -> int:
    calls = CallLog.objects.filter(tenant_id=tenant_id, started_at__gte=start, started_at__lt=end).order_by()
    cells: dict[tuple[str, str, str, dt.datetime], defs.VolumeFigures] = defaultdict(defs.VolumeFigures)
    facts: dict[int, tuple[str, str, float, dt.datetime]] = {}
    count = 0
    for pk, started_at, direction, result, talk_s, dialled, queue_id in calls.values_list(
            "pk", "started_at", "direction", "result", "talk_s", "dialled_number", "queue_id").iterator(chunk_size=5000):
        count += 1
        slot = defs.interval_start(started_at)
        facts[pk] = (direction, result, talk_s, slot)
        cells[("company", "", direction, slot)].count(result, talk_s)
        if direction == CallLog.Direction.IN and dialled:
            cells[("number", dialled[:40], direction, slot)].count(result, talk_s)
        if queue_id is not None:
            cells[("queue", str(queue_id), direction, slot)].count(result, talk_s)
    if facts:
        through = CallLog.users.through.objects.filter(
            calllog__tenant_id=tenant_id, calllog__started_at__gte=start, calllog__started_at__lt=end)
        for call_id, user_id in through.values_list("calllog_id", "user_id").iterator(chunk_size=5000):
            fact = facts.get(call_id)
            if fact is not None:
                direction, result, talk_s, slot = fact
                cells[("user", str(user_id), direction, slot)].count(result, talk_s)
    VolumeInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end).delete()
    write(VolumeInterval, ("tenant_id", "start", "dimension", "key", "direction", "calls", "answered", "talk_s"),
          ((tenant_id, slot, dim, key, direction, cell.calls, cell.answered, round(cell.talk_s, 3))
           for (dim, key, direction, slot), cell in cells.items()))
    return count


# ------------------------------------------------------------------------------------------- live updates


def refresh_calls(touched: dict[int, set[dt.datetime]]) -> None:
    """After finished calls were written: rebuild each company's intervals they touched (queue, agent calls,
    volumes), once per interval however many calls fell in it."""
    for tenant_id, instants in touched.items():
        for slot in sorted({defs.interval_start(at) for at in instants}):
            rebuild(tenant_id, slot, slot + defs.INTERVAL, parts=("queue", "agent_calls", "volume"))


def record_agent_event(tenant_id: int, node_id: int | None, agent_id: int, queue_id: int | None, queue_name: str,
                       kind: str, reason: str, at: dt.datetime) -> AgentEvent | None:
    """Write one agent event unless it repeats the state the agent already had in that queue; then rebuild the
    agent's time from its previous event on."""
    previous = AgentEvent.objects.filter(tenant_id=tenant_id, agent_id=agent_id, queue_name=queue_name,
                                         at__lte=at).order_by("-at", "-id").first()
    if kind == AgentEvent.Kind.PAUSE and previous is not None and previous.kind == kind and previous.reason == reason:
        return None
    if kind != AgentEvent.Kind.PAUSE and previous is not None and previous.kind == kind:
        return None
    if kind == AgentEvent.Kind.LOGIN and previous is not None and previous.kind in (AgentEvent.Kind.PAUSE,
                                                                                  AgentEvent.Kind.UNPAUSE):
        return None  # already logged in (a resynchronisation lists the member again)
    if kind in (AgentEvent.Kind.LOGOUT, AgentEvent.Kind.UNPAUSE) and previous is None:
        return None  # nothing known to end
    if kind == AgentEvent.Kind.UNPAUSE and previous.kind in (AgentEvent.Kind.LOGIN, AgentEvent.Kind.LOGOUT):
        return None
    row = AgentEvent.objects.create(tenant_id=tenant_id, node_id=node_id, agent_id=agent_id, queue_id=queue_id,
                                    queue_name=queue_name[:80], kind=kind, reason=reason[:80], at=at)
    since = max(previous.at if previous is not None else at, at - dt.timedelta(days=1))
    rebuild(tenant_id, since, at + defs.INTERVAL, parts=("agent_time",))
    return row
