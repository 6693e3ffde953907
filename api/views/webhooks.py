"""A company's webhook endpoints (docs/webhooks.md), as in the admin: company admins, or a key with
``company:read`` / ``company:write``. The signing secret is shown to those who may read the endpoint."""

from __future__ import annotations

from rest_framework import serializers

from pbx.webhooks.models import WebhookEndpoint

from ..serializers import action_serializer
from .base import CompanyViewSet

WebhookEndpointSerializer = action_serializer(
    WebhookEndpoint, ("url", "description", "event_types", "is_active", "secret", "disabled_at", "disabled_reason",
                      "last_success_at", "last_failure_at"),
    read_only=("secret", "disabled_at", "disabled_reason", "last_success_at", "last_failure_at"),
    extra={"event_types": serializers.ListField(child=serializers.CharField(max_length=40), required=False,
                                                max_length=20)},
)


class WebhookEndpointViewSet(CompanyViewSet):
    """Webhook endpoints: where the company's events are POSTed, signed (Standard Webhooks)."""

    model, serializer_class, scope_area = WebhookEndpoint, WebhookEndpointSerializer, "company"
    ordering_fields, ordering = ("url", "id"), ("url",)
    filterset_fields = ("is_active",)

    def visible_to(self, queryset, user):
        return queryset.none()  # the secrets are the company admin's: nobody else lists them
