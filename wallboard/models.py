"""The wallboard's configuration: saved layouts of tiles with their thresholds, and the TV links.

A ``Layout`` is one screen: which tiles, in which order and size, in which theme, with or without a sound
when a tile turns red. A ``Tile`` shows one queue or (no queue) the whole company; its thresholds turn it
amber or red in the browser (the figures arrive live; the colours are decided where they are shown, so a
longest wait that grows second by second turns red without any message). A ``WallboardLink`` is a
revocable secret address that shows one layout on a TV without anyone signing in.
"""

from __future__ import annotations

import hashlib
import secrets

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.models import TenantOwned
from pbx.validators import validate_plain_text


class Layout(TenantOwned):
    class Theme(models.TextChoices):
        LIGHT = "light", _("Light")
        DARK = "dark", _("Dark")
        CONTRAST = "contrast", _("High contrast (TV)")

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text])
    theme = models.CharField(_("theme"), max_length=10, choices=Theme.choices, default=Theme.DARK)
    sound = models.BooleanField(_("sound when a tile turns red"), default=False)
    is_default = models.BooleanField(_("default layout"), default=False,
                                     help_text=_("The layout /wallboard/ opens with."))

    # Saving one changes no Asterisk configuration (pbx.actions.objects).
    affects_config = False

    class Meta:
        verbose_name = _("wallboard layout")
        verbose_name_plural = _("wallboard layouts")
        ordering = ["-is_default", "name"]
        constraints = [models.UniqueConstraint(fields=["tenant", "name"], name="wallboard_layout_name_once")]

    def __str__(self) -> str:
        return self.name


class Tile(TenantOwned):
    class Size(models.TextChoices):
        NORMAL = "normal", _("Normal")
        WIDE = "wide", _("Wide (two columns)")
        LARGE = "large", _("Large (two columns, two rows)")

    layout = models.ForeignKey(Layout, on_delete=models.CASCADE, related_name="tiles", verbose_name=_("layout"))
    queue = models.ForeignKey("pbx.Queue", on_delete=models.CASCADE, null=True, blank=True, related_name="+",
                              verbose_name=_("queue"), help_text=_("Empty: the whole company."))
    position = models.PositiveSmallIntegerField(_("order"), default=0)
    size = models.CharField(_("size"), max_length=8, choices=Size.choices, default=Size.NORMAL)
    # Thresholds: empty means not watched. "Above" for waiting and longest wait, "below" for the rest.
    waiting_amber = models.PositiveSmallIntegerField(_("amber: calls waiting above"), null=True, blank=True)
    waiting_red = models.PositiveSmallIntegerField(_("red: calls waiting above"), null=True, blank=True)
    longest_wait_amber = models.PositiveIntegerField(_("amber: longest wait above (s)"), null=True, blank=True)
    longest_wait_red = models.PositiveIntegerField(_("red: longest wait above (s)"), null=True, blank=True)
    service_level_amber = models.PositiveSmallIntegerField(
        _("amber: service level below (%)"), null=True, blank=True, validators=[MaxValueValidator(100)])
    service_level_red = models.PositiveSmallIntegerField(
        _("red: service level below (%)"), null=True, blank=True, validators=[MaxValueValidator(100)])
    logged_in_amber = models.PositiveSmallIntegerField(_("amber: agents logged in below"), null=True, blank=True)
    logged_in_red = models.PositiveSmallIntegerField(_("red: agents logged in below"), null=True, blank=True)

    tenant_parent = "layout"
    tenant_references = ("layout", "queue")
    affects_config = False

    # (amber field, red field, "above" | "below"): red must be the worse of the two.
    THRESHOLDS = (
        ("waiting_amber", "waiting_red", "above"),
        ("longest_wait_amber", "longest_wait_red", "above"),
        ("service_level_amber", "service_level_red", "below"),
        ("logged_in_amber", "logged_in_red", "below"),
    )

    class Meta:
        verbose_name = _("tile")
        verbose_name_plural = _("tiles")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return str(self.queue) if self.queue_id else str(_("Whole company"))

    def clean(self) -> None:
        super().clean()
        for amber, red, direction in self.THRESHOLDS:
            a, r = getattr(self, amber), getattr(self, red)
            if a is None or r is None:
                continue
            if (direction == "above" and r < a) or (direction == "below" and r > a):
                raise ValidationError({red: _("Red must be a worse value than amber.")})

    def thresholds(self) -> dict[str, dict[str, int | None]]:
        return {
            "waiting": {"amber": self.waiting_amber, "red": self.waiting_red, "dir": "above"},
            "longest_wait": {"amber": self.longest_wait_amber, "red": self.longest_wait_red, "dir": "above"},
            "service_level": {"amber": self.service_level_amber, "red": self.service_level_red, "dir": "below"},
            "logged_in": {"amber": self.logged_in_amber, "red": self.logged_in_red, "dir": "below"},
        }


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class WallboardLink(TenantOwned):
    """A TV's read-only address, ``/wallboard/tv/<token>/``: only the token's hash is kept."""

    name = models.CharField(_("name"), max_length=80, validators=[validate_plain_text],
                            help_text=_("Where the screen hangs, e.g. “Kundtjänst, TV by the kitchen”."))
    layout = models.ForeignKey(Layout, on_delete=models.CASCADE, related_name="links", verbose_name=_("layout"))
    token_hash = models.CharField(max_length=64, unique=True, editable=False)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, blank=True,
                                   related_name="+", verbose_name=_("created by"), editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    tenant_references = ("layout",)
    affects_config = False

    class Meta:
        verbose_name = _("wallboard link")
        verbose_name_plural = _("wallboard links")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.name

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def new_token(self) -> str:
        """A fresh secret (shown once); only its hash is stored."""
        token = secrets.token_urlsafe(32)
        self.token_hash = hash_token(token)
        return token

    @classmethod
    def for_token(cls, token: str) -> WallboardLink | None:
        if not isinstance(token, str) or not 20 <= len(token) <= 100:
            return None
        return (cls.objects.select_related("layout", "tenant")
                .filter(token_hash=hash_token(token), revoked_at__isnull=True).first())
