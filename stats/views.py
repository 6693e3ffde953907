"""/stats/: the figures of a period for what the signed-in person may see, with the previous period beside
them, charts, a drill-down to the calls behind a figure, the definitions page and saved reports.

Every page reads intervals through ``stats.reports`` (never the raw calls, except the drill-down's list of
calls); the company is the signed-in person's; another company's queue or report id is a 404.
"""

from __future__ import annotations

import datetime as dt

from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods

from pbx.models import Queue, User
from portal.forms import tenant_zone
from portal.views.common import me_view
from portal.views.history import calls_visible_to

from . import definitions as defs
from . import exports, periods, reports
from .access import may_manage_reports, reports_visible_to, scope_of
from .forms import ReportForm
from .models import CallLog, Report
from .selectors import with_names

QUEUE_COLUMNS = ("offered", "answered", "answered_in_sl", "service_level_pct", "abandoned", "short_abandoned",
                 "missed", "timeouts", "left_for_callback", "overflows", "no_agents", "closed", "wait_avg_s", "wait_max_s",
                 "talk_avg_s", "callbacks_requested", "callbacks_made")
DRILLABLE = frozenset({"offered", "answered", "abandoned", "timeouts", "left_for_callback", "overflows", "no_agents",
                       "closed", "missed"})
AGENT_COLUMNS = ("offered", "answered", "rang_no_answer", "talk_s", "wrapup_s", "aht_s", "logged_in_s", "paused_s")
COMPARED = ("offered", "answered", "service_level_pct", "missed", "wait_avg_s")
DIRECTIONS = tuple(CallLog.Direction.values)


def labels() -> dict[str, str]:
    out = {d.key: str(d.label) for d in defs.DEFINITIONS}
    out.update(offered=str(defs.DEFINITIONS[0].label), talk_s=_("Talk time"), aht_s=_("Average handling time"))
    return out


def chosen_period(request, zone) -> periods.Period:
    """The period the picker asks for: kind (day / week / month / range) around a date; default this week."""
    kind = request.GET.get("period", "week")
    try:
        day = dt.date.fromisoformat(request.GET.get("date", "")) if request.GET.get("date") else periods.today(zone)
    except ValueError:
        day = periods.today(zone)
    if kind == "range":
        try:
            first = dt.date.fromisoformat(request.GET.get("from", ""))
            last = dt.date.fromisoformat(request.GET.get("to", ""))
        except ValueError:
            return periods.period("week", day, zone)
        if (last - first).days > 400 or (first - last).days > 400:
            last = first + dt.timedelta(days=400)
        return periods.custom(first, last, zone)
    if kind not in periods.KINDS:
        kind = "week"
    return periods.period(kind, day, zone)


def period_query(span: periods.Period) -> str:
    return f"period=range&from={span.first.isoformat()}&to={span.last.isoformat()}"


def change(now, before) -> dict | None:
    if now is None or before is None:
        return None
    diff = round(now - before, 1)
    return {"diff": diff, "up": diff > 0, "down": diff < 0}


