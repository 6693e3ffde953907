"""Statistics at scale: a month's report, and rebuilding intervals from the raw rows.

One company (the demo company: two queues, three agents, seven people) with 2,000,000 calls over a year in
the call log, written by PostgreSQL itself (``generate_series``): 60 % of them queue calls (enter, then
connect + complete, or abandon) with their queue log rows, each call linked to a person. November 2026 is
rebuilt from those raw rows by ``stats.aggregate.rebuild`` (what ``manage.py rebuild_stats`` runs); the
other months' intervals are written directly, so the interval tables hold a whole year as they would.

Figures:

- ``stats_rebuild_calls_per_s``: calls of the month ÷ the seconds its rebuild took (queue, agent and volume
  intervals, from the call log, queue log and agent log);
- ``stats_month_report_ms``: median time of a month's queue report + agent report (``stats.reports``:
  every queue's and agent's figures for November), what /stats/ and a saved report read.
"""

from __future__ import annotations

import datetime as dt
import os
import statistics
import time

from bench import setup_django, throwaway_database

CALLS = int(os.environ.get("BENCH_STATS_CALLS", 2_000_000))  # fewer only to try the bench out
YEAR_START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
MONTH = (dt.date(2026, 11, 1), dt.date(2026, 11, 30))
REPEATS = 7


def generate(tenant_id: int, node_id: int, queues: list[int], agents: list[int]) -> None:
    from django.db import connection

    step = 365 * 86400 / CALLS  # seconds between calls
    q1, q2 = queues
    a = agents + agents[:1] * (3 - len(agents))
    with connection.cursor() as cur:
        cur.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cur.execute(f"""
            INSERT INTO stats_calllog (tenant_id, node_id, linkedid, started_at, answered_at, ended_at, direction,
                from_number, from_name, to_number, dialled_number, caller_id, answered_by_id, queue_id, wait_s,
                queue_result, talk_s, result, forwarded_from_id, forwarded_to, forward_reason, voicemail_box,
                hangup_cause, transfers, recorded, complete, created_at, updated_at)
            SELECT {tenant_id}, {node_id}, i || '.1', t, CASE WHEN i % 10 <> 5 THEN t + interval '12 seconds' END,
                t + interval '200 seconds', CASE WHEN i % 10 < 8 THEN 'in' WHEN i % 10 = 8 THEN 'out' ELSE 'internal' END,
                '+4670' || (1000000 + i % 500000), '', '100' || (i % 3), '+468555000' || (i % 4), NULL,
                CASE WHEN i % 10 <> 5 THEN (ARRAY[{a[0]},{a[1]},{a[2]}])[1 + i % 3] END,
                CASE WHEN i % 10 < 6 THEN (CASE WHEN i % 2 = 0 THEN {q1} ELSE {q2} END) END,
                12 + i % 40, CASE WHEN i % 10 < 5 THEN 'answered' WHEN i % 10 = 5 THEN 'abandoned' ELSE '' END,
                CASE WHEN i % 10 <> 5 THEN 188 ELSE 0 END, CASE WHEN i % 10 = 5 THEN 'abandoned' ELSE 'answered' END,
                NULL, '', '', '', 16, '[]', false, true, now(), now()
            FROM (SELECT i, timestamptz '{YEAR_START.isoformat()}' + i * interval '{step} seconds' AS t
                  FROM generate_series(0, {CALLS - 1}) AS i) AS s""")  # noqa: S608 (numbers only)
        cur.execute(f"""
            INSERT INTO stats_calllog_users (calllog_id, user_id)
            SELECT id, (ARRAY[{a[0]},{a[1]},{a[2]}])[1 + id % 3] FROM stats_calllog WHERE tenant_id = {tenant_id}""")  # noqa: S608
        # The queue log of the queue calls: enter, connect + complete (answered) or abandon.
        cur.execute(f"""
            INSERT INTO stats_queueevent (tenant_id, node_id, key, call_id, linkedid, uniqueid, queue_id, queue_name,
                kind, at, position, wait_s, talk_s, agent_id, agent_interface)
            SELECT c.tenant_id, c.node_id, c.linkedid || ':t1-q' || c.queue_id || ':0:' || k.kind || ':0', c.id,
                c.linkedid, c.linkedid,
                c.queue_id, 't1-q' || c.queue_id, k.kind, c.started_at + k.after, CASE WHEN k.kind = 'enter' THEN 1 END,
                CASE WHEN k.kind = 'enter' THEN NULL ELSE c.wait_s END,
                CASE WHEN k.kind = 'complete' THEN c.talk_s END,
                CASE WHEN k.kind IN ('connect', 'complete') THEN c.answered_by_id END, ''
            FROM stats_calllog c
            JOIN (VALUES ('enter', interval '0 s'), ('connect', interval '12 s'), ('complete', interval '200 s'),
                         ('abandon', interval '12 s')) AS k(kind, after)
              ON k.kind = 'enter' OR (c.queue_result = 'answered' AND k.kind IN ('connect', 'complete'))
                 OR (c.queue_result = 'abandoned' AND k.kind = 'abandon')
            WHERE c.tenant_id = {tenant_id} AND c.queue_id IS NOT NULL""")  # noqa: S608
        # Agents log in at 08:00 and out at 17:00 every day, with a lunch pause.
        cur.execute(f"""
            INSERT INTO stats_agentevent (tenant_id, node_id, agent_id, queue_id, queue_name, kind, reason, at)
            SELECT {tenant_id}, {node_id}, a, {q1}, 't1-q{q1}', e.kind, e.reason, d + e.at
            FROM generate_series(timestamptz '{YEAR_START.isoformat()}', timestamptz '2026-12-31', interval '1 day') AS d,
                 unnest(ARRAY[{a[0]},{a[1]},{a[2]}]) AS a,
                 (VALUES ('login', '', interval '7 hours'), ('pause', 'lunch', interval '10 hours'),
                         ('unpause', '', interval '11 hours'), ('logout', '', interval '16 hours')) AS e(kind, reason, at)""")  # noqa: S608
        cur.execute("ANALYZE")


