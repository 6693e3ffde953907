"""Phone numbers of a company and where each one goes."""

from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.numbering import covers
from pbx.validators import (
    network_text,
    trunk_host_address,
    trunk_networks,
    validate_conf_value,
    validate_dialable,
    validate_e164,
    validate_plain_text,
    validate_trunk_host,
    validate_trunk_match,
)

from .base import TenantOwned, check_forward_target


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
    # A person's own mobile subscription is not the operator's to assign; the platform operator
    # checks that it really is theirs before it is routed or shown as anyone's caller ID.
    is_verified = models.BooleanField(
        _("verified mobile number"), default=False,
        help_text=_("Set by the platform operator once the person has shown the mobile number is theirs. "
                    "Only verified mobile numbers are routed and may be shown as caller ID."),
    )

    tenant_references = ("user", "destination", "schedule", "closed_destination", "welcome_prompt", "trunk")

    class Meta:
        verbose_name = _("phone number")
        verbose_name_plural = _("phone numbers")
        ordering = ["e164"]

    def __str__(self) -> str:
        # Read by people (choices, titles, the audit log): the Swedish way; stored and sent as E.164.
        from pbx.phone_format import format_number

        return f"{format_number(self.e164)} {self.label}".strip()

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
        if self.tenant_id and self.e164 and "e164" not in errors:
            problem = self.assignment_problem()
            if problem:
                errors["e164"] = problem
        if self.kind == self.Kind.RESERVED and "forward_to" not in errors:
            try:
                check_forward_target(self, "forward_to")
            except ValidationError as error:
                errors["forward_to"] = error
        if errors:
            raise ValidationError(errors)

    def assignment_problem(self) -> str | None:
        """Why this company may not have this number, or None: numbers are the operator's to assign."""
        owner = NumberAssignment.owner_of(self.e164)
        if owner is not None and owner != self.tenant_id:
            return _("%(number)s belongs to another company.") % {"number": self.e164}
        if owner is None and self.kind != self.Kind.MOBILE:
            return _("%(number)s is not assigned to your company; the platform operator assigns numbers.") % {
                "number": self.e164
            }
        return None


class NumberAssignment(TenantOwned):
    """Numbers the platform's operator gave a company: one number, or a range of equally long ones.

    A company routes and presents only numbers inside its assignments (and verified mobile numbers
    of its people); the generator leaves every other number out of the dialplan and caller ID.
    """

    first = models.CharField(_("first number"), max_length=16, validators=[validate_e164])
    last = models.CharField(
        _("last number"), max_length=16, blank=True, validators=[validate_e164],
        help_text=_("For a range: the last number, as long as the first. Empty for a single number."),
    )
    note = models.CharField(_("note"), max_length=120, blank=True, validators=[validate_plain_text])
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("number assignment")
        verbose_name_plural = _("number assignments")
        ordering = ["first"]

    def __str__(self) -> str:
        from pbx.phone_format import format_number

        if self.last and self.last != self.first:
            return f"{format_number(self.first)} – {format_number(self.last)}"
        return format_number(self.first)

    @property
    def end(self) -> str:
        return self.last or self.first

    def covers(self, e164: str) -> bool:
        return covers(self.first, self.end, e164)

    @staticmethod
    def owner_of(e164: str) -> int | None:
        """The company a number is assigned to (None: nobody's)."""
        # Compared in Python: a database collation need not order "+" and digits byte by byte.
        for tenant_id, first, last in NumberAssignment.objects.values_list("tenant_id", "first", "last"):
            if covers(first, last or first, e164):
                return tenant_id
        return None

    def clean(self) -> None:
        super().clean()
        if not self.first or (self.last and not validate_silently(self.last)) or not validate_silently(self.first):
            return
        if self.last and (len(self.last) != len(self.first) or self.last < self.first):
            raise ValidationError({"last": _("The last number is as long as the first and not below it.")})
        for other in NumberAssignment.objects.exclude(pk=self.pk).select_related("tenant"):
            if len(other.first) == len(self.first) and other.first <= self.end and other.end >= self.first:
                whose = _("this company") if other.tenant_id == self.tenant_id else other.tenant.name
                raise ValidationError(
                    {"first": _("%(range)s overlaps %(other)s, assigned to %(whose)s.")
                     % {"range": str(self), "other": str(other), "whose": whose}}
                )


def validate_silently(value: str) -> bool:
    try:
        validate_e164(value)
    except ValidationError:
        return False
    return True


class SipTrunk(TenantOwned):
    """An operator trunk: registration, authentication, and how its traffic is recognised."""

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    host = models.CharField(
        _("provider host"), max_length=255,
        validators=[validate_trunk_host],
        help_text=_("The provider's public host name or IP address, e.g. sip.operator.se."),
    )
    port = models.PositiveIntegerField(
        _("port"), null=True, blank=True, validators=[MinValueValidator(1), MaxValueValidator(65535)],
        help_text=_("Empty for SIP's usual port (5060, or what DNS says)."),
    )
    username = models.CharField(_("user name"), max_length=80, blank=True, validators=[validate_conf_value])
    password = models.CharField(_("password"), max_length=128, blank=True, validators=[validate_conf_value])
    register = models.BooleanField(_("register"), default=True)
    identify_match = models.CharField(
        _("match IP addresses"), max_length=255, blank=True, validators=[validate_trunk_match],
        help_text=_("The provider's public addresses that calls come from, comma-separated: single addresses or "
                    "narrow networks (e.g. 81.2.3.4,81.2.4.0/24). Empty: the host, if it is an IP address. "
                    "Calls from these addresses are accepted as this trunk's without a password."),
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

    def networks(self) -> list:
        """The networks PJSIP recognises this trunk by (what the generator writes as ``match``)."""
        if self.identify_match:
            return trunk_networks(self.identify_match)
        address = trunk_host_address(self.host)
        return [address] if address is not None else []

    def clean(self) -> None:
        super().clean()
        try:
            mine = self.networks()
        except ValidationError:
            return  # the field's own validator says why
        if not mine:
            return
        field = "identify_match" if self.identify_match else "host"
        for other in SipTrunk.objects.exclude(pk=self.pk).select_related("tenant"):
            if other.is_shared == self.is_shared and (self.is_shared or other.tenant_id == self.tenant_id):
                continue  # the same owner: one company's (or the platform's) own trunks
            try:
                theirs = other.networks()
            except ValidationError:
                continue
            for network in mine:
                if any(network.overlaps(t) for t in theirs):
                    raise ValidationError({field: _(
                        "%(value)s overlaps the addresses of another company's trunk: calls from there "
                        "cannot be told apart."
                    ) % {"value": network_text(network)}})
