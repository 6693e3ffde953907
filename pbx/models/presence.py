"""Presence ("hänvisning") and forwarding profiles ("profiler")."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from pbx.validators import validate_dialable, validate_plain_text

from .base import TenantOwned, check_forward_target


class PresenceStatus(TenantOwned):
    """A status a person can set: lunch, meeting, vacation... with an optional forward."""

    class AsteriskState(models.TextChoices):
        # Asterisk's PRESENCE_STATE values, so phones' BLF can show them.
        AVAILABLE = "available", _("Available")
        AWAY = "away", _("Away")
        XA = "xa", _("Extended away")
        DND = "dnd", _("Do not disturb")
        BUSY = "busy", _("Busy")

    name = models.CharField(_("name"), max_length=60, validators=[validate_plain_text])
    code = models.PositiveSmallIntegerField(
        _("phone code"), validators=[MinValueValidator(1), MaxValueValidator(99)],
        help_text=_("Dial *20<code> to set this status from a phone."),
    )
    asterisk_state = models.CharField(_("shown on phones as"), max_length=10, choices=AsteriskState.choices, default=AsteriskState.AWAY)
    default_message = models.CharField(_("default message"), max_length=120, blank=True, validators=[validate_plain_text])
    needs_end_time = models.BooleanField(_("ask for an end time"), default=True)
    default_minutes = models.PositiveIntegerField(
        _("default duration (minutes)"), null=True, blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(60 * 24 * 31)],
        help_text=_("When the status is set from a phone (*20<code>), it ends after this many minutes. "
                    "Empty: at the end of the working day."),
    )
    forward_to = models.ForeignKey(
        "pbx.Destination", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("forward calls to"),
        help_text=_("Activity-driven forwarding: while this status is set, calls go here."),
    )
    color = models.CharField(
        _("colour"), max_length=7, default="#d97706",
        validators=[RegexValidator(r"\A#[0-9a-fA-F]{6}\Z", _("A colour is written #rrggbb, e.g. #1a7f37."))],
        help_text=_("How the status is shown in the console and on My pages."),
    )
    sort_order = models.PositiveSmallIntegerField(_("order"), default=0)

    tenant_references = ("forward_to",)

    class Meta:
        verbose_name = _("presence status")
        verbose_name_plural = _("presence statuses")
        ordering = ["sort_order", "name"]
        constraints = [
            models.UniqueConstraint("tenant", Lower("name"), name="presence_name_per_tenant"),
            models.UniqueConstraint(
                fields=["tenant", "code"], name="presence_code_per_tenant",
                violation_error_message=_("Another status already uses this phone code."),
            ),
        ]

    def __str__(self) -> str:
        return self.name


class UserPresence(TenantOwned):
    """A person's current status; no row or an empty status means available."""

    user = models.OneToOneField("pbx.User", on_delete=models.CASCADE, related_name="presence", verbose_name=_("user"))
    status = models.ForeignKey(PresenceStatus, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("status"))
    message = models.CharField(_("message"), max_length=120, blank=True, validators=[validate_plain_text])
    until = models.DateTimeField(_("until"), null=True, blank=True)
    set_at = models.DateTimeField(_("set at"), null=True, blank=True)

    tenant_references = ("user", "status")
    tenant_parent = "user"

    class Meta:
        verbose_name = _("current status")
        verbose_name_plural = _("current statuses")

    def __str__(self) -> str:
        return f"{self.user}: {self.status or _('Available')}"


