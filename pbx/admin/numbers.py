"""Phone numbers, trunks and destinations."""

from __future__ import annotations

from django import forms
from django.contrib import admin
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from pbx.models import Destination, Number, NumberAssignment, SipTrunk
from pbx.phone_format import number_html

from .base import VIEW_ONLY, ScopedModelAdmin, ScopedModelForm


class NumberForm(ScopedModelForm):
    phone_fields = ("e164", "forward_to")

    class Meta:
        model = Number
        fields = "__all__"


@admin.register(Number)
class NumberAdmin(ScopedModelAdmin):
    form = NumberForm
    list_display = ("number", "kind", "label", "destination", "user", "schedule", "forwarded_to", "usable_as_caller_id",
                    "is_verified")
    list_filter = ("kind", "usable_as_caller_id", "is_verified", "schedule", "trunk")
    # A mobile number is the person's own; the platform's operator checks it before it is used.
    superuser_only_fields = ("is_verified",)
    list_select_related = ("destination__user", "destination__queue", "destination__menu", "destination__voicemail_box",
                           "destination__conference", "user", "schedule", "tenant")
    search_fields = ("e164", "label", "forward_to", "user__first_name", "user__last_name", "user__email")
    autocomplete_fields = ("user", "destination", "schedule", "closed_destination", "welcome_prompt", "trunk")
    fieldsets = (
        (None, {"fields": ("tenant", "e164", "kind", "label", "user", "usable_as_caller_id", "is_verified")}),
        (_("Where calls go"), {"fields": ("welcome_prompt", "destination", "schedule", "closed_destination")}),
        (_("Reserved number"), {"fields": ("forward_to",)}),
        (_("Operator"), {"fields": ("trunk",)}),
    )

    @admin.display(description=_("number"), ordering="e164")
    def number(self, obj: Number) -> str:
        return number_html(obj.e164)

    @admin.display(description=_("forward to"), ordering="forward_to")
    def forwarded_to(self, obj: Number) -> str:
        return number_html(obj.forward_to) or "–"

    def changelist_view(self, request, extra_context=None):
        # The reserved numbers have their own page (forwarding them); linked above the list.
        extra_context = {**(extra_context or {}), "reserved_url": reverse("admin:pbx_reserved_numbers")}
        return super().changelist_view(request, extra_context)


class SipTrunkForm(ScopedModelForm):
    class Meta:
        model = SipTrunk
        fields = "__all__"
        widgets = {"password": forms.PasswordInput(render_value=True)}

    def clean_identify_match(self):
        # "81.2.3.4, 81.2.3.5" and one address a line are what people paste; stored as Asterisk reads it.
        value = self.cleaned_data.get("identify_match", "")
        return ",".join(part.strip() for part in value.replace("\n", ",").split(",") if part.strip())

    def clean_host(self):
        return (self.cleaned_data.get("host") or "").strip().rstrip(".").lower()


@admin.register(SipTrunk)
class SipTrunkAdmin(ScopedModelAdmin):
    form = SipTrunkForm
    # A shared trunk carries every company's calls on the node: the operator's decision.
    superuser_only_fields = ("is_shared",)
    list_display = ("name", "host", "port", "identify_match", "username", "register", "is_enabled", "is_shared")
    list_filter = ("register", "is_enabled", "is_shared")
    search_fields = ("name", "host", "username")
    fields = ("tenant", "name", "host", "port", "username", "password", "register", "identify_match", "is_enabled",
              "is_shared")


class NumberAssignmentForm(ScopedModelForm):
    phone_fields = ("first", "last")

    class Meta:
        model = NumberAssignment
        fields = "__all__"


@admin.register(NumberAssignment)
class NumberAssignmentAdmin(ScopedModelAdmin):
    """The platform's operator gives numbers to companies; a company admin sees what it was given."""

    form = NumberAssignmentForm
    company_admin_permissions = VIEW_ONLY
    list_display = ("__str__", "note", "created")
    search_fields = ("first", "last", "note")
    fields = ("tenant", "first", "last", "note")


class DestinationForm(ScopedModelForm):
    phone_fields = ("external_number", "notify_sms")

    class Meta:
        model = Destination
        fields = "__all__"


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
            "fields": ("user", "queue", "menu", "voicemail_box", "conference", "external_number"),
        }),
        (_("Callback requests: tell someone"), {"fields": ("notify_email", "notify_sms")}),
    )

    @admin.display(description=_("target"))
    def target_display(self, obj: Destination) -> str:
        if obj.kind == Destination.Kind.EXTERNAL:
            return obj.external_number
        return str(obj.target) if obj.target is not None else "–"
