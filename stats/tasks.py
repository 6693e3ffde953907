"""The worker's statistics jobs (huey): scheduled reports by e-mail, and the recent intervals kept current.

* ``send_scheduled_reports`` runs at the top of every hour: a report whose schedule is due at this hour in
  its company's time zone (daily; weekly on Mondays; monthly on the 1st) goes to its viewers with its PDF
  attached and a link to it, once per due hour (``last_sent_at``).
* ``refresh_recent_intervals`` runs every 15 minutes: the last hour rebuilt for every company, for time that
  passes without events (agents logged in) and anything a live update missed.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.conf import settings
from django.contrib.sites.models import Site
from django.core.mail import EmailMessage
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from . import aggregate, exports, periods
from .models import Report

log = logging.getLogger(__name__)


def due(report: Report, local_now: dt.datetime) -> bool:
    if not report.schedule or local_now.hour != report.send_hour:
        return False
    if report.schedule == Report.Schedule.WEEKLY and local_now.weekday() != 0:
        return False
    if report.schedule == Report.Schedule.MONTHLY and local_now.day != 1:
        return False
    if report.last_sent_at is not None:
        last = report.last_sent_at.astimezone(local_now.tzinfo)
        if (last.date(), last.hour) == (local_now.date(), local_now.hour):
            return False  # already sent in this hour
    return True


def report_link(report: Report) -> str:
    scheme = "https" if not settings.DEBUG else "http"
    return f"{scheme}://{Site.objects.get_current().domain}{reverse('stats:report', args=[report.pk])}"


def send_report(report: Report, now: dt.datetime) -> bool:
    zone = periods.zone_of(report.tenant)
    span = exports.last_complete(report.period, zone, now)
    recipients = sorted({u.email for u in report.viewers.filter(is_active=True, tenant_id=report.tenant_id) if u.email})
    if not recipients:
        return False
    with translation.override(settings.LANGUAGE_CODE):
        table = exports.build(report, span)
        pdf = exports.to_pdf(table)
        body = _("%(name)s for %(period)s is attached as a PDF.\n\nSee it on the web: %(link)s") % {
            "name": report.name, "period": table.subtitle, "link": report_link(report)}
        message = EmailMessage(subject=f"{report.name} · {table.subtitle}", body=body, to=recipients)
    message.attach(exports.filename(table, "pdf"), pdf, "application/pdf")
    message.send()
    return True


def send_due_reports(now: dt.datetime | None = None) -> int:
    now = now or timezone.now()
    sent = 0
    for report in Report.objects.exclude(schedule="").select_related("tenant"):
        local_now = now.astimezone(periods.zone_of(report.tenant))
        if not due(report, local_now):
            continue
        try:
            if send_report(report, now):
                sent += 1
        except Exception:
            log.exception("report %s: could not be sent", report.pk)
            continue
        report.last_sent_at = now
        report.save(update_fields=["last_sent_at"])
    return sent


@db_periodic_task(crontab(minute="0"))
def send_scheduled_reports() -> None:
    send_due_reports()


@db_periodic_task(crontab(minute="*/15"))
def refresh_recent_intervals() -> None:
    from pbx.models import Tenant

    now = timezone.now()
    for tenant_id in Tenant.objects.values_list("pk", flat=True):
        aggregate.rebuild(tenant_id, now - dt.timedelta(hours=1), now)
