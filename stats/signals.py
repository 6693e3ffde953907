"""Callbacks count in the queue's intervals: when one is asked for or marked done, its intervals are rebuilt
after the commit (``stats.aggregate``)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_save
from django.dispatch import receiver

from pbx.models import CallbackRequest

from . import aggregate
from .definitions import INTERVAL, interval_start


@receiver(post_save, sender=CallbackRequest, dispatch_uid="stats_callback_intervals")
def callback_saved(sender, instance: CallbackRequest, **kwargs) -> None:
    if instance.queue_id is None:
        return
    slots = {interval_start(at) for at in (instance.requested_at, instance.done_at) if at is not None}
    tenant_id = instance.tenant_id

    def rebuild() -> None:
        for slot in slots:
            aggregate.rebuild(tenant_id, slot, slot + INTERVAL, parts=("queue",))

    transaction.on_commit(rebuild)
