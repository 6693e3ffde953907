"""Event → websocket-client latency: 2,000 events/s to 200 connected consoles over the Redis channel layer.

What runs, each as in production:

- the web: ``daphne pbx.asgi:application`` (SERVERS processes), the project's settings with REDIS_URL set, so
  the channel layer is ``channels_redis`` with its configured capacity; the consoles' consumer is the real
  ``portal.consumers.ConsoleConsumer``, reached through the session middleware;
- the consoles: CLIENTS websocket clients (in their own processes), each signed in as an operator of its
  company through a real session, each receiving its snapshot first, then events;
- the events: published the way the event bridge publishes them, ``pbx.asterisk.bridge.publish.publish`` of
  domain events (``CallUpdated`` with a whole call view) from a worker thread of an asyncio loop, paced at
  RATE events/s for SECONDS, round-robin over the companies; each event goes to its company's group only.

An event's latency is from the moment it was due (its slot in the schedule, so a publisher falling behind
counts too) to the moment a console's websocket client has the decoded frame; every console that should get
an event (every console of that company) is one sample. Lost: expected deliveries that never arrived
(counted after a drain of DRAIN seconds).

Shape: 200 consoles over 100 companies (2 consoles each, the common case of a switchboard) and 2,000 events/s
over the whole platform: 4,000 pushes/s, from 2 daphne processes. ``PUSH_TENANTS`` / ``PUSH_CLIENTS`` /
``PUSH_RATE`` / ``PUSH_SECONDS`` / ``PUSH_SERVERS`` / ``PUSH_CLIENT_PROCESSES`` change it (``PUSH_TENANTS=1``:
every console in one company, 400,000 pushes/s at 2,000/s).

Figures, with the channel layer the settings configure (``channels_redis.core.RedisChannelLayer``):
``push_p50_ms``, ``push_p99_ms``, ``push_lost`` (goal p99 ≤ 100 ms, 0 lost), ``push_max_ms``,
``push_events_per_s`` (what the publisher achieved), ``push_deliveries``. Then the same run with channels_redis'
pub/sub layer (``RedisPubSubChannelLayer``: one PUBLISH per group send, fan-out inside each web process), as
``push_pubsub_*``, for comparison (``PUSH_COMPARE=0`` skips it, ``PUSH_OWN=0`` runs only it). ``PUSH_DEBUG=1``
prints the CPU seconds of publisher, servers and clients and the servers' logs.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TENANTS = int(os.environ.get("PUSH_TENANTS", "100"))
CLIENTS = int(os.environ.get("PUSH_CLIENTS", "200"))
RATE = float(os.environ.get("PUSH_RATE", "2000"))
SECONDS = float(os.environ.get("PUSH_SECONDS", "10"))
SERVERS = int(os.environ.get("PUSH_SERVERS", "2"))
CLIENT_PROCESSES = int(os.environ.get("PUSH_CLIENT_PROCESSES", "2"))
DRAIN = 3.0
READY_TIMEOUT = 120.0
TICK = 0.005
DEFAULT_REDIS = "redis://127.0.0.1:6379/13"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
    except (OSError, IndexError, ValueError):
        return 0.0


def wait_port(port: int, proc: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server on {port} exited with {proc.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"server on {port} did not start")


# ------------------------------------------------------------------------------------------ the database


@contextlib.contextmanager
def shared_database():
    """A database the server processes can open too: a ``bench_`` PostgreSQL database beside the configured
    one, or a temporary SQLite file. Yields the DATABASE_URL for the children."""
    url = os.environ.get("DATABASE_URL", "")
    tmp = Path(tempfile.mkdtemp(prefix="pbx-bench-push-"))
    try:
        if not url or url.startswith("sqlite"):
            os.environ["DATABASE_URL"] = f"sqlite:///{tmp / 'push.sqlite3'}"
            from bench import setup_django

            setup_django()
            from django.core.management import call_command

            call_command("migrate", verbosity=0, interactive=False)
            yield os.environ["DATABASE_URL"]
            return
        from bench import setup_django, throwaway_database

        setup_django()
        from django.db import connection

        with throwaway_database(fast_hashing=True) as name:
            s = connection.settings_dict
            auth = s["USER"] + (f":{s['PASSWORD']}" if s.get("PASSWORD") else "")
            yield f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{name}"
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def signed_in_operator(tenant, email: str, n: int, companies: int):
    """An operator of ``tenant`` (the n-th client of ``companies`` companies) and a signed-in session's key."""
    from django.conf import settings
    from django.contrib.auth import BACKEND_SESSION_KEY, HASH_SESSION_KEY, SESSION_KEY
    from django.contrib.sessions.backends.db import SessionStore

    from pbx.models import User

    user = User.objects.create_user(email, None, tenant=tenant, is_operator=True,
                                    first_name="Op", last_name=str(n), extension=str(1000 + n // companies))
    session = SessionStore()
    session[SESSION_KEY] = str(user.pk)
    session[BACKEND_SESSION_KEY] = settings.AUTHENTICATION_BACKENDS[0]
    session[HASH_SESSION_KEY] = user.get_session_auth_hash()
    session.create()
    return user, session.session_key


def make_consoles(label: str) -> list[dict]:
    """TENANTS companies with CLIENTS operators between them, each with a signed-in session."""
    from pbx.models import Tenant

    tenants = [Tenant.objects.create(name=f"Push {label} {n} AB", slug=f"push-{label}-{n}") for n in range(TENANTS)]
    consoles = []
    for n in range(CLIENTS):
        tenant = tenants[n % TENANTS]
        user, session = signed_in_operator(tenant, f"op{n}.{label}@push.example", n, TENANTS)
        consoles.append({"tenant": tenant.pk, "user": user.pk, "session": session})
    return consoles


def forget_groups(redis_url: str, consoles: list[dict]) -> None:
    """Drop what an earlier (interrupted) run left in the layer for these groups: dead members cost sends."""
    import redis

    client = redis.Redis.from_url(redis_url)
    from django.conf import settings

    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "asgi")
    keys = {f"{prefix}:group:tenant-{c['tenant']}" for c in consoles}
    keys |= {f"{prefix}:group:user-{c['user']}" for c in consoles}
    client.delete(*keys)
    client.close()


# ------------------------------------------------------------------------------------------ the consoles


async def hold_until_told(tasks: list, ready: asyncio.Semaphore, failed: list[str], what: str) -> None:
    """A client process's middle: wait until each of its ``tasks`` released ``ready`` once (its snapshot came),
    say READY, keep them running until the parent writes a line on stdin, then cancel them."""
    async def all_ready():
        for _ in tasks:
            await ready.acquire()

    try:
        await asyncio.wait_for(all_ready(), READY_TIMEOUT)
    except TimeoutError:
        failed.append(f"not all {what} had their snapshot within {READY_TIMEOUT} s")
    print("READY", flush=True)
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.readline)
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)




