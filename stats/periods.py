"""Periods in a company's time zone, as the UTC instants the intervals are kept in.

A local day runs from local midnight to the next local midnight: 24 hours, or 23 / 25 on the days the clocks
change (92 / 100 intervals in Sweden). A week starts on Monday, a month on the 1st.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from dataclasses import dataclass

from .definitions import INTERVAL, ZONE

KINDS = ("day", "week", "month")


def zone_of(tenant) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(getattr(tenant, "time_zone", "") or ZONE)


def local_midnight(day: dt.date, zone: zoneinfo.ZoneInfo) -> dt.datetime:
    """The instant (UTC) of ``day``'s local midnight (Swedish clocks never change at midnight)."""
    return dt.datetime.combine(day, dt.time(0), tzinfo=zone).astimezone(dt.UTC)


@dataclass(frozen=True, slots=True)
class Period:
    kind: str
    first: dt.date  # the first local day
    last: dt.date   # the last local day (inclusive)
    zone: zoneinfo.ZoneInfo

    @property
    def start(self) -> dt.datetime:
        return local_midnight(self.first, self.zone)

    @property
    def end(self) -> dt.datetime:
        return local_midnight(self.last + dt.timedelta(days=1), self.zone)

    @property
    def intervals(self) -> int:
        return int((self.end - self.start) / INTERVAL)

    def days(self) -> list[dt.date]:
        return [self.first + dt.timedelta(days=n) for n in range((self.last - self.first).days + 1)]

    def previous(self) -> Period:
        """The period of the same kind just before (for a custom range: as many days just before)."""
        if self.kind == "month":
            last = self.first - dt.timedelta(days=1)
            return Period("month", last.replace(day=1), last, self.zone)
        length = (self.last - self.first).days + 1
        return Period(self.kind, self.first - dt.timedelta(days=length), self.first - dt.timedelta(days=1), self.zone)


def period(kind: str, day: dt.date, zone: zoneinfo.ZoneInfo) -> Period:
    """The day, week (Monday–Sunday) or month holding ``day``."""
    if kind == "day":
        return Period(kind, day, day, zone)
    if kind == "week":
        first = day - dt.timedelta(days=day.weekday())
        return Period(kind, first, first + dt.timedelta(days=6), zone)
    if kind == "month":
        first = day.replace(day=1)
        following = (first + dt.timedelta(days=32)).replace(day=1)
        return Period(kind, first, following - dt.timedelta(days=1), zone)
    raise ValueError(kind)


def custom(first: dt.date, last: dt.date, zone: zoneinfo.ZoneInfo) -> Period:
    if last < first:
        first, last = last, first
    return Period("range", first, last, zone)


def today(zone: zoneinfo.ZoneInfo, now: dt.datetime | None = None) -> dt.date:
    from django.utils import timezone

    return (now or timezone.now()).astimezone(zone).date()
