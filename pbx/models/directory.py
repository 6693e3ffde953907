"""People and their phones: departments, offices, cost centres, users, devices."""

import secrets

from django.contrib.auth.models import AbstractUser, BaseUserManager
from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Lower
from django.utils.translation import gettext_lazy as _

from pbx.validators import (
    validate_e164,
    validate_extension,
    validate_plain_text,
    validate_secret,
    validate_sip_name,
)

from .base import TenantOwned, TenantQuerySet, check_tenant_references


class NamedTenantObject(TenantOwned):
    name = models.CharField(_("name"), max_length=120, validators=[validate_plain_text])

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Department(NamedTenantObject):
    class Meta(NamedTenantObject.Meta):
        verbose_name = _("department")
        verbose_name_plural = _("departments")
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="department_name_per_tenant")]


class Office(NamedTenantObject):
    address = models.CharField(_("address"), max_length=200, blank=True, validators=[validate_plain_text])

    class Meta(NamedTenantObject.Meta):
        verbose_name = _("office")
        verbose_name_plural = _("offices")
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="office_name_per_tenant")]


class CostCentre(NamedTenantObject):
    code = models.CharField(_("code"), max_length=30, blank=True, validators=[validate_plain_text])

    class Meta(NamedTenantObject.Meta):
        verbose_name = _("cost centre")
        verbose_name_plural = _("cost centres")
        constraints = [models.UniqueConstraint("tenant", Lower("name"), name="costcentre_name_per_tenant")]


class UserQuerySet(TenantQuerySet):
    pass


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):
    use_in_migrations = True

    def _create_user(self, email, password, **extra):
        if not email:
            raise ValueError("An e-mail address is required.")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_user(self, email, password=None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create_user(email, password, **extra)

    def create_superuser(self, email, password=None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create_user(email, password, **extra)


class User(AbstractUser):
    """A person: logs in with e-mail, has an extension in their company, and roles."""

    class RecordingRole(models.TextChoices):
        NONE = "none", _("No access")
        OWN = "own", _("Own recordings")
        SUPER = "super", _("Super user (all recordings and settings)")
        DEPARTMENTS = "departments", _("Restricted to chosen departments")

    username = None
    email = models.EmailField(_("e-mail address"), unique=True)
    # Names end up in caller ID and the directory: never a line break or control character.
    first_name = models.CharField(_("first name"), max_length=150, blank=True, validators=[validate_plain_text])
    last_name = models.CharField(_("last name"), max_length=150, blank=True, validators=[validate_plain_text])
    tenant = models.ForeignKey(
        "pbx.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="users",
        verbose_name=_("company"),
    )
    extension = models.CharField(_("extension"), max_length=8, blank=True, validators=[validate_extension])
    direct_number = models.CharField(_("direct number"), max_length=16, blank=True, validators=[validate_e164])
    mobile_number = models.CharField(_("mobile number"), max_length=16, blank=True, validators=[validate_e164])
    title = models.CharField(_("title"), max_length=80, blank=True, validators=[validate_plain_text])
    department = models.ForeignKey(
        Department, on_delete=models.SET_NULL, null=True, blank=True, related_name="members",
        verbose_name=_("department"),
    )
    office = models.ForeignKey(Office, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("office"))
    cost_centre = models.ForeignKey(
        CostCentre, on_delete=models.SET_NULL, null=True, blank=True, verbose_name=_("cost centre")
    )
    is_company_admin = models.BooleanField(_("company admin"), default=False)
    is_operator = models.BooleanField(_("operator"), default=False)
    is_agent = models.BooleanField(_("agent"), default=False)
    recording_role = models.CharField(
        _("recording role"), max_length=12, choices=RecordingRole.choices, default=RecordingRole.NONE
    )
    recording_departments = models.ManyToManyField(
        Department, blank=True, related_name="+", verbose_name=_("recording departments")
    )
    caller_id_number = models.ForeignKey(
        "pbx.Number", on_delete=models.SET_NULL, null=True, blank=True, related_name="+",
        verbose_name=_("caller ID"),
        help_text=_("The number shown when this person calls out; empty means the main number."),
    )
    call_waiting = models.BooleanField(_("call waiting"), default=True)
    language = models.CharField(_("language"), max_length=8, blank=True)

    objects = UserManager()

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: list[str] = []

    tenant_references = ("department", "office", "cost_centre", "caller_id_number")

    class Meta:
        verbose_name = _("user")
        verbose_name_plural = _("users")
        ordering = ["first_name", "last_name", "email"]
        # The directory's order (admin, API, console): one company's page of people straight off the index.
        indexes = [models.Index(fields=["tenant", "first_name", "last_name", "id"], name="user_directory_order")]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "extension"], condition=~models.Q(extension=""),
                name="user_extension_per_tenant",
                violation_error_message=_("This extension is already taken in the company."),
            ),
            models.CheckConstraint(
                condition=models.Q(is_superuser=True) | models.Q(tenant__isnull=False),
                name="user_has_tenant_unless_superuser",
            ),
        ]

    def __str__(self) -> str:
        name = self.get_full_name() or self.email
        return f"{name} ({self.extension})" if self.extension else name

    def clean(self) -> None:
        from django.core.exceptions import ValidationError

        super().clean()
        self.email = (self.email or "").lower()
        if self.tenant_id is None and not self.is_superuser:
            raise ValidationError({"tenant": _("Every user except a superuser belongs to a company.")})
        check_tenant_references(self)

    @property
    def display_name(self) -> str:
        return self.get_full_name() or self.email


