"""``manage.py run_embedded [--simulate]``: the whole product in one process, for a first look.

With the in-memory channel layer (no REDIS_URL) the web and the event bridge must share one process, and
one event loop: the bridge publishes to the browsers' groups, and the web's call control reaches the bridge
(pbx/asterisk/control.py), both through that in-memory layer. So this runs, in one asyncio loop:

- the ASGI application (``pbx.asgi.application``: pages and the console's websocket) served by uvicorn;
- the event bridge (``Bridge``) of the default Asterisk node, writing the process's live state
  (``live_state()``, which the console's snapshot reads) and taking call control commands;
- with ``--simulate``: the protocol-level fake Asterisk of tests/fake_asterisk with Demo AB's phones, queues
  and agents and simulated traffic (tests/fake_asterisk/demo_traffic.py), so the console is alive with no
  Asterisk. The default node is pointed at the fake for this process (its AMI/ARI address is saved to the
  node, which ``AsteriskNode.default()`` puts back from ASTERISK_* on the next run against a real one).

Without ``--simulate`` the bridge connects to the node ASTERISK_AMI_* describe (a real Asterisk).
Ctrl+C stops everything.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

log = logging.getLogger(__name__)


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as probe:
        probe.bind((host, 0))
        return probe.getsockname()[1]


class Embedded:
    """The pieces of the embedded run, started and stopped in one event loop (the tests drive it too)."""

    def __init__(self, host: str = "127.0.0.1", port: int = 8000, *, simulate: bool = False,
                 ami_port: int = 0, ari_port: int = 0, company: str = "demo", seed: int | None = None,
                 traffic: dict | None = None, bridge_options: dict | None = None, log_level: str = "info"):
        self.host, self.port = host, port
        self.simulate = simulate
        self.ami_port, self.ari_port = ami_port, ari_port
        self.company = company
        self.seed = seed
        self.traffic_options = {"presence_changes": True, **(traffic or {})}
        self.stop_requested = False  # Ctrl+C before the web server took over the signals
        self.bridge_options = bridge_options or {}
        self.log_level = log_level
        self.fake = None
        self.bridge = None
        self.server = None
        self._tasks: list[asyncio.Task] = []

    async def start(self) -> None:
        """Fake (if simulating), bridge, then the web server (returns once it listens)."""
        from pbx.asterisk.bridge.service import Bridge
        from pbx.asterisk.bridge.state import live_state

        world = None
        if self.simulate:
            world = await self._start_fake()
        node = await sync_to_async(_default_node)()
        self.bridge = Bridge([node], state=live_state(), **self.bridge_options)
        await self.bridge.start()
        if world is not None:
            from tests.fake_asterisk import demo_traffic

            self._tasks.append(asyncio.get_running_loop().create_task(
                demo_traffic.run(self.fake, world=world, installed=True, seed=self.seed, **self.traffic_options),
                name="demo-traffic"))
        await self._start_web()

    async def _start_fake(self):
        try:
            from tests.fake_asterisk import FakeAsterisk, demo_traffic
        except ImportError as exc:  # an image built without the tests/ directory
            raise CommandError(f"--simulate needs the fake Asterisk of tests/fake_asterisk ({exc})") from exc

        node = await sync_to_async(_default_node)()
        self.fake = FakeAsterisk(ami_username=node.ami_username, ami_secret=node.ami_secret,
                                 ari_username=node.ari_username, ari_password=node.ari_password)
        await self.fake.start(ami_port=self.ami_port, ari_port=self.ari_port)
        # Every connection of this process (the bridge's, the AstDB writer's) reads the node: point it here.
        settings.ASTERISK_AMI_HOST, settings.ASTERISK_AMI_PORT = "127.0.0.1", self.fake.ami.port
        settings.ASTERISK_ARI_URL = f"http://127.0.0.1:{self.fake.ari.port}/ari"
        await sync_to_async(_default_node)()
        try:
            worlds = await sync_to_async(demo_traffic.load_worlds)(self.company)
        except Exception:  # no demo company (seed_demo not run): an idle PBX
            log.warning("no company %r to simulate; the fake Asterisk stays idle", self.company)
            return None
        # Before the bridge connects, so its first resynchronisation already sees the companies.
        demo_traffic.install(self.fake, *worlds)
        return worlds[0]

    async def _start_web(self) -> None:
        import uvicorn

        from pbx.asgi import application

        config = uvicorn.Config(application, host=self.host, port=self.port, lifespan="off",
                                log_level=self.log_level, ws="websockets-sansio")
        self.server = uvicorn.Server(config)
        task = asyncio.get_running_loop().create_task(self.server.serve(), name="web")
        self._tasks.append(task)
        while not self.server.started:
            if task.done():
                self._tasks.remove(task)
                with contextlib.suppress(SystemExit):  # uvicorn exits with STARTUP_FAILURE (it logged why)
                    task.result()
                raise CommandError(f"could not serve on {self.host}:{self.port} (is the port taken?)")
            await asyncio.sleep(0.02)
        if self.stop_requested:
            self.server.should_exit = True

    async def wait(self) -> None:
        """Until the web server stops (Ctrl+C: uvicorn catches the signal and shuts down gracefully)."""
        if self.server is not None:
            web = next(t for t in self._tasks if t.get_name() == "web")
            with contextlib.suppress(asyncio.CancelledError):
                await web

    async def stop(self) -> None:
        if self.server is not None:
            self.server.should_exit = True
        for task in reversed(self._tasks):
            if task.get_name() != "web":
                task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await asyncio.wait_for(task, 10)
        self._tasks = []
        if self.bridge is not None:
            await self.bridge.stop()
        if self.fake is not None:
            await self.fake.stop()
        from pbx.asterisk import astdb_sync

        close = getattr(astdb_sync, "close_writer", None)  # the AstDB writer's own AMI connection, if it opened
        if close is not None:
            await sync_to_async(close, thread_sensitive=False)()


def _default_node():
    from pbx.models import AsteriskNode

    return AsteriskNode.default()


class Command(BaseCommand):
    help = ("Serve the web, run the event bridge (and with --simulate a fake Asterisk with Demo AB's traffic) in "
            "one process: the embedded first look.")

    def add_arguments(self, parser):
        parser.add_argument("addrport", nargs="?", default="127.0.0.1:8000", help="host:port to serve on")
        parser.add_argument("--simulate", action="store_true",
                            help="run the fake Asterisk with simulated traffic for Demo AB instead of a real node")
        parser.add_argument("--ami-port", type=int, default=0, help="the fake's AMI port (default: a free one)")
        parser.add_argument("--ari-port", type=int, default=0, help="the fake's ARI port (default: a free one)")
        parser.add_argument("--company", default="demo", help="short name of the company to simulate")
        parser.add_argument("--seed", type=int, default=None, help="random seed of the simulated traffic")

    def handle(self, *args, **options):
        host, _, port = options["addrport"].rpartition(":")
        embedded = Embedded(host or "127.0.0.1", int(port), simulate=options["simulate"],
                            ami_port=options["ami_port"], ari_port=options["ari_port"], company=options["company"],
                            seed=options["seed"], log_level="warning" if options["verbosity"] < 2 else "info")
        # While it serves, uvicorn handles SIGINT/SIGTERM (graceful shutdown) and raises the signal again once
        # it is done; this handler takes that one (and any before the server listens), so the rest is stopped
        # in order instead of by a KeyboardInterrupt.
        def stop(*_):
            embedded.stop_requested = True
            if embedded.server is not None:
                embedded.server.should_exit = True

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, stop)
        asyncio.run(self.run(embedded))

    async def run(self, embedded: Embedded) -> None:
        try:
            await embedded.start()
            what = "simulated Asterisk (Demo AB traffic)" if embedded.simulate else "Asterisk node"
            self.stdout.write(f"Serving http://{embedded.host}:{embedded.port}/ with the event bridge and {what}. "
                              "Ctrl+C stops.")
            await embedded.wait()
        finally:
            await embedded.stop()
