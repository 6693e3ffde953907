"""/stats/: who sees what (the seed: own numbers / own queues / the company), the drill-down, the
definitions page, saved reports with their CSV / XLSX / PDF, the scheduled e-mail, and the other company
refused everywhere (404).

Alice admins Demo AB, Olle is its operator, Bob an agent of Support and Sales, Eva a plain user; Carol
admins Exempel AB and must see nothing of Demo AB.
"""

from __future__ import annotations

import datetime as dt
import io
import re

import pytest
from django.core import mail
from django.test import Client
from django.urls import reverse

from pbx.models import AsteriskNode
from stats.models import CallLog, Report
from stats.tasks import send_due_reports
from tests.stats_fixtures import no_stray_callbacks, pushed, replay_into_db  # noqa: F401 - autouse fixtures

DAY = "2026-11-23"  # the captures' day: answered (d), abandoned (e) and the attended transfer


@pytest.fixture
def traffic(demo, db):
    node = AsteriskNode.default()
    replay_into_db("d_queue_call_answered_by_agent", demo, node, real=False)
    replay_into_db("e_queue_caller_abandon", demo, node, real=False)
    replay_into_db("queue_agent_atxfer", demo, node)
    return demo


def client_for(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def page(user, name="stats:overview", query=f"period=day&date={DAY}", **kwargs):
    return client_for(user).get(reverse(name, kwargs=kwargs or None) + ("?" + query if query else ""))


def queue_cell(html: str, queue_id: int, figure: str) -> str:
    row = re.search(rf'<tr data-queue="{queue_id}">(.*?)</tr>', html, re.S).group(1)
    return re.sub(r"<[^>]+>", "", re.search(rf'data-figure="{figure}">(.*?)</td>', row, re.S).group(1)).strip()


def test_an_admin_sees_every_queue_with_its_figures_and_every_agent(traffic, alice):
    support = traffic.queues["Support"]
    response = page(alice)
    html = response.content.decode()
    assert response.status_code == 200
    assert [queue_cell(html, support.pk, f) for f in ("offered", "answered", "abandoned")] == ["3", "2", "1"]
    assert f'data-queue="{traffic.queues["Sales"].pk}"' in html
    assert f'data-agent="{traffic.agents[0].pk}"' in html and f'data-agent="{traffic.operator.pk}"' in html


def test_an_agent_sees_their_queues_and_their_own_agent_figures_only(traffic, bob):
    html = page(bob).content.decode()
    assert queue_cell(html, traffic.queues["Support"].pk, "answered") == "2"
    assert f'data-agent="{bob.pk}"' in html
    assert f'data-agent="{traffic.operator.pk}"' not in html  # a colleague's figures are the supervisors'


def test_a_user_sees_only_calls_to_and_from_their_own_numbers(traffic, eva, alice):
    html = page(eva).content.decode()
    assert "data-queue=" not in html and "data-agent=" not in html
    assert "Calls to and from your own numbers." in html
    calls = page(eva, "stats:calls", query=f"period=day&date={DAY}&figure=calls").content.decode()
    assert calls.count("<tr data-call=") == 1  # the transferred call reached Eva; the others did not
    queue_calls = page(eva, "stats:calls", query=f"period=day&date={DAY}&figure=answered&queue={traffic.queues['Support'].pk}")
    assert queue_calls.status_code == 404  # not an agent of Support


def test_a_figure_drills_down_to_its_calls(traffic, alice):
    support = traffic.queues["Support"]
    html = page(alice).content.decode()
    link = re.search(rf'href="([^"]*queue={support.pk}&amp;figure=answered)"', html).group(1).replace("&amp;", "&")
    calls = client_for(alice).get(link).content.decode()
    linkedids = set(re.findall(r'<tr data-call="([^"]+)"', calls))
    assert linkedids == set(CallLog.objects.filter(queue=support, queue_result="answered").values_list(
        "linkedid", flat=True)) and len(linkedids) == 2


def test_the_previous_period_is_compared(traffic, alice):
    html = page(alice).content.decode()
    assert "compared with 2026-11-22 – 2026-11-22" in html
    assert "(+3)" in html  # offered: 3 against 0 the day before


def test_the_charts_get_their_data_without_inline_script(traffic, alice):
    html = page(alice).content.decode()
    assert '<script id="stats-charts" type="application/json">' in html
    assert all(" src=" in tag or 'type="application/json"' in tag for tag in re.findall(r"<script[^>]*>", html))
    assert "stats/chart.umd.min.js" in html


@pytest.mark.parametrize(("language", "words"), [("en", "Service level %"), ("sv", "Servicenivå %")])
def test_the_definitions_page_states_each_figure_in_both_languages(alice, language, words):
    client = client_for(alice)
    client.cookies["django_language"] = language
    html = client.get(reverse("stats:definitions")).content.decode()
    assert words in html and 'id="short_abandoned"' in html and 'id="logged_in_s"' in html


def test_another_companys_queue_and_reports_are_404(traffic, carol, alice):
    support = traffic.queues["Support"]
    report = Report.objects.create(tenant=traffic.tenant, name="Ledningsgrupp", figures=["offered"])
    report.viewers.add(alice)
    assert page(carol, "stats:calls", query=f"queue={support.pk}&figure=answered").status_code == 404
    for name in ("stats:report", "stats:report_edit"):
        assert page(carol, name, query="", report_id=report.pk).status_code == 404
    for fmt in ("csv", "xlsx", "pdf"):
        assert page(carol, "stats:report_export", query="", report_id=report.pk, fmt=fmt).status_code == 404
    assert client_for(carol).post(reverse("stats:report_delete", args=[report.pk])).status_code == 404
    # Carol's own /stats/ shows Exempel's queues only.
    html = page(carol).content.decode()
    assert f'data-queue="{support.pk}"' not in html and "data-queue=" in html


def test_only_an_admin_manages_reports_and_only_its_audience_sees_one(traffic, alice, bob, eva):
    response = client_for(bob).get(reverse("stats:report_new"))
    assert response.status_code == 404
    report = Report.objects.create(tenant=traffic.tenant, name="Kundtjänst", figures=["answered"])
    report.viewers.add(bob)
    assert page(bob, "stats:report", query="", report_id=report.pk).status_code == 200
    assert page(eva, "stats:report", query="", report_id=report.pk).status_code == 404
    assert page(bob, "stats:report_edit", query="", report_id=report.pk).status_code == 404


def test_an_admin_saves_a_report_and_exports_it_as_csv_xlsx_and_pdf(traffic, alice, carol):
    support, bob = traffic.queues["Support"], traffic.agents[0]
    client = client_for(alice)
    response = client.post(reverse("stats:report_new"), {
        "name": "Kundtjänst", "figures": ["offered", "answered", "service_level_pct", "missed", "agent_answered",
                                          "aht_s"],
        "queues": [support.pk], "agents": [], "period": "day", "viewers": [bob.pk], "schedule": "", "send_hour": 7})
    report = Report.objects.get(tenant=traffic.tenant, name="Kundtjänst")
    assert response.status_code == 302 and list(report.queues.all()) == [support]
    csv_text = client.get(reverse("stats:report_export", args=[report.pk, "csv"]) + f"?date={DAY}").content.decode(
        "utf-8-sig")
    assert "Support,3,2," in csv_text and "Bob Berg,1," in csv_text
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(client.get(reverse("stats:report_export", args=[report.pk, "xlsx"])
                                               + f"?date={DAY}").content))
    values = [list(row) for row in book.active.iter_rows(values_only=True)]
    assert values[[r[0] for r in values].index("Support")][:3] == ["Support", 3, 2]
    pdf = client.get(reverse("stats:report_export", args=[report.pk, "pdf"]) + f"?date={DAY}")
    assert pdf["Content-Type"] == "application/pdf" and pdf.content.startswith(b"%PDF")


