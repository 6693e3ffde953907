"""Companies, people and their devices."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils.translation import gettext as _

from pbx.models import Device, Tenant, User, UserPresence
from pbx.models.directory import generate_sip_secret
from pbx.signals import config_changed_on_commit

from .base import record, require_company_admin, snapshot


def do_create_tenant(actor, *, name: str, slug: str, **fields) -> Tenant:
    if actor is not None and not actor.is_superuser:
        raise PermissionDenied(_("Only a superuser may create companies."))
    with transaction.atomic():
        tenant = Tenant(name=name, slug=slug, **fields)
        tenant.full_clean()
        tenant.save()
        record(actor, "created", tenant, None, snapshot(tenant))
        config_changed_on_commit(tenant.pk)
    return tenant


def sync_staff_flag(user: User) -> None:
    """Company admins reach Django admin; nobody else does (superusers aside)."""
    user.is_staff = bool(user.is_superuser or (user.is_company_admin and user.is_active))


def do_create_user(actor, tenant: Tenant, *, email: str, password: str | None = None, **fields) -> User:
    user = User(tenant=tenant, email=email.lower(), **fields)
    require_company_admin(actor, user)
    if User.objects.filter(tenant=tenant).count() >= tenant.max_users:
        raise ValidationError(_("The company has used all its user licences (%(n)s).") % {"n": tenant.max_users})
    sync_staff_flag(user)
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean(exclude=["password"])
    with transaction.atomic():
        user.save()
        UserPresence.objects.create(tenant=tenant, user=user)
        record(actor, "created", user, None, snapshot(user))
        config_changed_on_commit(tenant.pk)
    return user


def do_create_device(actor, user: User, *, kind: str = Device.Kind.DESK_PHONE, label: str = "", **fields) -> Device:
    device = Device(tenant_id=user.tenant_id, user=user, kind=kind, label=label, **fields)
    require_company_admin(actor, device)
    device.full_clean()
    with transaction.atomic():
        device.save()
        record(actor, "created", device, None, snapshot(device))
        config_changed_on_commit(user.tenant_id)
    return device


def do_regenerate_device_secret(actor, device: Device) -> str:
    """A new strong SIP password; the old one stops working at the next apply."""
    require_company_admin(actor, device)
    with transaction.atomic():
        before = snapshot(device)
        device.secret = generate_sip_secret()
        device.save(update_fields=["secret"])
        # The snapshot masks secrets, so "changed" with both masked still tells who did it when.
        record(actor, "secret_regenerated", device, before, snapshot(device))
        config_changed_on_commit(device.tenant_id)
    return device.secret
