"""Prompts, IVR menus, schedules, voicemail boxes and conferences."""

import zoneinfo
from datetime import datetime

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbx.validators import (
    validate_extension,
    validate_menu_digit,
    validate_pin,
    validate_plain_text,
    validate_sound_name,
    validate_voicemail_email,
)

from .base import TenantOwned


class Prompt(TenantOwned):
    """A voice prompt, converted on upload into the formats Asterisk plays."""

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    original = models.FileField(_("original file"), upload_to="prompts/originals/", blank=True)
    duration_ms = models.PositiveIntegerField(_("duration (ms)"), default=0, editable=False)
    # Asterisk's sound name, relative to its sounds directory, without extension.
    sound_name = models.CharField(max_length=120, blank=True, editable=False, validators=[validate_sound_name])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("voice prompt")
        verbose_name_plural = _("voice prompts")
        ordering = ["name"]
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="prompt_name_per_tenant")]

    def __str__(self) -> str:
        return self.name


class IvrMenu(TenantOwned):
    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    prompt = models.ForeignKey(Prompt, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("menu prompt"))
    timeout_seconds = models.PositiveSmallIntegerField(
        _("wait for a key (s)"), default=5, validators=[MinValueValidator(1), MaxValueValidator(60)]
    )
    max_attempts = models.PositiveSmallIntegerField(
        _("attempts"), default=3, validators=[MinValueValidator(1), MaxValueValidator(10)],
        help_text=_("How many times the menu is played before the timeout destination is used."),
    )
    invalid_prompt = models.ForeignKey(
        Prompt, on_delete=models.PROTECT, null=True, blank=True, related_name="+", verbose_name=_("wrong-key prompt")
    )
    timeout_destination = models.ForeignKey(
        "pbx.Destination", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("on timeout, go to"),
    )
    invalid_destination = models.ForeignKey(
        "pbx.Destination", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("after too many wrong keys, go to"),
    )

    tenant_references = ("prompt", "invalid_prompt", "timeout_destination", "invalid_destination")

    class Meta:
        verbose_name = _("IVR menu")
        verbose_name_plural = _("IVR menus")
        ordering = ["name"]
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="menu_name_per_tenant")]

    def __str__(self) -> str:
        return self.name


class IvrOption(TenantOwned):
    menu = models.ForeignKey(IvrMenu, on_delete=models.CASCADE, related_name="options", verbose_name=_("menu"))
    digit = models.CharField(_("key"), max_length=1, validators=[validate_menu_digit])
    destination = models.ForeignKey("pbx.Destination", on_delete=models.PROTECT, related_name="+", verbose_name=_("destination"))

    tenant_references = ("menu", "destination")
    tenant_parent = "menu"

    class Meta:
        verbose_name = _("menu choice")
        verbose_name_plural = _("menu choices")
        ordering = ["menu", "digit"]
        constraints = [
            models.UniqueConstraint(
                fields=["menu", "digit"], name="one_option_per_digit",
                violation_error_message=_("This key is already used in the menu."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.digit} → {self.destination}"


class Schedule(TenantOwned):
    """Opening hours ("schemastyrning"): weekly hours, holidays and special days, an override."""

    class Override(models.TextChoices):
        NONE = "", _("Follow the schedule")
        OPEN = "open", _("Forced open")
        CLOSED = "closed", _("Forced closed")

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    override = models.CharField(_("manual override"), max_length=6, choices=Override.choices, blank=True, default="")
    override_until = models.DateTimeField(_("override until"), null=True, blank=True)

    class Meta:
        verbose_name = _("schedule")
        verbose_name_plural = _("schedules")
        ordering = ["name"]
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="schedule_name_per_tenant")]

    def __str__(self) -> str:
        return self.name

    def is_open(self, at: datetime | None = None) -> bool:
        """The same decision the dialplan makes, for the admin's and console's display."""
        at = at or timezone.now()
        if self.override and (self.override_until is None or at < self.override_until):
            return self.override == self.Override.OPEN
        local = at.astimezone(zoneinfo.ZoneInfo(self.tenant.time_zone))
        for day in self.special_days.all():
            if day.start_date <= local.date() <= day.end_date:
                if day.is_closed:
                    return False
                return bool(day.open_time and day.close_time and day.open_time <= local.time() < day.close_time)
        return any(
            rule.weekday == local.weekday() and rule.open_time <= local.time() < rule.close_time
            for rule in self.weekly_hours.all()
        )


