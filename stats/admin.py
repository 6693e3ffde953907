"""The call log and queue log in the admin: read-only for everyone, a company admin sees their own only.

Rows are written by the event bridge alone; ``ScopedModelAdmin`` (pbx/admin/base.py) does the scoping.
"""

from __future__ import annotations

from django.contrib import admin
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from pbx.admin.base import VIEW_ONLY, ScopedModelAdmin
from pbx.phone_format import number_html

from .models import CallLog, QueueEvent
from .selectors import called_name, caller_name


class ReadOnlyAdmin(ScopedModelAdmin):
    company_admin_permissions = VIEW_ONLY
    superuser_permissions = VIEW_ONLY
    date_hierarchy = None

    def get_readonly_fields(self, request, obj=None):
        shown = [name for name in (self.fields or ()) if hasattr(self, name)]  # the admin's own display methods
        return [f.name for f in self.model._meta.get_fields() if f.concrete and f.name != "id"] + shown


@admin.register(CallLog)
class CallLogAdmin(ReadOnlyAdmin):
    list_display = ("started_at", "direction", "from_who", "to_who", "answered_by", "queue", "result",
                    "queue_result", "forwarded", "wait_s", "talk_s", "transfer_count", "recorded", "complete")
    list_filter = ("direction", "result", "queue_result", "forward_reason", "queue", "recorded", "complete")
    list_select_related = ("answered_by", "caller", "forwarded_from", "queue", "tenant")
    search_fields = ("from_number", "from_name", "to_number", "dialled_number", "linkedid")
    date_hierarchy = "started_at"
    fields = ("tenant", "linkedid", "started_at", "answered_at", "ended_at", "direction", "from_number_shown",
              "from_name", "to_number_shown", "dialled_number_shown", "caller", "answered_by", "users", "queue",
              "queue_result", "wait_s", "talk_s", "result", "forwarded_from", "forward_reason", "forwarded",
              "voicemail_box", "hangup_cause", "transfers", "recorded", "complete")

    @admin.display(description=_("from"))
    def from_who(self, obj: CallLog) -> str:
        return format_html_join(" ", "{}", ((x,) for x in (caller_name(obj), number_html(obj.from_number)) if x)) or "–"

    @admin.display(description=_("to"))
    def to_who(self, obj: CallLog) -> str:
        # The person by the row's own links (no directory lookup per row in a list of hundreds).
        return format_html_join(" ", "{}", ((x,) for x in (called_name(obj), number_html(obj.to_number)) if x)) or "–"

    @admin.display(description=_("forwarded to"))
    def forwarded(self, obj: CallLog) -> str:
        if not obj.forward_reason:
            return ""
        return format_html("{} ({})", number_html(obj.forwarded_to) or "–", obj.get_forward_reason_display())

    # The detail page's numbers the Swedish way too (the stored fields stay E.164 for search and the API).
    @admin.display(description=_("from"))
    def from_number_shown(self, obj: CallLog) -> str:
        return number_html(obj.from_number) or "–"

    @admin.display(description=_("to"))
    def to_number_shown(self, obj: CallLog) -> str:
        return number_html(obj.to_number) or "–"

    @admin.display(description=_("dialled number"))
    def dialled_number_shown(self, obj: CallLog) -> str:
        return number_html(obj.dialled_number) or "–"

    @admin.display(description=_("transfers"))
    def transfer_count(self, obj: CallLog) -> int:
        return len(obj.transfers or [])


@admin.register(QueueEvent)
class QueueEventAdmin(ReadOnlyAdmin):
    list_display = ("at", "queue", "kind", "position", "wait_s", "talk_s", "agent")
    list_filter = ("kind", "queue", "agent")
    list_select_related = ("queue", "agent", "tenant")
    search_fields = ("linkedid", "queue_name")
    date_hierarchy = "at"
    fields = ("tenant", "at", "queue", "queue_name", "kind", "position", "wait_s", "talk_s", "agent",
              "agent_interface", "call", "linkedid", "uniqueid")
