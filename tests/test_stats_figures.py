"""Each figure of stats/definitions.py from real event sequences, through the bridge's own path.

Real captures (tests/fixtures/asterisk and asterisk-real: a real Asterisk 22.10.1) are replayed through the
call tracker; ``persist_call`` writes the call and queue log and ``update_statistics`` the intervals, as the
bridge's delivery does. The fake Asterisk plays a queue's traffic over AMI and is asked, as app_queue would
be, for its own counters (QueueStatus: Completed, Abandoned, ServicelevelPerf).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import zoneinfo

import pytest
from django.core.management import call_command

from pbx.actions.callbacks import do_mark_callback_done, do_record_callback_request
from pbx.models import AsteriskNode, CallbackRequest
from stats import definitions as defs
from stats import periods, reports
from stats.models import AgentEvent, AgentInterval, AgentPauseInterval, QueueEvent, QueueInterval, VolumeInterval
from tests.bridge_fixtures import bridge_on_fake, capture_resolver, until
from tests.fake_asterisk.state import AsteriskState, Route
from tests.stats_fixtures import (  # noqa: F401 - autouse fixtures
    no_stray_callbacks,
    pushed,
    replay_into_db,
    store_calls,
)
from tests.test_call_log_truth import user_event

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


@pytest.fixture
def node(db):
    return AsteriskNode.default()


def local(*args) -> float:
    return dt.datetime(*args, tzinfo=STOCKHOLM).timestamp()


def queue_total(demo, first: dt.date, last: dt.date | None = None) -> defs.QueueFigures:
    span = periods.custom(first, last or first, STOCKHOLM)
    return reports.queue_report(demo.tenant.pk, span.start, span.end).get(demo.queues["Support"].pk,
                                                                         defs.QueueFigures())


def test_an_answered_queue_call_is_offered_answered_in_time_and_the_agents(demo, node):
    olle, support = demo.operator, demo.queues["Support"]
    replay_into_db("d_queue_call_answered_by_agent", demo, node, real=False)
    (row,) = QueueInterval.objects.filter(tenant=demo.tenant, queue=support)
    assert (row.offered, row.answered, row.answered_in_sl, row.abandoned) == (1, 1, 1, 0)
    assert row.talk_s == pytest.approx(3.0, abs=0.01)  # AgentComplete TalkTime 3
    (agent,) = AgentInterval.objects.filter(tenant=demo.tenant, agent=olle, queue=support)
    assert (agent.offered, agent.answered, agent.rang_no_answer) == (1, 1, 0)
    assert agent.wrapup_s == support.wrapup_seconds
    figures = defs.AgentFigures(answered=1, talk_s=agent.talk_s, wrapup_s=agent.wrapup_s)
    assert figures.aht_s == pytest.approx(3.0 + support.wrapup_seconds, abs=0.05)


@pytest.mark.parametrize(("threshold", "short", "missed"), [(5, 0, 1), (6, 1, 0)])
def test_an_abandon_within_the_short_abandon_threshold_is_not_missed(demo, node, threshold, short, missed):
    support = demo.queues["Support"]
    support.short_abandon_seconds = threshold  # the caller hung up after 5.003 s (HoldTime 5)
    support.save(update_fields=["short_abandon_seconds"])
    replay_into_db("e_queue_caller_abandon", demo, node, real=False)
    (row,) = QueueInterval.objects.filter(tenant=demo.tenant, queue=support)
    figures = defs.QueueFigures(**{k: getattr(row, k) for k in defs.QueueFigures.__slots__})
    assert (figures.offered, figures.abandoned, figures.short_abandoned, figures.missed) == (1, 1, short, missed)
    assert figures.service_level_pct == (None if short else 0.0)


def test_a_timeout_and_a_full_queue_are_missed_and_the_agent_rang_without_answer(demo, node):
    bob, support = demo.agents[0], demo.queues["Support"]
    replay_into_db("queue_timeout_and_full", demo, node)
    (row,) = QueueInterval.objects.filter(tenant=demo.tenant, queue=support)
    assert (row.offered, row.answered, row.abandoned, row.timeouts, row.overflows) == (1, 0, 0, 1, 1)
    assert row.wait_max_s == pytest.approx(10.0, abs=0.01)  # Support's maximum wait was 10 s
    (agent,) = AgentInterval.objects.filter(tenant=demo.tenant, agent=bob)
    assert (agent.offered, agent.answered, agent.rang_no_answer) == (1, 0, 1)
    figures = queue_total(demo, dt.date(2026, 12, 6))
    assert figures.missed == 2 and figures.unanswered == 1


def test_a_transferred_queue_call_counts_once_for_the_agent_who_took_it(demo, node):
    bob, eva, support = demo.agents[0], demo.users[0], demo.queues["Support"]
    replay_into_db("queue_agent_atxfer", demo, node)
    (row,) = QueueInterval.objects.filter(tenant=demo.tenant, queue=support)
    assert (row.offered, row.answered) == (1, 1)
    # AgentComplete comes at the caller's hang-up: the talk includes Eva's part after the transfer.
    assert row.talk_s == pytest.approx(13.46, abs=0.01)
    assert list(AgentInterval.objects.filter(tenant=demo.tenant, queue=support).values_list("agent", "answered")) == [
        (bob.pk, 1)]
    assert not AgentInterval.objects.filter(agent=eva).exists()
    # Volumes: the call counts for both people whose phones took part, once for the company.
    users = dict(VolumeInterval.objects.filter(tenant=demo.tenant, dimension="user").values_list("key", "calls"))
    assert users == {str(bob.pk): 1, str(eva.pk): 1}
    assert VolumeInterval.objects.get(tenant=demo.tenant, dimension="company").calls == 1


def test_no_agents_and_closed_are_diversions_not_offered_and_closed_is_not_missed(demo, node):
    replay_into_db("unreachable_forward_to_empty_queue", demo, node)
    replay_into_db("closed_queue_number", demo, node)
    figures = queue_total(demo, dt.date(2026, 12, 6))
    assert (figures.offered, figures.no_agents, figures.closed, figures.missed) == (0, 1, 1, 1)


def test_callbacks_requested_and_made_count_when_they_happen(demo, node, olle, django_capture_on_commit_callbacks):
    support = demo.queues["Support"]
    replay_into_db("queue_callback_keeps_place", demo, node)
    asked = dt.datetime(2026, 12, 6, 22, 14, 8, tzinfo=dt.UTC)
    callback = do_record_callback_request(None, tenant_id=demo.tenant.pk, kind=CallbackRequest.Kind.REQUEST,
                                          number="+46701234567", channel_id="1796595245.8", requested_at=asked,
                                          queue_id=support.pk)
    assert callback is None  # a menu request needs its destination: nothing is stored, nothing counted
    with django_capture_on_commit_callbacks(execute=True):
        callback = do_list_unserved(demo, support, asked)
    assert QueueInterval.objects.get(queue=support, start=defs.interval_start(asked)).callbacks_requested == 1
    with django_capture_on_commit_callbacks(execute=True):
        do_mark_callback_done(olle, callback)
    callback.refresh_from_db()
    row = QueueInterval.objects.get(queue=support, start=defs.interval_start(callback.done_at))
    assert row.callbacks_made == 1


def do_list_unserved(demo, support, asked):
    from pbx.actions.callbacks import do_list_unserved_callback

    return do_list_unserved_callback(None, tenant_id=demo.tenant.pk, queue_id=support.pk, number="+46701234567",
                                     channel_id="1796595246.9", at=asked)


def test_a_call_spanning_two_intervals_counts_once_where_it_entered_the_queue(demo, node):
    support = demo.queues["Support"]
    # Entered at 14:59:58 local; Bob answers 2 s later (15:00:00) and talks 13 s into the next interval.
    replay_into_db("queue_agent_atxfer", demo, node, at=local(2026, 11, 23, 14, 59, 58))
    rows = list(QueueInterval.objects.filter(queue=support).values_list("start", "offered", "answered"))
    assert rows == [(dt.datetime(2026, 11, 23, 13, 45, tzinfo=dt.UTC), 1, 1)]
    assert VolumeInterval.objects.get(dimension="company").start == dt.datetime(2026, 11, 23, 13, 45, tzinfo=dt.UTC)


def test_the_autumn_dst_night_keeps_both_half_past_twos_apart_in_a_day_of_100_intervals(demo, node):
    support = demo.queues["Support"]
    day = periods.period("day", dt.date(2026, 10, 25), STOCKHOLM)
    assert day.intervals == 100 and day.start == dt.datetime(2026, 10, 24, 22, 0, tzinfo=dt.UTC)
    first_half_past_two = dt.datetime(2026, 10, 25, 0, 30, tzinfo=dt.UTC).timestamp()   # 02:30 CEST
    second_half_past_two = dt.datetime(2026, 10, 25, 1, 30, tzinfo=dt.UTC).timestamp()  # 02:30 CET
    replay_into_db("e_queue_caller_abandon", demo, node, real=False, at=first_half_past_two)
    replay_into_db("d_queue_call_answered_by_agent", demo, node, real=False, at=second_half_past_two)
    starts = sorted(QueueInterval.objects.filter(queue=support).values_list("start", flat=True))
    assert [s.astimezone(STOCKHOLM).strftime("%H:%M %Z") for s in starts] == ["02:30 CEST", "02:30 CET"]
    figures = queue_total(demo, dt.date(2026, 10, 25))
    assert (figures.offered, figures.answered, figures.abandoned) == (2, 1, 1)
    assert queue_total(demo, dt.date(2026, 10, 24)).offered == 0
    by_hour = reports.volume_by(demo.tenant.pk, day, "hour")
    assert sum(v.calls for v in by_hour[2].values()) == 2  # both in the local hour 02


def test_the_spring_dst_day_has_92_intervals_and_midnight_is_local(demo, node):
    support = demo.queues["Support"]
    day = periods.period("day", dt.date(2026, 3, 29), STOCKHOLM)
    assert day.intervals == 92
    # 23:59:59 local on Saturday and 00:00:30 local on Sunday: two days, though the same UTC date.
    replay_into_db("d_queue_call_answered_by_agent", demo, node, real=False, at=local(2026, 3, 28, 23, 59, 59))
    replay_into_db("e_queue_caller_abandon", demo, node, real=False, at=local(2026, 3, 29, 0, 0, 30))
    assert queue_total(demo, dt.date(2026, 3, 28)).answered == 1
    sunday = queue_total(demo, dt.date(2026, 3, 29))
    assert (sunday.offered, sunday.abandoned) == (1, 1)
    assert support.pk in reports.queue_report(demo.tenant.pk, day.start, day.end)


def test_rebuilding_from_the_raw_rows_is_idempotent_and_equals_the_live_intervals(demo, node):
    for name in ("queue_timeout_and_full", "queue_agent_atxfer", "closed_queue_number"):
        replay_into_db(name, demo, node)
    replay_into_db("f_queue_member_actions", demo, node, real=False)

    def snapshot():
        return (sorted(QueueInterval.objects.values_list("queue", "start", "offered", "answered", "timeouts",
                                                         "overflows", "closed", "talk_s")),
                sorted(AgentInterval.objects.filter(queue__isnull=False).values_list("agent", "start", "answered",
                                                                                     "rang_no_answer")),
                sorted(VolumeInterval.objects.values_list("dimension", "key", "direction", "start", "calls")))

    live = snapshot()
    for _ in range(2):
        call_command("rebuild_stats", company=["demo"], first="2026-11-23", last="2026-12-06", stdout=None)
        assert snapshot() == live
    QueueInterval.objects.all().delete()
    call_command("rebuild_stats", company=[str(demo.tenant.pk)], first="2026-11-23", last="2026-12-06")
    assert snapshot() == live


def test_rebuilding_one_company_leaves_the_other_alone(demo, exempel, node):
    replay_into_db("queue_agent_atxfer", demo, node)
    QueueInterval.objects.create(tenant=exempel.tenant, queue=exempel.queues["Support"],
                                 start=dt.datetime(2026, 11, 23, 7, 15, tzinfo=dt.UTC), offered=7)
    call_command("rebuild_stats", company=["demo"], first="2026-11-23")
    assert QueueInterval.objects.get(tenant=exempel.tenant).offered == 7


def test_an_agents_log_in_pause_and_log_out_are_logged_in_and_paused_time_by_reason(demo, node):
    alice = demo.admin  # 1001 in the capture: logs in to sales, pauses for lunch, resumes, logs out
    replay_into_db("f_queue_member_actions", demo, node, real=False)
    kinds = list(AgentEvent.objects.filter(agent=alice).values_list("kind", "reason"))
    assert kinds == [("login", ""), ("pause", "lunch"), ("unpause", ""), ("logout", "")]
    events = list(AgentEvent.objects.filter(agent=alice).order_by("at"))
    logged = (events[-1].at - events[0].at).total_seconds()
    paused = (events[2].at - events[1].at).total_seconds()
    time_rows = AgentInterval.objects.filter(agent=alice, queue__isnull=True)
    assert sum(r.logged_in_s for r in time_rows) == pytest.approx(logged, abs=0.01)
    assert sum(r.paused_s for r in time_rows) == pytest.approx(paused, abs=0.01)
    assert list(AgentPauseInterval.objects.filter(agent=alice).values_list("reason", flat=True)) == ["lunch"]
    # Replaying the same events again (a resynchronisation lists them again) adds nothing.
    replay_into_db("f_queue_member_actions", demo, node, real=False)
    assert AgentEvent.objects.filter(agent=alice).count() == 4


def test_logged_in_time_is_split_across_the_intervals_it_covers():
    login = dt.datetime(2026, 10, 25, 0, 50, tzinfo=dt.UTC)
    events = [{"agent_id": 1, "queue_name": "q", "kind": "login", "reason": "", "at": login},
              {"agent_id": 1, "queue_name": "q", "kind": "pause", "reason": "lunch", "at": login + dt.timedelta(minutes=20)},
              {"agent_id": 1, "queue_name": "q", "kind": "logout", "reason": "", "at": login + dt.timedelta(minutes=40)}]
    slots = defs.agent_time(events, login - dt.timedelta(hours=1), login + dt.timedelta(hours=1))[1]
    assert {s.strftime("%H:%M"): (f.logged_in_s, f.paused_s) for s, f in slots.items()} == {
        "00:45": (600.0, 0.0), "01:00": (900.0, 300.0), "01:15": (900.0, 900.0)}


# ------------------------------------------------------------------------ agreement with app_queue's counters


DDI = "+46855500001"
SCALE = 0.05


def test_our_figures_agree_with_app_queues_completed_abandoned_and_service_level(demo, node):
    """Six callers into Support (service level 1 s) on the fake Asterisk, whose app_queue counters follow
    app_queue.c (record_abandoned, update_queue, recalc_holdtime): two answered at once, one answered after 2.3 s,
    one hangs up, one presses the callback key, one waits out the maximum wait (60 s, 3 s at this scale).
    Asterisk's QueueStatus and our intervals say the same; the caller who left for a callback is in neither of
    app_queue's counters, and in none of ours but offered and left-for-callback."""
    support = demo.queues["Support"]
    support.service_level_seconds = 1
    support.save(update_fields=["service_level_seconds"])
    tenant = demo.tenant.pk
    name = f"t{tenant}-q{support.pk}"
    st = AsteriskState.default()
    queue = st.add_queue(name)
    queue.servicelevel = support.service_level_seconds  # queues.conf's servicelevel (pbx/asterisk/confgen)
    st.add_member(queue, "PJSIP/1001", "1001", membership="static")
    st.endpoints["1001"].answer = "manual"
    st.routes.update({
        ("default", DDI): Route("queue", name, max_wait=60, next=("q", "out"), exit_context="qexit"),
        ("q", "out"): user_event("PbxQueueResult", ("bye", "s"), Tenant=tenant, Queue=support.pk,
                                 Result=lambda ch: "overflow" if ch.variables.get("QUEUESTATUS") == "FULL" else "timeout"),
        ("qexit", "1"): user_event("PbxCallback", ("bye", "s"), Tenant=tenant, Queue=support.pk, Number="+46701000005",
                                   Position=lambda ch: ch.variables.get("QUEUEPOSITION", "")),
        ("bye", "s"): Route("playback", "vm-goodbye", duration=1),
    })
    collected, asterisk, summary = [], {}, {}

    async def traffic(fake, client):
        def caller(n):
            return fake.place_call("sipp", DDI, context="default", caller_num=f"+4670100000{n}", caller_name="")

        async def answered(call, after=0.0):
            await asyncio.sleep(after)
            await until(lambda: call.ringing)
            fake.answer(call.ringing[0])
            await asyncio.sleep(0.2)
            fake.hangup(call.caller)

        await answered(caller(1))
        await answered(caller(2))
        await answered(caller(3), after=2.3)  # app_queue: 2 or 3 whole seconds; ours 2.3: both late
        gives_up = caller(4)
        await asyncio.sleep(0.3)
        fake.hangup(gives_up.caller)
        await asyncio.sleep(0.2)
        st.endpoints["1001"].answer = "noanswer"
        calls_back = caller(5)
        await asyncio.sleep(0.4)
        fake.queue_exit_key(calls_back, "1")
        await asyncio.sleep(0.2)
        caller(6)
        await asyncio.sleep(60 * SCALE + 0.8)
        (params, *_members) = await client.action({"Action": "QueueStatus", "Queue": name})
        asterisk.update(params)
        (totals, *_rest) = await client.action({"Action": "QueueSummary", "Queue": name})
        summary.update(totals)

    run_fake(demo, st, traffic, collected)
    store_calls(node.name, collected)

    today = dt.datetime.now(STOCKHOLM).date()
    ours = queue_total(demo, today - dt.timedelta(days=1), today)
    assert (ours.offered, ours.answered, ours.answered_in_sl, ours.abandoned, ours.timeouts,
            ours.left_for_callback) == (6, 3, 2, 1, 1, 1)
    assert int(asterisk["Completed"]) == ours.answered
    assert int(asterisk["Abandoned"]) == ours.unanswered  # app_queue counts a timeout as abandoned, not a callback
    assert ours.offered == ours.answered + ours.unanswered + ours.left_for_callback
    assert float(asterisk["ServicelevelPerf"]) == pytest.approx(100.0 * ours.answered_in_sl / ours.answered, abs=0.1)
    assert int(asterisk["ServiceLevel"]) == support.service_level_seconds
    # QueueSummary reads the same exponential averages as QueueStatus
    assert (summary["HoldTime"], summary["TalkTime"]) == (asterisk["Holdtime"], asterisk["TalkTime"])
    # The hang-up after 0.3 s is a short abandon (Support's 5 s): the timeout alone is missed, and the service
    # level's base is 6 offered − 1 short abandon − 1 left for a callback.
    assert (ours.short_abandoned, ours.missed) == (1, 1)
    assert ours.service_level_pct == pytest.approx(100.0 * 2 / 4, abs=0.1)