class ForwardingProfile(TenantOwned):
    """What happens to a person's calls, separately for the fixed and the mobile number."""

    class Activation(models.TextChoices):
        MANUAL = "manual", _("Manually")
        SCHEDULED = "scheduled", _("By schedule")

    user = models.ForeignKey("pbx.User", on_delete=models.CASCADE, related_name="forwarding_profiles", verbose_name=_("user"))
    name = models.CharField(_("name"), max_length=60, validators=[validate_plain_text])
    is_active = models.BooleanField(_("active"), default=False)
    activation = models.CharField(_("activated"), max_length=10, choices=Activation.choices, default=Activation.MANUAL)
    schedule = models.ForeignKey(
        "pbx.Schedule", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("active while open in"),
    )

    tenant_references = ("user", "schedule")
    tenant_parent = "user"

    class Meta:
        verbose_name = _("forwarding profile")
        verbose_name_plural = _("forwarding profiles")
        ordering = ["user", "name"]
        constraints = [
            models.UniqueConstraint(fields=["user", "name"], name="profile_name_per_user"),
            models.UniqueConstraint(
                fields=["user"], condition=models.Q(is_active=True), name="one_active_profile_per_user",
                violation_error_message=_("Only one profile can be active at a time."),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.user.display_name})"

    def clean(self) -> None:
        super().clean()
        if self.activation == self.Activation.SCHEDULED and not self.schedule_id:
            raise ValidationError({"schedule": _("A scheduled profile needs a schedule.")})


class ForwardingRule(TenantOwned):
    """For one line (fixed or mobile): first what to do, then on busy / no answer / unreachable."""

    class Line(models.TextChoices):
        FIXED = "fixed", _("Fixed number")
        MOBILE = "mobile", _("Mobile number")

    class Action(models.TextChoices):
        RING = "ring", _("Ring my phones")
        FORWARD = "forward", _("Forward to a number")
        VOICEMAIL = "voicemail", _("Voicemail")
        NOTHING = "", _("Nothing more (busy tone / hang up)")

    profile = models.ForeignKey(ForwardingProfile, on_delete=models.CASCADE, related_name="rules", verbose_name=_("profile"))
    line = models.CharField(_("calls to"), max_length=6, choices=Line.choices)
    action = models.CharField(_("first"), max_length=10, choices=Action.choices, default=Action.RING)
    forward_number = models.CharField(_("forward to"), max_length=21, blank=True, validators=[validate_dialable])
    no_answer_seconds = models.PositiveSmallIntegerField(
        _("no answer after (s)"), default=20, validators=[MinValueValidator(5), MaxValueValidator(120)]
    )
    on_no_answer = models.CharField(_("on no answer"), max_length=10, choices=Action.choices, blank=True, default=Action.VOICEMAIL)
    no_answer_number = models.CharField(_("no answer: forward to"), max_length=21, blank=True, validators=[validate_dialable])
    on_busy = models.CharField(_("on busy"), max_length=10, choices=Action.choices, blank=True, default=Action.VOICEMAIL)
    busy_number = models.CharField(_("busy: forward to"), max_length=21, blank=True, validators=[validate_dialable])
    on_unreachable = models.CharField(
        _("when unreachable"), max_length=10, choices=Action.choices, blank=True, default=Action.VOICEMAIL
    )
    unreachable_number = models.CharField(
        _("unreachable: forward to"), max_length=21, blank=True, validators=[validate_dialable]
    )

    tenant_references = ("profile",)
    tenant_parent = "profile"

    class Meta:
        verbose_name = _("forwarding rule")
        verbose_name_plural = _("forwarding rules")
        ordering = ["profile", "line"]
        constraints = [models.UniqueConstraint(fields=["profile", "line"], name="one_rule_per_line")]

    def __str__(self) -> str:
        return f"{self.get_line_display()}: {self.get_action_display()}"

    def clean(self) -> None:
        super().clean()
        errors = {}
        pairs = [
            ("action", "forward_number"),
            ("on_no_answer", "no_answer_number"),
            ("on_busy", "busy_number"),
            ("on_unreachable", "unreachable_number"),
        ]
        for choice, number in pairs:
            if getattr(self, choice) == self.Action.FORWARD and not getattr(self, number):
                errors[number] = _("Say which number to forward to.")
            if getattr(self, choice) == self.Action.RING and choice != "action":
                errors[choice] = _("Ringing is only the first step; choose forward, voicemail or nothing.")
            if getattr(self, choice) == self.Action.FORWARD and number not in errors:
                try:
                    check_forward_target(self, number)
                except ValidationError as error:
                    errors[number] = error
        if errors:
            raise ValidationError(errors)
