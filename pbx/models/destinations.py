"""One destination concept, reused by numbers, menu options, queue overflows and closed hours."""

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from pbx.validators import validate_dialable, validate_e164, validate_plain_text

from .base import TenantOwned, check_forward_target

# Which target field each kind needs; every other target field must be empty.
TARGET_FIELDS = ("user", "queue", "menu", "voicemail_box", "conference", "external_number")


class Destination(TenantOwned):
    """Where a call goes: a person, a queue, a menu, a mailbox, an outside number..."""

    class Kind(models.TextChoices):
        USER = "user", _("User")
        QUEUE = "queue", _("Queue")
        MENU = "menu", _("IVR menu")
        VOICEMAIL = "voicemail", _("Voicemail box")
        EXTERNAL = "external", _("External number")
        CONFERENCE = "conference", _("Conference")
        CALLBACK = "callback", _("Callback request")
        HANGUP = "hangup", _("Hang up")

    REQUIRED = {
        Kind.USER: "user",
        Kind.QUEUE: "queue",
        Kind.MENU: "menu",
        Kind.VOICEMAIL: "voicemail_box",
        Kind.EXTERNAL: "external_number",
        Kind.CONFERENCE: "conference",
        # A callback request is captured from the caller and handed to a queue to call back.
        Kind.CALLBACK: "queue",
        Kind.HANGUP: None,
    }

    kind = models.CharField(_("kind"), max_length=12, choices=Kind.choices)
    label = models.CharField(_("label"), max_length=120, blank=True, validators=[validate_plain_text])
    user = models.ForeignKey("pbx.User", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("user"))
    queue = models.ForeignKey("pbx.Queue", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("queue"))
    menu = models.ForeignKey("pbx.IvrMenu", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("IVR menu"))
    voicemail_box = models.ForeignKey(
        "pbx.VoicemailBox", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("voicemail box")
    )
    conference = models.ForeignKey(
        "pbx.Conference", on_delete=models.CASCADE, null=True, blank=True, related_name="+", verbose_name=_("conference")
    )
    external_number = models.CharField(
        _("external number"), max_length=21, blank=True, validators=[validate_dialable]
    )
    notify_email = models.EmailField(
        _("notify e-mail"), blank=True, help_text=_("For callback requests: also e-mailed here.")
    )
    notify_sms = models.CharField(
        _("notify by SMS"), max_length=16, blank=True, validators=[validate_e164],
        help_text=_("For callback requests: also texted to this mobile number."),
    )

    tenant_references = ("user", "queue", "menu", "voicemail_box", "conference")

    class Meta:
        verbose_name = _("destination")
        verbose_name_plural = _("destinations")
        ordering = ["kind", "label", "id"]
        constraints = [
            models.CheckConstraint(
                name="destination_target_matches_kind",
                condition=(
                    Q(kind="user", user__isnull=False)
                    | Q(kind="queue", queue__isnull=False)
                    | Q(kind="menu", menu__isnull=False)
                    | Q(kind="voicemail", voicemail_box__isnull=False)
                    | Q(kind="external") & ~Q(external_number="")
                    | Q(kind="conference", conference__isnull=False)
                    | Q(kind="callback", queue__isnull=False)
                    | Q(kind="hangup")
                ),
                violation_error_message=_("Choose the target that matches the kind of destination."),
            )
        ]

    def __str__(self) -> str:
        if self.label:
            return self.label
        target = self.target
        return f"{self.get_kind_display()}: {target}" if target else str(self.get_kind_display())

    @property
    def target(self):
        field = self.REQUIRED.get(self.kind)
        return getattr(self, field) if field else None

    def clean(self) -> None:
        super().clean()
        required = self.REQUIRED.get(self.kind)
        errors = {}
        for field in TARGET_FIELDS:
            value = getattr(self, field if field == "external_number" else f"{field}_id")
            if field == required and not value:
                errors[field] = ValidationError(_("Required for this kind of destination."), code="required")
            elif field != required and value:
                errors[field] = ValidationError(
                    _("Leave this empty: it does not belong to this kind of destination."), code="extra"
                )
        if required == "external_number":
            try:
                check_forward_target(self, "external_number")
            except ValidationError as error:
                errors["external_number"] = error
        if errors:
            raise ValidationError(errors)
        if required:
            # Clear leftovers so the row says exactly one thing.
            for field in TARGET_FIELDS:
                if field != required:
                    setattr(self, field, "" if field == "external_number" else None)
