"""API credentials and what the API remembers of idempotent requests.

A credential's secret is shown once, when it is created; only its SHA-256 is kept, with the first characters
(``prefix``) stored plainly so a presented key is found by an index lookup, not by hashing every row. The
secret has 256 bits of entropy, so a plain SHA-256 (no slow hash) is enough: nobody can guess it offline.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from pbx.models import TenantOwned

# Read / write per area; ``calls:control`` starts, moves and ends live calls. Personal tokens and the browser
# session have no scopes: they carry the person's own rights.
SCOPES = {
    "company:read": _("Company settings: read"),
    "company:write": _("Company settings: change"),
    "directory:read": _("People, phones, departments, offices, cost centres: read"),
    "directory:write": _("People, phones, departments, offices, cost centres: change"),
    "numbers:read": _("Numbers and destinations: read"),
    "numbers:write": _("Numbers and destinations: change"),
    "queues:read": _("Queues and agents: read"),
    "queues:write": _("Queues and agents: change, log agents in and out, pause"),
    "callflow:read": _("Menus, schedules, prompts, voicemail boxes, conferences: read"),
    "callflow:write": _("Menus, schedules, prompts, voicemail boxes, conferences: change"),
    "presence:read": _("Statuses, forwarding profiles, caller ID: read"),
    "presence:write": _("Statuses, forwarding profiles, caller ID: change"),
    "voicemail:read": _("Voicemail messages: read"),
    "voicemail:write": _("Voicemail messages: mark heard, delete"),
    "stats:read": _("Call log, queue log and statistics: read"),
    "recordings:read": _("Call recordings: list, hear, read evaluations (as the key's admin's recording role)"),
    "recordings:write": _("Call recordings: evaluate, delete (as the key's admin's recording role)"),
    "calls:read": _("Live calls: read"),
    "calls:control": _("Live calls: call, answer, transfer, hold, hang up, record, listen in"),
}


class ApiKey(TenantOwned):
    class Kind(models.TextChoices):
        PERSONAL = "personal", _("Personal access token")
        COMPANY = "company", _("Company API key")

    kind = models.CharField(_("kind"), max_length=8, choices=Kind.choices)
    name = models.CharField(_("name"), max_length=80)
    # Personal: the person whose rights the token carries. Company: the admin who created it; the key acts
    # in their name (the audit trail names them) and stops working when they are no longer a company admin.
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_keys",
                             verbose_name=_("person"))
    scopes = models.JSONField(_("scopes"), default=list, blank=True)
    prefix = models.CharField(_("key prefix"), max_length=16, unique=True, editable=False)
    secret_hash = models.CharField(max_length=64, editable=False)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    expires_at = models.DateTimeField(_("expires"), null=True, blank=True)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)

    tenant_references = ("user",)

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"{self.name} ({self.prefix}…)"

    @property
    def is_usable(self) -> bool:
        return self.revoked_at is None and (self.expires_at is None or self.expires_at > timezone.now())


class IdempotentRequest(models.Model):
    """A POST that starts a call, with its Idempotency-Key: the same key replays the first answer."""

    # Whose key space: "k<api key id>" or "u<user id>" (session). Never shared between credentials.
    owner = models.CharField(max_length=24)
    key = models.CharField(max_length=200)
    fingerprint = models.CharField(max_length=64)  # method, path and body of the first request
    status = models.PositiveSmallIntegerField(null=True)  # None while the first request is running
    body = models.JSONField(null=True)
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["owner", "key"], name="idempotency_key_per_owner")]

    def __str__(self) -> str:
        return f"{self.owner} {self.key}"
