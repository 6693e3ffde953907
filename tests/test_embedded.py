"""The embedded first look (``make run`` → ``manage.py run_embedded --simulate``): the web, the event bridge
and a fake Asterisk with Demo AB's traffic in one process and one event loop."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from asgiref.sync import sync_to_async
from django.conf import settings as django_settings

from pbx.management.commands.run_embedded import Embedded, free_port
from pbx.models import AsteriskNode

ROOT = Path(__file__).resolve().parent.parent
NODE_SETTINGS = ("ASTERISK_AMI_HOST", "ASTERISK_AMI_PORT", "ASTERISK_ARI_URL")


@pytest.fixture
def node_restored(django_db_blocker):
    """run_embedded points the default node (and this process's ASTERISK_* settings) at its fake: put both
    back (the node is committed by the embedded run's own threads, outside the test's transaction)."""
    saved = {name: getattr(django_settings, name) for name in NODE_SETTINGS}
    with django_db_blocker.unblock():
        before = list(AsteriskNode.objects.filter(is_default=True).values())
    yield
    for name, value in saved.items():
        setattr(django_settings, name, value)
    with django_db_blocker.unblock():
        # The simulated callers' calls, queue log and statistics were committed by the embedded run: gone, so
        # later tests (the statistics' figures) count only their own.
        from stats import models as stats_models

        for name in ("QueueInterval", "AgentInterval", "AgentPauseInterval", "VolumeInterval", "AgentEvent",
                     "QueueEvent", "CallLog"):
            model = getattr(stats_models, name, None)
            if model is not None:
                model.objects.all().delete()
        if before:
            AsteriskNode.objects.filter(pk=before[0]["id"]).update(**{k: v for k, v in before[0].items() if k != "id"})
        else:
            AsteriskNode.objects.filter(is_default=True).delete()


@pytest.fixture
def fresh_process_state():
    """A fresh in-memory layer and live state; no configuration apply left pending by earlier tests (in
    immediate mode the end of the first page's request would run it)."""
    from channels.layers import channel_layers

    from pbx.asterisk.bridge import state as live
    from pbx.tasks import pending

    channel_layers.backends.clear()
    live._process_state = None
    pending().clear()
    yield
    pending().clear()
    live._process_state = None
    channel_layers.backends.clear()


async def until(condition, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not await condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


async def test_one_loop_serves_the_pages_and_the_simulated_callers_reach_the_live_state(
        node_restored, fresh_process_state, demo, exempel):
    # node_restored first: it reads the node outside the test's transaction (with SQLite, a read inside it
    # would lock the table the embedded run's threads write the node to)
    from django.db import connections

    from pbx.asterisk.bridge.state import live_state

    port = free_port()
    embedded = Embedded("127.0.0.1", port, simulate=True, seed=7, log_level="warning",
                        traffic={"arrival": (0.2, 0.4), "presence_changes": False},
                        bridge_options={"persist": None})  # no call log rows in the test database
    started = time.monotonic()
    await embedded.start()
    try:
        async with httpx.AsyncClient(trust_env=False) as client:
            page = await client.get(f"http://127.0.0.1:{port}/accounts/login/")
        first_page = time.monotonic() - started
        assert page.status_code == 200 and 'name="password"' in page.text
        assert first_page < 10

        tenant = demo.tenant.pk
        snapshot = {}

        async def callers_waiting() -> bool:
            snapshot.update(await live_state().snapshot(tenant))
            return len(snapshot["waiting"]) >= 2

        await until(callers_waiting, timeout=20)
        queues = {f"t{tenant}-q{q.pk}" for q in demo.queues.values()}
        assert {w["queue"] for w in snapshot["waiting"]} <= queues
        assert all(w["caller"]["number"].startswith("+46") for w in snapshot["waiting"])
        assert len(snapshot["calls"]) <= 6  # the simulation keeps it to a console's worth
        assert {a["queue"] for q in snapshot["queues"] for a in q["agents"]} <= queues  # its agents are logged in
        other = await live_state().snapshot(exempel.tenant.pk)
        assert other["calls"] == [] and other["waiting"] == []  # Exempel AB's phones exist, quietly
        (_node, node_bridge), = embedded.bridge.nodes
        assert node_bridge.ari.connected  # the simulated PBX's ARI too: holds play music there as well
    finally:
        await embedded.stop()
        await sync_to_async(connections.close_all)()


def test_make_runs_command_serves_within_seconds_and_stops_on_ctrl_c(node_restored, demo):
    """``manage.py run_embedded --simulate`` as ``make run`` starts it (against this test database)."""
    db = django_settings.DATABASES["default"]
    url = f"postgres://{db['USER']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    if db["ENGINE"] != "django.db.backends.postgresql":
        pytest.skip("the command runs in another process: it needs a database server")
    port = free_port()
    env = {**os.environ, "DATABASE_URL": url, "REDIS_URL": "", "PBX_EMBEDDED": "1", "DEBUG": "1",
           "DJANGO_SETTINGS_MODULE": "pbx.settings", "PYTHONUNBUFFERED": "1"}
    if db.get("PASSWORD"):
        env["PGPASSWORD"] = db["PASSWORD"]
    started = time.monotonic()
    process = subprocess.Popen([sys.executable, "manage.py", "run_embedded", "--simulate", f"127.0.0.1:{port}"],
                               cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        first_page = None
        while time.monotonic() - started < 30 and process.poll() is None:
            try:
                if httpx.get(f"http://127.0.0.1:{port}/accounts/login/", timeout=1, trust_env=False).status_code == 200:
                    first_page = time.monotonic() - started
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        assert first_page is not None, process.communicate(timeout=5)[0] if process.poll() is not None else ""
        assert first_page < 20
        time.sleep(1.0)
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=20)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    assert process.returncode == 0, output
    assert "Serving http://" in output and "Traceback" not in output
