"""Two miscounts of the queue statistics (issue #13), fixed and held:

* a caller who leaves the queue with the callback key (real capture ``queue_callback_keeps_place``) is neither
  a timeout nor missed: their visit ends as "callback", counted as *left for a callback* everywhere (the
  definitions, both rebuilds, /stats/, the drill-down, the exports, the definitions page in sv/en);
* a visit is one caller channel, one queue and one visit number: a caller sent from Support to Sales and back
  keeps three visits (the queue log's key names the queue; before, Support's and Sales' first visits had the
  same key and one overwrote the other), and rows stored with the old key are rewritten by the migration.

Alice admins Demo AB, Bob is an agent of Support and Sales; Carol admins Exempel AB and sees nothing of Demo AB.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import importlib
import io
import re

import pytest
from django.apps import apps
from django.db import connection
from django.test import Client
from django.urls import reverse

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.persist import persist_call, update_statistics
from pbx.models import AsteriskNode, CallbackRequest
from stats import aggregate, exports, periods, reports
from stats import definitions as defs
from stats.models import CallLog, QueueEvent, QueueInterval, Report
from tests.bridge_fixtures import until
from tests.fake_asterisk.state import AsteriskState, Route
from tests.stats_fixtures import no_stray_callbacks, pushed, replay_into_db  # noqa: F401 - autouse fixtures
from tests.test_call_log_truth import user_event
from tests.test_stats_figures import STOCKHOLM, run_fake

CALLBACK_DAY = "2026-12-06"  # queue_callback_keeps_place was recorded on 2026-12-06 (23:14 local)


@pytest.fixture
def node(db):
    return AsteriskNode.default()


@pytest.fixture
def callback_left(demo, node):
    """The real capture: the caller waits in Support (Bob's phone rings), presses 1, keeps their own number
    (#) and confirms (1); a Local channel takes their place in the queue and is still waiting when it ends."""
    replay_into_db("queue_callback_keeps_place", demo, node)
    return demo


def client_for(user, language: str = "en") -> Client:
    client = Client()
    client.force_login(user)
    client.cookies["django_language"] = language
    return client


def support_figures(demo) -> defs.QueueFigures:
    span = periods.period("day", dt.date.fromisoformat(CALLBACK_DAY), STOCKHOLM)
    return reports.queue_report(demo.tenant.pk, span.start, span.end).get(demo.queues["Support"].pk,
                                                                         defs.QueueFigures())


# ------------------------------------------------------------------------------------- the callback key


def test_a_caller_who_leaves_with_the_callback_key_is_left_for_a_callback_not_a_timeout(callback_left):
    demo = callback_left
    support = demo.queues["Support"]
    (call,) = CallLog.objects.filter(tenant=demo.tenant, queue=support)
    assert call.queue_result == CallLog.QueueResult.CALLBACK
    assert list(call.queue_events.values_list("kind", flat=True)) == ["enter", "callback"]
    figures = support_figures(demo)
    assert (figures.offered, figures.left_for_callback, figures.timeouts, figures.abandoned) == (1, 1, 0, 0)
    assert figures.missed == 0 and figures.unanswered == 0
    assert figures.service_level_pct is None  # nothing left to take a share of: the kept place is its own visit


def test_both_rebuilds_count_the_callback_exit_alike(callback_left):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL rebuild is PostgreSQL's")
    demo = callback_left
    start, end = dt.datetime(2026, 12, 6, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC)

    def rows():
        return sorted(QueueInterval.objects.filter(tenant=demo.tenant).values_list(
            "queue", "start", "offered", "left_for_callback", "timeouts", "abandoned"))

    aggregate.rebuild(demo.tenant.pk, start, end, engine="python")
    by_python = rows()
    aggregate.rebuild(demo.tenant.pk, start, end, engine="sql")
    assert rows() == by_python and by_python[0][2:] == (1, 1, 0, 0)


def test_stats_shows_and_drills_down_to_the_callback_exit_and_carol_gets_404(callback_left, alice, carol):
    demo = callback_left
    support = demo.queues["Support"]
    html = client_for(alice).get(reverse("stats:overview") + f"?period=day&date={CALLBACK_DAY}").content.decode()
    row = re.search(rf'<tr data-queue="{support.pk}">(.*?)</tr>', html, re.S).group(1)
    cell = re.search(r'data-figure="left_for_callback">(.*?)</td>', row, re.S).group(1)
    assert re.sub(r"<[^>]+>", "", cell).strip() == "1"
    link = reverse("stats:calls") + f"?queue={support.pk}&figure=left_for_callback&period=day&date={CALLBACK_DAY}"
    calls = client_for(alice).get(link).content.decode()
    (call,) = CallLog.objects.filter(queue=support)
    assert re.findall(r'<tr data-call="([^"]+)"', calls) == [call.linkedid]
    assert client_for(carol).get(link).status_code == 404


@pytest.mark.parametrize(("language", "label"), [("en", "Left for a callback"),
                                                 ("sv", "Lämnade för återuppringning")])
def test_the_definitions_page_explains_the_callback_exit_in_both_languages(alice, language, label):
    html = client_for(alice, language).get(reverse("stats:definitions")).content.decode()
    term = re.search(r'<dt id="left_for_callback">(.*?)</dt>\s*<dd>(.*?)</dd>', html, re.S)
    assert term.group(1) == label and len(term.group(2)) > 100


def test_a_report_exports_the_callback_exit_apart_from_timeouts_and_missed(callback_left, alice, carol):
    demo = callback_left
    support = demo.queues["Support"]
    report = Report.objects.create(tenant=demo.tenant, name="Kundtjänst",
                                   figures=["offered", "left_for_callback", "timeouts", "missed"])
    report.queues.add(support)
    url = reverse("stats:report_export", args=[report.pk, "csv"]) + f"?date={CALLBACK_DAY}"
    text = client_for(alice).get(url).content.decode("utf-8-sig")
    assert "Queue,Offered,Left for a callback,Timeouts,Missed" in text and "Support,1,1,0,0" in text
    table = exports.build(report, periods.period("day", dt.date.fromisoformat(CALLBACK_DAY), STOCKHOLM))
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(exports.to_xlsx(table)))
    values = [list(r) for r in book.active.iter_rows(values_only=True)]
    assert values[[r[0] for r in values].index("Support")][:5] == ["Support", 1, 1, 0, 0]
    assert client_for(carol).get(url).status_code == 404


# ------------------------------------------------------------------------- one visit per channel and queue


DDI = "+46855500001"


def test_a_caller_sent_from_support_to_sales_and_back_keeps_three_visits(demo, node):
    """Support's maximum wait sends the caller to Sales (its overflow destination), Sales' sends them back to
    Support, where they hang up: Support visit 0 (timeout), Sales visit 0 (timeout), Support visit 1 (abandon).
    Before the key named the queue, Support's and Sales' visit 0 had the same key ``<uniqueid>:0:enter:0``."""
    support, sales = demo.queues["Support"], demo.queues["Sales"]
    tenant = demo.tenant.pk
    names = {q: f"t{tenant}-q{q.pk}" for q in (support, sales)}
    st = AsteriskState.default()
    for queue in (support, sales):
        st.add_member(st.add_queue(names[queue]), "PJSIP/1001", "1001", membership="static")
    st.endpoints["1001"].answer = "noanswer"

    def timed_out(queue, then):
        return user_event("PbxQueueResult", then, Tenant=tenant, Queue=queue.pk, Result="timeout")

    st.routes.update({
        ("default", DDI): Route("queue", names[support], max_wait=20, next=("support", "out")),
        ("support", "out"): timed_out(support, ("sales", "s")),
        ("sales", "s"): Route("queue", names[sales], max_wait=20, next=("sales", "out")),
        ("sales", "out"): timed_out(sales, ("again", "s")),
        ("again", "s"): Route("queue", names[support], max_wait=60, next=("support", "out")),
    })
    collected = []

    async def traffic(fake, client):
        call = fake.place_call("sipp", DDI, context="default", caller_num="+46701234567", caller_name="Kund")
        await until(lambda: call.queue is not None and call.queue.name == names[sales], timeout=5)
        await until(lambda: call.queue is not None and call.queue.name == names[support], timeout=5)
        await asyncio.sleep(0.3)
        fake.hangup(call.caller)
        await asyncio.sleep(0.3)

    run_fake(demo, st, traffic, collected)
    (ended,) = [e for e in collected if isinstance(e, d.CallEnded) and e.record is not None]
    persist_call(ended.record)
    persist_call(ended.record)  # written twice (a replay): the same rows
    update_statistics(node.name, collected)

    keys = list(QueueEvent.objects.filter(tenant=demo.tenant).order_by("at", "id").values_list("key", flat=True))
    uid = ended.record.queue_log[0].uniqueid
    assert [k.removeprefix(f"{uid}:") for k in keys if ":enter:" in k] == [
        f"{names[support]}:0:enter:0", f"{names[sales]}:0:enter:0", f"{names[support]}:1:enter:0"]
    found = sorted((v.queue_name, v.number, v.outcome) for v in defs.visits(
        QueueEvent.objects.filter(tenant=demo.tenant).values(*defs.QUEUE_ROW_FIELDS)))
    assert found == [(names[support], 0, defs.TIMEOUT), (names[support], 1, defs.ABANDONED),
                     (names[sales], 0, defs.TIMEOUT)]
    today = dt.datetime.now(STOCKHOLM).date()
    span = periods.custom(today - dt.timedelta(days=1), today, STOCKHOLM)
    figures = reports.queue_report(tenant, span.start, span.end)
    assert (figures[support.pk].offered, figures[support.pk].timeouts, figures[support.pk].abandoned) == (2, 1, 1)
    assert (figures[sales.pk].offered, figures[sales.pk].timeouts) == (1, 1)
    if connection.vendor == "postgresql":
        before = sorted(QueueInterval.objects.values_list("queue", "start", "offered", "timeouts", "abandoned"))
        aggregate.rebuild(tenant, span.start, span.end, engine="sql")
        assert sorted(QueueInterval.objects.values_list("queue", "start", "offered", "timeouts", "abandoned")) == before


# ------------------------------------------------------------------------------------------ the data fix


migration = importlib.import_module("stats.migrations.0004_queue_visits_keyed_by_queue_and_callback_exits")


def test_the_migration_puts_the_queue_into_old_keys_and_makes_known_callback_exits_callbacks(demo, exempel, node):
    support = demo.queues["Support"]
    at = dt.datetime(2026, 12, 6, 22, 14, tzinfo=dt.UTC)
    call = CallLog.objects.create(tenant=demo.tenant, node=node, linkedid="1796595245.8", started_at=at, ended_at=at,
                                  direction="in", result="no_answer", queue=support, queue_result="timeout")

    def row(tenant, uniqueid, queue_name, key, kind, seconds, queue=None, log=None, on=node):
        return QueueEvent.objects.create(tenant=tenant, node=on, key=key, call=log, linkedid=uniqueid,
                                         uniqueid=uniqueid, queue=queue, queue_name=queue_name, kind=kind,
                                         at=at + dt.timedelta(seconds=seconds))

    left = row(demo.tenant, "1796595245.8", "t1-q1", "1796595245.8:0:timeout:0", "timeout", 5, support, call)
    entered = row(demo.tenant, "1796595245.8", "t1-q1", "1796595245.8:0:enter:0", "enter", 0, support, call)
    timed_out = row(demo.tenant, "1796595300.9", "t1-q1", "1796595300.9:0:timeout:0", "timeout", 60, support)
    new = row(demo.tenant, "1796595400.1", "t1-q1", "1796595400.1:t1-q1:0:enter:0", "enter", 0, support)
    # Exempel's caller on another node, with the same channel id, left no callback of Exempel's: still a timeout.
    other = row(exempel.tenant, "1796595245.8", "t2-q9", "1796595245.8:0:timeout:0", "timeout", 5,
                exempel.queues["Support"], on=AsteriskNode.objects.create(name="node-2"))
    CallbackRequest.objects.create(tenant=demo.tenant, kind="queue", queue=support, number="+46701234567",
                                   channel_id="1796595245.8", requested_at=at + dt.timedelta(seconds=6))

    migration.key_names_the_queue(apps, None)
    migration.callback_exits(apps, None)

    for event in (left, entered, timed_out, new, other):
        event.refresh_from_db()
    assert entered.key == "1796595245.8:t1-q1:0:enter:0" and new.key == "1796595400.1:t1-q1:0:enter:0"
    assert (left.key, left.kind) == ("1796595245.8:t1-q1:0:callback:0", "callback")
    assert (timed_out.key, timed_out.kind) == ("1796595300.9:t1-q1:0:timeout:0", "timeout")
    assert (other.key, other.kind) == ("1796595245.8:t2-q9:0:timeout:0", "timeout")
    call.refresh_from_db()
    assert call.queue_result == "callback"
    # And back, for a migration run backwards.
    migration.callback_exits_as_timeouts(apps, None)
    migration.key_without_the_queue(apps, None)
    left.refresh_from_db()
    assert (left.key, left.kind) == ("1796595245.8:0:timeout:0", "timeout")
