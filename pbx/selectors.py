"""Reads that answer a question about now: which forwarding profile is in force for a person.

The dialplan decides the same thing at call time (``t<id>-profile``, docs/astdb.md), so that scheduled
profiles switch on time while Django is down; this is the database's view of it, for the user web, the
admin and the console. The rule, in both places:

1. a profile switched on by hand (``is_active``) is in force, whatever the schedules say, until it is
   switched off;
2. otherwise the first scheduled profile, in name order, whose schedule is open now (the schedule's
   override, holidays and special days, then its weekly hours, in the company's time zone);
3. otherwise none: the phones ring for 20 s, then voicemail.

A person's profiles are read with one query (their schedules' hours and special days are prefetched, two
more), and the next change is computed from those rows alone.
"""

from __future__ import annotations

import datetime as dt
import zoneinfo
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Prefetch, Q
from django.utils import timezone

from pbx.asterisk.astdb import MAX_SCHEDULED_PROFILES
from pbx.models import ForwardingProfile, Schedule

# How far ahead the next change is looked for: two weeks covers every weekly schedule (a profile whose
# schedule never opens in that time has no "next change" worth showing).
HORIZON = dt.timedelta(days=14)

MANUAL, SCHEDULED, NONE = "manual", "schedule", "none"


@dataclass(frozen=True)
class InForce:
    """What decides a person's calls now, and when (and to what) that changes next."""

    profile: ForwardingProfile | None
    reason: str  # manual | schedule | none
    next_change: dt.datetime | None = None  # None: stays until someone changes it
    next_profile: ForwardingProfile | None = None  # in force from next_change (None: no profile)

    @property
    def next_reason(self) -> str:
        return SCHEDULED if self.next_profile is not None else NONE


def _profiles_query(user_filter: Q):
    scheduled = Q(activation=ForwardingProfile.Activation.SCHEDULED, schedule__isnull=False)
    return (
        ForwardingProfile.objects.filter(user_filter).filter(Q(is_active=True) | scheduled)
        .select_related("schedule__tenant")
        .prefetch_related(
            Prefetch("schedule__weekly_hours"), Prefetch("schedule__special_days"),
        )
        .order_by("user_id", "name", "id")
    )


def _in_force_at(manual: ForwardingProfile | None, scheduled: list[ForwardingProfile], at: dt.datetime):
    if manual is not None:
        return manual, MANUAL
    for profile in scheduled:
        if profile.schedule.is_open(at):
            return profile, SCHEDULED
    return None, NONE


def schedule_boundaries(schedule: Schedule, start: dt.datetime, end: dt.datetime) -> list[dt.datetime]:
    """Every instant in (start, end] at which ``schedule.is_open`` may change: openings and closings of
    weekly hours and special days, midnights (a special day starts or ends) and the override's end. Local
    wall-clock times become instants in the company's zone, so a daylight-saving day is simply a day whose
    08:00 is an hour closer to midnight UTC."""
    tz = zoneinfo.ZoneInfo(schedule.tenant.time_zone)
    instants: set[dt.datetime] = set()
    if schedule.override and schedule.override_until is not None:
        instants.add(schedule.override_until)
    day = start.astimezone(tz).date() - dt.timedelta(days=1)
    last = end.astimezone(tz).date() + dt.timedelta(days=1)
    weekly = list(schedule.weekly_hours.all())
    special = list(schedule.special_days.all())
    while day <= last:
        times = {dt.time(0)}
        times.update(t for rule in weekly if rule.weekday == day.weekday() for t in (rule.open_time, rule.close_time))
        for special_day in special:
            if special_day.start_date <= day <= special_day.end_date:
                times.update(t for t in (special_day.open_time, special_day.close_time) if t is not None)
        for time in times:
            instants.add(dt.datetime.combine(day, time, tzinfo=tz).astimezone(dt.UTC))
        day += dt.timedelta(days=1)
    return sorted(i for i in instants if start < i <= end)


def _next_change(manual, scheduled, now, current):
    if manual is not None or not scheduled:
        return None, None
    schedules = {p.schedule_id: p.schedule for p in scheduled}
    candidates = sorted({i for s in schedules.values() for i in schedule_boundaries(s, now, now + HORIZON)})
    for instant in candidates:
        profile, _reason = _in_force_at(None, scheduled, instant)
        if profile != current:
            return instant, profile
    return None, None


def forwarding_in_force_for(user_ids: Iterable[int], at: dt.datetime | None = None) -> dict[int, InForce]:
    """:class:`InForce` for each of ``user_ids`` (callers pass ids they may read), in three queries."""
    now = at or timezone.now()
    ids = list(user_ids)
    manual: dict[int, ForwardingProfile] = {}
    scheduled: dict[int, list[ForwardingProfile]] = {uid: [] for uid in ids}
    for profile in _profiles_query(Q(user_id__in=ids)):
        if profile.is_active:
            manual[profile.user_id] = profile
        follows = profile.activation == ForwardingProfile.Activation.SCHEDULED and profile.schedule is not None
        if follows and len(scheduled[profile.user_id]) < MAX_SCHEDULED_PROFILES:  # as many as the dialplan reads
            scheduled[profile.user_id].append(profile)
    result = {}
    for uid in ids:
        profile, reason = _in_force_at(manual.get(uid), scheduled[uid], now)
        change, next_profile = _next_change(manual.get(uid), scheduled[uid], now, profile)
        result[uid] = InForce(profile, reason, change, next_profile)
    return result


def forwarding_in_force(user, at: dt.datetime | None = None) -> InForce:
    """What decides ``user``'s calls at ``at`` (default: now), and the next change."""
    return forwarding_in_force_for([user.pk], at)[user.pk]
