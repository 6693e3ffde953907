"""The rebuild on PostgreSQL: ``stats.definitions`` written as SQL, so a month of a busy company is grouped
by the database instead of being read row by row into Python (about ten times the calls per second).

It says exactly what ``definitions.visits`` / ``QueueFigures.count`` / ``AgentFigures`` / ``VolumeFigures``
say (a visit: the rows of one node, caller channel, queue and visit number — the key's third field from the
end; it starts at its first enter or turned-away row; entered when it has an enter row; answered when it has a
connect or complete; else its last abandon / timeout / callback / turned-away row ends it; counted in the
15-minute interval of its start), and a test holds the two to the same intervals on the real captures
(tests/test_stats_figures.py). Everything here is parameters and fixed
table names: nothing typed by anyone reaches the text of a query.
"""

from __future__ import annotations

import datetime as dt

from django.db import connection

SLOT = "date_bin('15 minutes', {col}, timestamptz '2000-01-01 00:00:00+00')"

VISITS = f"""
WITH rows AS (
    SELECT * FROM stats_queueevent
    WHERE tenant_id = %(tenant)s AND at >= %(start)s AND at < %(until)s
), visits AS (
    SELECT node_id, uniqueid, queue_name, split_part(key, ':', -3) AS number,
        max(queue_id) AS queue_id,
        min(at) FILTER (WHERE kind IN ('enter', 'noagents', 'closed', 'overflow')) AS started,
        bool_or(kind = 'enter') AS entered,
        bool_or(kind IN ('connect', 'complete')) AS answered,
        (array_agg(kind ORDER BY at DESC, id DESC)
            FILTER (WHERE kind IN ('abandon', 'timeout', 'callback', 'noagents', 'closed', 'overflow')))[1] AS ended_by,
        coalesce(max(wait_s) FILTER (WHERE kind = 'complete'), max(wait_s) FILTER (WHERE kind = 'connect')) AS answer_wait,
        (array_agg(wait_s ORDER BY at DESC, id DESC)
            FILTER (WHERE kind IN ('abandon', 'timeout', 'callback', 'noagents', 'closed', 'overflow')))[1] AS end_wait,
        coalesce(max(talk_s) FILTER (WHERE kind = 'complete'), 0) AS talk,
        coalesce(max(agent_id) FILTER (WHERE kind = 'complete'), max(agent_id) FILTER (WHERE kind = 'connect')) AS agent_id
    FROM rows GROUP BY node_id, uniqueid, queue_name, split_part(key, ':', -3)
), v AS (
    SELECT visits.*, {SLOT.format(col="started")} AS slot,
        coalesce(CASE WHEN answered THEN answer_wait ELSE end_wait END, 0) AS wait
    FROM visits
    WHERE started >= %(start)s AND started < %(end)s AND queue_id IS NOT NULL
)
"""

QUEUE = VISITS + f"""
INSERT INTO stats_queueinterval (tenant_id, queue_id, start, offered, answered, answered_in_sl, abandoned,
    short_abandoned, timeouts, left_for_callback, overflows, no_agents, closed, wait_answered_s, wait_max_s, talk_s,
    callbacks_requested, callbacks_made)
SELECT %(tenant)s, x.queue_id, x.slot,
    count(*) FILTER (WHERE x.entered),
    count(*) FILTER (WHERE x.entered AND x.answered),
    count(*) FILTER (WHERE x.entered AND x.answered AND x.wait <= q.service_level_seconds),
    count(*) FILTER (WHERE x.entered AND NOT x.answered AND x.ended_by = 'abandon'),
    count(*) FILTER (WHERE x.entered AND NOT x.answered AND x.ended_by = 'abandon' AND x.wait <= q.short_abandon_seconds),
    count(*) FILTER (WHERE x.entered AND NOT x.answered AND x.ended_by IN ('timeout', 'noagents')),
    count(*) FILTER (WHERE x.entered AND NOT x.answered AND x.ended_by = 'callback'),
    count(*) FILTER (WHERE NOT x.entered AND NOT x.answered AND x.ended_by = 'overflow'),
    count(*) FILTER (WHERE NOT x.entered AND NOT x.answered AND x.ended_by = 'noagents'),
    count(*) FILTER (WHERE NOT x.entered AND NOT x.answered AND x.ended_by = 'closed'),
    coalesce(sum(x.wait) FILTER (WHERE x.entered AND x.answered), 0),
    coalesce(max(x.wait) FILTER (WHERE x.entered), 0),
    coalesce(sum(x.talk) FILTER (WHERE x.entered AND x.answered), 0),
    sum(x.requested), sum(x.made)
FROM (
    SELECT queue_id, slot, entered, answered, ended_by, wait, talk, 0 AS requested, 0 AS made FROM v
    WHERE entered OR ended_by IS NOT NULL
    UNION ALL
    SELECT queue_id, {SLOT.format(col="requested_at")}, false, false, NULL, 0, 0, 1, 0 FROM pbx_callbackrequest
    WHERE tenant_id = %(tenant)s AND queue_id IS NOT NULL AND requested_at >= %(start)s AND requested_at < %(end)s
    UNION ALL
    SELECT queue_id, {SLOT.format(col="done_at")}, false, false, NULL, 0, 0, 0, 1 FROM pbx_callbackrequest
    WHERE tenant_id = %(tenant)s AND queue_id IS NOT NULL AND done_at >= %(start)s AND done_at < %(end)s
) AS x JOIN pbx_queue q ON q.id = x.queue_id AND q.tenant_id = %(tenant)s
GROUP BY x.queue_id, x.slot
"""

