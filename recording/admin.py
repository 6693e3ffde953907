"""Call recording's policy in the company-scoped admin ("Regelverk / Policyregler"): a company admin sets it for
their own company only (pbx/admin/base.py does the scoping; saves go through pbx.actions, so each change is
audited, applied to the dialplan and written to AstDB). Recordings and licence refusals are read-only here; the
recording web lists them for the recording roles."""

from __future__ import annotations

from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from pbx.admin.base import VIEW_ONLY, ScopedModelAdmin, ScopedModelForm
from pbx.phone_format import number_html

from .models import (
    ApprovedNumber,
    DepartmentRule,
    ExcludedNumber,
    LicenceRefusal,
    QueuePolicy,
    RecordedPerson,
    Recording,
    RecordingSettings,
)


@admin.register(RecordingSettings)
class RecordingSettingsAdmin(ScopedModelAdmin):
    list_display = ("__str__", "tenant", "enabled", "kill_switch", "announcement")
    list_editable = ()
    autocomplete_fields = ("announcement",)


@admin.register(QueuePolicy)
class QueuePolicyAdmin(ScopedModelAdmin):
    list_display = ("queue", "policy")
    list_filter = ("policy",)
    autocomplete_fields = ("queue",)


@admin.register(DepartmentRule)
class DepartmentRuleAdmin(ScopedModelAdmin):
    list_display = ("department", "inbound_external", "outbound_external", "internal")
    autocomplete_fields = ("department",)


class ExcludedNumberForm(ScopedModelForm):
    class Meta:
        model = ExcludedNumber
        fields = "__all__"

    def clean_e164(self):
        return self.clean_phone("e164")


@admin.register(ExcludedNumber)
class ExcludedNumberAdmin(ScopedModelAdmin):
    form = ExcludedNumberForm
    list_display = ("e164", "note")
    search_fields = ("e164", "note")


@admin.register(ApprovedNumber)
class ApprovedNumberAdmin(ScopedModelAdmin):
    list_display = ("number", "active")
    autocomplete_fields = ("number",)


@admin.register(RecordedPerson)
class RecordedPersonAdmin(ScopedModelAdmin):
    list_display = ("user", "enabled")
    list_filter = ("enabled",)
    autocomplete_fields = ("user",)


class ReadOnlyAdmin(ScopedModelAdmin):
    company_admin_permissions = VIEW_ONLY
    superuser_permissions = VIEW_ONLY

    def get_readonly_fields(self, request, obj=None):
        # The bookkeeping times have no translated name ("Created at"): the row's own times say enough.
        return [f.name for f in self.model._meta.get_fields()
                if f.concrete and f.name not in ("id", "created_at", "updated_at")]

    def get_fields(self, request, obj=None):
        return self.get_readonly_fields(request, obj)


@admin.register(LicenceRefusal)
class LicenceRefusalAdmin(ReadOnlyAdmin):
    list_display = ("at", "kind", "user", "in_use", "limit", "linkedid")
    list_filter = ("kind",)
    date_hierarchy = "at"


@admin.register(Recording)
class RecordingAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "extension", "user", "other", "dialled", "direction", "queue",
                    "reason", "status", "duration_s")
    list_filter = ("status", "reason", "direction")
    search_fields = ("other_number", "dialled_number", "extension", "linkedid")
    date_hierarchy = "started_at"

    @admin.display(description=_("other party"), ordering="other_number")
    def other(self, obj: Recording) -> str:
        return number_html(obj.other_number) or "–"

    @admin.display(description=_("dialled number (DDI)"), ordering="dialled_number")
    def dialled(self, obj: Recording) -> str:
        return number_html(obj.dialled_number) or "–"
