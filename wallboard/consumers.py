"""The wallboard's websocket: ``ws/wallboard/<layout id>/`` (signed in) and ``ws/wallboard/tv/<token>/`` (a TV).

server → client: ``{"type": "snapshot", "layout": ..., "tiles": {...}, "at": ...}`` on connect and whenever the
layout changed; then ``{"type": "wallboard.tiles", "tiles": {key: tile}, "full": bool}`` as the bridge publishes
them (wallboard/feed.py); ``{"type": "pong"}`` for ``{"action": "ping"}``. Nothing else: the client has no
actions, and no message of the client names a company, a layout or a group.

Refusals, after accepting (so the page can tell them from a network drop): 4401 not signed in, 4403 not for
this person or a revoked link, 4404 a layout that is not the person's company's (or no longer exists). A link
revoked or deleted closes its open sockets at once (wallboard/signals.py → ``wallboard.revoked``); a signed-in
wallboard stops, like the console, when its session no longer holds (``session.recheck``, and on the ping).
"""

from __future__ import annotations

import json
import time

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.utils import timezone

from pbx.asterisk.bridge import state as live
from pbx.events import user_group

from .access import can_see_wallboard, layout_view
from .feed import company_tiles, link_group, wallboard_group
from .models import Layout, WallboardLink

CLOSE_UNAUTHENTICATED = 4401
CLOSE_FORBIDDEN = 4403
CLOSE_NOT_FOUND = 4404
CHECK_EVERY = 60.0  # seconds between checks (on the ping) that the session or link still holds


def _link(token: str) -> tuple[int, int, int] | None:
    link = WallboardLink.for_token(token)
    return (link.pk, link.tenant_id, link.layout_id) if link is not None else None


def _link_active(link_id: int) -> bool:
    return WallboardLink.objects.filter(pk=link_id, revoked_at__isnull=True).exists()


def _layout(tenant_id: int, layout_id: int) -> dict | None:
    if layout_id == 0:
        return layout_view(tenant_id, None)
    layout = Layout.objects.filter(pk=layout_id, tenant_id=tenant_id).first()
    return layout_view(tenant_id, layout) if layout is not None else None


def _session_refusal(session_key, user_id: int) -> int | None:
    from portal.consumers import session_refusal

    code = session_refusal(session_key, user_id)
    if code is None:
        from pbx.models import User

        if not can_see_wallboard(User.objects.filter(pk=user_id).first()):
            return CLOSE_FORBIDDEN
    return code


class WallboardConsumer(AsyncJsonWebsocketConsumer):
    tenant_id: int | None = None
    layout_id = 0
    link_id: int | None = None
    user_id: int | None = None
    joined: tuple[str, ...] = ()
    checked = 0.0

    async def connect(self):
        await self.accept()
        kwargs = self.scope["url_route"]["kwargs"]
        if "token" in kwargs:
            found = await database_sync_to_async(_link)(kwargs["token"])
            if found is None:
                await self.close(code=CLOSE_FORBIDDEN)
                return
            self.link_id, tenant_id, self.layout_id = found
            groups = (wallboard_group(tenant_id), link_group(self.link_id))
        else:
            user = self.scope.get("user")
            if user is None or not user.is_authenticated:
                await self.close(code=CLOSE_UNAUTHENTICATED)
                return
            if not can_see_wallboard(user):
                await self.close(code=CLOSE_FORBIDDEN)
                return
            tenant_id, self.user_id, self.layout_id = user.tenant_id, user.pk, int(kwargs["layout_id"])
            groups = (wallboard_group(tenant_id), user_group(user.pk))
        layout = await database_sync_to_async(_layout)(tenant_id, self.layout_id)
        if layout is None:
            await self.close(code=CLOSE_NOT_FOUND)
            return
        self.tenant_id = tenant_id
        self.checked = time.monotonic()
        # Joined first, snapshot second: tiles published meanwhile arrive after it (each carries whole tiles).
        self.joined = groups
        for group in groups:
            await self.channel_layer.group_add(group, self.channel_name)
        await self.send_snapshot(layout)

    async def disconnect(self, code):
        for group in self.joined:
            await self.channel_layer.group_discard(group, self.channel_name)
        self.joined = ()

    async def stop(self, code: int) -> None:
        await self.close(code=code)
        await self.disconnect(code)
        self.tenant_id = None  # nothing more goes out, even before the browser acknowledges the close

    async def send_snapshot(self, layout: dict | None = None) -> None:
        if layout is None:
            layout = await database_sync_to_async(_layout)(self.tenant_id, self.layout_id)
            if layout is None:
                await self.stop(CLOSE_NOT_FOUND)
                return
        tiles = await company_tiles(live.live_state(), self.tenant_id,
                                    lambda func, *args: database_sync_to_async(func)(*args))
        await self.send_json({"type": "snapshot", "at": timezone.now().isoformat(timespec="milliseconds"),
                              "layout": layout, "tiles": tiles})

    async def receive(self, text_data=None, bytes_data=None, **kwargs):
        if self.tenant_id is None or text_data is None or len(text_data) > 256:
            return
        try:
            data = json.loads(text_data)
        except ValueError:
            return
        if isinstance(data, dict) and data.get("action") == "ping":
            if time.monotonic() - self.checked > CHECK_EVERY and not await self._still_allowed():
                return
            await self.send_json({"type": "pong"})

    async def _still_allowed(self) -> bool:
        self.checked = time.monotonic()
        if self.link_id is not None:
            code = None if await database_sync_to_async(_link_active)(self.link_id) else CLOSE_FORBIDDEN
        else:
            key = getattr(self.scope.get("session"), "session_key", None)
            code = await database_sync_to_async(_session_refusal)(key, self.user_id)
        if code is not None:
            await self.stop(code)
        return code is None

    # ------------------------------------------------------------------------ from the groups

    async def dispatch(self, message):
        if message.get("type") == "pbx.event" and message.get("kind") == "wallboard.tiles":
            # The hot path: the bridge's frame, encoded once for every wallboard of the company.
            if self.tenant_id is not None and isinstance(message.get("text"), str):
                await self.send(text_data=message["text"])
            return
        await super().dispatch(message)

    async def pbx_event(self, message):
        if self.tenant_id is None:
            return
        kind = message.get("kind")
        if kind == "wallboard.layout":
            await self.send_snapshot()
        elif kind == "wallboard.revoked" and self.link_id is not None:
            await self.stop(CLOSE_FORBIDDEN)
        # Anything else (a person's private console events on their group) is not the wallboard's.

    async def session_recheck(self, message):
        """portal/signals.py: the person's password, state or roles changed."""
        if self.user_id is not None and self.tenant_id is not None:
            await self._still_allowed()

    @classmethod
    async def encode_json(cls, content):
        return json.dumps(content, separators=(",", ":"), ensure_ascii=False)
