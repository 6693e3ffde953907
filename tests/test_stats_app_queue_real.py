"""Our queue figures against Asterisk's own app_queue, on the same real traffic.

``queue_stats_vs_app_queue`` (tests/fixtures/asterisk-real, README "Statistics against app_queue") is a real
Asterisk 22.10.1 with this project's configuration taking eleven callers into Support and Sales: answered in
time and late, a short and a long abandon, a timeout, a caller who leaves with the callback key (and the Local
channel that keeps their place, answered by Bob), one sent from Support to Sales by an AMI Redirect, one to Sales
with nobody logged in, one whose queue emptied while waiting (LEAVEEMPTY). The bridge's AMI connection was
recorded, and at the end Asterisk's own counters were asked (QueueStatus, QueueSummary).

Here the capture goes through the bridge's real path (call tracker → ``persist_call`` → ``update_statistics``),
the intervals are rebuilt from the raw rows by the Python definitions and by the SQL rebuild, and each of
app_queue's counters is compared with ours — equal where both count the same thing, and where the definitions
differ the test states the exact relation (docs/statistics.md, "Against Asterisk's app_queue").
"""

from __future__ import annotations

import datetime as dt

import pytest
from django.db import connection

from pbx.models import AsteriskNode
from stats import aggregate, periods, reports
from stats import definitions as defs
from stats.models import CallLog, QueueEvent, QueueInterval
from tests.bridge_fixtures import events_of
from tests.stats_fixtures import no_stray_callbacks, pushed, replay_into_db  # noqa: F401 - autouse fixtures
from tests.test_stats_figures import STOCKHOLM

CAPTURE = "queue_stats_vs_app_queue"


def asked(action_event: str, queue: str) -> dict:
    """What Asterisk answered the driver's QueueStatus / QueueSummary at the end of the capture."""
    kind = "queuestatus" if action_event == "QueueParams" else "queuesummary"
    (found,) = [e for _at, e in events_of(CAPTURE) if e.get("Event") == action_event
                and e.get("ActionID") == f"statsq-{kind}-{queue}"]
    return found


@pytest.fixture
def replayed(demo):
    """Support and Sales with the thresholds the capture's queues.conf had (servicelevel 10 s = the queue's
    service-level threshold; short abandon 5 s), then the capture through the bridge's path."""
    for queue in demo.queues.values():
        queue.service_level_seconds = int(asked("QueueParams", f"t1-q{1 if queue.name == 'Support' else 2}")[
            "ServiceLevel"])
        queue.short_abandon_seconds = 5
        queue.save(update_fields=["service_level_seconds", "short_abandon_seconds"])
    replay_into_db(CAPTURE, demo, AsteriskNode.default())
    return demo


def figures_of(demo, queue) -> defs.QueueFigures:
    first = dt.datetime.fromtimestamp(events_of(CAPTURE)[0][0], tz=STOCKHOLM).date()
    span = periods.period("day", first, STOCKHOLM)
    return reports.queue_report(demo.tenant.pk, span.start, span.end).get(queue.pk, defs.QueueFigures())


ENGINES = ["python", pytest.param("sql", marks=pytest.mark.skipif(
    connection.vendor != "postgresql", reason="the SQL rebuild is PostgreSQL's"))]


@pytest.mark.parametrize("engine", ENGINES)
def test_supports_answered_abandoned_and_service_level_equal_app_queues(replayed, engine):
    demo = replayed
    support = demo.queues["Support"]
    aggregate.rebuild(demo.tenant.pk, dt.datetime(2026, 12, 6, tzinfo=dt.UTC), dt.datetime(2026, 12, 9, tzinfo=dt.UTC),
                      engine=engine)
    asterisk = asked("QueueParams", "t1-q1")
    ours = figures_of(demo, support)
    # Completed: the calls an agent took from the queue (the Local channel keeping the callback's place included).
    assert ours.answered == int(asterisk["Completed"])
    # Abandoned: record_abandoned runs for a hang-up, Queue()'s maximum wait and LEAVEEMPTY; we call the first two
    # abandoned and timeouts (the emptied queue a timeout too), and the callback key (EXITWITHKEY) is neither.
    assert ours.abandoned + ours.timeouts == ours.unanswered == int(asterisk["Abandoned"])
    assert ours.offered == int(asterisk["Completed"]) + int(asterisk["Abandoned"]) + ours.left_for_callback
    # ServicelevelPerf: answered within the queue's threshold ÷ answered.
    assert 100.0 * ours.answered_in_sl / ours.answered == pytest.approx(float(asterisk["ServicelevelPerf"]), abs=0.05)
    # Ours takes the share of every call that counted: offered − short abandons − left for a callback.
    assert ours.service_level_pct == pytest.approx(
        100.0 * ours.answered_in_sl / (ours.offered - ours.short_abandoned - ours.left_for_callback), abs=0.05)
    assert (ours.short_abandoned, ours.left_for_callback, ours.callbacks_requested) == (1, 1, 0)


