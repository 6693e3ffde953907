"""What tests share: capturing pushed events, reaching the two demo companies."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from pbx import events


@contextlib.contextmanager
def capture_events() -> Iterator[list[tuple[list[str], dict]]]:
    """Collect what would have been pushed to browsers (after commit) instead of sending it."""
    captured: list[tuple[list[str], dict]] = []
    original = events.publisher
    events.publisher = lambda groups, event: captured.append((groups, event))
    try:
        yield captured
    finally:
        events.publisher = original
