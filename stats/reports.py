"""Reading the intervals: a period's figures per queue, agent, person, number and hour/weekday/day.

Every function sums interval rows in the database (never the raw calls) and hands back the additive
counters of ``stats.definitions``, whose derived figures (SL %, averages, missed, AHT) the callers show.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db.models import Max, Q, Sum
from django.db.models.functions import ExtractHour, ExtractIsoWeekDay, TruncDate

from . import definitions as defs
from .models import AgentInterval, AgentPauseInterval, QueueInterval, VolumeInterval
from .periods import Period

QUEUE_SUMS = ("offered", "answered", "answered_in_sl", "abandoned", "short_abandoned", "timeouts", "left_for_callback",
              "overflows", "no_agents", "closed", "wait_answered_s", "talk_s", "callbacks_requested", "callbacks_made")
AGENT_SUMS = ("offered", "answered", "rang_no_answer", "talk_s", "wrapup_s", "logged_in_s", "paused_s")


def _queue_figures(row: dict) -> defs.QueueFigures:
    return defs.QueueFigures(**{name: row[name] or 0 for name in (*QUEUE_SUMS, "wait_max_s")})


def queue_report(tenant_id: int, start: dt.datetime, end: dt.datetime,
                 queue_ids: list[int] | None = None) -> dict[int, defs.QueueFigures]:
    """Per queue id: the figures of the intervals in [start, end)."""
    rows = QueueInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end)
    if queue_ids is not None:
        rows = rows.filter(queue_id__in=queue_ids)
    sums = rows.values("queue_id").annotate(**{n: Sum(n) for n in QUEUE_SUMS}, wait_max_s=Max("wait_max_s"))
    return {row["queue_id"]: _queue_figures(row) for row in sums.order_by()}


def queue_total(figures: dict[int, defs.QueueFigures]) -> defs.QueueFigures:
    total = defs.QueueFigures()
    for one in figures.values():
        total.add(one)
    return total


def queue_by_interval(tenant_id: int, start: dt.datetime, end: dt.datetime, zone: zoneinfo.ZoneInfo,
                      bucket: str, queue_ids: list[int] | None = None) -> dict:
    """The company's (or the given queues') queue figures per local hour, ISO weekday or day."""
    rows = QueueInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end)
    if queue_ids is not None:
        rows = rows.filter(queue_id__in=queue_ids)
    key = _bucket(bucket, zone)
    sums = rows.annotate(bucket=key).values("bucket").annotate(**{n: Sum(n) for n in QUEUE_SUMS},
                                                              wait_max_s=Max("wait_max_s"))
    return {row["bucket"]: _queue_figures(row) for row in sums.order_by("bucket")}


def agent_report(tenant_id: int, start: dt.datetime, end: dt.datetime, queue_ids: list[int] | None = None,
                 agent_ids: list[int] | None = None) -> dict[int, defs.AgentFigures]:
    """Per agent (user id): call figures (of the given queues, or all) and time in states (all queues)."""
    rows = AgentInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end)
    if queue_ids is not None:
        rows = rows.filter(Q(queue_id__in=queue_ids) | Q(queue__isnull=True))
    if agent_ids is not None:
        rows = rows.filter(agent_id__in=agent_ids)
    out: dict[int, defs.AgentFigures] = {}
    for row in rows.values("agent_id").annotate(**{n: Sum(n) for n in AGENT_SUMS}).order_by():
        out[row["agent_id"]] = defs.AgentFigures(**{n: row[n] or 0 for n in AGENT_SUMS})
    pauses = AgentPauseInterval.objects.filter(tenant_id=tenant_id, start__gte=start, start__lt=end)
    if agent_ids is not None:
        pauses = pauses.filter(agent_id__in=agent_ids)
    for agent_id, reason, seconds in pauses.values("agent_id", "reason").annotate(s=Sum("paused_s")).values_list(
            "agent_id", "reason", "s").order_by():
        out.setdefault(agent_id, defs.AgentFigures()).paused_by_reason[reason] = seconds
    return out


def volume_report(tenant_id: int, start: dt.datetime, end: dt.datetime, dimension: str,
                  keys: list[str] | None = None) -> dict[str, dict[str, defs.VolumeFigures]]:
    """Per key of the dimension (a person's id, a number, a queue's id; "" for the company) and direction."""
    rows = VolumeInterval.objects.filter(tenant_id=tenant_id, dimension=dimension, start__gte=start, start__lt=end)
    if keys is not None:
        rows = rows.filter(key__in=keys)
    out: dict[str, dict[str, defs.VolumeFigures]] = {}
    for key, direction, calls, answered, talk in rows.values("key", "direction").annotate(
            c=Sum("calls"), a=Sum("answered"), t=Sum("talk_s")).values_list("key", "direction", "c", "a", "t").order_by():
        out.setdefault(key, {})[direction] = defs.VolumeFigures(calls, answered, talk or 0.0)
    return out


def _bucket(bucket: str, zone: zoneinfo.ZoneInfo):
    if bucket == "hour":
        return ExtractHour("start", tzinfo=zone)
    if bucket == "weekday":
        return ExtractIsoWeekDay("start", tzinfo=zone)
    if bucket == "day":
        return TruncDate("start", tzinfo=zone)
    raise ValueError(bucket)


def volume_by(tenant_id: int, span: Period, bucket: str, dimension: str = "company",
              keys: list[str] | None = None) -> dict:
    """Calls per local hour (0–23), ISO weekday (1–7) or local day, and direction; for the company or the given
    keys of a dimension (their sum)."""
    rows = VolumeInterval.objects.filter(tenant_id=tenant_id, dimension=dimension, start__gte=span.start,
                                         start__lt=span.end)
    if keys is not None:
        rows = rows.filter(key__in=keys)
    out: dict = {}
    sums = rows.annotate(bucket=_bucket(bucket, span.zone)).values("bucket", "direction").annotate(
        c=Sum("calls"), a=Sum("answered"), t=Sum("talk_s"))
    for row in sums.order_by("bucket"):
        out.setdefault(row["bucket"], {})[row["direction"]] = defs.VolumeFigures(row["c"], row["a"], row["t"] or 0.0)
    return out


def drill_down_filter(figure: str) -> Q | None:
    """The call log rows behind a queue figure (for the drill-down from a number to its calls); None: no such
    figure. The call log keeps a call's first queue and how that visit ended (``queue_result``)."""
    wanted = {
        "offered": Q(queue_result__in=("answered", "abandoned", "timeout", "callback")),
        "answered": Q(queue_result="answered"),
        "abandoned": Q(queue_result="abandoned"),
        "timeouts": Q(queue_result="timeout"),
        "left_for_callback": Q(queue_result="callback"),
        "overflows": Q(queue_result="overflow"),
        "no_agents": Q(queue_result="noagents"),
        "closed": Q(queue_result="closed"),
        "missed": Q(queue_result__in=("abandoned", "timeout", "overflow", "noagents")),
        "answered_in_sl": Q(queue_result="answered"),
        "calls": Q(),
    }
    return wanted.get(figure)

