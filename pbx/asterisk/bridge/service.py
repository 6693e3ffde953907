"""The event bridge: one AMI connection per Asterisk node, feeding the pipeline, the live state, the call
log and the browsers.

Per node (``NodeBridge``):

- the AMI client's ``on_event`` only queues the raw event with its arrival time; one consumer task takes
  the queue in batches (so a burst costs one hop to a worker thread per batch, not per event), runs the
  pipeline (parse → call tracker) in a worker thread (the resolver may query the database), applies the
  events to the live state, then writes finished calls and publishes (worker thread again: ORM and the
  sync publisher);
- ``on_connect`` (after every login, before that session's events are let through): resynchronise —
  list what is live, end the calls that are gone as incomplete (no ghost call survives a restart), take in
  what we did not know, rebuild this node's live state, publish a snapshot per company — then rewrite
  Asterisk's AstDB from the database (``pbx.asterisk.astdb_sync.rewrite_all``, when it exists);
- ``Shutdown``: every call of the node ends there and then (the Asterisk restart takes them with it);
  a connection lost without it keeps the calls, and the resync after the reconnect decides.

Batches and the resync hold one lock, so a resync never interleaves with a batch.

Per node there is also one ARI event websocket (``AriClient`` of the node's ``ari_*`` settings). Its
application is where a console hold's music channels live (``pbx.asterisk.hold``): Asterisk refuses a
snoop into an application no websocket has registered. The generated dialplan sends no call into the
application, so the ARI side is small:

- after every websocket (re)connect (an Asterisk restart drops the websocket too): the channels Asterisk
  lists are checked; a hold's music channel whose holder is gone is hung up, and any other channel
  sitting in our application (nobody drives it) is sent back to its dialplan (``continue``);
- ``StasisStart`` of a music channel is remembered (holder → music channels), so that the holder's AMI
  Hangup hangs its music channels up at once (the held party's own hangup takes them along by itself);
- any other ``StasisStart`` is a call nobody would drive: it goes back to its dialplan.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import importlib.util
import inspect
import logging
import time
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import sync_to_async
from django.db import close_old_connections

from pbx.asterisk import hold
from pbx.asterisk.errors import AsteriskError
from pbx.asterisk.resolve import DatabaseLoader, Resolver

from . import domain as d
from . import records, resync
from .core import BridgeCore
from .followups import run_followups
from .persist import persist_call, update_statistics
from .publish import publish, publish_snapshot
from .state import LiveState

log = logging.getLogger(__name__)

BATCH = 500


class NodeBridge:
    def __init__(self, node: str, *, resolver: Resolver, state: LiveState, ami=None,
                 persist: Callable[[d.CallRecord], Any] | None = persist_call,
                 send: Callable[..., None] | None = None, clock: Callable[[], float] = time.time,
                 threaded: bool = True, astdb: Callable | None = None, node_row=None,
                 dialplan_options: dict | None = None,
                 followups: Callable[[list[d.Event]], Any] | None = run_followups,
                 webhooks: Callable[[list[d.Event], dict], Any] | None = None,
                 wallboard=None,
                 statistics: Callable[[str, list[d.Event]], Any] | None = None):
        self.node = node
        self.node_row = node_row  # the AsteriskNode, for the AstDB rewrite
        self.resolver = resolver
        self.state = state
        self.ami = ami
        self.persist = persist
        # The statistics' intervals follow the call log the bridge writes (a test's own persist: none).
        self.statistics = statistics if statistics is not None else (
            update_statistics if persist is persist_call else None)
        self.send = send
        self.clock = clock
        self.threaded = threaded
        self.astdb = astdb
        self.followups = followups  # new voicemail to mail (followups.py); needs the database
        self.webhooks = webhooks  # the companies' webhooks (pbx.webhooks.bridge); needs the database
        self.wallboard = wallboard  # wallboard.feed.WallboardFeed: the wallboards' tiles, pushed per company
        self.core = BridgeCore(node, resolver, clock=clock)
        self.synced = False
        self.connected = False
        self.stale = False  # the live state missed events (its store failed): rebuild it
        self.rebuild_every = 5.0  # seconds between attempts while the store fails
        self._rebuild_tried = 0.0
        self.handled = 0
        self._queue: asyncio.Queue = asyncio.Queue()
        self._lock = asyncio.Lock()
        self._consumer: asyncio.Task | None = None
        self.ari = None  # the node's AriClient (service.Bridge sets it), or None without ARI
        self.hold_music: dict[str, set[str]] = {}  # holder's Uniqueid → its hold's music channels
        self._ari_tasks: set[asyncio.Task] = set()
        self.dialplan = dialplan_consumer(self, dialplan_options)

    # ------------------------------------------------------------------------ the AMI client's callbacks

    def on_event(self, raw) -> None:
        self._queue.put_nowait((raw, self.clock()))

    async def on_connect(self) -> None:
        self.connected = True
        self.resolver.forget()  # configuration may have changed while we were away
        await self.resynchronise()
        await self.rewrite_astdb()

    async def on_disconnect(self, error: AsteriskError | None = None) -> None:
        self.connection_lost(error)

    def connection_lost(self, error: Exception | None = None) -> None:
        """Calls stay as they were: after a network blip they are still there; the resync will tell."""
        if error is not None:
            log.warning("%s: AMI connection lost (%s); waiting to resynchronise", self.node, error)
        elif self.connected:
            log.info("%s: AMI connection closed", self.node)
        self.connected = False
        self.synced = False

    # ------------------------------------------------------------------------ the ARI client's callbacks

    def on_ari_event(self, event: dict) -> None:
        kind = event.get("type")
        if kind not in ("StasisStart", "StasisEnd"):
            return
        channel_id = str((event.get("channel") or {}).get("id") or "")
        holder = hold.holder_of(channel_id)
        if holder is None:
            if kind == "StasisStart":
                log.warning("%s: channel %s entered ARI application %s; sending it back to its dialplan",
                            self.node, channel_id, event.get("application"))
                self._ari_later("continue_in_dialplan", channel_id)
            return
        if kind == "StasisStart":
            self.hold_music.setdefault(holder, set()).add(channel_id)
        else:
            music = self.hold_music.get(holder, set())
            music.discard(channel_id)
            if not music:
                self.hold_music.pop(holder, None)

    async def on_ari_connect(self) -> None:
        await self.resynchronise_ari()

    async def resynchronise_ari(self) -> None:
        """Our ARI application as Asterisk has it now: stale music channels hung up, strays sent back."""
        if self.ari is None:
            return
        try:
            channels = await self.ari.list_channels()
        except AsteriskError as exc:
            log.warning("%s: could not list ARI channels: %s", self.node, exc.message)
            return
        alive = {str(c.get("id")) for c in channels}
        music: dict[str, set[str]] = {}
        for item in channels:
            channel_id = str(item.get("id"))
            holder = hold.holder_of(channel_id)
            if holder is not None:
                if holder in alive:
                    music.setdefault(holder, set()).add(channel_id)
                else:
                    self._ari_later("hangup", channel_id)
            elif _in_application(item, self.ari.app):
                self._ari_later("continue_in_dialplan", channel_id)
        self.hold_music = music

    def _holders_gone(self, batch: Iterable[tuple[Any, float]]) -> None:
        """A holder hung up: its music channels go too (the held party may be staying, e.g. for a queue)."""
        for raw, _at in batch:
            if raw.get("Event") == "Hangup":
                for channel_id in self.hold_music.pop(raw.get("Uniqueid"), ()):
                    self._ari_later("hangup", channel_id)

    def _ari_later(self, verb: str, channel_id: str) -> None:
        if self.ari is None:
            return

        async def run() -> None:
            try:
                await getattr(self.ari, verb)(channel_id)
            except AsteriskError as exc:
                if not exc.permanent:
                    log.warning("%s: ARI %s %s: %s", self.node, verb, channel_id, exc.message)

        task = asyncio.get_running_loop().create_task(run())
        self._ari_tasks.add(task)
        task.add_done_callback(self._ari_tasks.discard)

    # ------------------------------------------------------------------------ running

    def start(self) -> None:
        if self._consumer is None or self._consumer.done():
            self._consumer = asyncio.get_running_loop().create_task(self._consume(), name=f"bridge-{self.node}")

    async def stop(self, timeout: float = 5.0) -> None:
        """Handle what is queued (within ``timeout``), then stop."""
        for task in list(self._ari_tasks):
            task.cancel()
        await self.dialplan.stop()
        if self._consumer is None:
            return
        self._queue.put_nowait(None)
        try:
            await asyncio.wait_for(asyncio.shield(self._consumer), timeout)
        except TimeoutError:
            self._consumer.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._consumer
        self._consumer = None

    async def _consume(self) -> None:
        while True:
            item = await self._queue.get()
            batch = []
            while item is not None:
                batch.append(item)
                if len(batch) >= BATCH:
                    break
                try:
                    item = self._queue.get_nowait()
                except asyncio.QueueEmpty:
                    item = False
                    break
            if batch:
                try:
                    await self.handle(batch)
                except Exception:  # one bad batch must not stop the bridge
                    log.exception("%s: could not handle %d events", self.node, len(batch))
            if item is None:
                return

    async def handle(self, batch: list[tuple[Any, float]]) -> list[d.Event]:
        """Run raw events ``(headers, arrival time)`` through the pipeline and all its effects."""
        booted_anyway = False
        if self.hold_music:
            self._holders_gone(batch)
        async with self._lock:
            events = await self._run(self._process, batch)
            try:
                await self.state.apply(events, self.node)
            except Exception:  # Redis away: the call log and the pushes must still happen
                if not self.stale:
                    log.exception("%s: live state not updated; rebuilding it once the store answers", self.node)
                self.stale = True
            if self.stale and self.clock() - self._rebuild_tried >= self.rebuild_every:
                self._rebuild_tried = self.clock()
                self.synced = False
                booted_anyway = True  # the resynchronisation below rebuilds the live state (if the store is back)
            # The wallboards' tiles go out first unless they need this batch's call log (see WallboardFeed).
            early = self.wallboard is not None and not self.wallboard.needs_call_log(events)
            if early:
                await self._feed_wallboards(events)
            await self._run(self._deliver, events)
            if not early:
                await self._feed_wallboards(events)
            self.dialplan.submit(events)
            self.handled += len(batch)
            booted = booted_anyway or any(isinstance(e, d.NodeBooted) for e in events)
            if any(isinstance(e, d.NodeShutdown) for e in events):
                self.synced = False
        if booted and not self.synced:
            # A FullyBooted that no on_connect preceded (replays, or an AMI client without the hook), or
            # a live state that missed events.
            events = [*events, *await self.resynchronise()]
        return events

    async def _feed_wallboards(self, events: list[d.Event]) -> None:
        """After the live state and the call log: the wallboards' tiles (a failure never stops the bridge)."""
        if self.wallboard is None or self.stale:
            return
        try:
            await self.wallboard.after(events, self._run)
        except Exception:
            log.exception("%s: wallboards not updated", self.node)

    def _process(self, batch: Iterable[tuple[Any, float]]) -> list[d.Event]:
        process = self.core.process
        events: list[d.Event] = []
        for raw, at in batch:
            stamp = raw.get("Timestamp")
            events.extend(process(raw, float(stamp) if stamp else at))
        return events

    def _deliver(self, events: list[d.Event]) -> None:
        if self.threaded:
            close_old_connections()  # a long-running process: drop a connection the database closed
        call_logs: dict[str, Any] = {}
        if self.persist is not None:
            for event in events:
                if isinstance(event, d.CallEnded) and event.record is not None and event.record.loggable:
                    try:
                        call_logs[event.call_id] = self.persist(event.record)
                    except Exception:
                        log.exception("%s: could not log call %s", self.node, event.call_id)
        if self.statistics is not None:
            try:
                self.statistics(self.node, events)
            except Exception:
                log.exception("%s: could not update the statistics", self.node)
        if self.followups is not None:
            self.followups(events)
        if self.webhooks is not None:
            self.webhooks(events, call_logs)  # after the call log: call.ended carries its row
        publish(events, self.send)

    async def _run(self, func, *args):
        if self.threaded:
            return await sync_to_async(func, thread_sensitive=True)(*args)
        return func(*args)

    # ------------------------------------------------------------------------ resynchronisation

    async def resynchronise(self) -> list[d.Event]:
        if self.ami is None:
            return []
        try:
            listing = await resync.fetch(self.ami.action)
        except AsteriskError as exc:
            log.warning("%s: could not resynchronise: %s", self.node, exc.message)
            return []
        async with self._lock:
            at = self.clock()
            events = await self._run(self._reconcile, listing, at)
            snapshots: dict[int, dict] = {}
            try:
                await self.state.apply(events, self.node)
                current = await self._run(self._current, listing, at)
                for tenant_id in await self.state.rebuild(self.node, current):
                    snapshots[tenant_id] = await self.state.snapshot(tenant_id)
                self.stale = False
            except Exception:
                log.exception("%s: live state not rebuilt; trying again once the store answers", self.node)
                self.stale = True
            await self._run(self._deliver, events)
            await self._run(self._publish_snapshots, snapshots)
            if self.wallboard is not None and snapshots:
                try:
                    await self.wallboard.reset(snapshots, self._run)
                except Exception:
                    log.exception("%s: wallboards not refreshed after the resynchronisation", self.node)
            self.synced = True
        log.info("%s: resynchronised: %d calls live, %d ended while away", self.node, len(self.core.tracker.calls),
                 sum(isinstance(e, d.CallEnded) for e in events))
        return events

    def _reconcile(self, listing: resync.Listing, at: float) -> list[d.Event]:
        tracker = self.core.tracker
        return tracker.reconcile(resync.live_channels(listing), resync.waiting_callers(listing), at,
                                 resync.in_queue_app(listing))

    def _current(self, listing: resync.Listing, at: float) -> list[d.Event]:
        """The node's whole live picture as events, for rebuilding the live state."""
        tracker = self.core.tracker
        events: list[d.Event] = []
        for call in tracker.calls.values():
            if not call.visible or call.tenant_id is None:
                continue
            events.append(d.CallUpdated(call.tenant_id, at, call.id, records.view(call)))
            visit = call.open_visit()
            if visit is not None:
                events.append(d.QueueCallerJoined(call.tenant_id, visit.joined_at, call.id, visit.queue.queue_id,
                                                  visit.queue.name, visit.position, call.caller))
        events.extend(resync.state_events(listing, at, self.resolver))
        return events

    def _publish_snapshots(self, snapshots: dict[int, dict]) -> None:
        for tenant_id, snapshot in snapshots.items():
            publish_snapshot(tenant_id, snapshot, self.send)

    async def rewrite_astdb(self) -> None:
        """Asterisk's fast state (presence, forwarding, queue log-in...) rewritten from the database."""
        rewrite = self.astdb if self.astdb is not None else _astdb_rewrite()
        if rewrite is None or self.ami is None:
            return
        try:
            if inspect.iscoroutinefunction(rewrite):
                await rewrite(self.node_row, self.ami)
            else:
                await sync_to_async(rewrite, thread_sensitive=True)(self.node_row, self.ami)
        except Exception:
            log.exception("%s: AstDB rewrite failed", self.node)


