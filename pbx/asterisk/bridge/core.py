"""One node's event pipeline without I/O: raw AMI event → subscription table → call tracker → domain events."""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from pbx.asterisk.resolve import Resolver

from .calls import CallTracker
from .domain import Event
from .subscriptions import SUBSCRIPTIONS

NOTHING: Sequence[Event] = ()


class BridgeCore:
    def __init__(self, node: str, resolver: Resolver, *, clock: Callable[[], float] = time.time):
        self.node = node
        self.resolver = resolver
        self.clock = clock
        self.tracker = CallTracker(node, resolver)

    def process(self, raw: Mapping[str, Any], at: float | None = None) -> Sequence[Event]:
        """The domain events one raw AMI event gives. ``at``: when it happened (default: its
        ``Timestamp`` header, present with manager.conf ``timestampevents = yes``, else now)."""
        parser = SUBSCRIPTIONS.get(raw.get("Event"))
        if parser is None:
            return NOTHING
        if at is None:
            stamp = raw.get("Timestamp")
            at = float(stamp) if stamp else self.clock()
        item = parser(raw, at, self.resolver)
        if item is None:
            return NOTHING
        return self.tracker.apply(item)
