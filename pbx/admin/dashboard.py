"""The company dashboard: the admin's start page (/admin/).

What a company admin wants to know first, on one page: whether the company is open now and when that
changes (with the override buttons), who is logged in to which queue and how many callers wait, today's
answered and missed calls, phones that are not registered, whether the latest configuration is in
service (and if not, why), and the latest entries of the audit log. A superuser without a company gets
the task-organised list of everything instead.

Everything is read for the signed-in person's company; the override goes through
``do_set_schedule_override`` (the same action as the schedule list's bulk action and the console).
"""

from __future__ import annotations

import datetime as dt
import logging
import zoneinfo

from asgiref.sync import async_to_sync
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from pbx import audit_text
from pbx.actions import do_set_schedule_override
from pbx.apply_status import held_status
from pbx.models import AuditLog, Device, QueueAgent, Schedule

from .base import scope_queryset

log = logging.getLogger(__name__)

# Device states Asterisk reports for a phone that is not registered (or whose contact went away).
UNREGISTERED_STATES = {"unavailable", "invalid", "unknown"}
# How far ahead the next opening/closing is looked for: a schedule closed for a fortnight's holiday says
# "closed" without a time rather than searching a year.
LOOKAHEAD_DAYS = 15


def next_change(schedule: Schedule, now: dt.datetime) -> dt.datetime | None:
    """When ``schedule.is_open`` next flips, or None (an override without end, or no change in two weeks).

    Opening and closing only happen at the times the schedule names (weekly hours, special days'
    hours, midnight when a special day starts or ends, the override's end), so only those are tried.
    """
    zone = zoneinfo.ZoneInfo(schedule.tenant.time_zone)
    if schedule.override and schedule.override_until is None:
        return None
    is_open = schedule.is_open(now)
    today = now.astimezone(zone).date()
    times = {dt.time(0, 0)}
    times |= {t for rule in schedule.weekly_hours.all() for t in (rule.open_time, rule.close_time)}
    times |= {t for day in schedule.special_days.all() for t in (day.open_time, day.close_time) if t}
    candidates = []
    if schedule.override and schedule.override_until and schedule.override_until > now:
        candidates.append(schedule.override_until)
    for offset in range(LOOKAHEAD_DAYS):
        day = today + dt.timedelta(days=offset)
        candidates += [dt.datetime.combine(day, t, tzinfo=zone) for t in times]
    for moment in sorted(c for c in candidates if c > now):
        if schedule.is_open(moment) != is_open:
            return moment
    return None


def when_text(moment: dt.datetime, now: dt.datetime | None = None) -> str:
    """"i dag 08:00", "i morgon 08:00", else "måndag 8 december 08:00" / "today 08:00", "Monday 8 December
    08:00", in the company's zone (the active one).

    Swedish writes weekdays in lower case mid-sentence; Django's Swedish weekday names are capitalised."""
    local = timezone.localtime(moment)
    days = (local.date() - timezone.localtime(now or timezone.now()).date()).days
    if days in (0, 1):
        day = _("today") if days == 0 else _("tomorrow")
        return f"{day} {date_format(local, 'H:i')}"
    text = date_format(local, "l j F H:i")
    return text[:1].lower() + text[1:] if (get_language() or "").startswith("sv") else text


def _live(tenant_id: int) -> dict | None:
    """The event bridge's live picture of the company, or None when it cannot be read."""
    from pbx.asterisk.bridge.state import live_state

    try:
        return async_to_sync(live_state().snapshot)(tenant_id)
    except Exception:  # Redis down: the dashboard still shows everything else
        log.warning("live state unavailable for the dashboard", exc_info=True)
        return None


def _today_calls(tenant) -> dict[str, int]:
    from stats.models import CallLog

    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    midnight = timezone.now().astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    incoming = CallLog.objects.filter(tenant=tenant, started_at__gte=midnight, direction=CallLog.Direction.IN)
    answered = incoming.filter(result=CallLog.Result.ANSWERED).count()
    return {"answered": answered, "missed": incoming.count() - answered}


