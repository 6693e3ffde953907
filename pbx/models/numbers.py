"""Phone numbers of a company and where each one goes."""

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.validators import (
    validate_dialable,
    validate_e164,
    validate_host,
    validate_networks,
    validate_plain_text,
)

from .base import TenantOwned


class Number(TenantOwned):
    class Kind(models.TextChoices):
        MAIN = "main", _("Main number")
        DIRECT = "direct", _("Direct number")
        MOBILE = "mobile", _("Mobile number")
        RESERVED = "reserved", _("Reserved number")

    e164 = models.CharField(_("number"), max_length=16, unique=True, validators=[validate_e164])
    kind = models.CharField(_("kind"), max_length=10, choices=Kind.choices, default=Kind.MAIN)
    label = models.CharField(_("label"), max_length=120, blank=True, validators=[validate_plain_text])
    user = models.ForeignKey(
        "pbx.User", on_delete=models.SET_NULL, null=True, blank=True, related_name="numbers",
        verbose_name=_("user"), help_text=_("The person a direct or mobile number belongs to."),
    )
    destination = models.ForeignKey(
        "pbx.Destination", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("destination"), help_text=_("Where calls go (during opening hours, if a schedule is set)."),
    )
    schedule = models.ForeignKey(
        "pbx.Schedule", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("opening hours"),
    )
    closed_destination = models.ForeignKey(
        "pbx.Destination", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("destination when closed"),
    )
    welcome_prompt = models.ForeignKey(
        "pbx.Prompt", on_delete=models.PROTECT, null=True, blank=True, related_name="+",
        verbose_name=_("welcome message"),
    )
    forward_to = models.CharField(
        _("forward to"), max_length=21, blank=True, validators=[validate_dialable],
        help_text=_("For a reserved number: forward its calls to this number."),
    )
    trunk = models.ForeignKey(
        "pbx.SipTrunk", on_delete=models.PROTECT, null=True, blank=True, related_name="numbers",
        verbose_name=_("trunk"),
    )
    usable_as_caller_id = models.BooleanField(
        _("anyone may show it as caller ID"), default=False,
        help_text=_("E.g. a support number that agents present when they call customers."),
    )

    tenant_references = ("user", "destination", "schedule", "closed_destination", "welcome_prompt", "trunk")

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["e164"]

    def __str__(self) -> str:
        return f"{self.e164} {self.label}".strip()

    def clean(self) -> None:
        super().clean()
        errors = {}
        if self.kind == self.Kind.RESERVED:
            if self.destination_id:
                errors["destination"] = _("A reserved number has no destination; forward it instead.")
        elif self.forward_to:
            errors["forward_to"] = _("Only a reserved number is forwarded this way.")
        if self.kind in (self.Kind.DIRECT, self.Kind.MOBILE) and not self.user_id:
            errors["user"] = _("A direct or mobile number belongs to a user.")
        if self.closed_destination_id and not self.schedule_id:
            errors["closed_destination"] = _("Set opening hours first; without them a number is always open.")
        if errors:
            raise ValidationError(errors)


class SipTrunk(TenantOwned):
    """An operator trunk: registration, authentication, and how its traffic is recognised."""

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    host = models.CharField(
        _("provider host"), max_length=255,
        validators=[validate_host],
        help_text=_("Host name or IP address, optionally with :port."),
    )
    username = models.CharField(_("user name"), max_length=80, blank=True, validators=[validate_plain_text])
    password = models.CharField(_("password"), max_length=128, blank=True, validators=[validate_plain_text])
    register = models.BooleanField(_("register"), default=True)
    identify_match = models.CharField(
        _("match IP addresses"), max_length=255, blank=True, validators=[validate_networks],
        help_text=_("Comma-separated IP addresses or networks the provider sends calls from."),
    )
    is_enabled = models.BooleanField(_("enabled"), default=True)
    # A trunk the platform's operator shares with every company on the node: it carries inbound
    # calls of numbers without a trunk of their own and outbound calls of companies without one.
    # It is still owned by one tenant (the operator's), so tenant references stay intact.
    is_shared = models.BooleanField(
        _("shared by all companies"), default=False,
        help_text=_("Carries calls of every company that has no trunk of its own."),
    )

    class Meta:
        verbose_name = _("SIP trunk")
        verbose_name_plural = _("SIP trunks")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
