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

    def has_change_permission(self, request, obj=None):
        return False  # never edited; revoked with the list's action

    def has_delete_permission(self, request, obj=None):
        return False  # revoked, not deleted: the audit trail and last use stay readable

    def has_view_permission(self, request, obj=None):
        return self._may(request, "view", obj)

    def get_actions(self, request):
        actions = super().get_actions(request)
        if self._may(request, "change"):
            return actions
        actions.pop("revoke", None)
        return actions

    def save_related(self, request, form, formsets, change):
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
