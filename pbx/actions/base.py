"""What every action shares: permission checks, snapshots and the audit row."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.fields.files import FieldFile
from django.utils.translation import gettext as _

from pbx.models import AuditLog

# Never written into the audit trail.
SECRET_FIELDS = {"password", "secret", "pin", "ami_secret", "ari_password", "provisioning_token"}


def snapshot(obj: models.Model | None) -> dict[str, Any] | None:
    """A JSON-safe picture of a row's own fields (secrets masked)."""
    if obj is None:
        return None
    data: dict[str, Any] = {}
    for field in obj._meta.concrete_fields:
        value = getattr(obj, field.attname)
        if field.name in SECRET_FIELDS:
            value = "***" if value else ""
        elif isinstance(value, datetime.datetime | datetime.date | datetime.time):
            value = value.isoformat()
        elif isinstance(value, decimal.Decimal | uuid.UUID):
            value = str(value)
        elif isinstance(value, FieldFile):
            value = value.name or ""
        data[field.name] = value
    if obj.pk is not None:
        for field in obj._meta.many_to_many:
            data[field.name] = sorted(getattr(obj, field.attname).values_list("pk", flat=True))
    return data


def record(actor, action: str, obj: models.Model, before=None, after=None, *, tenant_id=None) -> AuditLog:
    if tenant_id is None:
        tenant_id = getattr(obj, "tenant_id", None)
        if obj._meta.model_name == "tenant":
            tenant_id = obj.pk
    return AuditLog.objects.create(
        tenant_id=tenant_id,
        actor=actor if getattr(actor, "pk", None) else None,
        action=action,
        object_type=obj._meta.label_lower,
        object_id=str(obj.pk or ""),
        object_repr=str(obj)[:200],
        before=before,
        after=after,
    )


def tenant_id_of(obj: models.Model) -> int | None:
    if obj._meta.model_name == "tenant":
        return obj.pk
    return getattr(obj, "tenant_id", None)


def require_same_tenant(actor, obj: models.Model) -> None:
    """An actor acts only inside their company; a superuser (or the system) anywhere."""
    if actor is None or actor.is_superuser:
        return
    if actor.tenant_id is None or actor.tenant_id != tenant_id_of(obj):
        raise PermissionDenied(_("That belongs to another company."))


def require_company_admin(actor, obj: models.Model) -> None:
    require_same_tenant(actor, obj)
    if actor is not None and not (actor.is_superuser or actor.is_company_admin):
        raise PermissionDenied(_("Only a company admin may change this."))


def require_self_or_admin(actor, user) -> None:
    require_same_tenant(actor, user)
    if actor is None or actor.is_superuser or actor.is_company_admin or actor.pk == user.pk:
        return
    raise PermissionDenied(_("You may only change your own settings."))
