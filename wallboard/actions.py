"""Changing the wallboard's links: each one function, checked and audited (layouts and tiles are saved
through pbx.actions.do_save_object like every configuration row)."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from pbx.actions.base import record, require_company_admin, snapshot

from .models import WallboardLink


def do_create_wallboard_link(actor, link: WallboardLink) -> str:
    """Save a new link and return its secret (shown once: only its hash is kept)."""
    link.inherit_tenant()
    require_company_admin(actor, link)
    token = link.new_token()
    link.created_by = actor if getattr(actor, "pk", None) else None
    link.full_clean()
    with transaction.atomic():
        link.save()
        record(actor, "created", link, None, snapshot(link))
    return token


def do_revoke_wallboard_link(actor, link: WallboardLink) -> WallboardLink:
    """The TV's address stops working at once: the page answers 404, open screens are closed (signals.py)."""
    require_company_admin(actor, link)
    if link.revoked_at is not None:
        return link
    with transaction.atomic():
        before = snapshot(link)
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
        record(actor, "changed", link, before, snapshot(link))
    return link