async def client_main(spec_path: str) -> None:
    """One client process: its consoles connect, say READY once all have their snapshot, then count and time
    every event until told to stop on stdin; then print one JSON line of results."""
    from websockets.asyncio.client import connect

    spec = json.loads(Path(spec_path).read_text())
    latencies: list[float] = []
    seen: list[set[int]] = [set() for _ in spec["consoles"]]
    dupes = 0
    ready = asyncio.Semaphore(0)
    failed: list[str] = []

    async def console(i: int, c: dict) -> None:
        nonlocal dupes
        headers = {"Cookie": f"{spec['cookie_name']}={c['session']}", "Origin": c["origin"]}
        try:
            async with connect(c["url"], additional_headers=headers, max_size=2 ** 24, open_timeout=30,
                               ping_interval=None) as ws:
                first = json.loads(await ws.recv())
                if first.get("type") != "snapshot":
                    raise RuntimeError(f"first frame was {first.get('type')}")
                ready.release()
                mine = seen[i]
                async for raw in ws:
                    now = time.time()
                    bench = (json.loads(raw).get("call") or {}).get("bench")
                    if bench is None:
                        continue
                    if bench["seq"] in mine:
                        dupes += 1
                        continue
                    mine.add(bench["seq"])
                    latencies.append(now - bench["sent"])
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # reported, counted as lost
            failed.append(repr(exc))
            ready.release()

    tasks = []
    for i, c in enumerate(spec["consoles"]):
        tasks.append(asyncio.create_task(console(i, c)))
        if i % 20 == 19:
            await asyncio.sleep(0.05)  # do not stampede the handshakes

    await hold_until_told(tasks, ready, failed, "consoles")
    print("RESULT " + json.dumps({
        "latencies": latencies, "received": [len(s) for s in seen], "dupes": dupes, "failed": failed,
    }), flush=True)


