"""API keys in the company's admin: created (the secret shown once, in the confirmation message), listed with
their last use, and revoked. A key is never edited: a changed need is a new key."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from pbx.admin.base import ScopedModelAdmin, ScopedModelForm

from .auth import do_create_api_key, do_revoke_api_key
from .models import SCOPES, ApiKey


class ApiKeyForm(ScopedModelForm):
    scopes = forms.MultipleChoiceField(label=_("scopes"), choices=list(SCOPES.items()), required=False,
                                       widget=forms.CheckboxSelectMultiple,
                                       help_text=_("A company key can do only this. A personal token carries "
                                                   "your own rights and has no scopes."))

    class Meta:
        model = ApiKey
        fields = ("name", "kind", "scopes", "expires_at")


@admin.register(ApiKey)
class ApiKeyAdmin(ScopedModelAdmin):
    form = ApiKeyForm
    list_display = ("name", "kind", "user", "prefix", "created_at", "last_used_at", "expires_at", "revoked_at")
    list_filter = ("kind",)
    search_fields = ("name", "prefix")
    actions = ("revoke",)
    # Never edited (a changed need is a new key), revoked with the list's action, not deleted: the audit trail
    # and last use stay readable. A key acts as a person of a company: superusers only look.
    company_admin_permissions = frozenset({"view", "add", "change"})
    superuser_permissions = frozenset({"view"})

    def get_readonly_fields(self, request, obj=None):
        if obj is not None:
            return ["name", "kind", "user", "scopes", "prefix", "created_at", "last_used_at", "expires_at",
                    "revoked_at"]
        return super().get_readonly_fields(request, obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if not self._may(request, "change"):
            actions.pop("revoke", None)
        return actions

    def save_related(self, request, form, formsets, change):
        if change:
            return  # nothing of a key changes
        data = form.cleaned_data
        key, secret = do_create_api_key(request.user, request.user, name=data["name"], kind=data["kind"],
                                        scopes=data.get("scopes") or [], expires_at=data.get("expires_at"))
        form.instance.pk = key.pk
        messages.warning(request, _("Copy the key now, it is shown only this once: %(key)s") % {"key": secret})

    @admin.action(description=_("Revoke the selected keys"))
    def revoke(self, request, queryset):
        for key in queryset:
            do_revoke_api_key(request.user, key)
        messages.success(request, _("Revoked."))