def test_a_caller_sent_on_to_sales_and_an_emptied_queue_agree_with_app_queue_on_the_fake(demo, node):
    """As on the real Asterisk (test_stats_app_queue_real): a caller answered in Support and redirected to Sales
    is completed in Support at the Redirect and answered again in Sales; a caller whose queue empties while they
    wait (the only agent's phone unregisters: leavewhenempty) is one of app_queue's abandoned and our timeout."""
    support, sales = demo.queues["Support"], demo.queues["Sales"]
    tenant = demo.tenant.pk
    names = {q: f"t{tenant}-q{q.pk}" for q in (support, sales)}
    st = AsteriskState.default()
    for queue, phone in ((support, "1001"), (sales, "1002")):
        st.add_member(st.add_queue(names[queue], servicelevel=queue.service_level_seconds), f"PJSIP/{phone}", phone,
                      membership="static")
        st.endpoints[phone].answer = "manual"
    st.routes.update({
        ("default", DDI): Route("queue", names[support], max_wait=60, next=("q", "out"), otherwise=("q", "noagents")),
        ("sales", "s"): Route("queue", names[sales], max_wait=60, next=("q", "out")),
        ("q", "out"): user_event("PbxQueueResult", ("bye", "s"), Tenant=tenant, Queue=support.pk, Result="timeout"),
        ("q", "noagents"): user_event("PbxQueueResult", ("bye", "s"), Tenant=tenant, Queue=support.pk,
                                      Result="noagents"),
        ("bye", "s"): Route("playback", "vm-goodbye", duration=1),
    })
    collected, asterisk = [], {}

    async def traffic(fake, client):
        sent_on = fake.place_call("sipp", DDI, context="default", caller_num="+46701000001", caller_name="")
        await until(lambda: sent_on.ringing)
        fake.answer(sent_on.ringing[0])
        await asyncio.sleep(0.3)
        fake.redirect(sent_on.caller, "sales", "s")
        in_sales = fake.calls[sent_on.caller.uniqueid]
        await until(lambda: in_sales.ringing)
        fake.answer(in_sales.ringing[0])
        await asyncio.sleep(0.3)
        fake.hangup(in_sales.caller)
        await asyncio.sleep(0.3)
        st.endpoints["1001"].answer = "noanswer"
        emptied = fake.place_call("sipp", DDI, context="default", caller_num="+46701000002", caller_name="")
        await until(lambda: emptied.ringing)
        st.endpoints["1001"].registered = False
        await until(lambda: emptied.caller.variables.get("QUEUESTATUS") == "LEAVEEMPTY")
        await asyncio.sleep(1.2)
        for queue in (support, sales):
            (params, *_rest) = await client.action({"Action": "QueueStatus", "Queue": names[queue]})
            asterisk[queue.name] = params

    run_fake(demo, st, traffic, collected)
    store_calls(node.name, collected)
    today = dt.datetime.now(STOCKHOLM).date()
    span = periods.custom(today - dt.timedelta(days=1), today, STOCKHOLM)
    ours = reports.queue_report(tenant, span.start, span.end)
    for queue in (support, sales):
        assert ours[queue.pk].answered == int(asterisk[queue.name]["Completed"])
        assert ours[queue.pk].unanswered == int(asterisk[queue.name]["Abandoned"])
    assert (ours[support.pk].offered, ours[support.pk].timeouts, ours[support.pk].no_agents) == (2, 1, 0)
    assert (ours[sales.pk].offered, ours[sales.pk].answered) == (1, 1)
    # The Support visit's talk ended at the Redirect, before the caller entered Sales.
    support_done = QueueEvent.objects.get(queue=support, kind="complete")
    assert support_done.at <= QueueEvent.objects.get(queue=sales, kind="enter").at


