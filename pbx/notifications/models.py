"""One row per message sent (or being sent) to someone: what, to whom, how it went."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _

from pbx.models.base import TenantOwned


class Notification(TenantOwned):
    class Channel(models.TextChoices):
        EMAIL = "email", _("E-mail")
        SMS = "sms", _("SMS")

    class Topic(models.TextChoices):
        CALLBACK = "callback", _("Callback request")
        QUEUE_UNSTAFFED = "queue_unstaffed", _("Queue without agents")
        VOICEMAIL = "voicemail", _("Voicemail")
        OTHER = "", _("Other")

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")

    channel = models.CharField(_("channel"), max_length=8, choices=Channel.choices)
    recipient = models.CharField(_("recipient"), max_length=254)
    subject = models.CharField(_("subject"), max_length=200, blank=True)
    body = models.TextField(_("message"))
    # A file the worker attaches (a voicemail message in the spool); a path our own code chose, never typed.
    attachment_path = models.CharField(_("attachment"), max_length=500, blank=True)
    attachment_name = models.CharField(_("attachment name"), max_length=120, blank=True)
    attachment_type = models.CharField(_("attachment type"), max_length=60, blank=True)
    # What the message is about, e.g. "voicemail:1795406642-00000000:mail@example.se": the same key is the
    # same message, so a repeated trigger (an event replayed, a job run twice) never sends it twice.
    key = models.CharField(_("key"), max_length=200, blank=True)
    topic = models.CharField(_("about"), max_length=20, blank=True, choices=Topic.choices)
    status = models.CharField(_("status"), max_length=8, choices=Status.choices, default=Status.QUEUED)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    last_error = models.CharField(_("last error"), max_length=500, blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True, db_index=True)
    last_attempt_at = models.DateTimeField(_("last attempt"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("notification")
        verbose_name_plural = _("notifications")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "key"], condition=~models.Q(key=""),
                                    name="notification_key_once_per_tenant"),
        ]
        indexes = [models.Index(fields=["tenant", "-created_at"])]

    def __str__(self) -> str:
        return f"{self.get_channel_display()} → {self.recipient}: {self.subject or self.body[:40]}"