def test_servicelevelperf2_counts_abandons_within_the_threshold_as_in_time(replayed):
    """ServicelevelPerf2 = (answered in time + abandoned within the threshold) ÷ (answered + abandoned): the same
    visits, read from our queue log (waits as the bridge measured them, none within a second of 10 s)."""
    demo = replayed
    support = demo.queues["Support"]
    asterisk = asked("QueueParams", "t1-q1")
    visits = [v for v in defs.visits(QueueEvent.objects.filter(queue=support).values(*defs.QUEUE_ROW_FIELDS))
              if v.entered]
    unanswered = [v for v in visits if v.outcome in (defs.ABANDONED, defs.TIMEOUT, defs.NO_AGENTS)]
    assert all(abs(v.wait_s - support.service_level_seconds) > 1 for v in visits)
    quick = sum(1 for v in unanswered if v.wait_s <= support.service_level_seconds)
    ours = figures_of(demo, support)
    assert 100.0 * (ours.answered_in_sl + quick) / (ours.answered + len(unanswered)) == pytest.approx(
        float(asterisk["ServicelevelPerf2"]), abs=0.05)


def test_app_queues_average_hold_and_talk_times_follow_from_our_queue_log(replayed):
    """Holdtime and TalkTime are app_queue's exponential averages ((3 × old + new) >> 2, the first taken as it is)
    of whole seconds, updated at each connect and each completion; from our rows, in the same order, they come out
    within a second (app_queue subtracts its own clock's whole seconds). The redirected caller's Support talk ends at
    the Redirect, where app_queue ended it too (its AgentComplete, at the hang-up, said 21 s)."""
    demo = replayed
    support = demo.queues["Support"]
    asterisk, summary = asked("QueueParams", "t1-q1"), asked("QueueSummary", "t1-q1")
    rows = list(QueueEvent.objects.filter(queue=support).order_by("at", "id"))
    ended = {"complete", "abandon", "timeout", "noagents"}
    hold = talk = None
    done = 0
    for row in rows:
        if row.kind == "connect":
            hold = round(row.wait_s) if done == 0 or hold is None else (3 * hold + round(row.wait_s)) >> 2
        if row.kind == "complete":
            talk = round(row.talk_s) if talk is None else (3 * talk + round(row.talk_s)) >> 2
        done += row.kind in ended
    assert abs(hold - int(asterisk["Holdtime"])) <= 1 and abs(talk - int(asterisk["TalkTime"])) <= 1
    assert (summary["HoldTime"], summary["TalkTime"]) == (asterisk["Holdtime"], asterisk["TalkTime"])
    redirected = CallLog.objects.get(from_number="+46701000009")
    support_talk, sales_talk = (redirected.queue_events.get(kind="complete", queue=q).talk_s
                                for q in (support, demo.queues["Sales"]))
    assert support_talk + sales_talk <= redirected.talk_s + 1  # no second counted twice


def test_the_caller_sent_on_to_sales_is_a_visit_in_each_and_sales_agrees_with_app_queue(replayed):
    demo = replayed
    support, sales = demo.queues["Support"], demo.queues["Sales"]
    call = CallLog.objects.get(from_number="+46701000009")
    keys = sorted(call.queue_events.filter(kind="enter").values_list("key", flat=True))
    uniqueid = call.queue_events.first().uniqueid
    assert keys == [f"{uniqueid}:t1-q1:0:enter:0", f"{uniqueid}:t1-q2:0:enter:0"]
    asterisk = asked("QueueParams", "t1-q2")
    ours = figures_of(demo, sales)
    assert (ours.answered, ours.unanswered) == (int(asterisk["Completed"]), int(asterisk["Abandoned"]))
    assert float(asterisk["ServicelevelPerf"]) == pytest.approx(100.0 * ours.answered_in_sl / ours.answered, abs=0.05)
    # The caller to Sales while nobody was logged in never reached Queue(): app_queue has no trace of it.
    assert (ours.offered, ours.no_agents, ours.missed) == (1, 1, 1)
    assert figures_of(demo, support).offered == 11


def test_the_callback_caller_and_the_emptied_queue_end_as_their_own_outcomes(replayed):
    outcomes = dict(CallLog.objects.filter(from_number__in=("+46701000007", "+46701000008", "+46701000011"))
                    .values_list("from_number", "queue_result"))
    assert outcomes == {"+46701000007": "timeout", "+46701000008": "callback", "+46701000011": "noagents"}
    emptied = CallLog.objects.get(from_number="+46701000011")
    assert list(emptied.queue_events.values_list("kind", flat=True)) == ["enter", "ringnoanswer", "ringnoanswer",
                                                                         "noagents"]


def test_both_rebuilds_leave_the_same_intervals_on_the_real_traffic(replayed):
    if connection.vendor != "postgresql":
        pytest.skip("the SQL rebuild is PostgreSQL's")
    demo = replayed
    start, end = dt.datetime(2026, 12, 6, tzinfo=dt.UTC), dt.datetime(2026, 12, 9, tzinfo=dt.UTC)

    def snapshot():
        return sorted((r[0], r[1], *(round(x, 3) for x in r[2:])) for r in QueueInterval.objects.values_list(
            "queue", "start", *defs.QueueFigures.__slots__))

    aggregate.rebuild(demo.tenant.pk, start, end, engine="python")
    by_python = snapshot()
    aggregate.rebuild(demo.tenant.pk, start, end, engine="sql")
    assert snapshot() == by_python and by_python