# ------------------------------------------------------------------------------------------ the publisher


async def publish_schedule(tenant_ids: list[int]) -> tuple[list[int], float]:
    """Publish RATE events/s for SECONDS through the bridge's own publish(); returns events per company and
    the rate achieved."""
    from asgiref.sync import sync_to_async

    from pbx.asterisk.bridge import domain as d
    from pbx.asterisk.bridge.publish import publish

    total = int(RATE * SECONDS)
    per_tenant = [0] * len(tenant_ids)
    who = d.Party("external", "+46701234567", "Kund Ett").as_dict()

    def event(seq: int, due: float):
        tenant_id = tenant_ids[seq % len(tenant_ids)]
        per_tenant[seq % len(tenant_ids)] += 1
        call_id = f"{int(due)}.{seq}"
        view = {"id": call_id, "state": "up", "direction": "in", "started_at": d.iso(due - 30),
                "answered_at": d.iso(due - 10), "caller": who, "dialled": "+46815500000",
                "parties": [{"channel": f"PJSIP/trunk-{seq}", "role": "caller", "state": "up", "holding": False, **who},
                            {"channel": f"PJSIP/t{tenant_id}-abc-{seq}", "role": "callee", "state": "up",
                             "holding": False, "kind": "user", "number": "1001", "name": "Op", "user_id": None}],
                "queue": None, "held": seq % 7 == 0, "recording": False, "transfers": 0,
                "bench": {"seq": seq, "sent": due}}
        return d.CallUpdated(tenant_id, due, call_id, view)

    send = sync_to_async(publish, thread_sensitive=True)
    start = time.time() + 0.2
    seq = 0
    while seq < total:
        now = time.time()
        batch = []
        while seq < total and start + seq / RATE <= now:
            batch.append(event(seq, start + seq / RATE))
            seq += 1
        if batch:
            await send(batch)  # as the bridge: one hop to a worker thread per batch
        else:
            await asyncio.sleep(min(TICK, max(0.0, start + seq / RATE - time.time())))
    elapsed = time.time() - start
    return per_tenant, total / elapsed


# ------------------------------------------------------------------------------------------ the run


def server_main(argv: list[str]) -> None:
    """daphne (as in production), with the channel layer swapped first when the bench compares layers."""
    layers = os.environ.get("PUSH_CHANNEL_LAYERS")
    if layers:
        import django
        from django.conf import settings

        django.setup()
        settings.CHANNEL_LAYERS = json.loads(layers)
    from daphne.cli import CommandLineInterface

    CommandLineInterface().run(argv)


def run() -> dict[str, float]:
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    os.environ["REDIS_URL"] = redis_url  # before Django reads its settings: the Redis channel layer
    os.environ.setdefault("PBX_EMBEDDED", "1")
    import redis

    redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    with shared_database() as db_url:
        figures = measure(db_url, redis_url, "own", None) if os.environ.get("PUSH_OWN", "1") == "1" else {}
        if os.environ.get("PUSH_COMPARE", "1") == "1":
            # The same with channels_redis' pub/sub layer (one PUBLISH per group send, fan-out inside each web
            # process), for comparison: what the settings could choose.
            pubsub = {"default": {"BACKEND": "channels_redis.pubsub.RedisPubSubChannelLayer",
                                  "CONFIG": {"hosts": [redis_url]}}}
            for key, value in measure(db_url, redis_url, "pubsub", pubsub).items():
                if key not in ("push_clients", "push_tenants"):
                    figures["push_pubsub_" + key[len("push_"):]] = value
    return figures