def other_months(tenant_id: int, queues: list[int], agents: list[int], month_start, month_end) -> None:
    """Every interval of the year outside the rebuilt month, as the live updates would have left them."""
    from django.db import connection

    with connection.cursor() as cur:
        slots = f"""(SELECT s FROM generate_series(timestamptz '{YEAR_START.isoformat()}', timestamptz '2026-12-31 23:45+00',
                     interval '15 minutes') AS s WHERE s < '{month_start.isoformat()}' OR s >= '{month_end.isoformat()}') AS slot"""  # noqa: S608
        cur.execute(f"""
            INSERT INTO stats_queueinterval (tenant_id, queue_id, start, offered, answered, answered_in_sl, abandoned,
                short_abandoned, timeouts, left_for_callback, overflows, no_agents, closed, wait_answered_s, wait_max_s,
                talk_s, callbacks_requested, callbacks_made)
            SELECT {tenant_id}, q, slot.s, 14, 12, 10, 2, 1, 0, 0, 0, 0, 0, 300, 50, 2200, 0, 0
            FROM {slots}, unnest(ARRAY{queues}) AS q""")  # noqa: S608
        cur.execute(f"""
            INSERT INTO stats_agentinterval (tenant_id, agent_id, queue_id, start, offered, answered, rang_no_answer,
                talk_s, wrapup_s, logged_in_s, paused_s)
            SELECT {tenant_id}, a, q, slot.s, 5, 4, 1, 750, 40, 0, 0
            FROM {slots}, unnest(ARRAY{agents}) AS a, unnest(ARRAY{queues}) AS q""")  # noqa: S608
        cur.execute(f"""
            INSERT INTO stats_agentinterval (tenant_id, agent_id, queue_id, start, offered, answered, rang_no_answer,
                talk_s, wrapup_s, logged_in_s, paused_s)
            SELECT {tenant_id}, a, NULL, slot.s, 0, 0, 0, 0, 0, 900, 0 FROM {slots}, unnest(ARRAY{agents}) AS a""")  # noqa: S608
        cur.execute("ANALYZE")


def run() -> dict[str, float]:
    setup_django()
    from django.db import connection

    from pbx.demo import build_company
    from pbx.models import AsteriskNode
    from stats import aggregate, periods, reports
    from stats.models import CallLog

    with throwaway_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench_stats needs PostgreSQL (DATABASE_URL)")
        company = build_company("Bench AB", "bench", 1)
        node = AsteriskNode.default()
        queues = sorted(q.pk for q in company.queues.values())
        agents = [u.pk for u in company.agents]
        started = time.perf_counter()
        generate(company.tenant.pk, node.pk, queues, agents)
        print(f"generated {CALLS} calls in {time.perf_counter() - started:.1f} s")
        zone = periods.zone_of(company.tenant)
        month = periods.custom(*MONTH, zone)
        other_months(company.tenant.pk, queues, agents, month.start, month.end)
        in_month = CallLog.objects.filter(tenant=company.tenant, started_at__gte=month.start,
                                          started_at__lt=month.end).count()

        started = time.perf_counter()
        aggregate.rebuild(company.tenant.pk, month.start, month.end)
        rebuild_s = time.perf_counter() - started
        print(f"rebuilt {in_month} calls of {MONTH[0]:%B} in {rebuild_s:.2f} s")

        times = []
        for _ in range(REPEATS):
            started = time.perf_counter()
            by_queue = reports.queue_report(company.tenant.pk, month.start, month.end)
            by_agent = reports.agent_report(company.tenant.pk, month.start, month.end)
            times.append(time.perf_counter() - started)
        total = reports.queue_total(by_queue)
        assert total.offered == CallLog.objects.filter(tenant=company.tenant, started_at__gte=month.start,
                                                       started_at__lt=month.end, queue__isnull=False).count()
        assert len(by_agent) == len(agents)
    return {"stats_month_report_ms": round(statistics.median(times) * 1000, 2),
            "stats_rebuild_calls_per_s": round(in_month / rebuild_s)}


if __name__ == "__main__":
    print(run())
