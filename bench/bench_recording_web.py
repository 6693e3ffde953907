"""The recording web's list for a company with 1,000,000 recordings, and post-processing speed.

(The capture side's figures, licences under a burst, are bench_recording's.)

``recording_list_p95_ms`` (goal ≤ 100): the whole ``/recordings/list/`` request (session, role scoping,
filter form, query, template) through Django's test client, for a super user of a company holding ROWS
recordings over the last 92 days on PostgreSQL, 12 departments, a flag on one in ten. The requests cycle
through the typical filters: a month + a department + a flag, a month + a department, a month + a flag,
today (the default), a week for one extension, and a "My Console" user's month; the first page (50 rows),
newest first. The rows go in with COPY (``RECORDING_ROWS`` changes the count). Also ``recording_list_p50_ms``,
``recording_list_query_p95_ms`` (the same filters without HTTP and template: scoping, form, first page's query)
and ``recording_rows`` (what the company held).

``recording_postprocess_x_realtime`` (goal ≥ 50 per core): seconds of audio processed per CPU second (this
process and its ffmpeg children) for a three-minute stereo 8 kHz wav, two sides talking in turns over line
noise, into the stored form: Opus file, waveform peaks and talk analysis (:func:`recording.audio.process`).
Median of 3. ``recording_postprocess_wall_x_realtime`` is the same by wall clock.
"""

from __future__ import annotations

import datetime
import io
import os
import random
import resource
import statistics
import tempfile
import time
from pathlib import Path

from bench import setup_django, throwaway_database

ROWS = int(os.environ.get("RECORDING_ROWS", "1000000"))
DAYS = 92
DEPARTMENTS = 12
REQUESTS = 120
CALL_SECONDS = 180