@me_view
@require_GET
def overview(request):
    user = request.user
    zone = tenant_zone(user)
    scope = scope_of(user)
    span = chosen_period(request, zone)
    before = span.previous()
    queue_names = dict(Queue.objects.filter(tenant_id=user.tenant_id, pk__in=scope.queue_ids).values_list("pk", "name"))
    now_q = reports.queue_report(user.tenant_id, span.start, span.end, scope.queue_ids)
    before_q = reports.queue_report(user.tenant_id, before.start, before.end, scope.queue_ids)
    queue_rows = []
    for pk, name in sorted(queue_names.items(), key=lambda item: item[1].lower()):
        figures = now_q.get(pk, defs.QueueFigures()).as_dict()
        previous = before_q.get(pk, defs.QueueFigures()).as_dict()
        queue_rows.append({"id": pk, "name": name, "figures": figures,
                           "cells": [(col, figures[col], col in DRILLABLE) for col in QUEUE_COLUMNS],
                           "changes": {col: change(figures[col], previous[col]) for col in COMPARED}})
    total = reports.queue_total(now_q).as_dict() if scope.queue_ids else None
    total_before = reports.queue_total(before_q).as_dict() if scope.queue_ids else None

    agent_rows = []
    if scope.company or scope.queue_ids:
        agent_ids = None if scope.company else [user.pk]  # an agent sees their own figures, not colleagues'
        agents = reports.agent_report(user.tenant_id, span.start, span.end, None if scope.company else scope.queue_ids,
                                      agent_ids)
        names = {u.pk: u.display_name for u in User.objects.filter(tenant_id=user.tenant_id, pk__in=list(agents))}
        for pk, figures in sorted(agents.items(), key=lambda item: names.get(item[0], "")):
            if pk in names:
                data = figures.as_dict()
                agent_rows.append({"id": pk, "name": names[pk], "cells": [(c, data[c]) for c in AGENT_COLUMNS],
                                   "pauses": sorted(figures.paused_by_reason.items())})

    if scope.company:
        dimension, keys = "company", None
    else:
        dimension, keys = "user", [str(user.pk)]
    volumes = reports.volume_report(user.tenant_id, span.start, span.end, dimension, keys)
    mine = {d: defs.VolumeFigures() for d in DIRECTIONS}
    for per_direction in volumes.values():
        for direction, figures in per_direction.items():
            mine[direction].add(figures)
    people, numbers = [], []
    if scope.company:
        per_person = reports.volume_report(user.tenant_id, span.start, span.end, "user")
        names = {str(u.pk): u.display_name for u in User.objects.filter(tenant_id=user.tenant_id)}
        people = sorted(({"name": names.get(k, "–"), "cells": [v.get(d, defs.VolumeFigures()) for d in DIRECTIONS]}
                         for k, v in per_person.items() if k in names), key=lambda row: row["name"])
        per_number = reports.volume_report(user.tenant_id, span.start, span.end, "number")
        numbers = [{"name": k, "cells": [v.get(d, defs.VolumeFigures()) for d in DIRECTIONS]}
                   for k, v in sorted(per_number.items())]

    charts = {
        "hour": chart(reports.volume_by(user.tenant_id, span, "hour", dimension, keys), range(24), str),
        "weekday": chart(reports.volume_by(user.tenant_id, span, "weekday", dimension, keys), range(1, 8),
                         lambda d: weekdays()[d - 1]),
        "day": chart(reports.volume_by(user.tenant_id, span, "day", dimension, keys), span.days(),
                     lambda d: d.isoformat()),
        "labels": {d: str(CallLog.Direction(d).label) for d in DIRECTIONS},
    }
    return render(request, "stats/overview.html", {
        "span": span, "before": before, "query": period_query(span), "scope": scope,
        "queue_rows": queue_rows, "total": total,
        "kpis": [(labels().get(col, col), total[col], change(total[col], total_before[col])) for col in COMPARED]
        if total else [],
        "queue_columns": [(c, labels().get(c, c)) for c in QUEUE_COLUMNS],
        "agent_columns": [(c, labels().get(c, c)) for c in AGENT_COLUMNS], "agent_rows": agent_rows,
        "volumes": [(CallLog.Direction(d).label, mine[d]) for d in DIRECTIONS],
        "directions": [CallLog.Direction(d).label for d in DIRECTIONS], "people": people, "numbers": numbers,
        "charts": charts, "kinds": [("day", _("Day")), ("week", _("Week")), ("month", _("Month"))],
        "kind": request.GET.get("period", "week"), "date": request.GET.get("date", "") or span.first.isoformat(),
        "reports": reports_visible_to(user)[:20], "may_manage": may_manage_reports(user),
    })


def weekdays() -> list[str]:
    """Django's own abbreviations (its catalogue: "mån" … "sön"), Monday first."""
    from django.utils.dates import WEEKDAYS_ABBR

    return [str(WEEKDAYS_ABBR[day]) for day in range(7)]


def chart(data: dict, buckets, label) -> dict:
    return {"labels": [label(b) for b in buckets],
            "series": {d: [data.get(b, {}).get(d, defs.VolumeFigures()).calls for b in buckets] for d in DIRECTIONS}}


