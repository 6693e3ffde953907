"""How long the operator console's snapshot takes for a big company: 500 people and 50 waiting calls.

The company is the demo company grown to 500 people (departments, titles, a status for every fifth person,
queue membership for every fourth, a desk phone's device and line state for everyone), with 50 callers
waiting in its queues and 20 calls in progress. The figure is what a console costs the server on every
(re)connect: ``portal.snapshot.console_snapshot`` (the live half from the live state, the directory half
from the database) plus encoding it as the JSON text frame that is sent.

Figures: ``console_snapshot_ms`` (median of 30, live state in memory, the embedded default), and
``console_snapshot_redis_ms`` (the same with the live state in Redis, as in production; only when a Redis
answers at REDIS_URL or redis://127.0.0.1:6379/13), ``console_snapshot_kib`` (the frame's size).
"""

from __future__ import annotations

import os
import statistics
import time

from bench import setup_django, throwaway_database

PEOPLE = 500
WAITING = 50
IN_PROGRESS = 20
REPEATS = 30


def grow(company) -> list:
    """Add people up to PEOPLE, with statuses and queue membership (bulk: the directory's shape, fast)."""
    from django.contrib.auth.hashers import make_password
    from django.utils import timezone

    from pbx.models import Department, PresenceStatus, QueueAgent, User, UserPresence

    tenant = company.tenant
    departments = [Department.objects.create(tenant=tenant, name=f"Avdelning {n}") for n in range(12)]
    have = User.objects.filter(tenant=tenant).count()
    unusable = make_password(None)
    users = [
        User(tenant=tenant, email=f"person{n}@bench.example", first_name=f"Förnamn{n}", last_name=f"Efternamn{n}",
             extension=str(2000 + n), title="Handläggare" if n % 3 else "", department=departments[n % 12],
             is_agent=n % 4 == 0, password=unusable)
        for n in range(PEOPLE - have)
    ]
    User.objects.bulk_create(users, batch_size=500)
    people = list(User.objects.filter(tenant=tenant))
    statuses = list(PresenceStatus.objects.filter(tenant=tenant))
    until = timezone.now() + timezone.timedelta(hours=2)
    UserPresence.objects.bulk_create([
        UserPresence(tenant=tenant, user=u, status=statuses[n % len(statuses)], message="Tillbaka snart",
                     until=until, set_at=timezone.now())
        for n, u in enumerate(people) if n % 5 == 0 and not UserPresence.objects.filter(user=u).exists()
    ])
    queues = list(company.queues.values())
    existing = set(QueueAgent.objects.filter(tenant=tenant).values_list("queue_id", "user_id"))
    QueueAgent.objects.bulk_create([
        QueueAgent(tenant=tenant, queue=queues[n % len(queues)], user=u, logged_in=n % 8 != 0, paused=n % 16 == 4)
        for n, u in enumerate(people) if n % 4 == 0 and (queues[n % len(queues)].pk, u.pk) not in existing
    ])
    return people


def live_events(company, people) -> list:
    from pbx.asterisk.bridge import domain as d

    tenant_id = company.tenant.pk
    queues = list(company.queues.values())
    start = time.time() - 300
    events: list = []
    for n, person in enumerate(people):
        state = "in_use" if n < IN_PROGRESS else "idle"
        events.append(d.LineStateChanged(tenant_id, start, person.pk, person.extension, state))
        events.append(d.DeviceStateChanged(tenant_id, start, person.pk, f"PJSIP/t{tenant_id}-dev{n}",
                                           "inuse" if n < IN_PROGRESS else "not_inuse"))
    for n in range(WAITING + IN_PROGRESS):
        call_id = f"{int(start)}.{n}"
        who = d.Party("external", f"+4670{n:07d}", f"Kund {n}")
        queue = queues[n % len(queues)]
        at = start + n
        parties = [{"channel": f"PJSIP/trunk-{n}", "role": "caller", "state": "up", "holding": False, **who.as_dict()}]
        if n >= WAITING:
            agent = people[n - WAITING]
            parties.append({"channel": f"PJSIP/t{tenant_id}-dev{n}", "role": "callee", "state": "up", "holding": False,
                            **d.Party("user", agent.extension, agent.get_full_name(), tenant_id, agent.pk).as_dict()})
        view = {"id": call_id, "state": "queued" if n < WAITING else "up", "direction": "in",
                "started_at": d.iso(at), "answered_at": None if n < WAITING else d.iso(at + 20),
                "caller": who.as_dict(), "dialled": "+46815500000", "parties": parties,
                "queue": {"id": queue.pk, "name": queue.name, "joined_at": d.iso(at)} if n < WAITING else None,
                "held": False, "recording": False, "transfers": 0}
        events.append(d.CallCreated(tenant_id, at, call_id, view))
        if n < WAITING:
            events.append(d.QueueCallerJoined(tenant_id, at, call_id, queue.pk, queue.name, n // len(queues) + 1, who))
    return events


async def measure(operator, state) -> tuple[float, int]:
    """Median time of snapshot + JSON frame, all repetitions in one event loop (as in a web process)."""
    from pbx.asterisk.bridge import state as live_module
    from portal.consumers import ConsoleConsumer
    from portal.snapshot import console_snapshot

    live_module._process_state = state
    size = 0
    times = []
    for _ in range(REPEATS + 3):
        started = time.perf_counter()
        snap = await console_snapshot(operator)
        frame = await ConsoleConsumer.encode_json(snap)
        times.append(time.perf_counter() - started)
        size = len(frame.encode())
        assert len(snap["people"]) == PEOPLE and len(snap["waiting"]) == WAITING, (len(snap["people"]), len(snap["waiting"]))
    return statistics.median(times[3:]) * 1000, size


def redis_url() -> str | None:
    url = os.environ.get("REDIS_URL") or "redis://127.0.0.1:6379/13"
    try:
        import redis

        redis.Redis.from_url(url, socket_connect_timeout=1).ping()
    except Exception:
        return None
    return url


def run() -> dict[str, float]:
    setup_django()
    from asgiref.sync import async_to_sync

    from pbx.asterisk.bridge.state import LiveState, MemoryStore, RedisStore
    from pbx.demo import build_company

    figures: dict[str, float] = {}
    with throwaway_database():
        company = build_company("Bench Console AB", "bench-console", 7)
        people = grow(company)
        events = live_events(company, people)

        async def in_memory():
            state = LiveState(MemoryStore())
            await state.apply(events, "bench")
            return await measure(company.operator, state)

        ms, size = async_to_sync(in_memory)()
        figures["console_snapshot_ms"] = round(ms, 2)
        figures["console_snapshot_kib"] = round(size / 1024, 1)

        url = redis_url()
        if url is not None:
            async def in_redis():
                store = RedisStore(url, prefix=f"bench-console-{os.getpid()}")
                try:
                    state = LiveState(store)
                    await state.apply(events, "bench")
                    return await measure(company.operator, state)
                finally:
                    keys = [k async for k in store.redis.scan_iter(f"{store.prefix}:*")]
                    if keys:
                        await store.redis.delete(*keys)
                    await store.close()

            ms, _size = async_to_sync(in_redis)()
            figures["console_snapshot_redis_ms"] = round(ms, 2)
    return figures


if __name__ == "__main__":
    print(run())