def dashboard_context(request) -> dict:
    user = request.user
    tenant = user.tenant
    now = timezone.now()
    schedules = []
    for schedule in (scope_queryset(Schedule.objects.all(), user).select_related("tenant")
                     .prefetch_related("weekly_hours", "special_days")):
        moment = next_change(schedule, now)
        schedules.append({"schedule": schedule, "open": schedule.is_open(now), "next": moment,
                          "next_text": when_text(moment) if moment else ""})
    live = _live(tenant.pk)
    waiting: dict[int, int] = {}
    device_states: dict[str, str] = {}
    if live is not None:
        for caller in live["waiting"]:
            waiting[caller["queue_id"]] = waiting.get(caller["queue_id"], 0) + 1
        device_states = {row["device"]: row["state"] for row in live["devices"]}
    queues: dict[int, dict] = {}
    for agent in (scope_queryset(QueueAgent.objects.filter(logged_in=True), user)
                  .select_related("queue", "user").order_by("queue__name", "user__first_name")):
        row = queues.setdefault(agent.queue_id, {"queue": agent.queue, "agents": [], "waiting": 0})
        row["agents"].append(agent)
    for queue_id, count in waiting.items():
        if queue_id in queues:
            queues[queue_id]["waiting"] = count
    unregistered = [
        device for device in scope_queryset(Device.objects.filter(is_enabled=True), user).select_related("user")
        if device_states.get(f"PJSIP/{device.endpoint}", "unknown") in UNREGISTERED_STATES
    ]
    audit = list(scope_queryset(AuditLog.objects.all(), user).select_related("actor")[:8])
    for entry in audit:
        entry.sentence = audit_text.sentence(entry)
    return {
        "company": tenant,
        "schedules": schedules,
        "queues": list(queues.values()),
        "waiting_total": sum(waiting.values()),
        "waiting_elsewhere": sum(count for queue_id, count in waiting.items() if queue_id not in queues),
        "live_known": live is not None and bool(device_states),
        "unregistered": unregistered,
        "calls_today": _today_calls(tenant),
        "held": held_status(tenant),
        "node": tenant.node,
        "audit": audit,
        "override_choices": [
            (Schedule.Override.OPEN, _("Force open")),
            (Schedule.Override.CLOSED, _("Force closed")),
            (Schedule.Override.NONE, _("Follow the schedule")),
        ],
    }


def index(site, request, extra_context=None):
    user = request.user
    context = {**site.each_context(request), "title": site.index_title, "subtitle": None, **(extra_context or {})}
    request.current_app = site.name
    if user.tenant_id is None:  # the platform operator: every company's admin, organised by task
        context["app_list"] = site.get_app_list(request)
        context["title"] = _("Administration")
        return TemplateResponse(request, "admin/index.html", context)
    context.update(dashboard_context(request))
    return TemplateResponse(request, "admin/pbx/dashboard.html", context)


def _until(choice: str, schedule: Schedule) -> dt.datetime | None:
    """"today": until the next midnight in the company's zone; "" until cleared."""
    if choice != "today":
        return None
    zone = zoneinfo.ZoneInfo(schedule.tenant.time_zone)
    local = timezone.now().astimezone(zone)
    return dt.datetime.combine(local.date() + dt.timedelta(days=1), dt.time(0, 0), tzinfo=zone)


def set_override(request, schedule_id: int):
    """The dashboard's override buttons: POST only; another company's schedule is 404."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    schedule = scope_queryset(Schedule.objects.select_related("tenant"), request.user).filter(pk=schedule_id).first()
    if schedule is None:
        raise Http404
    if not (request.user.is_superuser or request.user.is_company_admin):
        raise PermissionDenied
    override = request.POST.get("override", "")
    if override not in Schedule.Override.values:
        messages.error(request, _("Choose open, closed or follow the schedule."))
    else:
        try:
            do_set_schedule_override(request.user, schedule, override, until=_until(request.POST.get("until", ""), schedule))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            state = {
                "open": _("“%(name)s” is now forced open."),
                "closed": _("“%(name)s” is now forced closed."),
                "": _("“%(name)s” follows its opening hours again."),
            }[override] % {"name": schedule.name}
            if schedule.override_until:
                state += " " + _("Until %(time)s.") % {
                    "time": date_format(timezone.localtime(schedule.override_until), "SHORT_DATETIME_FORMAT")}
            messages.success(request, state)
    target = request.POST.get("next", "")
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
        target = "admin:index"
    return redirect(target)