def test_a_report_cannot_take_another_companys_queue_or_people(traffic, alice, exempel):
    response = client_for(alice).post(reverse("stats:report_new"), {
        "name": "X", "figures": ["offered"], "queues": [exempel.queues["Support"].pk], "viewers": [exempel.admin.pk],
        "period": "day", "schedule": "", "send_hour": 7})
    assert response.status_code == 200 and not Report.objects.filter(name="X").exists()


def test_the_worker_mails_a_scheduled_report_with_its_pdf_at_the_set_local_hour(traffic, bob, eva):
    report = Report.objects.create(tenant=traffic.tenant, name="Kundtjänst dagligen", figures=["offered", "answered"],
                                   period="day", schedule="daily", send_hour=7)
    report.viewers.add(bob, eva)
    seven_local = dt.datetime(2026, 11, 24, 6, 0, 5, tzinfo=dt.UTC)  # 07:00 in Stockholm (CET)
    assert send_due_reports(seven_local - dt.timedelta(hours=1)) == 0  # 06:00 local: not yet
    assert send_due_reports(seven_local) == 1
    (message,) = mail.outbox
    assert sorted(message.to) == sorted([bob.email, eva.email])
    assert "2026-11-23" in message.subject
    (name, content, mime) = message.attachments[0]
    assert mime == "application/pdf" and content.startswith(b"%PDF") and name.endswith(".pdf")
    assert reverse("stats:report", args=[report.pk]) in message.body
    assert send_due_reports(seven_local + dt.timedelta(minutes=20)) == 0  # once per due hour
    assert len(mail.outbox) == 1


def test_a_weekly_report_goes_on_mondays_only(traffic, bob):
    report = Report.objects.create(tenant=traffic.tenant, name="Vecka", figures=["offered"], period="week",
                                   schedule="weekly", send_hour=8)
    report.viewers.add(bob)
    tuesday = dt.datetime(2026, 11, 24, 7, 0, tzinfo=dt.UTC)
    assert send_due_reports(tuesday) == 0
    assert send_due_reports(tuesday - dt.timedelta(days=1)) == 1


def test_hostile_parameters_get_a_clear_answer_and_no_error(alice):
    assert page(alice, query="period=range&from=2026-13-45&to=x").status_code == 200
    assert page(alice, query="period=';drop table&date=1e9").status_code == 200
    assert page(alice, "stats:calls", query="figure=__class__").status_code == 404
    assert page(alice, "stats:calls", query="figure=answered&queue=1%20OR%201=1").status_code == 404
    report = Report.objects.create(tenant=alice.tenant, name="=HYPERLINK(\"x\")", figures=["offered"])
    csv_text = page(alice, "stats:report_export", query="", report_id=report.pk, fmt="csv").content.decode("utf-8-sig")
    import csv

    assert next(csv.reader(io.StringIO(csv_text)))[0] == "'=HYPERLINK(\"x\")" and page(alice, "stats:report_export", query="", report_id=report.pk,
                                                          fmt="exe").status_code == 404


def test_the_statistics_need_a_signed_in_person_of_a_company(db, superuser):
    response = Client().get(reverse("stats:overview"))
    assert response.status_code == 302 and "/accounts/login/" in response["Location"]
    assert client_for(superuser).get(reverse("stats:overview")).status_code == 404
