"""Companies, Asterisk nodes and the audit log."""

from __future__ import annotations

import json

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from pbx.actions import do_create_tenant
from pbx.apply_status import held_status
from pbx.models import AsteriskNode, AuditLog, Tenant

from .base import NO_PERMISSIONS, VIEW_ONLY, ScopedModelAdmin

# What a company admin may change about their own company; licences, node and the short name
# (which names its Asterisk resources) are the operator's.
COMPANY_ADMIN_EDITABLE = ("name", "time_zone", "language",
                          "mfa_required_admins", "mfa_required_operators", "mfa_required_recording")


@admin.register(Tenant)
class CompanyAdmin(ScopedModelAdmin):
    company_admin_permissions = frozenset({"view", "change"})
    list_display = ("name", "slug", "node", "time_zone", "language", "max_users", "user_count", "is_active")
    list_filter = ("is_active", "language", "node")
    search_fields = ("name", "slug")
    fieldsets = (
        (None, {"fields": ("configuration_status", "name", "slug", "time_zone", "language", "country_code",
                           "is_active")}),
        (_("Licences"), {"fields": ("max_users", "max_recording_channels", "recording_retention_days")}),
        (_("Telephony"), {"fields": ("node", "emergency_numbers")}),
        (_("Two-factor sign-in"), {"fields": ("mfa_required_admins", "mfa_required_operators",
                                              "mfa_required_recording")}),
    )

    def get_readonly_fields(self, request, obj=None):
        readonly = [*super().get_readonly_fields(request, obj), "configuration_status"]
        if not request.user.is_superuser:
            readonly += [f.name for f in Tenant._meta.fields if f.editable and f.name not in COMPANY_ADMIN_EDITABLE]
        return readonly

    @admin.display(description=_("configuration"))
    def configuration_status(self, obj: Tenant) -> str:
        """Whether the company's latest changes are in service, and if not, why (apply_status)."""
        held = held_status(obj) if obj is not None and obj.pk else None
        if held is None:
            return gettext("In service.")
        return render_to_string("portal/_config_held.html", {"held": held})

    @admin.display(description=_("users"))
    def user_count(self, obj: Tenant) -> int:
        return obj.users.count()

    def save_object(self, request, obj, form, change, save_related) -> None:
        if change:
            super().save_object(request, obj, form, change, save_related)
            return
        fields = {f.name: getattr(obj, f.name) for f in Tenant._meta.concrete_fields
                  if f.name in form.cleaned_data and f.name not in ("name", "slug")}
        tenant = do_create_tenant(request.user, name=obj.name, slug=obj.slug, **fields)
        vars(obj).update(vars(tenant))  # the admin goes on with the row it gave us
        save_related()


@admin.register(AsteriskNode)
class AsteriskNodeAdmin(ScopedModelAdmin):
    """Servers and their AMI/ARI secrets: the operator's (superusers') business only."""

    company_admin_permissions = NO_PERMISSIONS
    list_display = ("name", "ami_host", "ari_url", "is_default", "last_apply_at", "last_apply_ok")
    list_filter = ("is_default", "last_apply_ok")
    search_fields = ("name", "ami_host")
    readonly_fields = ("last_apply_at", "last_apply_ok", "last_apply_message")


def _pretty_json(value) -> str:
    if value is None:
        return "–"
    return format_html("<pre>{}</pre>", json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True))


@admin.register(AuditLog)
class AuditLogAdmin(ScopedModelAdmin):
    """Who changed what, when: readable by the company's admins, changeable by nobody."""

    company_admin_permissions = VIEW_ONLY
    superuser_permissions = VIEW_ONLY
    list_display = ("created_at", "actor", "action", "object_type", "object_repr")
    list_filter = ("action", "object_type", "actor")
    list_select_related = ("actor", "tenant")
    search_fields = ("object_repr", "object_id", "action", "actor__email")
    fields = ("tenant", "created_at", "actor", "action", "object_type", "object_id", "object_repr",
              "before_json", "after_json")
    readonly_fields = ("created_at", "before_json", "after_json")

    @admin.display(description=_("before"))
    def before_json(self, obj: AuditLog) -> str:
        return _pretty_json(obj.before)

    @admin.display(description=_("after"))
    def after_json(self, obj: AuditLog) -> str:
        return _pretty_json(obj.after)
