"""Presence statuses ("hänvisning"), people's current status, forwarding profiles ("profiler")."""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbx.actions import do_activate_profile, do_set_presence
from pbx.models import ForwardingProfile, ForwardingRule, PresenceStatus, UserPresence

from .base import ScopedModelAdmin, ScopedModelForm, ScopedTabularInline


@admin.register(PresenceStatus)
class PresenceStatusAdmin(ScopedModelAdmin):
    list_display = ("name", "code", "asterisk_state", "default_message", "needs_end_time", "forward_to", "sort_order")
    list_filter = ("asterisk_state", "needs_end_time")
    search_fields = ("name", "default_message")
    autocomplete_fields = ("forward_to",)


class UserPresenceForm(ScopedModelForm):
    class Meta:
        model = UserPresence
        fields = ("status", "message", "until")

    def clean(self):
        # The same refusals as do_set_presence, here so that they become form errors.
        cleaned = super().clean()
        status, until = cleaned.get("status"), cleaned.get("until")
        if status is not None and status.needs_end_time and until is None:
            self.add_error("until", _("%(status)s needs an end time.") % {"status": status.name})
        if status is not None and until is not None and until <= timezone.now():
            self.add_error("until", _("The end time has already passed."))
        return cleaned


@admin.register(UserPresence)
class UserPresenceAdmin(ScopedModelAdmin):
    """Everyone's current status; created with the person, changed through do_set_presence."""

    company_admin_permissions = frozenset({"view", "change", "delete"})
    superuser_permissions = company_admin_permissions
    form = UserPresenceForm
    list_display = ("user", "status", "message", "until", "set_at")
    list_filter = ("status",)
    list_select_related = ("user", "status", "tenant")
    search_fields = ("user__first_name", "user__last_name", "user__email", "user__extension", "message")
    fields = ("user", "status", "message", "until", "set_at")
    readonly_fields = ("user", "set_at")

    def save_object(self, request, obj, form, change, save_related) -> None:
        if obj.status is None:
            # Available: the message and end time belong to a status.
            obj.message, obj.until = "", None
        try:
            do_set_presence(request.user, obj.user, obj.status, message=obj.message, until=obj.until)
        except ValidationError as exc:  # raced with the clock since the form was checked
            self.message_user(request, " ".join(exc.messages), messages.ERROR)
        save_related()


class ForwardingRuleForm(ScopedModelForm):
    class Meta:
        model = ForwardingRule
        fields = "__all__"

    def clean_forward_number(self):
        return self.clean_phone("forward_number")

    def clean_no_answer_number(self):
        return self.clean_phone("no_answer_number")

    def clean_busy_number(self):
        return self.clean_phone("busy_number")

    def clean_unreachable_number(self):
        return self.clean_phone("unreachable_number")


class ForwardingRuleInline(ScopedTabularInline):
    model = ForwardingRule
    form = ForwardingRuleForm
    fields = ("line", "action", "forward_number", "no_answer_seconds", "on_no_answer", "no_answer_number",
              "on_busy", "busy_number", "on_unreachable", "unreachable_number")


@admin.register(ForwardingProfile)
class ForwardingProfileAdmin(ScopedModelAdmin):
    inlines = (ForwardingRuleInline,)
    list_display = ("name", "user", "is_active", "activation", "schedule")
    list_filter = ("is_active", "activation", "user__department")
    list_select_related = ("user", "schedule", "tenant")
    search_fields = ("name", "user__first_name", "user__last_name", "user__email", "user__extension")
    autocomplete_fields = ("user", "schedule")
    # Which profile is active is the person's live choice: switch it with the action.
    readonly_fields = ("is_active",)
    actions = ("activate",)

    @admin.action(description=_("Make this the active profile of its user"), permissions=["change"])
    def activate(self, request, queryset):
        for profile in queryset.select_related("user"):
            do_activate_profile(request.user, profile)
        self.message_user(request, _("Done."), messages.SUCCESS)
