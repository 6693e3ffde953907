"""A company's webhook endpoints, the messages for them and each message's delivery to each endpoint."""

from __future__ import annotations

import base64
import secrets
from urllib.parse import urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.models.base import TenantOwned

from .catalogue import EVENT_TYPES


def new_secret() -> str:
    """A Standard Webhooks secret: ``whsec_`` and 32 random bytes in base64 (the receiver's key)."""
    return "whsec_" + base64.b64encode(secrets.token_bytes(32)).decode()


def validate_endpoint_url(value: str) -> None:
    parts = urlsplit(value)
    schemes = {"https", "http"} if settings.WEBHOOK_ALLOW_HTTP else {"https"}
    if parts.scheme not in schemes:
        raise ValidationError(_("The address must start with https://."), code="scheme")
    if not parts.hostname:
        raise ValidationError(_("The address has no host name."), code="host")
    if parts.username or parts.password:
        raise ValidationError(_("Put no user name or password in the address; the signature proves the sender."),
                              code="userinfo")
    if any(c.isspace() or ord(c) < 32 for c in value):
        raise ValidationError(_("The address may not contain spaces or control characters."), code="chars")
    try:
        parts.port  # noqa: B018 - raises ValueError for a port out of range
    except ValueError:
        raise ValidationError(_("The port is not a number between 1 and 65535."), code="port") from None


def validate_event_types(value) -> None:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValidationError(_("Choose the events as a list of names."), code="type")
    unknown = sorted(set(value) - set(EVENT_TYPES))
    if unknown:
        raise ValidationError(_("Unknown events: %(names)s.") % {"names": ", ".join(unknown[:5])[:200]},
                              code="unknown")


class WebhookEndpoint(TenantOwned):
    url = models.URLField(_("URL"), max_length=500, validators=[validate_endpoint_url],
                          help_text=_("Your HTTPS address that receives the events (POST, JSON)."))
    description = models.CharField(_("description"), max_length=200, blank=True)
    secret = models.CharField(_("signing secret"), max_length=80, default=new_secret, editable=False,
                              help_text=_("Verify the webhook-signature header with this secret."))
    event_types = models.JSONField(_("events"), default=list, blank=True, validators=[validate_event_types],
                                   help_text=_("None chosen: every event."))
    is_active = models.BooleanField(_("active"), default=True)
    disabled_at = models.DateTimeField(_("disabled"), null=True, blank=True)
    disabled_reason = models.CharField(_("why disabled"), max_length=300, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_success_at = models.DateTimeField(_("last delivered"), null=True, blank=True)
    last_failure_at = models.DateTimeField(_("last failed"), null=True, blank=True)

    class Meta:
        verbose_name = _("webhook endpoint")
        verbose_name_plural = _("webhook endpoints")
        ordering = ["url", "id"]

    def __str__(self) -> str:
        return self.description or self.url

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


class WebhookMessage(TenantOwned):
    """One event of a company, as its endpoints receive it (the body is built once from ``payload``)."""

    msg_id = models.CharField(_("message id"), max_length=40, unique=True)
    event_type = models.CharField(_("event"), max_length=40)
    payload = models.JSONField(_("payload"))
    # Deliveries of the same key to one endpoint go in order (a call's events: its call id).
    order_key = models.CharField(_("order key"), max_length=80, blank=True)
    # The same fact reported twice (a MessageWaiting repeated, an event replayed) is one message.
    dedup_key = models.CharField(_("deduplication key"), max_length=120, blank=True)
    created_at = models.DateTimeField(_("created"), db_index=True)

    class Meta:
        verbose_name = _("webhook message")
        verbose_name_plural = _("webhook messages")
        ordering = ["-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "dedup_key"], condition=~models.Q(dedup_key=""),
                                    name="webhook_message_once"),
        ]

    def __str__(self) -> str:
        return f"{self.event_type} {self.msg_id}"


class WebhookDelivery(TenantOwned):
    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting to be delivered")
        DELIVERED = "delivered", _("Delivered")
        FAILED = "failed", _("Failed (gave up)")

    endpoint = models.ForeignKey(WebhookEndpoint, on_delete=models.CASCADE, related_name="deliveries",
                                 verbose_name=_("endpoint"))
    message = models.ForeignKey(WebhookMessage, on_delete=models.CASCADE, related_name="deliveries",
                                verbose_name=_("message"))
    order_key = models.CharField(_("order key"), max_length=80, blank=True)
    status = models.CharField(_("status"), max_length=10, choices=Status.choices, default=Status.PENDING)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    next_attempt_at = models.DateTimeField(_("next try"), null=True, blank=True)
    last_attempt_at = models.DateTimeField(_("last try"), null=True, blank=True)
    last_status_code = models.PositiveSmallIntegerField(_("HTTP status"), null=True, blank=True)
    last_response_ms = models.PositiveIntegerField(_("response time (ms)"), null=True, blank=True)
    last_error = models.CharField(_("last error"), max_length=300, blank=True)
    delivered_at = models.DateTimeField(_("delivered"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"))

    tenant_references = ("endpoint", "message")

    class Meta:
        verbose_name = _("webhook delivery")
        verbose_name_plural = _("webhook deliveries")
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["endpoint", "message"], name="webhook_delivery_once")]
        indexes = [
            # The worker's question: what is due, oldest first; and "is an earlier one of this stream waiting?"
            models.Index(fields=["status", "next_attempt_at"], name="webhook_due"),
            models.Index(fields=["endpoint", "order_key", "status", "id"], name="webhook_stream"),
        ]

    def __str__(self) -> str:
        return f"{self.message} → {self.endpoint}"
