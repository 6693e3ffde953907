"""Sign-in rules of a company: single sign-on, the password policy, and the licence agreement.

None of these reach Asterisk (``affects_config = False``: saving one never renders configuration).
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, URLValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.models import TenantOwned


def _domains(value: str) -> list[str]:
    return [d.strip().lower().lstrip("@") for d in value.replace(",", " ").split() if d.strip()]


class SsoConnection(TenantOwned):
    """One way a company's people sign in with their organisation's account.

    The sign-in app (allauth's SocialApp: "Microsoft", "Google", any OpenID Connect provider) belongs to the
    deployment; this row says which issuer speaks for the company through it (for Entra ID its own tenant:
    ``https://login.microsoftonline.com/<tenant id>/v2.0``; for Google ``https://accounts.google.com``) and for
    which e-mail domains. A sign-in is accepted only for an existing, active person of this company whose
    login address is the verified address the issuer vouched for (portal/sso.py).
    """

    affects_config = False

    app = models.ForeignKey("socialaccount.SocialApp", on_delete=models.CASCADE, related_name="+",
                            verbose_name=_("sign-in service"))
    issuer = models.CharField(
        _("issuer"), max_length=300, validators=[URLValidator(schemes=["https", "http"])],
        help_text=_("Exactly as the provider's ID tokens name it. Microsoft Entra ID: "
                    "https://login.microsoftonline.com/<your tenant id>/v2.0; Google: https://accounts.google.com."),
    )
    email_domains = models.CharField(
        _("e-mail domains"), max_length=500,
        help_text=_("The domains of your people's login addresses this sign-in may vouch for, e.g. acme.se."),
    )
    is_active = models.BooleanField(_("active"), default=True)

    class Meta:
        verbose_name = _("single sign-on")
        verbose_name_plural = _("single sign-on")
        constraints = [models.UniqueConstraint(fields=["tenant", "app", "issuer"], name="sso_once_per_company")]

    def __str__(self) -> str:
        return f"{self.app.name}: {self.issuer}"

    @property
    def domains(self) -> list[str]:
        return _domains(self.email_domains)

    def clean(self) -> None:
        super().clean()
        if not self.domains:
            raise ValidationError({"email_domains": _("Name at least one e-mail domain.")})
        bad = [d for d in self.domains if "." not in d or not all(part.isalnum() or "-" in part
                                                                 for part in d.split("."))]
        if bad:
            raise ValidationError({"email_domains": _("Not a domain: %(domains)s") % {"domains": ", ".join(bad)}})
        self.email_domains = ", ".join(self.domains)
        self.issuer = self.issuer.strip().rstrip("/")


class PasswordPolicy(TenantOwned):
    """A company's rules for its people's passwords. Without a row the deployment's defaults apply."""

    affects_config = False

    # The recording service's rules ("Samtalsinspelning"): at least 8 characters with lower and upper case
    # letters, a digit and a special character; a new password every 100 days; none of the last 10 again.
    RECORDING_SERVICE = {"min_length": 8, "require_lower": True, "require_upper": True, "require_digit": True,
                         "require_special": True, "max_age_days": 100, "history_count": 10}

    tenant = models.OneToOneField("pbx.Tenant", on_delete=models.CASCADE, related_name="password_policy",
                                  verbose_name=_("company"))
    min_length = models.PositiveSmallIntegerField(
        _("minimum length"), default=10, validators=[MinValueValidator(8), MaxValueValidator(128)])
    require_lower = models.BooleanField(_("a lower-case letter"), default=False)
    require_upper = models.BooleanField(_("an upper-case letter"), default=False)
    require_digit = models.BooleanField(_("a digit"), default=False)
    require_special = models.BooleanField(_("a special character"), default=False)
    max_age_days = models.PositiveSmallIntegerField(
        _("renew after (days)"), default=0, validators=[MaxValueValidator(3650)],
        help_text=_("0: a password never expires. An expired password must be changed at the next login."))
    history_count = models.PositiveSmallIntegerField(
        _("not one of the last"), default=0, validators=[MaxValueValidator(50)],
        help_text=_("How many earlier passwords may not be used again (0: no check)."))
    lockout_attempts = models.PositiveSmallIntegerField(
        _("lock after failed attempts"), default=0, validators=[MaxValueValidator(100)],
        help_text=_("0: only the service's own limits. A password reset link always opens the account again."))
    lockout_minutes = models.PositiveSmallIntegerField(
        _("locked for (minutes)"), default=15, validators=[MinValueValidator(1), MaxValueValidator(1440)])

    class Meta:
        verbose_name = _("password policy")
        verbose_name_plural = _("password policies")

    def __str__(self) -> str:
        return str(_("Password policy of %(company)s") % {"company": self.tenant})


class PasswordHistory(models.Model):
    """The hashes of a person's passwords, newest last: the current one and those before it. Never the
    password itself. The newest row's time is when the current password was set."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history")
    password = models.CharField(_("password hash"), max_length=128)
    created_at = models.DateTimeField(_("set at"), auto_now_add=True, db_index=True)

    class Meta:
        verbose_name = _("earlier password")
        verbose_name_plural = _("earlier passwords")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.user_id} {self.created_at:%Y-%m-%d}"


class Licence(models.Model):
    """A version of the licence agreement. The newest published version for the company (its own, else
    the deployment's) is the one each person must have accepted."""

    affects_config = False

    tenant = models.ForeignKey("pbx.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                               verbose_name=_("company"),
                               help_text=_("Empty: the agreement of every company without one of its own."))
    version = models.CharField(_("version"), max_length=20)
    title = models.CharField(_("title"), max_length=200)
    text = models.TextField(_("text"))
    published_at = models.DateTimeField(_("published"), db_index=True)

    class Meta:
        verbose_name = _("licence agreement")
        verbose_name_plural = _("licence agreements")
        ordering = ["-published_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["tenant", "version"], name="licence_version_once",
                                               nulls_distinct=False)]

    def __str__(self) -> str:
        return f"{self.title} {self.version}"


class LicenceAcceptance(models.Model):
    """Who accepted which version of the agreement, when."""

    affects_config = False

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="licence_acceptances",
                             verbose_name=_("user"))
    tenant = models.ForeignKey("pbx.Tenant", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                               verbose_name=_("company"))
    licence = models.ForeignKey(Licence, on_delete=models.PROTECT, related_name="acceptances",
                                verbose_name=_("licence agreement"))
    accepted_at = models.DateTimeField(_("accepted"), auto_now_add=True)
    ip_address = models.GenericIPAddressField(_("from address"), null=True, blank=True)

    class Meta:
        verbose_name = _("licence acceptance")
        verbose_name_plural = _("licence acceptances")
        ordering = ["-accepted_at", "-id"]
        constraints = [models.UniqueConstraint(fields=["user", "licence"], name="licence_accepted_once")]

    def __str__(self) -> str:
        return f"{self.user} – {self.licence}"


class EmailCodeFactor(models.Model):
    """A person's second step at login is a one-time code mailed to their login address (as the recording
    web's "säkerhetskod"): allauth's login-by-code stage, required for them by portal.auth's adapter.

    allauth.mfa's Authenticator rows have fixed kinds (app, recovery codes, passkey), so the e-mail factor
    is its own row; portal/mfa.py counts both when it asks whether a person has two-factor."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="email_code_factor",
                                verbose_name=_("user"))
    created_at = models.DateTimeField(_("turned on"), auto_now_add=True)

    class Meta:
        verbose_name = _("e-mail code at login")
        verbose_name_plural = _("e-mail codes at login")

    def __str__(self) -> str:
        return str(self.user)