def dialplan_consumer(bridge: NodeBridge, options: dict | None = None):
    """The node's consumer of the dialplan's UserEvents (``dialplan_events``), answering on its AMI connection."""
    from .dialplan_events import DialplanEvents

    return DialplanEvents(bridge.node, lambda: bridge.ami, **(options or {}))


def _astdb_rewrite() -> Callable | None:
    """``pbx.asterisk.astdb_sync.rewrite_all`` when that module exists (it is written apart from the bridge)."""
    if importlib.util.find_spec("pbx.asterisk.astdb_sync") is None:
        return None
    return getattr(importlib.import_module("pbx.asterisk.astdb_sync"), "rewrite_all", None)


def _in_application(channel: dict, app: str) -> bool:
    dialplan = channel.get("dialplan") or {}
    return dialplan.get("app_name") == "Stasis" and str(dialplan.get("app_data", "")).split(",")[0] == app


def ari_client_for(node, bridge: NodeBridge):
    """The node's ARI client, or None when the node has no ARI (no URL or no password)."""
    if not getattr(node, "ari_url", "") or not getattr(node, "ari_password", ""):
        log.warning("node %s has no ARI password: console holds will be silent (no music)", node.name)
        return None
    from pbx.asterisk.ari import AriClient

    return AriClient(node.ari_url, node.ari_username, node.ari_password, node.ari_app, timeout=5.0,
                     on_event=bridge.on_ari_event, on_connect=bridge.on_ari_connect, name=f"ari-{node.name}")


