"""Callback requests: the company's list of callers to call back, marked done through the action."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.utils.translation import gettext_lazy as _

from pbx.actions.callbacks import do_mark_callback_done
from pbx.models import CallbackRequest

from .base import VIEW_ONLY, ScopedModelAdmin


@admin.register(CallbackRequest)
class CallbackRequestAdmin(ScopedModelAdmin):
    # Nothing here is edited: the one change, "called back", is the action below (do_mark_callback_done).
    company_admin_permissions = VIEW_ONLY
    superuser_permissions = VIEW_ONLY
    list_display = ("requested_at", "number", "caller_number", "queue", "kind", "status", "done_by", "done_at")
    list_filter = ("status", "kind", "queue")
    list_select_related = ("queue", "done_by", "tenant")
    search_fields = ("number", "caller_number", "caller_name")
    fields = ("tenant", "kind", "number", "caller_number", "caller_name", "queue", "destination", "requested_at",
              "status", "done_by", "done_at", "call_id", "channel_id")
    readonly_fields = fields
    actions = ("mark_done",)

    @admin.action(description=_("Mark as called back"), permissions=["view"])
    def mark_done(self, request, queryset):
        done = 0
        for callback in queryset.filter(status=CallbackRequest.Status.OPEN):
            try:
                do_mark_callback_done(request.user, callback)
                done += 1
            except PermissionDenied as error:
                self.message_user(request, str(error), messages.WARNING)
        self.message_user(request, _("%(count)d marked as called back.") % {"count": done}, messages.SUCCESS)
