"""The company admin's webhooks: endpoints (with their secret and a test button) and the delivery log."""

from __future__ import annotations

from django import forms
from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from pbx.admin.base import VIEW_ONLY, ScopedModelAdmin, ScopedModelForm

from . import deliver
from .catalogue import choices
from .emit import send_test
from .models import WebhookDelivery, WebhookEndpoint


class EndpointForm(ScopedModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https",
                         help_text=_("Your HTTPS address that receives the events (POST, JSON)."))
    event_types = forms.MultipleChoiceField(label=_("events"), choices=choices, required=False,
                                            widget=forms.CheckboxSelectMultiple,
                                            help_text=_("None chosen: every event."))

    class Meta:
        model = WebhookEndpoint
        fields = ("url", "description", "event_types", "is_active")

    def clean(self):
        data = super().clean()
        if data.get("is_active") and self.instance.disabled_at:  # switched on again by the admin
            self.instance.disabled_at = None
            self.instance.disabled_reason = ""
        return data


@admin.register(WebhookEndpoint)
class WebhookEndpointAdmin(ScopedModelAdmin):
    form = EndpointForm
    list_display = ("url", "description", "is_active", "last_success_at", "last_failure_at")
    list_filter = ("is_active",)
    search_fields = ("url", "description")
    readonly_fields = ("secret", "disabled_at", "disabled_reason", "last_success_at", "last_failure_at")
    fieldsets = (
        (None, {"fields": ("tenant", "url", "description", "event_types", "is_active")}),
        (_("Signing"), {"fields": ("secret",),
                        "description": _("Each request carries the headers webhook-id, webhook-timestamp and "
                                         "webhook-signature (Standard Webhooks). Verify the signature with this "
                                         "secret.")}),
        (_("Status"), {"fields": ("last_success_at", "last_failure_at", "disabled_at", "disabled_reason")}),
    )
    actions = ("send_test_event",)

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return fields if obj is not None else [f for f in fields if f != "secret"]

    def get_fieldsets(self, request, obj=None):
        fieldsets = super().get_fieldsets(request, obj)
        return fieldsets if obj is not None else fieldsets[:1]

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request, queryset):
        count = sum(send_test(endpoint) for endpoint in queryset.filter(is_active=True))
        self.message_user(request, ngettext("%(count)d test event sent.", "%(count)d test events sent.", count)
                          % {"count": count}, messages.SUCCESS)


@admin.register(WebhookDelivery)
class WebhookDeliveryAdmin(ScopedModelAdmin):
    company_admin_permissions = VIEW_ONLY | {"change"}
    superuser_permissions = VIEW_ONLY | {"change"}
    list_display = ("created_at", "event", "endpoint", "status", "attempts", "last_status_code", "last_response_ms",
                    "next_attempt_at", "delivered_at")
    list_filter = ("status", "endpoint", "message__event_type")
    list_select_related = ("endpoint", "message")
    search_fields = ("message__msg_id", "message__event_type")
    fields = ("endpoint", "event", "msg_id", "status", "attempts", "last_status_code", "last_response_ms",
              "last_error", "next_attempt_at", "last_attempt_at", "delivered_at", "created_at", "body")
    readonly_fields = fields
    actions = ("deliver_again",)

    @admin.display(description=_("event"), ordering="message__event_type")
    def event(self, obj: WebhookDelivery) -> str:
        return obj.message.event_type

    @admin.display(description=_("message id"))
    def msg_id(self, obj: WebhookDelivery) -> str:
        return obj.message.msg_id

    @admin.display(description=_("body"))
    def body(self, obj: WebhookDelivery) -> str:
        import json

        return json.dumps(obj.message.payload, indent=2, ensure_ascii=False)

    def has_add_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Deliver again"), permissions=["change"])
    def deliver_again(self, request, queryset):
        count = deliver.redeliver(queryset)
        from .emit import wake_worker

        wake_worker()
        self.message_user(request, ngettext("%(count)d delivery queued again.", "%(count)d deliveries queued again.",
                                            count) % {"count": count}, messages.SUCCESS)
