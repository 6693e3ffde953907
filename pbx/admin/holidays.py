"""Fill a schedule's holidays: Sweden's public holidays of this year and the next, and the eves around them.

The admin ticks the days the company is closed (public holidays ticked, the eves offered unticked) and
they become the schedule's "holidays and special days" rows, editable and deletable there like any other.
Days the schedule already has (same first day) are shown as added and not offered again.
"""

from __future__ import annotations

import zoneinfo

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from pbx.actions import do_save_object
from pbx.holidays_se import swedish_holidays
from pbx.models import Schedule, SpecialDay

from .base import scope_queryset


def add_holidays(request, schedule_id: int):
    schedule = scope_queryset(Schedule.objects.select_related("tenant"), request.user).filter(pk=schedule_id).first()
    if schedule is None:
        raise Http404
    if not (request.user.is_superuser or request.user.is_company_admin):
        raise PermissionDenied
    this_year = timezone.now().astimezone(zoneinfo.ZoneInfo(schedule.tenant.time_zone)).year
    offered = swedish_holidays([this_year, this_year + 1])
    existing = set(schedule.special_days.values_list("start_date", flat=True))
    change_url = reverse("admin:pbx_schedule_change", args=[schedule.pk])
    if request.method == "POST":
        chosen = set(request.POST.getlist("day"))
        days = [h for h in offered if h.key in chosen and h.date not in existing]
        try:
            with transaction.atomic():
                for holiday in days:
                    do_save_object(request.user, SpecialDay(
                        tenant=schedule.tenant, schedule=schedule, name=holiday.name[:80],
                        start_date=holiday.date, end_date=holiday.date, is_closed=True,
                    ))
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(request, ngettext(
                "%(n)d day was added to “%(schedule)s”: calls get the closed treatment then.",
                "%(n)d days were added to “%(schedule)s”: calls get the closed treatment then.",
                len(days)) % {"n": len(days), "schedule": schedule.name})
            return redirect(change_url)
    rows = [{"holiday": h, "added": h.date in existing, "checked": not h.is_eve} for h in offered]
    from django.contrib import admin

    context = {
        **admin.site.each_context(request),
        "title": _("Holidays for %(schedule)s") % {"schedule": schedule.name},
        "schedule": schedule,
        "rows": rows,
        "years": (this_year, this_year + 1),
        "change_url": change_url,
        "opts": Schedule._meta,
    }
    return TemplateResponse(request, "admin/pbx/holidays.html", context)
