"""The webhook worker's jobs: drain what is due now, and wake again when the next retry is due."""

from __future__ import annotations

import logging

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import HUEY, db_periodic_task, db_task, lock_task

from . import deliver

log = logging.getLogger(__name__)


@db_task()
def deliver_due() -> int:
    """Deliver everything due; then schedule the next run for the earliest retry (the minute sweep is the net)."""
    tried = deliver.drain()
    if not HUEY.immediate:
        upcoming = deliver.next_due()
        if upcoming is not None and upcoming > timezone.now():
            wake_at(upcoming)
    return tried


def wake_at(eta) -> None:
    """One scheduled run per due time at most: many failures of the same second schedule one wake-up."""
    from django.core.cache import cache

    key = f"webhooks:wake:{int(eta.timestamp())}"
    if cache.add(key, 1, timeout=max(60, int((eta - timezone.now()).total_seconds()) + 60)):
        deliver_due.schedule(eta=eta)


@db_periodic_task(crontab(minute="*"))
@lock_task("webhooks-sweep")
def sweep_webhooks() -> int:
    """Every minute: whatever is due and was not woken for (a lost wake-up, a lease that ran out)."""
    return deliver.drain()
