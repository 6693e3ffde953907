"""How fast the API lists a big company: 10,000 people and 1,000,000 calls in the call log (PostgreSQL).

The rows are made in the database itself (``generate_series``), the people by ``bulk_create``. The figure is
the whole request through Django (middleware, key authentication, throttle, company scoping, filters,
keyset pagination, JSON) with the Django test client, as a company admin's personal token: the first page and
the next pages (following ``next``) of ``/api/v1/people/`` and ``/api/v1/call-logs/`` (also filtered by
direction and a time window), 50 rows a page. Keyset pagination never counts the rows, so a million calls page
as fast as a hundred.

Figures: ``api_list_p95_ms`` (95th percentile over all those requests; the target is ≤ 50),
``api_people_p95_ms``, ``api_calls_p95_ms``, ``api_list_median_ms``.
"""

from __future__ import annotations

import statistics
import time

from bench import setup_django, throwaway_database

PEOPLE = 10_000
CALLS = 1_000_000
REPEATS = 20  # each of the request kinds below, this many times
PAGES = 5  # pages followed through ``next`` per list


def grow_people(company) -> None:
    from django.contrib.auth.hashers import make_password

    from pbx.models import Department, User

    tenant = company.tenant
    departments = [Department.objects.create(tenant=tenant, name=f"Avdelning {n}") for n in range(20)]
    unusable = make_password(None)
    have = User.objects.filter(tenant=tenant).count()
    User.objects.bulk_create([
        User(tenant=tenant, email=f"person{n}@bench-api.example", first_name=f"Förnamn{n % 700}",
             last_name=f"Efternamn{n}", extension=str(10000 + n), department=departments[n % 20], password=unusable)
        for n in range(PEOPLE - have)
    ], batch_size=2000)


def make_calls(company) -> None:
    from django.db import connection

    from pbx.models import AsteriskNode

    node = AsteriskNode.default()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO stats_calllog (tenant_id, node_id, linkedid, started_at, answered_at, ended_at, direction,
                from_number, from_name, to_number, dialled_number, wait_s, queue_result, talk_s, result, forwarded_to,
                forward_reason, voicemail_box, transfers, recorded, complete, created_at, updated_at)
            SELECT %s, %s, 'bench-' || n, now() - n * interval '30 seconds',
                   now() - n * interval '30 seconds' + interval '8 seconds',
                   now() - n * interval '30 seconds' + interval '90 seconds',
                   (ARRAY['in', 'out', 'internal'])[1 + n %% 3], '+4670' || lpad((n %% 9999999)::text, 7, '0'), '',
                   (10000 + n %% %s)::text, '+46812345678', 8, '', 82,
                   (ARRAY['answered', 'answered', 'answered', 'abandoned', 'no_answer'])[1 + n %% 5], '', '', '',
                   '[]'::jsonb, false, true, now(), now()
            FROM generate_series(1, %s) AS n
            """,
            [company.tenant.pk, node.pk, PEOPLE, CALLS],
        )
        cursor.execute("ANALYZE stats_calllog")
        cursor.execute("ANALYZE pbx_user")


def timed(client, url: str, times: list[float]) -> str | None:
    started = time.perf_counter()
    response = client.get(url)
    times.append(time.perf_counter() - started)
    assert response.status_code == 200, (url, response.status_code, response.content[:300])
    return response.json().get("next")


def measure(client) -> tuple[list[float], list[float]]:
    from datetime import timedelta

    from django.utils import timezone

    day_ago = (timezone.now() - timedelta(days=1)).isoformat().replace("+", "%2B")
    people: list[float] = []
    calls: list[float] = []
    lists = [
        ("/api/v1/people/?page_size=50", people),
        ("/api/v1/people/?page_size=50&ordering=extension", people),
        ("/api/v1/call-logs/?page_size=50", calls),
        ("/api/v1/call-logs/?page_size=50&direction=in", calls),
        (f"/api/v1/call-logs/?page_size=50&started_after={day_ago}", calls),
    ]
    for url, _times in lists:  # warm-up: connections, caches, plans
        timed(client, url, [])
    for _ in range(REPEATS):
        for url, times in lists:
            for _page in range(PAGES):
                url = timed(client, url, times)
                if not url:
                    break
                url = url.split("testserver", 1)[-1]
    return people, calls


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1] * 1000


def run() -> dict[str, float]:
    setup_django()
    from django.db import connection
    from django.test import Client
    from django.test.utils import override_settings

    from api.auth import do_create_api_key
    from pbx.demo import build_company

    if connection.vendor != "postgresql":
        raise SystemExit("bench_api needs PostgreSQL (DATABASE_URL=postgres://...)")
    with throwaway_database(), override_settings(ALLOWED_HOSTS=["testserver"], API_THROTTLE_RATE="1000000/min"):
        company = build_company("Bench API AB", "bench-api", 7)
        grow_people(company)
        started = time.perf_counter()
        make_calls(company)
        print(f"made {CALLS} calls in {time.perf_counter() - started:.1f} s")
        _key, secret = do_create_api_key(company.admin, company.admin, name="bench", kind="personal")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {secret}")
        people, calls = measure(client)
    return {
        "api_list_p95_ms": round(p95(people + calls), 2),
        "api_people_p95_ms": round(p95(people), 2),
        "api_calls_p95_ms": round(p95(calls), 2),
        "api_list_median_ms": round(statistics.median(people + calls) * 1000, 2),
    }