@me_view
@require_GET
def calls(request):
    """The calls behind a figure: a queue's (``queue`` and ``figure``) or one's own (no queue), in the period."""
    user = request.user
    zone = tenant_zone(user)
    scope = scope_of(user)
    span = chosen_period(request, zone)
    figure = request.GET.get("figure", "calls")
    condition = reports.drill_down_filter(figure)
    if condition is None:
        raise Http404(_("No such figure."))
    queue = None
    if request.GET.get("queue"):
        try:
            queue_id = int(request.GET["queue"])
        except ValueError as exc:
            raise Http404(_("No such queue.")) from exc
        if not scope.sees_queue(queue_id):
            raise Http404(_("No such queue."))
        queue = get_object_or_404(Queue, pk=queue_id, tenant_id=user.tenant_id)
        rows = CallLog.objects.filter(tenant_id=user.tenant_id, queue=queue).filter(condition)
    elif scope.company:
        rows = CallLog.objects.filter(tenant_id=user.tenant_id).filter(condition)
    else:
        rows = calls_visible_to(user, only_mine=True).filter(condition)
    direction = request.GET.get("direction", "")
    if direction in DIRECTIONS:
        rows = rows.filter(direction=direction)
    rows = rows.filter(started_at__gte=span.start, started_at__lt=span.end).select_related(
        "queue", "caller", "answered_by", "forwarded_from")
    page = Paginator(rows.order_by("-started_at", "-id"), 50).get_page(request.GET.get("page"))
    page.object_list = with_names(list(page.object_list), user.tenant_id)
    return render(request, "stats/calls.html", {
        "span": span, "queue": queue, "figure": labels().get(figure, _("Calls")), "page": page,
        "query": request.GET.urlencode(), "back": reverse("stats:overview") + "?" + period_query(span),
    })


@me_view
@require_GET
def definitions(request):
    groups = [(_("Queues"), [d for d in defs.DEFINITIONS if d.group == "queue"]),
              (_("Agents"), [d for d in defs.DEFINITIONS if d.group == "agent"]),
              (_("Call volumes"), [d for d in defs.DEFINITIONS if d.group == "volume"])]
    return render(request, "stats/definitions.html", {"groups": groups, "zone": tenant_zone(request.user).key})


# ------------------------------------------------------------------------------------------------ reports


def _manager_only(user) -> None:
    if not may_manage_reports(user):
        raise Http404(_("Only a company admin manages reports."))


@me_view
@require_http_methods(["GET", "POST"])
def report_edit(request, report_id: int | None = None):
    user = request.user
    _manager_only(user)
    report = get_object_or_404(Report, pk=report_id, tenant_id=user.tenant_id) if report_id else None
    form = ReportForm(request.POST or None, instance=report, tenant_id=user.tenant_id)
    if request.method == "POST" and form.is_valid():
        saved = form.save(commit=False)
        saved.tenant_id = user.tenant_id
        saved.save()
        form.save_m2m()
        return redirect("stats:report", report_id=saved.pk)
    return render(request, "stats/report_edit.html", {"form": form, "report": report})


@me_view
@require_http_methods(["POST"])
def report_delete(request, report_id: int):
    _manager_only(request.user)
    get_object_or_404(Report, pk=report_id, tenant_id=request.user.tenant_id).delete()
    return redirect("stats:overview")


def _visible_report(request, report_id: int) -> Report:
    return get_object_or_404(reports_visible_to(request.user), pk=report_id)


def _report_period(request, report: Report) -> periods.Period:
    zone = tenant_zone(request.user)
    if request.GET.get("date"):
        try:
            return periods.period(report.period, dt.date.fromisoformat(request.GET["date"]), zone)
        except ValueError:
            pass
    return exports.last_complete(report.period, zone)


@me_view
@require_GET
def report(request, report_id: int):
    item = _visible_report(request, report_id)
    table = exports.build(item, _report_period(request, item))
    return render(request, "stats/report.html", {"report": item, "table": table,
                                                 "may_manage": may_manage_reports(request.user)})


@me_view
@require_GET
def report_export(request, report_id: int, fmt: str):
    item = _visible_report(request, report_id)
    table = exports.build(item, _report_period(request, item))
    if fmt not in exports.FORMATS:
        raise Http404(_("No such format."))
    content, mime = exports.render(table, fmt)
    response = HttpResponse(content, content_type=mime)
    response["Content-Disposition"] = f'attachment; filename="{exports.filename(table, fmt)}"'
    return response