def ami_client_for(node, bridge: NodeBridge):
    from pbx.asterisk.ami import AmiClient

    return AmiClient(node.ami_host, node.ami_port, node.ami_username, node.ami_secret, timeout=5.0,
                     ping_interval=10.0, on_event=bridge.on_event, on_connect=bridge.on_connect,
                     on_disconnect=bridge.on_disconnect, name=f"ami-{node.name}")


class Bridge:
    """Every node's NodeBridge, started and stopped together."""

    def __init__(self, nodes: Iterable, *, state: LiveState, resolver: Callable[[], Resolver] | None = None,
                 client_factory: Callable = ami_client_for, ari_factory: Callable | None = ari_client_for,
                 control: bool = True, **options):
        self.state = state
        self.client_factory = client_factory
        self.ari_factory = ari_factory
        self.control = control  # take call control commands for the nodes (pbx/asterisk/control.py)
        self.controls: list = []
        self.nodes: list[tuple[Any, NodeBridge]] = []
        if "webhooks" not in options:
            from pbx.webhooks.bridge import emit_bridge_events

            options["webhooks"] = emit_bridge_events
        if "wallboard" not in options:
            # One feed for every node: it remembers what each company's wallboards were last sent.
            from wallboard.feed import WallboardFeed

            options["wallboard"] = WallboardFeed(state)
        for node in nodes:
            make = resolver or (lambda: Resolver(DatabaseLoader()))
            self.nodes.append((node, NodeBridge(node.name, resolver=make(), state=state, node_row=node, **options)))

    async def start(self) -> None:
        for node, bridge in self.nodes:
            bridge.ami = self.client_factory(node, bridge)
            bridge.ari = self.ari_factory(node, bridge) if self.ari_factory is not None else None
            bridge.start()
            await bridge.ami.start()
            if bridge.ari is not None:
                await bridge.ari.start()
            log.info("event bridge: following node %s (%s:%s)", node.name, node.ami_host, node.ami_port)
            if self.control and getattr(node, "pk", None) is not None:
                # Web processes have their call control carried out on this node's connections.
                from pbx.asterisk.control import ControlServer

                server = ControlServer(node.pk, lambda bridge=bridge: bridge.ami, ari=lambda bridge=bridge: bridge.ari)
                self.controls.append(await server.start())

    async def stop(self) -> None:
        for server in self.controls:
            await server.stop()
        self.controls = []
        for _node, bridge in self.nodes:
            for client in (bridge.ari, bridge.ami):
                if client is not None:
                    with contextlib.suppress(Exception):
                        await client.stop()
            await bridge.stop()