def run_fake(demo, state, act, collected):
    async def scenario():
        async with bridge_on_fake(state, capture_resolver(demo), time_scale=SCALE, persist=lambda record: None,
                                  statistics=lambda node, events: collected.extend(events)) as (fake, bridge):
            await act(fake, bridge.ami)

    asyncio.run(scenario())


def test_postgresqls_rebuild_and_the_python_definitions_give_the_same_intervals(demo, node):
    """stats/sql.py is stats/definitions.py in SQL (PostgreSQL groups a month itself): on every kind of real
    traffic the two rebuilds leave the same rows."""
    from django.db import connection

    from stats import aggregate

    if connection.vendor != "postgresql":
        pytest.skip("the SQL rebuild is PostgreSQL's")
    for name in ("queue_timeout_and_full", "queue_agent_atxfer", "closed_queue_number", "queue_positions_after_an_abandon",
                 "unreachable_forward_to_empty_queue", "queue_callback_keeps_place"):
        replay_into_db(name, demo, node)
    replay_into_db("d_queue_call_answered_by_agent", demo, node, real=False)
    replay_into_db("e_queue_caller_abandon", demo, node, real=False)
    support = demo.queues["Support"]
    from pbx.actions.callbacks import do_list_unserved_callback

    do_list_unserved_callback(None, tenant_id=demo.tenant.pk, queue_id=support.pk, number="+46701234567",
                              channel_id="x.1", at=dt.datetime(2026, 12, 6, 21, 30, tzinfo=dt.UTC))
    start, end = dt.datetime(2026, 11, 20, tzinfo=dt.UTC), dt.datetime(2026, 12, 8, tzinfo=dt.UTC)

    def snapshot():
        queue = sorted((r[0], r[1], *(round(x, 3) for x in r[2:])) for r in QueueInterval.objects.values_list(
            "queue", "start", *(f for f in defs.QueueFigures.__slots__)))
        agents = sorted((a, q, s, o, an, r, round(t, 3), w) for a, q, s, o, an, r, t, w in AgentInterval.objects.filter(
            queue__isnull=False).values_list("agent", "queue", "start", "offered", "answered", "rang_no_answer",
                                             "talk_s", "wrapup_s"))
        volume = sorted(VolumeInterval.objects.values_list("dimension", "key", "direction", "start", "calls",
                                                           "answered", "talk_s"))
        return queue, agents, volume

    aggregate.rebuild(demo.tenant.pk, start, end, engine="python")
    by_python = snapshot()
    assert by_python[0] and by_python[1] and by_python[2]
    aggregate.rebuild(demo.tenant.pk, start, end, engine="sql")
    assert snapshot() == by_python
