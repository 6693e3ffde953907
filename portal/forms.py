"""Forms of the user web ("Mina sidor"): they validate what a person typed; the actions decide.

Every choice is limited to the signed-in person's company (querysets built from the user, never
from the request), so another company's id is simply not a valid choice.
"""

from __future__ import annotations

import datetime
import re
import zoneinfo
from dataclasses import dataclass

from django import forms
from django.core.exceptions import ValidationError
from django.forms.utils import flatatt
from django.utils import timezone
from django.utils.formats import time_format
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _

from pbx.actions.selfservice import caller_id_choices
from pbx.models import ForwardingProfile, ForwardingRule, PresenceStatus, Schedule, User
from pbx.phone_format import PhoneNumberInput
from pbx.validators import normalize_number, validate_dialable, validate_plain_text


class NoColon:
    """Labels without Django's trailing colon, like the legends next to them."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


# -- status -------------------------------------------------------------------------------------

LUNCH_END = datetime.time(13, 0)
DAY_END = datetime.time(17, 0)
MORNING = datetime.time(8, 0)


@dataclass(frozen=True)
class EndShortcut:
    value: str
    label: str
    until: datetime.datetime | None  # None: no end time (or a custom one)
    available: bool = True


def tenant_zone(user: User) -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(user.tenant.time_zone if user.tenant_id else "Europe/Stockholm")


def end_shortcuts(zone: zoneinfo.ZoneInfo, now: datetime.datetime | None = None) -> list[EndShortcut]:
    """The quick end times, computed in the company's time zone; a time of day already passed is
    offered but marked unavailable."""
    local = (now or timezone.now()).astimezone(zone)
    today, tomorrow = local.date(), local.date() + datetime.timedelta(days=1)
    hour = (local + datetime.timedelta(hours=1)).replace(second=0, microsecond=0)
    lunch = datetime.datetime.combine(today, LUNCH_END, tzinfo=zone)
    day_end = datetime.datetime.combine(today, DAY_END, tzinfo=zone)
    morning = datetime.datetime.combine(tomorrow, MORNING, tzinfo=zone)

    def hm(moment: datetime.datetime) -> str:
        return time_format(moment.astimezone(zone), "H:i")

    return [
        EndShortcut("none", _("No end time"), None),
        EndShortcut("hour", _("For 1 hour (until %(time)s)") % {"time": hm(hour)}, hour),
        EndShortcut("lunch", _("Until %(time)s") % {"time": hm(lunch)}, lunch, lunch > local),
        EndShortcut("day", _("Until the end of the day (%(time)s)") % {"time": hm(day_end)}, day_end, day_end > local),
        EndShortcut("tomorrow", _("Until tomorrow %(time)s") % {"time": hm(morning)}, morning),
        EndShortcut("custom", _("Until a time I choose"), None),
    ]


class PlainSelect(forms.Select):
    """A select rendered in Python: one formatted string per option, not one template per option. For lists
    that grow with the company (its people, departments): Django's per-option templates cost ~0.1 ms each."""

    def render(self, name, value, attrs=None, renderer=None):
        widget = self.get_context(name, value, attrs)["widget"]
        options = format_html_join("", '<option value="{}"{}>{}</option>', (
            (option["value"] if option["value"] is not None else "", " selected" if option["selected"] else "",
             option["label"])
            for _group, choices, _index in widget["optgroups"] for option in choices))
        return format_html('<select name="{}"{}>{}</select>', widget["name"], flatatt(widget["attrs"]), options)


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs=None):
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class PresenceForm(NoColon, forms.Form):
    status = forms.ModelChoiceField(
        label=_("Status"), queryset=PresenceStatus.objects.none(), widget=forms.RadioSelect, empty_label=None,
        error_messages={
            "required": _("Choose a status."),
            "invalid_choice": _("Choose one of your company's statuses."),
        },
    )
    message = forms.CharField(
        label=_("Message to callers and colleagues"), max_length=120, required=False,
        validators=[validate_plain_text],
    )
    ends = forms.ChoiceField(label=_("Ends"), widget=forms.RadioSelect, initial="none")
    until = forms.DateTimeField(
        label=_("End time"), required=False, widget=DateTimeLocalInput(),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, user: User, now: datetime.datetime | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user
        self.zone = tenant_zone(user)
        self.shortcuts = end_shortcuts(self.zone, now)
        self.fields["status"].queryset = PresenceStatus.objects.filter(tenant_id=user.tenant_id)
        self.fields["ends"].choices = [(s.value, s.label) for s in self.shortcuts]

    def clean_until(self):
        value = self.cleaned_data.get("until")
        # The browser sends a wall-clock time: it is the company's time, whatever the server's.
        if value is not None:
            value = value.replace(tzinfo=None) if timezone.is_aware(value) else value
            value = value.replace(tzinfo=self.zone)
        return value

    def clean(self):
        data = super().clean()
        ends = data.get("ends")
        if ends == "custom":
            if data.get("until") is None and "until" not in self.errors:
                self.add_error("until", _("Choose the end time, or pick one of the quick choices."))
        elif ends is not None:
            shortcut = next(s for s in self.shortcuts if s.value == ends)
            data["until"] = shortcut.until
        return data


# -- forwarding ---------------------------------------------------------------------------------


class NewProfileForm(NoColon, forms.Form):
    name = forms.CharField(label=_("Name of the new profile"), max_length=60, validators=[validate_plain_text])


class ProfileForm(NoColon, forms.ModelForm):
    class Meta:
        model = ForwardingProfile
        fields = ["name", "activation", "schedule"]
        widgets = {"activation": forms.RadioSelect}
        error_messages = {"schedule": {"invalid_choice": _("Choose one of your company's schedules.")}}

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["schedule"].queryset = Schedule.objects.filter(tenant_id=self.instance.tenant_id)
        self.fields["schedule"].empty_label = _("(no schedule)")
        self.fields["schedule"].help_text = _("With “By schedule”, the profile is in use while the schedule is open.")

    def validate_unique(self):
        # The action checks the name per person (case-insensitively) with a clear message.
        pass


FIRST_ACTIONS = [
    (ForwardingRule.Action.RING, _("Ring my phones")),
    (ForwardingRule.Action.FORWARD, _("Forward to a number")),
    (ForwardingRule.Action.VOICEMAIL, _("Straight to voicemail")),
]
THEN_ACTIONS = [
    (ForwardingRule.Action.VOICEMAIL, _("Voicemail")),
    (ForwardingRule.Action.FORWARD, _("Forward to a number")),
    (ForwardingRule.Action.NOTHING, _("Nothing (busy tone / hang up)")),
]
NUMBER_FIELDS = ("forward_number", "no_answer_number", "busy_number", "unreachable_number")


class RuleForm(NoColon, forms.ModelForm):
    """One line's rule; numbers are typed the Swedish way (070-123 45 67) and stored as E.164."""

    class Meta:
        model = ForwardingRule
        fields = ["action", "forward_number", "no_answer_seconds", "on_no_answer", "no_answer_number",
                  "on_busy", "busy_number", "on_unreachable", "unreachable_number"]
        labels = {
            "action": _("First"),
            "forward_number": _("Forward to"),
            "no_answer_seconds": _("Seconds before “no answer”"),
            "on_no_answer": _("If I don't answer"),
            "no_answer_number": _("Forward to"),
            "on_busy": _("If I'm busy"),
            "busy_number": _("Forward to"),
            "on_unreachable": _("If my phones are unreachable"),
            "unreachable_number": _("Forward to"),
        }

    def __init__(self, *args, country_code: str = "46", **kwargs):
        super().__init__(*args, **kwargs)
        self.country_code = country_code
        self.fields["action"] = forms.ChoiceField(label=_("First"), choices=FIRST_ACTIONS, widget=forms.RadioSelect)
        for name in ("on_no_answer", "on_busy", "on_unreachable"):
            field = self.fields[name]
            self.fields[name] = forms.ChoiceField(label=field.label, choices=THEN_ACTIONS, required=False)
        seconds = self.fields["no_answer_seconds"]
        seconds.min_value, seconds.max_value = 5, 120
        seconds.widget.attrs.update(min=5, max=120, inputmode="numeric")
        for name in NUMBER_FIELDS:
            # Room for spaces and hyphens as people type them; the stored E.164 form is checked
            # against the model's length after normalising.
            self.fields[name] = forms.CharField(
                label=self.fields[name].label, required=False, max_length=40,
                widget=PhoneNumberInput(attrs={"type": "tel", "autocomplete": "off", "placeholder": "070-123 45 67"}),
            )

    def _clean_number(self, name: str) -> str:
        typed = self.cleaned_data.get(name, "")
        value = normalize_number(typed, self.country_code)
        if value:
            try:
                validate_dialable(value)
            except ValidationError:
                # Name the number as the person typed it, not our half-normalised form of it.
                raise ValidationError(
                    _("%(value)s is not a phone number: use digits only, optionally starting with +."),
                    code="bad_number", params={"value": typed},
                ) from None
        return value

    def clean_forward_number(self):
        return self._clean_number("forward_number")

    def clean_no_answer_number(self):
        return self._clean_number("no_answer_number")

    def clean_busy_number(self):
        return self._clean_number("busy_number")

    def clean_unreachable_number(self):
        return self._clean_number("unreachable_number")

    def clean(self):
        data = super().clean()
        # A number left in a field whose action is not "forward" is dropped, so it is never used.
        pairs = (("action", "forward_number"), ("on_no_answer", "no_answer_number"),
                 ("on_busy", "busy_number"), ("on_unreachable", "unreachable_number"))
        for choice, number in pairs:
            if data.get(choice) != ForwardingRule.Action.FORWARD and number in data:
                data[number] = ""
        return data


# -- click-to-call ------------------------------------------------------------------------------

SEPARATORS_RE = re.compile(r"[\s\-.()/]")
CALLABLE_RE = re.compile(r"^\+?[0-9]{1,20}$")


class CallForm(NoColon, forms.Form):
    """A number to call from one's own phone: an extension or a phone number, as people type them.

    Only the shape is checked here (digits, optionally a leading +); whether it is a colleague, a
    queue or an outside number is for the action to decide.
    """

    number = forms.CharField(
        label=_("Number or extension"), max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off", "placeholder": "070-123 45 67"}),
    )

    def clean_number(self) -> str:
        typed = self.cleaned_data["number"].strip()
        cleaned = SEPARATORS_RE.sub("", typed)
        if not CALLABLE_RE.match(cleaned):
            raise ValidationError(
                _("%(value)s is not a phone number or extension: use digits only, optionally starting with +."),
                code="bad_number", params={"value": typed},
            )
        return cleaned


# -- caller ID, queues, voicemail ---------------------------------------------------------------


class CallerIdForm(NoColon, forms.Form):
    number = forms.ModelChoiceField(
        label=_("Number shown when I call"), queryset=None, required=False, widget=forms.RadioSelect,
        blank=True, empty_label=_("The company's default (main number)"),
        error_messages={"invalid_choice": _("You may not show that number.")},
    )

    def __init__(self, *args, user: User, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["number"].queryset = caller_id_choices(user)


class QueueAgentForm(NoColon, forms.Form):
    OPS = [("login", _("Log in")), ("logout", _("Log out")), ("pause", _("Pause")), ("resume", _("Resume"))]
    op = forms.ChoiceField(choices=OPS)
    reason = forms.CharField(label=_("Pause reason"), max_length=80, required=False, validators=[validate_plain_text])


class VoicemailMessageForm(forms.Form):
    msg_id = forms.RegexField(regex=r"^[0-9A-Za-z_-]{0,40}$", required=False)
