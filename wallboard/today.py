"""Today's queue figures of one company, as the wallboard shows them: answered, missed, service level,
average wait, read from the queue log (``stats.models.QueueEvent``, written by the bridge when a call ends).

"Today" is the company's own calendar day (``Tenant.time_zone``), from local midnight. A call counts when
its queue visit has ended and been logged; per queue:

- answered: the queue connected the caller to an agent (``connect``);
- answered in time: answered with a wait of at most the queue's ``service_level_seconds``;
- missed: the caller hung up after waiting at least the queue's ``short_abandon_seconds`` (a shorter
  hang-up is a short abandon, neither answered nor missed), left at the maximum wait, or met the queue
  without agents, closed or full;
- service level: answered in time ÷ (answered + missed), in per cent; none while both are zero;
- average wait: of the answered calls.

The company's figures are the sums over its queues (a caller who overflowed from one queue to another
counts in each queue it visited). These are the statistics' own boundaries (the queue's two thresholds);
the statistics pages read the same rows.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from pbx.models import Queue, Tenant
from stats.models import QueueEvent

K = QueueEvent.Kind
UNANSWERED = (K.TIMEOUT, K.NO_AGENTS, K.CLOSED, K.OVERFLOW)
COMPANY = "company"


def tile_key(queue_id: int | None) -> str:
    return f"q{queue_id}" if queue_id is not None else COMPANY


def company_zone(tenant_id: int) -> zoneinfo.ZoneInfo:
    name = Tenant.objects.filter(pk=tenant_id).values_list("time_zone", flat=True).first() or "Europe/Stockholm"
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return zoneinfo.ZoneInfo("Europe/Stockholm")


def day_start(zone: zoneinfo.ZoneInfo, now: dt.datetime | None = None) -> dt.datetime:
    """Local midnight of the company's day (midnight exists on the Swedish DST days: they change at 02/03)."""
    local = (now or timezone.now()).astimezone(zone)
    return dt.datetime.combine(local.date(), dt.time(0), tzinfo=zone)


def service_level(in_time: int, answered: int, missed: int) -> float | None:
    total = answered + missed
    return round(100.0 * in_time / total, 1) if total else None


def today_figures(tenant_id: int, *, now: dt.datetime | None = None,
                  zone: zoneinfo.ZoneInfo | None = None) -> dict[str, dict]:
    """tile key (``q<queue id>``, ``company``) → answered, missed, in_time, service_level, avg_wait_s."""
    zone = zone or company_zone(tenant_id)
    start = day_start(zone, now)
    rows = (
        QueueEvent.objects.filter(tenant_id=tenant_id, queue__isnull=False, at__gte=start)
        .values("queue_id")
        .annotate(
            answered=Count("id", filter=Q(kind=K.CONNECT)),
            in_time=Count("id", filter=Q(kind=K.CONNECT, wait_s__lte=F("queue__service_level_seconds"))),
            abandoned=Count("id", filter=Q(kind=K.ABANDON) & (
                Q(wait_s__gte=F("queue__short_abandon_seconds")) | Q(wait_s__isnull=True))),
            unanswered=Count("id", filter=Q(kind__in=UNANSWERED)),
            wait_sum=Sum("wait_s", filter=Q(kind=K.CONNECT)),
        )
        .order_by()
    )
    # Every queue of the company has its figures, zero when nothing happened (a tile then shows 0, not stale).
    out: dict[str, dict] = {tile_key(pk): EMPTY_TODAY for pk in Queue.objects.filter(tenant_id=tenant_id)
                            .values_list("pk", flat=True)}
    total = {"answered": 0, "missed": 0, "in_time": 0, "wait_sum": 0.0}
    for row in rows:
        missed = row["abandoned"] + row["unanswered"]
        wait_sum = row["wait_sum"] or 0.0
        out[tile_key(row["queue_id"])] = figures(row["answered"], missed, row["in_time"], wait_sum)
        total["answered"] += row["answered"]
        total["missed"] += missed
        total["in_time"] += row["in_time"]
        total["wait_sum"] += wait_sum
    out[COMPANY] = figures(total["answered"], total["missed"], total["in_time"], total["wait_sum"])
    return out


def figures(answered: int, missed: int, in_time: int, wait_sum: float) -> dict:
    return {
        "answered": answered, "missed": missed, "in_time": in_time,
        "service_level": service_level(in_time, answered, missed),
        "avg_wait_s": round(wait_sum / answered) if answered else None,
    }


EMPTY_TODAY = figures(0, 0, 0, 0.0)
