"""Presence statuses ("hänvisning"), people's current status, forwarding profiles ("profiler")."""

from __future__ import annotations

import zoneinfo

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.views.main import ChangeList
from django.core.exceptions import ValidationError
from django.utils import formats, timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _

from pbx.actions import do_activate_profile, do_set_presence
from pbx.models import ForwardingProfile, ForwardingRule, PresenceStatus, UserPresence
from pbx.selectors import MANUAL, InForce, forwarding_in_force, forwarding_in_force_for

from .base import ScopedModelAdmin, ScopedModelForm, ScopedTabularInline


class PresenceStatusForm(ScopedModelForm):
    class Meta:
        model = PresenceStatus
        fields = "__all__"
        # The browser's colour picker: the admin sees and chooses the colour itself, not a code.
        widgets = {"color": forms.TextInput(attrs={"type": "color"})}


def colour_swatch(colour: str) -> str:
    """A swatch in the status's own colour. An SVG's fill attribute, not a style attribute (which the
    Content-Security-Policy refuses); the colour is #rrggbb by the model's validator, escaped anyway."""
    return format_html('<svg class="swatch-svg" width="18" height="18" viewBox="0 0 18 18" role="img" aria-label="{}">'
                       '<rect width="18" height="18" rx="4" fill="{}"/></svg>', colour, colour)


@admin.register(PresenceStatus)
class PresenceStatusAdmin(ScopedModelAdmin):
    form = PresenceStatusForm
    list_display = ("swatch", "name", "code", "asterisk_state", "default_message", "needs_end_time", "default_minutes",
                    "forward_to", "sort_order")
    list_display_links = ("name",)

    @admin.display(description=_("colour"))
    def swatch(self, obj: PresenceStatus) -> str:
        return colour_swatch(obj.color)
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
    phone_fields = ("forward_number", "no_answer_number", "busy_number", "unreachable_number")

    class Meta:
        model = ForwardingRule
        fields = "__all__"


class ForwardingRuleInline(ScopedTabularInline):
    model = ForwardingRule
    form = ForwardingRuleForm
    fields = ("line", "action", "forward_number", "no_answer_seconds", "on_no_answer", "no_answer_number",
              "on_busy", "busy_number", "on_unreachable", "unreachable_number")


class InForceChangeList(ChangeList):
    """Reads what is in force for every person on the page at once (pbx.selectors), not per row."""

    def get_results(self, request):
        super().get_results(request)
        in_force = forwarding_in_force_for({profile.user_id for profile in self.result_list})
        for profile in self.result_list:
            profile.in_force = in_force[profile.user_id]


def in_force_text(profile: ForwardingProfile, info: InForce) -> str:
    """This profile's part in what decides its owner's calls now, and when that changes (company time)."""
    tz = zoneinfo.ZoneInfo(profile.tenant.time_zone)

    def when(instant):
        return formats.date_format(instant.astimezone(tz), "D j F H:i")

    if info.profile == profile:
        reason = _("by hand") if info.reason == MANUAL else _("by schedule")
        if info.next_change is None:
            return _("In force now (%(reason)s)") % {"reason": reason}
        return _("In force now (%(reason)s), until %(time)s") % {"reason": reason, "time": when(info.next_change)}
    if info.next_profile == profile and info.next_change is not None:
        return _("In force from %(time)s") % {"time": when(info.next_change)}
    return _("Not in force")


@admin.register(ForwardingProfile)
class ForwardingProfileAdmin(ScopedModelAdmin):
    inlines = (ForwardingRuleInline,)
    list_display = ("name", "user", "is_active", "activation", "schedule", "in_force_now")
    list_filter = ("is_active", "activation", "user__department")
    list_select_related = ("user", "schedule", "tenant")
    search_fields = ("name", "user__first_name", "user__last_name", "user__email", "user__extension")
    autocomplete_fields = ("user", "schedule")
    # Which profile is active is the person's live choice: switch it with the action.
    readonly_fields = ("is_active", "in_force_now")
    actions = ("activate",)

    def get_changelist(self, request, **kwargs):
        return InForceChangeList

    @admin.display(description=_("now"))
    def in_force_now(self, obj: ForwardingProfile) -> str:
        if obj.pk is None:
            return "–"
        info = getattr(obj, "in_force", None) or forwarding_in_force(obj.user)
        return in_force_text(obj, info)

    @admin.action(description=_("Make this the active profile of its user"), permissions=["change"])
    def activate(self, request, queryset):
        for profile in queryset.select_related("user"):
            do_activate_profile(request.user, profile)
        self.message_user(request, _("Done."), messages.SUCCESS)
