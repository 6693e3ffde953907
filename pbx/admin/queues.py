"""Queues ("svarsgrupper") and their agents."""

from __future__ import annotations

from django.contrib import admin, messages
from django.utils.translation import gettext_lazy as _

from pbx.actions import do_queue_login, do_queue_logout, do_queue_pause
from pbx.models import Queue, QueueAgent

from .base import ScopedModelAdmin, ScopedModelForm, ScopedTabularInline

# Logged in / paused is live state that Asterisk is told about: the actions below change it.
AGENT_STATE = ("logged_in", "paused", "pause_reason")


class QueueAgentInline(ScopedTabularInline):
    model = QueueAgent
    fields = ("user", "priority", *AGENT_STATE)
    readonly_fields = AGENT_STATE
    autocomplete_fields = ("user",)


class QueueForm(ScopedModelForm):
    phone_fields = ("notify_last_agent_logout_sms",)

    class Meta:
        model = Queue
        fields = "__all__"


@admin.register(Queue)
class QueueAdmin(ScopedModelAdmin):
    form = QueueForm
    inlines = (QueueAgentInline,)
    list_display = ("name", "extension", "strategy", "max_wait_seconds", "agent_count", "callback_enabled")
    list_filter = ("strategy", "callback_enabled")
    search_fields = ("name", "extension")
    autocomplete_fields = ("periodic_prompt", "overflow_destination", "no_agents_destination")

    @admin.display(description=_("agents"))
    def agent_count(self, obj: Queue) -> int:
        return obj.agents.count()


@admin.register(QueueAgent)
class QueueAgentAdmin(ScopedModelAdmin):
    list_display = ("user", "queue", "priority", *AGENT_STATE)
    list_filter = ("queue", "logged_in", "paused")
    list_select_related = ("user", "queue", "tenant")
    search_fields = ("user__first_name", "user__last_name", "user__email", "user__extension", "queue__name")
    autocomplete_fields = ("queue", "user")
    fields = ("queue", "user", "priority", *AGENT_STATE)
    readonly_fields = AGENT_STATE
    actions = ("log_in", "log_out", "pause", "unpause")

    def _each(self, request, queryset, action, **kwargs) -> None:
        for agent in queryset:
            action(request.user, agent, **kwargs)
        self.message_user(request, _("Done."), messages.SUCCESS)

    @admin.action(description=_("Log in to the queue"), permissions=["change"])
    def log_in(self, request, queryset):
        self._each(request, queryset, do_queue_login)

    @admin.action(description=_("Log out of the queue"), permissions=["change"])
    def log_out(self, request, queryset):
        self._each(request, queryset, do_queue_logout)

    @admin.action(description=_("Pause"), permissions=["change"])
    def pause(self, request, queryset):
        self._each(request, queryset, do_queue_pause, paused=True)

    @admin.action(description=_("End the pause"), permissions=["change"])
    def unpause(self, request, queryset):
        self._each(request, queryset, do_queue_pause, paused=False)
