"""Phone numbers, trunks and destinations."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from pbx.models import Destination, Number, SipTrunk

from .base import ScopedModelAdmin, ScopedModelForm


class NumberForm(ScopedModelForm):
    class Meta:
        model = Number
        fields = "__all__"

    def clean_e164(self):
        return self.clean_phone("e164")

    def clean_forward_to(self):
        return self.clean_phone("forward_to")


@admin.register(Number)
class NumberAdmin(ScopedModelAdmin):
    form = NumberForm
    list_display = ("e164", "kind", "label", "destination", "user", "schedule", "usable_as_caller_id")
    list_filter = ("kind", "usable_as_caller_id", "schedule", "trunk")
    list_select_related = ("destination__user", "destination__queue", "destination__menu", "destination__voicemail_box",
                           "destination__conference", "user", "schedule", "tenant")
    search_fields = ("e164", "label", "forward_to", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("user", "destination", "schedule", "closed_destination", "welcome_prompt", "trunk")
    fieldsets = (
        (None, {"fields": ("tenant", "e164", "kind", "label", "user", "usable_as_caller_id")}),
        (_("Where calls go"), {"fields": ("welcome_prompt", "destination", "schedule", "closed_destination")}),
        (_("Reserved number"), {"fields": ("forward_to",)}),
        (_("Operator"), {"fields": ("trunk",)}),
    )


class SipTrunkForm(ScopedModelForm):
    class Meta:
        model = SipTrunk
        fields = "__all__"
        widgets = {"password": forms.PasswordInput(render_value=True)}


@admin.register(SipTrunk)
class SipTrunkAdmin(ScopedModelAdmin):
    form = SipTrunkForm
    # A shared trunk carries every company's calls on the node: the operator's decision.
    superuser_only_fields = ("is_shared",)
    list_display = ("name", "host", "username", "register", "is_enabled", "is_shared")
    list_filter = ("register", "is_enabled", "is_shared")
    search_fields = ("name", "host", "username")


class DestinationForm(ScopedModelForm):
    class Meta:
        model = Destination
        fields = "__all__"

    def clean_external_number(self):
        return self.clean_phone("external_number")


@admin.register(Destination)
class DestinationAdmin(ScopedModelAdmin):
    form = DestinationForm
    list_display = ("__str__", "kind", "target_display", "label")
    list_filter = ("kind",)
    list_select_related = ("user", "queue", "menu", "voicemail_box", "conference", "tenant")
    search_fields = ("label", "external_number", "user__first_name", "user__last_name", "user__email",
                     "queue__name", "menu__name", "voicemail_box__name", "conference__name")
    autocomplete_fields = ("user", "queue", "menu", "voicemail_box", "conference")
    fieldsets = (
        (None, {"fields": ("tenant", "kind", "label")}),
        (_("Target (fill in the one that matches the kind)"), {
            "fields": ("user", "queue", "menu", "voicemail_box", "conference", "external_number", "notify_email"),
        }),
    )

    @admin.display(description=_("target"))
    def target_display(self, obj: Destination) -> str:
        if obj.kind == Destination.Kind.EXTERNAL:
            return obj.external_number
        return str(obj.target) if obj.target is not None else "–"
