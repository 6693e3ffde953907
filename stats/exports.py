"""A saved report as a table, and that table as CSV, XLSX (openpyxl) or PDF (reportlab).

The table is the same for the web page, the three files and the e-mail: rows per queue (the report's
queue figures) and per agent (its agent figures), from the intervals of the period, values as
``stats.definitions`` derives them.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import zoneinfo
from dataclasses import dataclass, field

from django.utils.text import slugify
from django.utils.translation import gettext as _

from pbx.models import Queue, User

from . import definitions as defs
from . import periods, reports
from .models import Report

FORMATS = {"csv": "text/csv; charset=utf-8",
           "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
           "pdf": "application/pdf"}
AGENT_KEYS = {"agent_offered": "offered", "agent_answered": "answered", "rang_no_answer": "rang_no_answer",
              "agent_talk_s": "talk_s", "wrapup_s": "wrapup_s", "aht_s": "aht_s", "logged_in_s": "logged_in_s",
              "paused_s": "paused_s"}


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list] = field(default_factory=list)


@dataclass
class Table:
    name: str
    span: periods.Period
    sections: list[Section]

    @property
    def subtitle(self) -> str:
        return f"{self.span.first.isoformat()} – {self.span.last.isoformat()} ({self.span.zone.key})"


def last_complete(kind: str, zone: zoneinfo.ZoneInfo, now: dt.datetime | None = None) -> periods.Period:
    """Yesterday, last week or last month in the company's zone."""
    today = periods.today(zone, now)
    if kind == "day":
        return periods.period("day", today - dt.timedelta(days=1), zone)
    if kind == "week":
        return periods.period("week", today - dt.timedelta(days=7), zone)
    return periods.period("month", today.replace(day=1) - dt.timedelta(days=1), zone)


def build(report: Report, span: periods.Period) -> Table:
    labels = {d.key: str(d.label) for d in defs.DEFINITIONS}
    chosen = [key for key in report.figures if key in labels]
    queue_keys = [k for k in chosen if k in defs.QueueFigures.__slots__ or k in QUEUE_DERIVED]
    agent_keys = [k for k in chosen if k in AGENT_KEYS]
    queue_ids = list(report.queues.values_list("pk", flat=True)) or None
    agent_ids = list(report.agents.values_list("pk", flat=True)) or None
    sections = []
    if queue_keys:
        queues = Queue.objects.filter(tenant_id=report.tenant_id).order_by("name")
        if queue_ids is not None:
            queues = queues.filter(pk__in=queue_ids)
        figures = reports.queue_report(report.tenant_id, span.start, span.end, [q.pk for q in queues])
        section = Section(_("Queues"), [_("Queue"), *(labels[k] for k in queue_keys)])
        for queue in queues:
            data = figures.get(queue.pk, defs.QueueFigures()).as_dict()
            section.rows.append([queue.name, *(data[k] for k in queue_keys)])
        total = reports.queue_total(figures).as_dict()
        section.rows.append([_("Total"), *(total[k] for k in queue_keys)])
        sections.append(section)
    if agent_keys:
        figures = reports.agent_report(report.tenant_id, span.start, span.end, queue_ids, agent_ids)
        people = User.objects.filter(tenant_id=report.tenant_id, pk__in=list(figures)).order_by("first_name")
        section = Section(_("Agents"), [_("Agent"), *(labels[k] for k in agent_keys)])
        for person in people:
            data = figures[person.pk].as_dict()
            section.rows.append([person.display_name, *(data[AGENT_KEYS[k]] for k in agent_keys)])
        sections.append(section)
    return Table(report.name, span, sections)


QUEUE_DERIVED = frozenset({"missed", "service_level_pct", "wait_avg_s", "talk_avg_s", "unanswered", "answered_pct"})


def cell(value) -> str | float | int:
    if value is None:
        return ""
    if isinstance(value, float):
        return round(value, 1)
    return value


def render(table: Table, fmt: str) -> tuple[bytes, str]:
    return {"csv": to_csv, "xlsx": to_xlsx, "pdf": to_pdf}[fmt](table), FORMATS[fmt]


def filename(table: Table, fmt: str) -> str:
    return f"{slugify(table.name) or 'report'}-{table.span.first.isoformat()}.{fmt}"


def safe(value):
    """A spreadsheet must not run a name as a formula (=, +, -, @ first): CSV injection."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@"):
        return f"'{value}"
    return cell(value)


def to_csv(table: Table) -> bytes:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([safe(table.name), table.subtitle])
    for section in table.sections:
        writer.writerow([])
        writer.writerow([section.title])
        writer.writerow(section.columns)
        for row in section.rows:
            writer.writerow([safe(v) for v in row])
    return out.getvalue().encode("utf-8-sig")


def to_xlsx(table: Table) -> bytes:
    from openpyxl import Workbook
    from openpyxl.styles import Font

    book = Workbook()
    sheet = book.active
    sheet.title = (table.name or "report")[:31].translate(str.maketrans("", "", "[]:*?/\\")) or "report"
    sheet.append([safe(table.name)])
    sheet.append([table.subtitle])
    sheet["A1"].font = Font(bold=True, size=14)
    for section in table.sections:
        sheet.append([])
        sheet.append([section.title])
        sheet.cell(row=sheet.max_row, column=1).font = Font(bold=True)
        sheet.append(section.columns)
        for row in section.rows:
            # openpyxl writes a string starting with "=" as a formula: keep names as text.
            sheet.append([safe(v) for v in row])
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def to_pdf(table: Table) -> bytes:
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, TableStyle
    from reportlab.platypus import Table as PdfTable

    buffer = io.BytesIO()
    doc = SimpleDocTemplate(buffer, pagesize=landscape(A4), title=table.name)
    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8)
    story = [Paragraph(escape(table.name), styles["Title"]), Paragraph(escape(table.subtitle), styles["Normal"])]
    for section in table.sections:
        story += [Spacer(1, 12), Paragraph(escape(section.title), styles["Heading2"])]
        data = [[Paragraph(escape(str(c)), small) for c in section.columns]]
        data += [[str(cell(v)) for v in row] for row in section.rows]  # plain cells: drawn as text
        grid = PdfTable(data, repeatRows=1)
        grid.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                                  ("BACKGROUND", (0, 0), (-1, 0), colors.whitesmoke),
                                  ("FONTSIZE", (0, 1), (-1, -1), 8)]))
        story.append(grid)
    if not table.sections:
        story.append(Paragraph(escape(_("The report has no figures chosen.")), styles["Normal"]))
    doc.build(story)
    return buffer.getvalue()