AGENT_CALLS = VISITS + """
INSERT INTO stats_agentinterval (tenant_id, agent_id, queue_id, start, offered, answered, rang_no_answer, talk_s,
    wrapup_s, logged_in_s, paused_s)
SELECT %(tenant)s, x.agent_id, x.queue_id, x.slot, sum(x.offered), sum(x.answered), sum(x.rang),
    round(sum(x.talk)::numeric, 3)::float, sum(x.wrapup), 0, 0
FROM (
    SELECT v.agent_id, v.queue_id, v.slot, 1 AS offered, 1 AS answered, 0 AS rang, v.talk,
        q.wrapup_seconds AS wrapup
    FROM v JOIN pbx_queue q ON q.id = v.queue_id
    WHERE v.answered AND v.agent_id IS NOT NULL
    UNION ALL
    SELECT r.agent_id, v.queue_id, v.slot, 1, 0, 1, 0, 0
    FROM v JOIN rows r ON r.kind = 'ringnoanswer' AND r.node_id = v.node_id AND r.uniqueid = v.uniqueid
        AND r.queue_name = v.queue_name AND split_part(r.key, ':', -3) = v.number
    WHERE r.agent_id IS NOT NULL
) AS x
GROUP BY x.agent_id, x.queue_id, x.slot
"""

VOLUME = f"""
WITH c AS (
    SELECT id, {SLOT.format(col="started_at")} AS slot, direction, result, talk_s, dialled_number, queue_id
    FROM stats_calllog WHERE tenant_id = %(tenant)s AND started_at >= %(start)s AND started_at < %(end)s
)
INSERT INTO stats_volumeinterval (tenant_id, start, dimension, key, direction, calls, answered, talk_s)
SELECT %(tenant)s, slot, dimension, key, direction, count(*), count(*) FILTER (WHERE result = 'answered'),
    round(coalesce(sum(talk_s) FILTER (WHERE result = 'answered'), 0)::numeric, 3)::float
FROM (
    SELECT slot, 'company' AS dimension, '' AS key, direction, result, talk_s FROM c
    UNION ALL
    SELECT slot, 'number', left(dialled_number, 40), direction, result, talk_s FROM c
    WHERE direction = 'in' AND dialled_number <> ''
    UNION ALL
    SELECT slot, 'queue', queue_id::text, direction, result, talk_s FROM c WHERE queue_id IS NOT NULL
    UNION ALL
    SELECT c.slot, 'user', u.user_id::text, c.direction, c.result, c.talk_s
    FROM c JOIN stats_calllog_users u ON u.calllog_id = c.id
) AS x
GROUP BY slot, dimension, key, direction
"""


def _run(query: str, tenant_id: int, start: dt.datetime, end: dt.datetime, until: dt.datetime) -> None:
    with connection.cursor() as cursor:
        cursor.execute(query, {"tenant": tenant_id, "start": start, "end": end, "until": until})


def queue_intervals(tenant_id: int, start: dt.datetime, end: dt.datetime, until: dt.datetime) -> None:
    _run(QUEUE, tenant_id, start, end, until)


def agent_call_intervals(tenant_id: int, start: dt.datetime, end: dt.datetime, until: dt.datetime) -> None:
    _run(AGENT_CALLS, tenant_id, start, end, until)


def volume_intervals(tenant_id: int, start: dt.datetime, end: dt.datetime) -> int:
    _run(VOLUME, tenant_id, start, end, end)
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM stats_calllog WHERE tenant_id = %s AND started_at >= %s AND started_at < %s",
                       [tenant_id, start, end])
        return cursor.fetchone()[0]