def _copy_rows(tenant, node, users, departments, now) -> None:
    from django.db import connection

    from recording.models import Recording

    columns = ["tenant_id", "node_id", "linkedid", "uniqueid", "key", "raw_person_path", "raw_other_path",
               "stored_path", "started_at", "ended_at", "duration_s", "paused", "user_id", "extension",
               "other_number", "other_name", "dialled_number", "direction", "department_id", "reason", "status",
               "error", "created_at", "updated_at", "stored_size", "attempts", "peaks", "tag", "flag", "notes",
               "score", "longest_silence_s", "other_share"]
    rng = random.Random(7)
    flags = ["green", "blue", "red"]
    directions = ["in", "in", "out", "internal"]
    span = DAYS * 86400
    table = Recording._meta.db_table
    with connection.cursor() as cursor:
        raw = cursor.connection  # psycopg 3
        with raw.cursor() as pg, pg.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
            buffer = io.StringIO()
            for n in range(ROWS):
                user = users[n % len(users)]
                started = now - datetime.timedelta(seconds=rng.random() * span)
                duration = rng.randint(10, 900)
                flag = flags[n % 3] if n % 10 == 0 else ""
                buffer.write("\t".join((
                    str(tenant.pk), str(node.pk), f"L{n}", f"U{n}", f"bench-{n}", "", "", f"t{tenant.pk}/x/{n}.opus",
                    started.isoformat(), (started + datetime.timedelta(seconds=duration)).isoformat(), str(duration),
                    "[]", str(user.pk), user.extension, f"+4670{rng.randint(1000000, 9999999)}", "", "+4681234500",
                    directions[n % 4], str(departments[(n // len(users)) % len(departments)].pk), "queue", "stored",
                    "", now.isoformat(), now.isoformat(), "40000", "1", "{}", "offert" if n % 50 == 0 else "", flag,
                    "", r"\N", str(rng.randint(0, 30)), str(rng.randint(0, 100)),
                )) + "\n")
                if n % 20000 == 19999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        cursor.execute(f"ANALYZE {table}")


def list_figures() -> dict[str, float]:
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from pbx.demo import build_company
    from pbx.models import AsteriskNode, Department, User

    with throwaway_database():
        if connection.vendor != "postgresql":
            raise SystemExit("bench_recording needs PostgreSQL (DATABASE_URL)")
        company = build_company("Bench Inspelning AB", "bench-rec", 9)
        tenant = company.tenant
        node = AsteriskNode.objects.filter(is_default=True).first() or AsteriskNode.default()
        departments = [Department.objects.create(tenant=tenant, name=f"Avdelning {n}") for n in range(DEPARTMENTS)]
        users = list(User.objects.filter(tenant=tenant).exclude(extension=""))
        admin, agent = company.admin, company.agents[0]
        User.objects.filter(pk=admin.pk).update(recording_role=User.RecordingRole.SUPER)
        User.objects.filter(pk=agent.pk).update(recording_role=User.RecordingRole.OWN)
        now = timezone.now()
        started = time.perf_counter()
        _copy_rows(tenant, node, users, departments, now)
        print(f"copied {ROWS} rows in {time.perf_counter() - started:.1f} s", flush=True)

        # Not setup_test_environment(): its template instrumentation copies every context and would be measured.
        super_client, own_client = Client(HTTP_HOST="localhost"), Client(HTTP_HOST="localhost")
        from portal.models import EmailCodeFactor

        for person in (admin, agent):  # the recording web always wants a second factor (portal.mfa)
            EmailCodeFactor.objects.get_or_create(user=person)
        super_client.force_login(User.objects.get(pk=admin.pk))
        own_client.force_login(User.objects.get(pk=agent.pk))
        department = departments[3].pk
        queries = [
            (super_client, {"period": "last_month", "department": department, "flag": "red"}),
            (super_client, {"period": "month", "department": department}),
            (super_client, {"period": "30d", "flag": "blue"}),
            (super_client, {}),
            (super_client, {"period": "week", "extension": agent.extension}),
            (own_client, {"period": "30d"}),
        ]
        for client, query in queries:  # warm: sessions, templates, plans
            assert client.get("/recordings/list/", query).status_code == 200
        times = []
        for i in range(REQUESTS):
            client, query = queries[i % len(queries)]
            start = time.perf_counter()
            response = client.get("/recordings/list/", query)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200 and (b"data-recording=" in response.content or not query), query
        # The same filters as the database sees them: role scoping, filter form, first page with its people.
        from recording.forms import RecordingFilterForm
        from recording.selectors import recordings_visible_to

        people = {admin.pk: User.objects.get(pk=admin.pk), agent.pk: User.objects.get(pk=agent.pk)}
        query_times = []
        with timezone.override(tenant.time_zone):
            for i in range(REQUESTS):
                client, query = queries[i % len(queries)]
                person = people[admin.pk if client is super_client else agent.pk]
                start = time.perf_counter()
                form = RecordingFilterForm(query, user=person)
                rows, meaning = form.apply(recordings_visible_to(person))
                list(rows.select_related("user")[: meaning["limit"] + 1])
                query_times.append((time.perf_counter() - start) * 1000)
        explain = os.environ.get("RECORDING_EXPLAIN")  # a file: each query's plan, to see which index it took
        if explain:
            with open(explain, "w") as out, timezone.override(tenant.time_zone):
                for client, query in queries:
                    person = people[admin.pk if client is super_client else agent.pk]
                    form = RecordingFilterForm(query, user=person)
                    rows, meaning = form.apply(recordings_visible_to(person))
                    plan = rows.select_related("user")[: meaning["limit"] + 1].explain(analyze=True)
                    out.write(f"{query}\n{plan}\n\n")
        times.sort()
        query_times.sort()
        return {
            "recording_list_p95_ms": round(times[int(len(times) * 0.95) - 1], 2),
            "recording_list_p50_ms": round(statistics.median(times), 2),
            "recording_list_query_p95_ms": round(query_times[int(len(query_times) * 0.95) - 1], 2),
            "recording_rows": ROWS,
        }


def _call(seconds: int):
    import numpy as np

    from tests.recording_fixtures import voice

    rate = 8000
    rng = np.random.default_rng(3)
    samples = rng.normal(0, 40, (rate * seconds, 2)).astype(np.int16)  # line noise under everything
    position, side = 0, 0
    while position < rate * seconds:
        turn = int(rate * rng.uniform(2, 8))
        end = min(position + turn, rate * seconds)
        samples[position:end, side] += voice((end - position) / rate, 140 if side == 0 else 220)[: end - position]
        position = end + int(rate * rng.uniform(0.2, 1.5))
        side = 1 - side
    return samples


def postprocess_figures() -> dict[str, float]:
    from recording import audio
    from tests.recording_fixtures import write_wav

    with tempfile.TemporaryDirectory(prefix="pbx-bench-rec-") as work:
        source = write_wav(Path(work) / "call.wav", _call(CALL_SECONDS))
        cpu, wall = [], []
        for i in range(3):
            before = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            processed = audio.process([source], Path(work) / f"out{i}.opus")
            wall.append(time.perf_counter() - start)
            after = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu.append(sum(a.ru_utime + a.ru_stime - b.ru_utime - b.ru_stime for a, b in zip(after, before, strict=True)))
            assert processed.duration_ms == CALL_SECONDS * 1000 and processed.talk.agent_s > 10
        return {
            "recording_postprocess_x_realtime": round(CALL_SECONDS / statistics.median(cpu), 1),
            "recording_postprocess_wall_x_realtime": round(CALL_SECONDS / statistics.median(wall), 1),
        }


def run() -> dict[str, float]:
    setup_django()
    figures = postprocess_figures()
    figures.update(list_figures())
    return figures
