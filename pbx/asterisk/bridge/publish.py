"""The one way bridge events reach browsers: each to its company's group, a private one to its people."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from pbx import events as pushes

from .domain import Event

Send = Callable[..., None]


def publish(events: Iterable[Event], send: Send | None = None) -> int:
    """Publish domain events (sync code only); returns how many went out.

    An event of no known company goes nowhere (it cannot be scoped); a private event (listen-in) goes
    only to its audience, never to the company's group, and nowhere when that audience is unknown.
    """
    items = []
    for event in events:
        if event.tenant_id is None:
            continue
        audience = event.audience()
        if audience is not None and not audience:
            continue
        items.append((event.tenant_id, event.message(), audience))
    if send is None:
        pushes.send_events(items)  # one hop to the channel layer for the whole batch
    else:
        for tenant_id, message, audience in items:
            send(tenant_id, message, user_ids=audience)
    return len(items)


def publish_snapshot(tenant_id: int, snapshot: dict[str, Any], send: Send | None = None) -> None:
    """After a resynchronisation the company's consoles get the whole picture again."""
    (send or pushes.send_event)(tenant_id, snapshot)
