"""A person's open consoles re-check their sign-in when what it rests on changes.

Whatever changes a person (allauth's password change and reset, Django admin, an action, a management
command) saves the User row; a change of password, of being active, of a console role or of company
sends, after commit, one message to the person's own group. Each of their consoles then verifies its
session as Django does for a page (the session's auth hash against the current password) and closes
if it no longer holds, so a socket opened before a password change or a removed role stops acting at
once, not at its next heartbeat.
"""

from __future__ import annotations

import logging

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.db import transaction
from django.db.models.signals import post_delete, pre_save

from pbx.events import user_group

log = logging.getLogger(__name__)

# What a console's right to exist rests on.
ACCESS_FIELDS = ("password", "is_active", "is_operator", "is_company_admin", "tenant_id")
RECHECK = {"type": "session.recheck"}


def recheck_consoles(user_id: int) -> None:
    """Tell every open console of this person to verify its session now (sync code, after commit)."""
    layer = get_channel_layer()
    if layer is None:
        return
    try:
        async_to_sync(layer.group_send)(user_group(user_id), RECHECK)
    except Exception:  # a failed push must not undo a password change; the heartbeat re-checks anyway
        log.exception("could not tell the consoles of user %s to re-check", user_id)


def recheck_consoles_on_commit(user_id: int) -> None:
    transaction.on_commit(lambda: recheck_consoles(user_id))


def _access_changed(sender, instance, raw=False, update_fields=None, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    names = {name.removesuffix("_id") for name in ACCESS_FIELDS}
    if update_fields is not None and not names & set(update_fields):
        return  # e.g. last_login on every sign-in: nothing the console rests on
    before = sender.objects.filter(pk=instance.pk).values(*ACCESS_FIELDS).first()
    if before is None:
        return
    if any(before[field] != getattr(instance, field) for field in ACCESS_FIELDS):
        recheck_consoles_on_commit(instance.pk)


def _deleted(sender, instance, **kwargs) -> None:
    recheck_consoles_on_commit(instance.pk)


def connect() -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    pre_save.connect(_access_changed, sender=user_model, dispatch_uid="portal.console_access_changed")
    post_delete.connect(_deleted, sender=user_model, dispatch_uid="portal.console_user_deleted")
