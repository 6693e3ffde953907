"""The one way anything reaches browsers: published to Channels groups after commit."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction

log = logging.getLogger(__name__)


def tenant_group(tenant_id: int) -> str:
    return f"tenant-{tenant_id}"


def user_group(user_id: int) -> str:
    return f"user-{user_id}"


def layer_message(event: dict[str, Any]) -> dict[str, Any]:
    """What goes through the channel layer: the event's type, and the event encoded once as the JSON text
    the browsers get (every console of a company sends the same text; none encodes it again)."""
    return {"type": "pbx.event", "kind": event.get("type"), "text": json.dumps(event, separators=(",", ":"),
                                                                               ensure_ascii=False, default=str)}


def _publish_many(items: list[tuple[list[str], dict[str, Any]]]) -> None:
    """Send every (groups, event) in order, in one hop to the event loop (not one per event and group)."""
    layer = get_channel_layer()
    if layer is None or not items:
        return

    async def send_all() -> None:
        for groups, event in items:
            message = layer_message(event)
            for group in groups:
                await layer.group_send(group, message)

    async_to_sync(send_all)()


def _publish(groups: list[str], event: dict[str, Any]) -> None:
    _publish_many([(groups, event)])


# Tests swap this for a list appender (see tests/helpers.py: capture_events).
publisher: Callable[[list[str], dict[str, Any]], None] = _publish


def _groups(tenant_id: int, user_ids: Iterable[int] | None) -> list[str]:
    return [user_group(uid) for uid in user_ids] if user_ids is not None else [tenant_group(tenant_id)]


def send_event(tenant_id: int, event: dict[str, Any], user_ids: Iterable[int] | None = None) -> None:
    """Publish now, for senders outside any transaction (the event bridge): to the company, or only
    to the named people for private events. Call it from sync code (not inside the event loop)."""
    groups = _groups(tenant_id, user_ids)
    try:
        publisher(groups, event)
    except Exception:  # a browser push must never break the sender
        log.exception("could not publish %s", event.get("type"))


def send_events(items: Iterable[tuple[int, dict[str, Any], Iterable[int] | None]]) -> None:
    """Publish many events now, in order, in one go (the event bridge's batches): each item is
    (tenant_id, event, user_ids or None), as for :func:`send_event`. Sync code only."""
    batch = [(_groups(tenant_id, user_ids), event) for tenant_id, event, user_ids in items]
    try:
        if publisher is _publish:
            _publish_many(batch)
        else:
            for groups, event in batch:
                publisher(groups, event)
    except Exception:  # a browser push must never break the sender
        log.exception("could not publish %d events", len(batch))


def send_event_on_commit(tenant_id: int, event: dict[str, Any], user_ids: Iterable[int] | None = None) -> None:
    """Publish to the company (or only to the named people, for private events) on commit."""
    groups = _groups(tenant_id, user_ids)

    def publish() -> None:
        try:
            publisher(groups, event)
        except Exception:  # a browser push must never undo a committed change
            log.exception("could not publish %s", event.get("type"))

    transaction.on_commit(publish)