def generate_sip_secret() -> str:
    # 32 url-safe characters: well over 128 bits, and no characters pjsip.conf would choke on.
    return secrets.token_urlsafe(24)


def generate_provisioning_token() -> str:
    # The secret part of the device's provisioning URL: whoever has it reads the SIP password.
    return secrets.token_urlsafe(24)


def generate_endpoint_name() -> str:
    return secrets.token_hex(5)


class Device(TenantOwned):
    """A PJSIP endpoint that rings for its user."""

    class Kind(models.TextChoices):
        DESK_PHONE = "desk", _("Desk phone")
        SOFTPHONE = "soft", _("Softphone")
        WEBRTC = "webrtc", _("WebRTC (browser)")

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="devices", verbose_name=_("user"))
    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices, default=Kind.DESK_PHONE)
    label = models.CharField(_("label"), max_length=80, blank=True, validators=[validate_plain_text])
    # Generated, never typed. The endpoint/auth/aor name in pjsip.conf, which is also the phone's SIP user
    # name, is ``endpoint`` (t<tenant>-<sip_username>).
    sip_username = models.CharField(
        _("SIP user name"), max_length=32, unique=True, editable=False, default=generate_endpoint_name,
        validators=[validate_sip_name],
    )
    secret = models.CharField(_("SIP password"), max_length=64, editable=False, default=generate_sip_secret,
                              validators=[validate_secret])
    mac_address = models.CharField(
        _("MAC address"), max_length=17, blank=True,
        validators=[RegexValidator(r"\A([0-9a-f]{2}:){5}[0-9a-f]{2}\Z", _("Write the MAC address as aa:bb:cc:dd:ee:ff."))],
        help_text=_("For desk phones that are provisioned automatically."),
    )
    is_enabled = models.BooleanField(_("enabled"), default=True)
    provisioning_token = models.CharField(
        _("provisioning token"), max_length=64, unique=True, editable=False, default=generate_provisioning_token,
    )
    created_at = models.DateTimeField(auto_now_add=True)

    tenant_references = ("user",)
    tenant_parent = "user"

    class Meta:
        verbose_name = _("device")
        verbose_name_plural = _("devices")
        ordering = ["user", "kind", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.label or self.sip_username} – {self.user.display_name}"

    @property
    def endpoint(self) -> str:
        return f"t{self.tenant_id}-{self.sip_username}"

    def clean(self) -> None:
        super().clean()
        # Generated, so Django does not check them (non-editable, and validators skip empty values); an
        # action may still be handed one: an empty SIP password would be an open phone.
        errors = {}
        if not self.sip_username:
            errors["sip_username"] = ValidationError(_("A device needs a SIP user name."), code="required")
        if not self.secret:
            errors["secret"] = ValidationError(_("A device needs a SIP password."), code="required")
        if errors:
            raise ValidationError(errors)