def measure(db_url: str, redis_url: str, label: str, layers: dict | None) -> dict[str, float]:
    from asgiref.sync import async_to_sync
    from channels.layers import channel_layers
    from django.conf import settings

    own = settings.CHANNEL_LAYERS
    settings.CHANNEL_LAYERS = layers or own  # before the publisher's first use of the layer
    channel_layers.backends = {}
    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="pbx-push-clients-"))
    try:
        consoles = make_consoles(label)
        forget_groups(redis_url, consoles)
        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "DEBUG": "0", "PBX_EMBEDDED": "1",
               "DJANGO_SETTINGS_MODULE": "pbx.settings", "LOG_LEVEL": "WARNING"}
        env.pop("PUSH_CHANNEL_LAYERS", None)
        if layers is not None:
            env["PUSH_CHANNEL_LAYERS"] = json.dumps(layers)
        ports = [free_port() for _ in range(SERVERS)]
        for port in ports:
            log = (tmp / f"server-{port}.log").open("w")
            procs.append(subprocess.Popen(  # noqa: S603 - our own server
                [sys.executable, "-m", "bench.bench_push", "server", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                 "pbx.asgi:application"],
                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True))
        for port, proc in zip(ports, procs, strict=True):
            wait_port(port, proc)

        clients = []
        for k in range(CLIENT_PROCESSES):
            mine = [
                {**c, "url": f"ws://127.0.0.1:{ports[n % SERVERS]}/ws/console/",
                 "origin": f"http://127.0.0.1:{ports[n % SERVERS]}"}
                for n, c in enumerate(consoles) if n % CLIENT_PROCESSES == k
            ]
            spec = tmp / f"clients-{k}.json"
            spec.write_text(json.dumps({"consoles": mine, "cookie_name": settings.SESSION_COOKIE_NAME}))
            proc = subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "bench.bench_push", "client", str(spec)], cwd=ROOT, env=env,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
            procs.append(proc)
            clients.append((proc, [c["tenant"] for c in mine]))
        for proc, _ in clients:
            line = proc.stdout.readline()
            if line.strip() != "READY":
                raise RuntimeError(f"client did not get ready: {line!r} {proc.stderr.read()[-2000:]}")

        tenant_ids = sorted({c["tenant"] for c in consoles})
        cpu_before = {proc.pid: cpu_seconds(proc.pid) for proc in procs}
        own_before = time.process_time()
        per_tenant, achieved = async_to_sync(publish_schedule)(tenant_ids)
        time.sleep(DRAIN)
        cpu = {"publisher": time.process_time() - own_before}
        for n, proc in enumerate(procs):
            role = "server" if n < SERVERS else "clients"
            cpu[role] = cpu.get(role, 0.0) + cpu_seconds(proc.pid) - cpu_before[proc.pid]
        if os.environ.get("PUSH_DEBUG"):
            print(f"{label}: CPU seconds while publishing {SECONDS:.0f} s + draining {DRAIN:.0f} s:",
                  {k: round(v, 1) for k, v in cpu.items()}, file=sys.stderr)
        sent_to = dict(zip(tenant_ids, per_tenant, strict=True))

        latencies: list[float] = []
        lost = 0
        deliveries = 0
        failures: list[str] = []
        for proc, tenants in clients:
            out, err = proc.communicate("stop\n", timeout=120)
            line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
            if line is None:
                raise RuntimeError(f"client gave no result: {err[-2000:]}")
            result = json.loads(line[len("RESULT "):])
            latencies.extend(result["latencies"])
            failures.extend(result["failed"])
            for tenant, received in zip(tenants, result["received"], strict=True):
                lost += sent_to[tenant] - received
                deliveries += received
        if failures:
            print(f"{label}: {len(failures)} consoles failed:", failures[:3], file=sys.stderr)
        if failures or os.environ.get("PUSH_DEBUG"):
            for log_file in tmp.glob("server-*.log"):
                lines = [x for x in log_file.read_text().splitlines() if "over capacity" not in x]
                print(f"{log_file.name}:", *lines[-40:], sep="\n  ", file=sys.stderr)
        forget_groups(redis_url, consoles)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)
        settings.CHANNEL_LAYERS = own
        channel_layers.backends = {}

    latencies.sort()
    ms = [x * 1000 for x in latencies] or [float("nan")]

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]

    return {
        "push_p50_ms": round(statistics.median(ms), 2),
        "push_p99_ms": round(pct(99), 2),
        "push_max_ms": round(ms[-1], 2),
        "push_lost": lost,
        "push_events_per_s": round(achieved, 1),
        "push_deliveries": deliveries,
        "push_clients": CLIENTS,
        "push_tenants": TENANTS,
    }


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "client":
        asyncio.run(client_main(sys.argv[2]))
    elif len(sys.argv) > 1 and sys.argv[1] == "server":
        server_main(sys.argv[2:])
    else:
        print(run())
