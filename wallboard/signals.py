"""Open wallboards follow their configuration: a changed layout or tile makes them fetch a fresh snapshot,
a revoked or deleted link closes the TVs that use it (after commit, through the channel layer)."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from .feed import link_group, send_to_groups, wallboard_group
from .models import Layout, Tile, WallboardLink


def _layout_changed(tenant_id: int | None) -> None:
    if tenant_id is not None:
        transaction.on_commit(lambda: send_to_groups([wallboard_group(tenant_id)], {"type": "wallboard.layout"}))


@receiver(post_save, sender=Layout)
@receiver(post_delete, sender=Layout)
@receiver(post_save, sender=Tile)
@receiver(post_delete, sender=Tile)
def layout_changed(sender, instance, **kwargs):
    _layout_changed(instance.tenant_id)


@receiver(post_save, sender=WallboardLink)
def link_saved(sender, instance, **kwargs):
    if instance.revoked_at is not None:
        close_link(instance.pk)


@receiver(post_delete, sender=WallboardLink)
def link_deleted(sender, instance, **kwargs):
    close_link(instance.pk)


def close_link(link_id: int) -> None:
    transaction.on_commit(lambda: send_to_groups([link_group(link_id)], {"type": "wallboard.revoked"}))
