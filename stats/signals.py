"""Callbacks count in the queue's intervals: when one is asked for or marked done, its intervals are rebuilt
after the commit (``stats.aggregate``)."""

from __future__ import annotations

import logging

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from pbx.models import CallbackRequest

from . import aggregate
from .definitions import INTERVAL, interval_start

log = logging.getLogger(__name__)


@receiver(post_save, sender=CallbackRequest, dispatch_uid="stats_callback_intervals")
def callback_saved(sender, instance: CallbackRequest, **kwargs) -> None:
    if instance.queue_id is None:
        return
    slots = {interval_start(at) for at in (instance.requested_at, instance.done_at) if at is not None}
    tenant_id = instance.tenant_id

    def rebuild() -> None:
        try:
            for slot in slots:
                aggregate.rebuild(tenant_id, slot, slot + INTERVAL, parts=("queue",))
        except Exception:  # the statistics must never cost a caller their callback; the worker rebuilds later
            log.exception("callback %s: statistics not updated", instance.pk)

    transaction.on_commit(rebuild)