class WeeklyHours(TenantOwned):
    class Weekday(models.IntegerChoices):
        MONDAY = 0, _("Monday")
        TUESDAY = 1, _("Tuesday")
        WEDNESDAY = 2, _("Wednesday")
        THURSDAY = 3, _("Thursday")
        FRIDAY = 4, _("Friday")
        SATURDAY = 5, _("Saturday")
        SUNDAY = 6, _("Sunday")

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="weekly_hours", verbose_name=_("schedule"))
    weekday = models.PositiveSmallIntegerField(_("weekday"), choices=Weekday.choices)
    open_time = models.TimeField(_("opens"))
    close_time = models.TimeField(_("closes"))

    tenant_references = ("schedule",)
    tenant_parent = "schedule"

    class Meta:
        verbose_name = _("opening hours")
        verbose_name_plural = _("opening hours")
        ordering = ["schedule", "weekday", "open_time"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(open_time__lt=models.F("close_time")), name="weekly_hours_open_before_close",
                violation_error_message=_("Opening time must be before closing time."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.get_weekday_display()} {self.open_time:%H:%M}–{self.close_time:%H:%M}"


class SpecialDay(TenantOwned):
    """A holiday (closed) or a day with other hours, as a range of dates."""

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="special_days", verbose_name=_("schedule"))
    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    start_date = models.DateField(_("from"))
    end_date = models.DateField(_("to"))
    is_closed = models.BooleanField(_("closed all day"), default=True)
    open_time = models.TimeField(_("opens"), null=True, blank=True)
    close_time = models.TimeField(_("closes"), null=True, blank=True)

    tenant_references = ("schedule",)
    tenant_parent = "schedule"

    class Meta:
        verbose_name = _("holiday or special day")
        verbose_name_plural = _("holidays and special days")
        ordering = ["schedule", "start_date"]
        constraints = [
            models.CheckConstraint(
                condition=models.Q(start_date__lte=models.F("end_date")), name="special_day_range_ordered",
                violation_error_message=_("The first day must not be after the last day."),
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} {self.start_date}–{self.end_date}"

    def clean(self) -> None:
        super().clean()
        if not self.is_closed and not (self.open_time and self.close_time and self.open_time < self.close_time):
            raise ValidationError(_("A day that is not closed needs opening and closing times, opening first."))


class VoicemailBox(TenantOwned):
    class Kind(models.TextChoices):
        PERSONAL = "personal", _("Personal")
        SHARED = "shared", _("Shared")

    number = models.CharField(_("mailbox number"), max_length=8, validators=[validate_extension])
    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.PERSONAL)
    owner = models.ForeignKey(
        "pbx.User", on_delete=models.CASCADE, null=True, blank=True, related_name="voicemail_boxes", verbose_name=_("owner")
    )
    members = models.ManyToManyField(
        "pbx.User", blank=True, related_name="shared_voicemail_boxes", verbose_name=_("members"),
        help_text=_("For a shared box: who may listen to it."),
    )
    pin = models.CharField(_("PIN"), max_length=12, validators=[validate_pin])
    email = models.EmailField(_("notify e-mail"), blank=True, validators=[validate_voicemail_email])
    attach_audio = models.BooleanField(_("attach the message to the e-mail"), default=True)
    is_enabled = models.BooleanField(_("enabled"), default=True)
    greeting = models.ForeignKey(Prompt, on_delete=models.SET_NULL, null=True, blank=True, related_name="+", verbose_name=_("greeting"))

    tenant_references = ("owner", "greeting")

    class Meta:
        verbose_name = _("voicemail box")
        verbose_name_plural = _("voicemail boxes")
        ordering = ["number"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "number"], name="voicemail_number_per_tenant",
                violation_error_message=_("This mailbox number is already taken in the company."),
            ),
            models.CheckConstraint(
                condition=models.Q(kind="shared") | models.Q(owner__isnull=False),
                name="personal_voicemail_has_owner",
                violation_error_message=_("A personal voicemail box needs an owner."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class Conference(TenantOwned):
    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    extension = models.CharField(_("extension"), max_length=8, validators=[validate_extension])
    pin = models.CharField(_("PIN"), max_length=12, blank=True, validators=[validate_pin])
    max_members = models.PositiveSmallIntegerField(_("maximum participants"), default=20, validators=[MaxValueValidator(200)])

    class Meta:
        verbose_name = _("conference")
        verbose_name_plural = _("conferences")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "extension"], name="conference_extension_per_tenant",
                violation_error_message=_("This extension is already taken in the company."),
            )
        ]

    def __str__(self) -> str:
        return self.name
