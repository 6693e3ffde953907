"""Companies and the Asterisk nodes that serve them."""

import secrets
import zoneinfo

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.validators import validate_country_code, validate_emergency_numbers, validate_plain_text, validate_slug_id

TIME_ZONES = sorted((name, name) for name in zoneinfo.available_timezones() if "/" in name)


def generate_secret() -> str:
    return secrets.token_urlsafe(24)


class AsteriskNode(models.Model):
    """One Asterisk server: where its AMI/ARI listen and where its generated files go."""

    name = models.CharField(_("name"), max_length=60, unique=True, validators=[validate_slug_id])
    ami_host = models.CharField(_("AMI host"), max_length=255, default="127.0.0.1")
    ami_port = models.PositiveIntegerField(_("AMI port"), default=5038)
    ami_username = models.CharField(_("AMI user"), max_length=80, default="orchestrator")
    ami_secret = models.CharField(_("AMI secret"), max_length=128, default=generate_secret)
    ari_url = models.CharField(_("ARI URL"), max_length=255, default="http://127.0.0.1:8088/ari")
    ari_username = models.CharField(_("ARI user"), max_length=80, default="orchestrator")
    ari_password = models.CharField(_("ARI password"), max_length=128, default=generate_secret)
    ari_app = models.CharField(_("ARI application"), max_length=80, default="orchestrator")
    generated_dir = models.CharField(
        _("generated config directory"), max_length=255, blank=True,
        help_text=_("Where this node's generated files are written; empty means the default."),
    )
    is_default = models.BooleanField(_("default node"), default=False)
    last_apply_at = models.DateTimeField(_("last apply"), null=True, blank=True)
    last_apply_ok = models.BooleanField(_("last apply succeeded"), null=True, blank=True)
    last_apply_message = models.TextField(_("last apply message"), blank=True)

    class Meta:
        verbose_name = _("Asterisk node")
        verbose_name_plural = _("Asterisk nodes")
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["is_default"], condition=models.Q(is_default=True), name="one_default_node"
            )
        ]

    def __str__(self) -> str:
        return self.name

    @classmethod
    def default(cls) -> "AsteriskNode":
        """The node described by the ASTERISK_* environment, kept in step with it."""
        values = {
            "ami_host": settings.ASTERISK_AMI_HOST,
            "ami_port": settings.ASTERISK_AMI_PORT,
            "ami_username": settings.ASTERISK_AMI_USER,
            "ari_url": settings.ASTERISK_ARI_URL,
            "ari_username": settings.ASTERISK_ARI_USER,
            "ari_app": settings.ASTERISK_ARI_APP,
            "generated_dir": str(settings.ASTERISK_GENERATED_DIR),
        }
        if settings.ASTERISK_AMI_SECRET:
            values["ami_secret"] = settings.ASTERISK_AMI_SECRET
        if settings.ASTERISK_ARI_PASSWORD:
            values["ari_password"] = settings.ASTERISK_ARI_PASSWORD
        node = cls.objects.filter(is_default=True).first()
        if node is None:
            node = cls.objects.create(name="default", is_default=True, **values)
        else:
            changed = [k for k, v in values.items() if getattr(node, k) != v]
            for key in changed:
                setattr(node, key, values[key])
            if changed:
                node.save(update_fields=changed)
        return node


class Tenant(models.Model):
    """A company. Its Asterisk contexts are named from ``id``, never from its name."""

    name = models.CharField(_("name"), max_length=120, validators=[validate_plain_text])
    slug = models.SlugField(_("short name"), max_length=40, unique=True, validators=[validate_slug_id])
    time_zone = models.CharField(_("time zone"), max_length=64, choices=TIME_ZONES, default="Europe/Stockholm")
    language = models.CharField(_("language"), max_length=8, choices=settings.LANGUAGES, default="sv")
    country_code = models.CharField(
        _("country calling code"), max_length=4, default="46", validators=[validate_country_code],
        help_text=_("Used to turn national numbers (08-…, 070-…) into international form."),
    )
    node = models.ForeignKey(
        AsteriskNode, on_delete=models.PROTECT, null=True, blank=True, related_name="tenants",
        verbose_name=_("Asterisk node"),
    )
    max_users = models.PositiveIntegerField(_("user licences"), default=50)
    max_recording_channels = models.PositiveIntegerField(
        _("recording + listen-in licences"), default=0,
        help_text=_("Concurrent recordings and listen-ins together may not exceed this."),
    )
    recording_retention_days = models.PositiveIntegerField(_("recording retention (days)"), default=92)
    emergency_numbers = models.CharField(
        _("emergency numbers"), max_length=60, default="112,90000", validators=[validate_emergency_numbers],
        help_text=_("Comma-separated; always routed, whatever the caller's permissions."),
    )
    is_active = models.BooleanField(_("active"), default=True)
    # Two-factor at login, per role (portal/mfa.py); the recording web needs it of everyone whatever these say.
    mfa_required_admins = models.BooleanField(_("two-factor required for company admins"), default=False)
    mfa_required_operators = models.BooleanField(_("two-factor required for operators"), default=False)
    mfa_required_recording = models.BooleanField(_("two-factor required for recording super users"), default=False)
    created_at = models.DateTimeField(auto_now_add=True)
    # Set by the apply when this company's part could not be rendered or failed the check: Asterisk keeps
    # running the company's last good configuration (every other company is applied). A list of
    # {"code": ..., "detail": ...}, shown to the company's admins in their language (pbx.apply_status).
    config_held_at = models.DateTimeField(_("configuration held since"), null=True, blank=True, editable=False)
    config_held_problems = models.JSONField(_("why the configuration is held"), default=list, blank=True,
                                            editable=False)

    class Meta:
        verbose_name = _("company")
        verbose_name_plural = _("companies")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def context_prefix(self) -> str:
        return f"t{self.pk}"
