"""Companies, Asterisk nodes and the audit log."""

from __future__ import annotations

import json

from django.contrib import admin
from django.template.loader import render_to_string
from django.utils.html import format_html
from django.utils.text import capfirst
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from pbx import audit_text
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
            readonly.append("node_name")
        return readonly

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        if request.user.is_superuser:
            return fieldsets
        # A read-only foreign key is shown as a link to its admin page, which is the operator's alone: a
        # company admin would follow it into a bare "403 Forbidden". The node's name is all they need.
        return [(name, {**options, "fields": ["node_name" if f == "node" else f for f in options["fields"]]})
                for name, options in fieldsets]

    @admin.display(description=_("Asterisk node"))
    def node_name(self, obj: Tenant) -> str:
        return obj.node.name if obj is not None and obj.node_id else "–"

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


class AuditActionFilter(admin.SimpleListFilter):
    """The action codes present in the visible log, named in the reader's language."""

    title = _("event")
    parameter_name = "action"

    def lookups(self, request, model_admin):
        codes = model_admin.get_queryset(request).order_by().values_list("action", flat=True).distinct()
        return sorted(((code, audit_text.action_label(code)) for code in codes), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(action=self.value()) if self.value() else queryset


class AuditTypeFilter(admin.SimpleListFilter):
    """What kind of thing changed, by the model's translated name instead of ``pbx.forwardingrule``."""

    title = _("kind")
    parameter_name = "object_type"

    def lookups(self, request, model_admin):
        types = model_admin.get_queryset(request).order_by().values_list("object_type", flat=True).distinct()
        return sorted(((code, capfirst(audit_text.type_label(code))) for code in types), key=lambda pair: pair[1])

    def queryset(self, request, queryset):
        return queryset.filter(object_type=self.value()) if self.value() else queryset


@admin.register(AuditLog)
class AuditLogAdmin(ScopedModelAdmin):
    """Who changed what, when: readable by the company's admins, changeable by nobody."""

    company_admin_permissions = VIEW_ONLY
    superuser_permissions = VIEW_ONLY
    list_display = ("created_at", "what_happened")
    list_display_links = ("created_at",)
    list_filter = (AuditActionFilter, AuditTypeFilter, "actor")
    list_select_related = ("actor", "tenant")
    search_fields = ("object_repr", "object_id", "action", "actor__email", "actor__first_name", "actor__last_name")
    date_hierarchy = "created_at"
    # The event and the kind in words; the codes (``presence_set``, ``pbx.forwardingrule``) are for the API.
    fields = ("tenant", "created_at", "what_happened", "actor", "event", "kind", "object_id", "object_repr",
              "before_json", "after_json")
    readonly_fields = ("created_at", "what_happened", "event", "kind", "before_json", "after_json")

    @admin.display(description=_("what happened"))
    def what_happened(self, obj: AuditLog) -> str:
        return audit_text.sentence(obj)

    @admin.display(description=_("event"))
    def event(self, obj: AuditLog) -> str:
        return audit_text.action_label(obj.action)

    @admin.display(description=_("kind"))
    def kind(self, obj: AuditLog) -> str:
        return capfirst(audit_text.type_label(obj.object_type))

    @admin.display(description=_("before"))
    def before_json(self, obj: AuditLog) -> str:
        return _pretty_json(obj.before)

    @admin.display(description=_("after"))
    def after_json(self, obj: AuditLog) -> str:
        return _pretty_json(obj.after)
