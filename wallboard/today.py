"""Today's queue figures of one company as the wallboard shows them, by the statistics' own definitions
(``stats.definitions``: the same code the statistics pages, exports and reports use, so they agree).

"Today" is the company's own calendar day (``Tenant.time_zone``), from local midnight. A queue visit counts
from when its queue log rows are written (the bridge writes them when the call ends), in the day it started.
Per queue and for the whole company (the sum of its queues):

- ``answered``, ``in_time`` (answered within the queue's ``service_level_seconds``);
- ``missed``: ``QueueFigures.missed`` — abandoned after the short-abandon threshold, timed out, turned away
  by a full queue or for want of agents (short abandons and calls while closed are not missed);
- ``service_level``: ``QueueFigures.service_level_pct`` — in time ÷ (offered − short abandons), per cent;
  none while nothing counted;
- ``avg_wait_s``: ``QueueFigures.wait_avg_s``, the average wait of the answered calls.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo

from django.utils import timezone

from pbx.models import Queue, Tenant
from stats.definitions import QUEUE_ROW_FIELDS, QueueFigures, Thresholds, queue_figures
from stats.models import QueueEvent

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


def tile_figures(figures: QueueFigures) -> dict:
    return {"answered": figures.answered, "missed": figures.missed, "in_time": figures.answered_in_sl,
            "service_level": figures.service_level_pct, "avg_wait_s": figures.wait_avg_s}


EMPTY_TODAY = tile_figures(QueueFigures())


def today_figures(tenant_id: int, *, now: dt.datetime | None = None,
                  zone: zoneinfo.ZoneInfo | None = None) -> dict[str, dict]:
    """tile key (``q<queue id>``, ``company``) → answered, missed, in_time, service_level, avg_wait_s.
    Every queue of the company has an entry (zeros when nothing happened), so a tile never shows stale
    figures."""
    zone = zone or company_zone(tenant_id)
    start = day_start(zone, now)
    limits = {
        pk: Thresholds(service_level_s=sl, short_abandon_s=short, wrapup_s=wrapup)
        for pk, sl, short, wrapup in Queue.objects.filter(tenant_id=tenant_id).values_list(
            "pk", "service_level_seconds", "short_abandon_seconds", "wrapup_seconds")
    }
    rows = QueueEvent.objects.filter(tenant_id=tenant_id, queue__isnull=False, at__gte=start).values(*QUEUE_ROW_FIELDS)
    per_queue = queue_figures(rows, limits)
    company = QueueFigures()
    out = {tile_key(pk): EMPTY_TODAY for pk in limits}
    for queue_id, figures in per_queue.items():
        if queue_id in limits:
            out[tile_key(queue_id)] = tile_figures(figures)
            company.add(figures)
    out[COMPANY] = tile_figures(company)
    return out
