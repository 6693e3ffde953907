"""Tenancy: every row of company data carries its tenant, and references never leave it."""

from __future__ import annotations

from typing import ClassVar

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _


class TenantQuerySet(models.QuerySet):
    def for_tenant(self, tenant) -> TenantQuerySet:
        return self.filter(tenant=tenant)

    def visible_to(self, user) -> TenantQuerySet:
        """What a signed-in person may see: everything for a superuser, else their company."""
        if user.is_superuser:
            return self
        if not getattr(user, "tenant_id", None):
            return self.none()
        return self.filter(tenant_id=user.tenant_id)


def check_tenant_references(obj) -> None:
    """Refuse, field by field, a reference to another company's row."""
    errors = {}
    for name in obj.tenant_references:
        field = obj._meta.get_field(name)
        if getattr(obj, field.attname) is None or obj.tenant_id is None:
            continue
        target = getattr(obj, name)
        if target.tenant_id != obj.tenant_id:
            errors[name] = ValidationError(
                _("%(target)s belongs to another company and cannot be used here."),
                code="other_tenant",
                params={"target": target},
            )
    if errors:
        raise ValidationError(errors)


class TenantOwned(models.Model):
    """Base of every tenant's row.

    ``tenant_references`` names the foreign keys that must point inside the same tenant. They
    are checked in ``clean()`` (forms explain it in plain words) and, on PostgreSQL, by
    composite foreign keys ``(tenant_id, x_id) → x(tenant_id, id)`` (migration 0002), so not even
    a bug in a view can store a cross-tenant reference.
    """

    tenant = models.ForeignKey("pbx.Tenant", on_delete=models.CASCADE, verbose_name=_("company"))

    objects = TenantQuerySet.as_manager()

    tenant_references: ClassVar[tuple[str, ...]] = ()
    # A child row (a menu option, a schedule rule) takes its tenant from its parent.
    tenant_parent: ClassVar[str | None] = None

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        self.inherit_tenant()
        super().save(*args, **kwargs)

    def inherit_tenant(self) -> None:
        if self.tenant_id is None and self.tenant_parent:
            parent = getattr(self, self.tenant_parent, None)
            if parent is not None:
                self.tenant_id = parent.tenant_id

    def clean_fields(self, exclude=None) -> None:
        self.inherit_tenant()
        super().clean_fields(exclude)

    def clean(self) -> None:
        super().clean()
        self.inherit_tenant()
        check_tenant_references(self)


def check_forward_target(obj, field: str) -> None:
    """``obj.<field>`` (a number calls are forwarded to) must lead somewhere in ``obj``'s company."""
    from pbx.forward_targets import validate_forward_target
    from pbx.validators import DIALABLE_RE

    value = getattr(obj, field)
    if value and DIALABLE_RE.match(value) and obj.tenant_id is not None:
        validate_forward_target(obj.tenant, value)
