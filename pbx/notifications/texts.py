"""The words of each notification, written in the company's language and time zone."""

from __future__ import annotations

import contextlib
import datetime as dt
import zoneinfo
from collections.abc import Iterator

from django.utils import translation


@contextlib.contextmanager
def in_language_of(tenant) -> Iterator[None]:
    with translation.override(getattr(tenant, "language", None) or "sv"):
        yield


def local_time(tenant, when: dt.datetime) -> str:
    """'2026-12-06 14:05' on the company's clock (what a reader there expects to see)."""
    try:
        zone = zoneinfo.ZoneInfo(tenant.time_zone)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        zone = dt.UTC
    return when.astimezone(zone).strftime("%Y-%m-%d %H:%M")
