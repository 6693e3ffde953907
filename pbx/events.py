"""The one way anything reaches browsers: published to Channels groups after commit."""

from __future__ import annotations

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


def _publish(groups: list[str], event: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    send = async_to_sync(layer.group_send)
    for group in groups:
        send(group, {"type": "pbx.event", "event": event})


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


def send_event_on_commit(tenant_id: int, event: dict[str, Any], user_ids: Iterable[int] | None = None) -> None:
    """Publish to the company (or only to the named people, for private events) on commit."""
    groups = _groups(tenant_id, user_ids)

    def publish() -> None:
        try:
            publisher(groups, event)
        except Exception:  # a browser push must never undo a committed change
            log.exception("could not publish %s", event.get("type"))

    transaction.on_commit(publish)
