"""What was sent to whom and how it went: readable by the company's admins, changeable by nobody."""

from __future__ import annotations

from django.contrib import admin

from pbx.admin.base import VIEW_ONLY, ScopedModelAdmin

from .models import Notification


@admin.register(Notification)
class NotificationAdmin(ScopedModelAdmin):
    company_admin_permissions = VIEW_ONLY
    superuser_permissions = VIEW_ONLY
    list_display = ("created_at", "channel", "recipient", "topic", "subject", "status", "attempts", "sent_at")
    list_filter = ("status", "channel", "topic")
    list_select_related = ("tenant",)
    search_fields = ("recipient", "subject", "body")
    fields = ("tenant", "channel", "recipient", "topic", "subject", "body", "attachment_name", "status", "attempts",
              "last_error", "created_at", "last_attempt_at", "sent_at")
    readonly_fields = fields
