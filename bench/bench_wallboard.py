"""Event → wallboard tile latency: 500 AMI events/s through the event bridge to 50 wallboards of 20 companies.

What runs, each as in production (the approach and helpers of bench_push.py):

- the web: ``daphne pbx.asgi:application`` (SERVERS processes) with REDIS_URL set: the Redis channel layer and
  the Redis live state; the wallboards' consumer is the real ``wallboard.consumers.WallboardConsumer`` reached
  through a real signed-in session (an operator of each company), each wallboard receiving its snapshot first;
- the event bridge, in this process: a real ``NodeBridge`` (batches handed to a worker thread, the subscription
  table's parse, the call tracker, the Redis live state, the console publish, then ``WallboardFeed``), fed raw
  AMI events through ``on_event`` exactly as its AMI client feeds it;
- the events: ``QueueMemberStatus`` of the companies' agents (10 per company over its 2 queues) going busy
  and free, RATE per second for SECONDS, round-robin over the companies; each changes a tile. Their AMI
  ``Timestamp`` is the moment they were due.

Latency: from the moment an event was due (so a bridge falling behind counts) to the moment a wallboard's
websocket client has the decoded ``wallboard.tiles`` frame that includes it (the frame's ``at`` is the newest
event of its batch; every earlier event of the company not yet seen is in it). Each wallboard of the event's
company is one sample. Lost: events no frame ever covered (after a drain of DRAIN seconds).

Figures: ``wallboard_update_p50_ms``, ``wallboard_update_p99_ms`` (goal ≤ 200), ``wallboard_update_max_ms``,
``wallboard_lost``, ``wallboard_events_per_s`` (achieved), ``wallboard_frames`` (frames received in all), and the
shape (``wallboard_clients``, ``wallboard_tenants``). ``WB_TENANTS`` / ``WB_CLIENTS`` / ``WB_RATE`` /
``WB_SECONDS`` / ``WB_SERVERS`` change it; ``WB_DEBUG=1`` prints CPU seconds and the servers' logs.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import datetime as dt
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.bench_push import (
    DEFAULT_REDIS,
    cpu_seconds,
    free_port,
    hold_until_told,
    shared_database,
    signed_in_operator,
    wait_port,
)

ROOT = Path(__file__).resolve().parent.parent
TENANTS = int(os.environ.get("WB_TENANTS", "20"))
CLIENTS = int(os.environ.get("WB_CLIENTS", "50"))
RATE = float(os.environ.get("WB_RATE", "500"))
SECONDS = float(os.environ.get("WB_SECONDS", "10"))
SERVERS = int(os.environ.get("WB_SERVERS", "2"))
AGENTS = 5  # per queue; two queues per company
DRAIN = 3.0
TICK = 0.002


def make_world() -> tuple[list[dict], dict[int, list[tuple[str, int]]]]:
    """TENANTS companies with two queues each, CLIENTS operators between them (signed-in sessions)."""
    from pbx.models import Queue, Tenant

    tenants = [Tenant.objects.create(name=f"Wallboard {n} AB", slug=f"wb-{n}") for n in range(TENANTS)]
    queues: dict[int, list[tuple[str, int]]] = {}
    for tenant in tenants:
        for label in ("Support", "Sales"):
            queue = Queue.objects.create(tenant=tenant, name=label)
            queues.setdefault(tenant.pk, []).append((f"t{tenant.pk}-q{queue.pk}", queue.pk))
    boards = []
    for n in range(CLIENTS):
        tenant = tenants[n % TENANTS]
        _user, session = signed_in_operator(tenant, f"wb{n}@wallboard.example", n, TENANTS)
        boards.append({"tenant": tenant.pk, "session": session})
    return boards, queues


def forget(redis_url: str, tenant_ids: list[int]) -> None:
    """Drop what an earlier (interrupted) run left in Redis for these company ids (a fresh database numbers
    its companies from 1 again): group members that are gone, and live state."""
    import redis
    from django.conf import settings

    prefix = settings.CHANNEL_LAYERS["default"].get("CONFIG", {}).get("prefix", "asgi")
    client = redis.Redis.from_url(redis_url)
    keys = [f"{prefix}:group:{kind}-{t}" for t in tenant_ids for kind in ("wallboard", "tenant")]
    for t in tenant_ids:
        keys += client.keys(f"pbx:live:t{t}:*")
    if keys:
        client.delete(*keys)
    client.close()


# ------------------------------------------------------------------------------------------ the wallboards


async def client_main(spec_path: str) -> None:
    """One client process: its wallboards connect, say READY once all have their snapshot, then note every
    tiles frame (company, the frame's "at", when it arrived) until told to stop; one JSON line of results."""
    from websockets.asyncio.client import connect

    spec = json.loads(Path(spec_path).read_text())
    frames: list[list] = []  # [board index, tenant, at (epoch s), received (epoch s)]
    ready = asyncio.Semaphore(0)
    failed: list[str] = []

    async def board(i: int, c: dict) -> None:
        headers = {"Cookie": f"{spec['cookie_name']}={c['session']}", "Origin": c["origin"]}
        try:
            async with connect(c["url"], additional_headers=headers, max_size=2 ** 24, open_timeout=30,
                               ping_interval=None) as ws:
                first = json.loads(await ws.recv())
                if first.get("type") != "snapshot":
                    raise RuntimeError(f"first frame was {first.get('type')}")
                ready.release()
                async for raw in ws:
                    now = time.time()
                    frame = json.loads(raw)
                    if frame.get("type") == "wallboard.tiles" and frame.get("at"):
                        frames.append([i, c["tenant"], dt.datetime.fromisoformat(frame["at"]).timestamp(), now])
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            failed.append(repr(exc))
            ready.release()

    tasks = [asyncio.create_task(board(i, c)) for i, c in enumerate(spec["boards"])]

    await hold_until_told(tasks, ready, failed, "wallboards")
    print("RESULT " + json.dumps({"frames": frames, "boards": [c["tenant"] for c in spec["boards"]],
                                  "failed": failed}), flush=True)


# ------------------------------------------------------------------------------------------ the bridge


def member_event(queue: str, agent: int, busy: bool, due: float) -> dict:
    return {"Event": "QueueMemberStatus", "Privilege": "agent,all", "Queue": queue, "MemberName": f"Agent {agent}",
            "Interface": f"PJSIP/{queue}-a{agent}", "StateInterface": f"PJSIP/{queue}-a{agent}",
            "Membership": "static", "Penalty": "0", "CallsTaken": "0", "LastCall": "0", "LastPause": "0",
            "InCall": "1" if busy else "0", "Status": "2" if busy else "1", "Paused": "0", "PausedReason": "",
            "Ringinuse": "0", "Wrapuptime": "0", "Timestamp": f"{due:.6f}"}


async def drive_bridge(redis_url: str, queues: dict[int, list[tuple[str, int]]]) -> tuple[dict[int, list[float]],
                                                                                            float, dict]:
    """Run a NodeBridge and feed it RATE events/s; returns each company's due times and the rate achieved."""
    from pbx.asterisk.bridge.service import NodeBridge
    from pbx.asterisk.bridge.state import LiveState, RedisStore
    from pbx.asterisk.resolve import Resolver
    from wallboard.feed import WallboardFeed

    resolver = Resolver()
    for tenant_id, items in queues.items():
        for name, queue_id in items:
            resolver.alias_queue(name, tenant_id, queue_id)
    state = LiveState(RedisStore(redis_url))
    bridge = NodeBridge("bench", resolver=resolver, state=state, persist=None, followups=None, threaded=True,
                        astdb=lambda node, ami: None, wallboard=WallboardFeed(state))
    bridge.start()
    tenant_ids = sorted(queues)
    # Every agent logged in and free first (not measured): the tiles exist, today's figures are read.
    now = time.time()
    for tenant_id in tenant_ids:
        for name, _queue_id in queues[tenant_id]:
            for agent in range(AGENTS):
                bridge.on_event(member_event(name, agent, False, now))
    while bridge._queue.qsize():
        await asyncio.sleep(0.05)
    await asyncio.sleep(1.0)

    # Per company: alternate its queues; per queue, agents go busy one by one, then free one by one.
    steps = [0] * len(tenant_ids)
    dues: dict[int, list[float]] = {t: [] for t in tenant_ids}
    total = int(RATE * SECONDS)
    start = time.time() + 0.2
    seq = 0
    while seq < total:
        now = time.time()
        while seq < total and start + seq / RATE <= now:
            due = start + seq / RATE
            k = seq % len(tenant_ids)
            tenant_id = tenant_ids[k]
            step = steps[k]
            steps[k] += 1
            name = queues[tenant_id][step % 2][0]
            phase = (step // 2) % (2 * AGENTS)
            agent, busy = (phase, True) if phase < AGENTS else (phase - AGENTS, False)
            bridge.on_event(member_event(name, agent, busy, due))
            dues[tenant_id].append(due)
            seq += 1
        await asyncio.sleep(min(TICK, max(0.0, start + seq / RATE - time.time())))
    achieved = total / (time.time() - start)
    while bridge._queue.qsize():
        await asyncio.sleep(0.01)
    await asyncio.sleep(DRAIN)
    await bridge.stop()
    await state.store.close()
    return dues, achieved, {"handled": bridge.handled}


# ------------------------------------------------------------------------------------------ the run


def run() -> dict[str, float]:
    redis_url = os.environ.get("REDIS_URL") or DEFAULT_REDIS
    os.environ["REDIS_URL"] = redis_url
    os.environ.setdefault("PBX_EMBEDDED", "1")
    import redis

    redis.Redis.from_url(redis_url, socket_connect_timeout=2).ping()
    with shared_database() as db_url:
        return measure(db_url, redis_url)


def measure(db_url: str, redis_url: str) -> dict[str, float]:
    from asgiref.sync import async_to_sync
    from django.conf import settings

    procs: list[subprocess.Popen] = []
    tmp = Path(tempfile.mkdtemp(prefix="pbx-bench-wallboard-"))
    try:
        boards, queues = make_world()
        forget(redis_url, sorted(queues))
        env = {**os.environ, "DATABASE_URL": db_url, "REDIS_URL": redis_url, "DEBUG": "0", "PBX_EMBEDDED": "1",
               "DJANGO_SETTINGS_MODULE": "pbx.settings", "LOG_LEVEL": "WARNING"}
        env.pop("PUSH_CHANNEL_LAYERS", None)
        ports = [free_port() for _ in range(SERVERS)]
        for port in ports:
            log = (tmp / f"server-{port}.log").open("w")
            procs.append(subprocess.Popen(  # noqa: S603 - our own server
                [sys.executable, "-m", "bench.bench_push", "server", "-b", "127.0.0.1", "-p", str(port), "-v", "0",
                 "pbx.asgi:application"], cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=log, text=True))
        for port, proc in zip(ports, procs, strict=True):
            wait_port(port, proc)
        spec = tmp / "boards.json"
        spec.write_text(json.dumps({"cookie_name": settings.SESSION_COOKIE_NAME, "boards": [
            {**b, "url": f"ws://127.0.0.1:{ports[n % SERVERS]}/ws/wallboard/0/",
             "origin": f"http://127.0.0.1:{ports[n % SERVERS]}"} for n, b in enumerate(boards)]}))
        client = subprocess.Popen(  # noqa: S603
            [sys.executable, "-m", "bench.bench_wallboard", "client", str(spec)], cwd=ROOT, env=env,
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        procs.append(client)
        line = client.stdout.readline()
        if line.strip() != "READY":
            raise RuntimeError(f"client did not get ready: {line!r} {client.stderr.read()[-2000:]}")
        cpu_before = {proc.pid: cpu_seconds(proc.pid) for proc in procs}
        own_before = time.process_time()
        dues, achieved, info = async_to_sync(drive_bridge)(redis_url, queues)
        if os.environ.get("WB_DEBUG"):
            cpu = {"bridge": time.process_time() - own_before}
            for n, proc in enumerate(procs):
                role = "server" if n < SERVERS else "clients"
                cpu[role] = cpu.get(role, 0.0) + cpu_seconds(proc.pid) - cpu_before[proc.pid]
            print("CPU seconds:", {k: round(v, 1) for k, v in cpu.items()}, info, file=sys.stderr)
        out, err = client.communicate("stop\n", timeout=120)
        result_line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
        if result_line is None:
            raise RuntimeError(f"client gave no result: {err[-2000:]}")
        result = json.loads(result_line[len("RESULT "):])
        if result["failed"] or os.environ.get("WB_DEBUG"):
            print("failed:", result["failed"][:3], file=sys.stderr)
            for log_file in tmp.glob("server-*.log"):
                print(f"{log_file.name}:", *log_file.read_text().splitlines()[-40:], sep="\n  ", file=sys.stderr)
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.terminate()
        for proc in procs:
            with contextlib.suppress(Exception):
                proc.wait(timeout=10)
        shutil.rmtree(tmp, ignore_errors=True)

    latencies, lost = match(dues, result["frames"], result["boards"])
    ms = sorted(x * 1000 for x in latencies) or [float("nan")]

    def pct(p: float) -> float:
        return ms[min(len(ms) - 1, int(round(p / 100 * (len(ms) - 1))))]

    return {
        "wallboard_update_p50_ms": round(statistics.median(ms), 2),
        "wallboard_update_p99_ms": round(pct(99), 2),
        "wallboard_update_max_ms": round(ms[-1], 2),
        "wallboard_lost": lost,
        "wallboard_events_per_s": round(achieved, 1),
        "wallboard_frames": len(result["frames"]),
        "wallboard_clients": CLIENTS,
        "wallboard_tenants": TENANTS,
    }


def match(dues: dict[int, list[float]], frames: list[list], boards: list[int]) -> tuple[list[float], int]:
    """Each wallboard's frames, in arrival order, cover its company's events due up to the frame's ``at``:
    an event's latency is the arrival of the first frame that covers it."""
    latencies: list[float] = []
    lost = 0
    by_board: dict[int, list[tuple[float, float]]] = {}
    for board, _tenant, at, received in frames:
        by_board.setdefault(board, []).append((at, received))
    for board, tenant in enumerate(boards):
        times = dues.get(tenant, [])
        covered = 0
        for at, received in by_board.get(board, []):
            # "at" is the newest event's time cut to the millisecond (isoformat truncates): an event of that
            # millisecond is in the frame. (Half a millisecond here left each company's last event uncovered, as
            # "lost", whenever the run's start fell in the second half of a millisecond: all dues share it.)
            upto = bisect.bisect_left(times, at + 1e-3)
            for due in times[covered:upto]:
                latencies.append(received - due)
            covered = max(covered, upto)
        lost += len(times) - covered
        if covered < len(times) and os.environ.get("WB_DEBUG"):
            print(f"board {board} (company {tenant}): events {covered}..{len(times) - 1} of {len(times)} not covered",
                  file=sys.stderr)
    return latencies, lost


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "client":
        asyncio.run(client_main(sys.argv[2]))
    else:
        print(run())
