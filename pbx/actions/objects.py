"""Create, change and delete a company's configuration rows (admin, API and commands)."""

from __future__ import annotations

from django.db import models, transaction

from pbx.models import UserPresence
from pbx.signals import config_changed_on_commit

from .base import record, require_company_admin, snapshot, tenant_id_of
from .numbers import DELETE_POLICIES, POLICIES

# Rows that are fast state, not structure: they never trigger a config render. A model may also say so
# itself with ``affects_config = False`` (sign-in rules, the wallboard's layouts and links).
STATE_MODELS = {UserPresence}


def _affects_config(obj: models.Model) -> bool:
    return type(obj) not in STATE_MODELS and getattr(obj, "affects_config", True)


def _after_change(obj: models.Model) -> None:
    tenant_id = tenant_id_of(obj)
    # Sign-in rules, wallboards and the like (``affects_config = False``) never reach Asterisk.
    if tenant_id is not None and _affects_config(obj):
        config_changed_on_commit(tenant_id)
    _check, follow_up = POLICIES.get(type(obj), (None, None))
    if follow_up is not None:
        follow_up(obj)


def do_save_object(actor, obj: models.Model, *, save_related=None) -> models.Model:
    """Validate and save a row (new or changed), audit it and schedule the config apply.

    The row is validated here whoever calls (the admin, the bridge, a command, the API): every value
    that reaches a generated Asterisk file passes the same validators as on the forms.

    ``save_related`` runs inside the same transaction after the row is saved (the admin saves
    many-to-many fields and inlines there), so the audit row sees the final state.
    """
    if hasattr(obj, "inherit_tenant"):
        obj.inherit_tenant()
    require_company_admin(actor, obj)
    obj.full_clean()
    check, _follow_up = POLICIES.get(type(obj), (None, None))
    if check is not None:
        check(actor, obj)
    with transaction.atomic():
        before = None
        if obj.pk is not None:
            before = snapshot(type(obj)._default_manager.filter(pk=obj.pk).first())
        obj.save()
        if save_related is not None:
            save_related()
        record(actor, "created" if before is None else "changed", obj, before, snapshot(obj))
        _after_change(obj)
    return obj


def do_delete_object(actor, obj: models.Model) -> None:
    require_company_admin(actor, obj)
    check = DELETE_POLICIES.get(type(obj))
    if check is not None:
        check(actor, obj)
    with transaction.atomic():
        before = snapshot(obj)
        tenant_id = tenant_id_of(obj)
        record(actor, "deleted", obj, before, None, tenant_id=tenant_id)
        obj.delete()
        if tenant_id is not None and _affects_config(obj):
            config_changed_on_commit(tenant_id)
        _check, follow_up = POLICIES.get(type(obj), (None, None))
        if follow_up is not None:
            follow_up(obj)
