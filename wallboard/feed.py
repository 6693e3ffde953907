"""The wallboard's live figures: computed where the events arrive (the event bridge) and pushed per company.

The bridge's ``NodeBridge`` hands every batch of domain events to ``WallboardFeed.after`` once the live state
has taken them in and the finished calls are logged. For each company the batch touched, the feed reads the
company's waiting callers and queue agents back from the live state (the same store the consoles' snapshots
read), adds today's figures (``today.py``; read again from the database only when a queue call of that
company ended in the batch, or the company's day changed), and publishes the tiles that changed to the
company's wallboard group ``wallboard-<tenant>`` as one ``wallboard.tiles`` message. Wallboards never join the
company's console group: no call, caller or person reaches them, only counts.

A tile's data: ``logged_in``, ``free``, ``busy``, ``paused`` (agents), ``waiting``, ``oldest_joined_at`` (when
the longest-waiting caller joined; the page counts the longest wait up from it every second, so no message is
needed while nothing happens), ``answered``, ``missed``, ``in_time``, ``service_level`` (per cent or null),
``avg_wait_s``. Keys: ``q<queue id>`` per queue, ``company`` for the whole company.

After a resynchronisation (the bridge or Asterisk restarted, the connection came back) ``reset`` pushes every
tile of the companies concerned again, so open wallboards hold the bridge's fresh picture.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from pbx import events as pushes
from pbx.asterisk.bridge import domain as d

from .today import COMPANY, EMPTY_TODAY, company_zone, day_start, tile_key, today_figures

log = logging.getLogger(__name__)

Run = Callable[..., Awaitable[Any]]

# Events that change what the live state says about waiting callers or agents.
LIVE_EVENTS = (d.QueueCallerJoined, d.QueueCallerLeft, d.QueueCallerAbandoned, d.CallEnded, d.CallMerged,
               d.AgentLoggedIn, d.AgentLoggedOut, d.AgentPaused, d.AgentStatusChanged)
FREE_STATUSES = {"idle", "not_inuse", "", "unknown"}
BUSY_STATUSES = {"in_use", "inuse", "busy", "ringing", "ringinuse", "on_hold", "onhold"}


def wallboard_group(tenant_id: int) -> str:
    return f"wallboard-{tenant_id}"


def link_group(link_id: int) -> str:
    return f"wallboard-link-{link_id}"


def send_to_groups(groups: list[str], event: dict[str, Any]) -> None:
    """Publish now (sync code, e.g. after a commit); a push never breaks its sender."""
    try:
        pushes.publisher(groups, event)
    except Exception:
        log.exception("could not publish %s", event.get("type"))


# ------------------------------------------------------------------------------------ figures


def agent_word(agent: dict) -> str:
    """One queue membership → free / busy / paused / away (logged in but unreachable)."""
    status = str(agent.get("status") or "").lower().replace(" ", "_")
    if agent.get("in_call") or status in BUSY_STATUSES:
        return "busy"  # a paused agent still on a call is busy: the call is what the room sees
    if agent.get("paused"):
        return "paused"
    return "free" if status in FREE_STATUSES else "away"


EMPTY_LIVE = {"logged_in": 0, "free": 0, "busy": 0, "paused": 0, "waiting": 0, "oldest_joined_at": None}
_RANK = {"busy": 3, "free": 2, "paused": 1, "away": 0}


def live_figures(waiting: dict[str, dict], agents: dict[str, dict]) -> dict[str, dict]:
    """The live half of every tile of a company, from its live-state sections ``waiting`` and ``agents``."""
    tiles: dict[str, dict] = {}

    def tile(key: str) -> dict:
        if key not in tiles:
            tiles[key] = dict(EMPTY_LIVE)
        return tiles[key]

    company = tile(COMPANY)
    for row in waiting.values():
        for t in (tile(tile_key(row.get("queue_id"))) if row.get("queue_id") is not None else None, company):
            if t is None:
                continue
            t["waiting"] += 1
            joined = row.get("joined_at")
            if joined and (t["oldest_joined_at"] is None or joined < t["oldest_joined_at"]):
                t["oldest_joined_at"] = joined
    people: dict[Any, str] = {}
    for row in agents.values():
        word = agent_word(row)
        if row.get("queue_id") is not None:
            t = tile(tile_key(row["queue_id"]))
            t["logged_in"] += 1
            if word in t:
                t[word] += 1
        who = row.get("user_id") if row.get("user_id") is not None else row.get("member")
        if who not in people or _RANK[word] > _RANK[people[who]]:
            people[who] = word  # a person in several queues counts once, by their strongest state
    company["logged_in"] = len(people)
    for word in people.values():
        if word in company:
            company[word] += 1
    return tiles


def combine(live: dict[str, dict], today: dict[str, dict]) -> dict[str, dict]:
    return {key: {**live.get(key, EMPTY_LIVE), **today.get(key, EMPTY_TODAY)} for key in set(live) | set(today)}


async def read_live(state, tenant_id: int) -> dict[str, dict]:
    waiting, agents = await asyncio.gather(state.store.section(tenant_id, "waiting"),
                                           state.store.section(tenant_id, "agents"))
    return live_figures(waiting, agents)


def company_tiles_sync(tenant_id: int, live: dict[str, dict]) -> dict[str, dict]:
    return combine(live, today_figures(tenant_id))


async def company_tiles(state, tenant_id: int, run: Run) -> dict[str, dict]:
    """Every tile of a company now (the wallboard's snapshot)."""
    live = await read_live(state, tenant_id)
    return await run(company_tiles_sync, tenant_id, live)


# ------------------------------------------------------------------------------------ the feed


class WallboardFeed:
    """Per bridge process: the last tiles published per company, and today's figures per company."""

    def __init__(self, state, *, clock: Callable[[], dt.datetime] | None = None):
        self.state = state
        self.clock = clock
        self.last: dict[int, dict[str, dict]] = {}
        self.today: dict[int, tuple[dt.datetime, dict[str, dict]]] = {}  # tenant → (day start, figures)
        self.zones: dict[int, Any] = {}

    def _now(self) -> dt.datetime:
        from django.utils import timezone

        return self.clock() if self.clock else timezone.now()

    def _refresh_today(self, tenant_ids: Iterable[int], force: Iterable[int]) -> None:
        """Sync (database): today's figures of the companies whose day changed or whose queue calls ended."""
        now = self._now()
        force = set(force)
        for tenant_id in tenant_ids:
            zone = self.zones.get(tenant_id)
            if zone is None:
                zone = self.zones[tenant_id] = company_zone(tenant_id)
            start = day_start(zone, now)
            cached = self.today.get(tenant_id)
            if tenant_id in force or cached is None or cached[0] != start:
                self.today[tenant_id] = (start, today_figures(tenant_id, now=now, zone=zone))

    def _stale_today(self, tenant_ids: Iterable[int]) -> set[int]:
        now = self._now()
        stale = set()
        for tenant_id in tenant_ids:
            cached, zone = self.today.get(tenant_id), self.zones.get(tenant_id)
            if cached is None or zone is None or cached[0] != day_start(zone, now):
                stale.add(tenant_id)
        return stale

    @staticmethod
    def touched(events: Iterable[d.Event]) -> tuple[set[int], set[int]]:
        """(companies whose live figures may have changed, companies with a queue call logged in this batch)."""
        live, logged = set(), set()
        for event in events:
            if event.tenant_id is None or not isinstance(event, LIVE_EVENTS):
                continue
            live.add(event.tenant_id)
            record = getattr(event, "record", None)
            if isinstance(event, d.CallEnded) and record is not None and record.loggable and record.queue_log:
                logged.add(event.tenant_id)
        return live, logged

    def needs_call_log(self, events: list[d.Event]) -> bool:
        """Whether this batch's tiles need the database (a queue call of the batch is being logged, or a
        company's day is new to the feed): then they go out after the call log is written, else at once."""
        live_tenants, logged = self.touched(events)
        return bool(logged or self._stale_today(live_tenants))

    async def after(self, events: list[d.Event], run: Run) -> int:
        """A batch went through the bridge: push the changed tiles; returns how many messages went out."""
        live_tenants, logged = self.touched(events)
        if not live_tenants:
            return 0
        latest: dict[int, float] = {}
        for event in events:
            if event.tenant_id in live_tenants:
                latest[event.tenant_id] = max(latest.get(event.tenant_id, 0.0), event.at)
        return await self._push(live_tenants, logged, run, full=False, latest=latest)

    async def reset(self, tenant_ids: Iterable[int], run: Run) -> int:
        """After a resynchronisation: every tile of these companies again, today's figures read afresh."""
        tenants = set(tenant_ids)
        for tenant_id in tenants:
            self.last.pop(tenant_id, None)
        return await self._push(tenants, tenants, run, full=True) if tenants else 0

    async def _push(self, tenants: set[int], logged: set[int], run: Run, *, full: bool,
                    latest: dict[int, float] | None = None) -> int:
        stale = self._stale_today(tenants) | logged
        if stale:
            await run(self._refresh_today, stale, logged)
        messages: list[tuple[list[str], dict]] = []
        order = sorted(tenants)
        # Every company's live sections at once (one round trip's time, not two per company).
        lives = await asyncio.gather(*(read_live(self.state, tenant_id) for tenant_id in order))
        for tenant_id, live in zip(order, lives, strict=True):
            tiles = combine(live, self.today[tenant_id][1])
            before = self.last.get(tenant_id, {})
            changed = {key: tile for key, tile in tiles.items() if before.get(key) != tile}
            for key in set(before) - set(tiles):  # a queue emptied and has no figures today: zeros
                changed[key] = {**EMPTY_LIVE, **EMPTY_TODAY}
            self.last[tenant_id] = tiles
            if changed or full:
                # "as of": the newest event the tiles include (Asterisk's time of it)
                at = d.iso(latest[tenant_id]) if latest and tenant_id in latest else None
                messages.append(([wallboard_group(tenant_id)], {"type": "wallboard.tiles", "full": full, "at": at,
                                                                "tiles": tiles if full else changed}))
        if messages:
            await publish_now(messages, run)
        return len(messages)


async def publish_now(messages: list[tuple[list[str], dict]], run: Run) -> None:
    """Straight onto the channel layer from the bridge's event loop (no worker thread); tests' captured
    publisher (tests/helpers.py) is called as it is."""
    try:
        if pushes.publisher is pushes._publish:
            from channels.layers import get_channel_layer

            layer = get_channel_layer()
            if layer is None:
                return
            # One message per company and group: independent of each other, sent side by side.
            await asyncio.gather(*(layer.group_send(group, pushes.layer_message(event))
                                   for groups, event in messages for group in groups))
        else:
            for groups, event in messages:
                pushes.publisher(groups, event)
    except Exception:
        log.exception("could not publish %d wallboard messages", len(messages))
