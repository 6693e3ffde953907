"""The worker's side: one attempt per run, retried with backoff while the failure is temporary."""

from __future__ import annotations

import logging
import smtplib
from pathlib import Path

from django.conf import settings
from django.core.mail import BadHeaderError, EmailMessage
from django.db import transaction
from django.utils import timezone
from huey.contrib.djhuey import db_task

from .gateways import GatewayError, configured_gateway
from .models import Notification

log = logging.getLogger(__name__)

# 30 s, 1, 2, 4, 8 and 16 minutes: a mail server or SMS gateway away for half an hour still gets the message.
RETRIES = 6
RETRY_DELAY = 30
RETRY_BACKOFF = 2
MAX_ATTACHMENT_BYTES = 20 * 1024 * 1024


class TryAgain(Exception):
    """This attempt failed for a reason that may pass (huey runs the job again later)."""


def _send_email(notification: Notification) -> None:
    message = EmailMessage(notification.subject, notification.body, settings.DEFAULT_FROM_EMAIL,
                           [notification.recipient])
    if notification.attachment_path:
        path = Path(notification.attachment_path)
        if notification.topic == Notification.Topic.VOICEMAIL:
            from .voicemail import current_audio

            path = current_audio(notification) or path.with_name(f"{path.name}.gone")
        try:
            if path.stat().st_size > MAX_ATTACHMENT_BYTES:
                raise GatewayError("the attachment is too large to mail", permanent=True)
            content = path.read_bytes()
        except FileNotFoundError:
            raise GatewayError("the attachment is gone (deleted before it was mailed)", permanent=True) from None
        message.attach(notification.attachment_name or path.name, content,
                       notification.attachment_type or "application/octet-stream")
    try:
        message.send(fail_silently=False)
    except (BadHeaderError, ValueError) as exc:  # a header Django refuses to write: no retry makes it right
        raise GatewayError(f"mail not sent: {exc}", permanent=True) from exc
    except smtplib.SMTPRecipientsRefused as exc:
        raise GatewayError(f"the mail server refused the address: {exc.recipients}", permanent=True) from exc
    except (smtplib.SMTPException, OSError) as exc:
        raise GatewayError(f"mail not sent: {exc.__class__.__name__}: {exc}") from exc


def _send_sms(notification: Notification) -> None:
    configured_gateway().send(settings.SMS_SENDER, notification.recipient, notification.body)


def attempt(notification_id: int, *, last: bool) -> str:
    """Try to send once; returns the status after the attempt. The row stays locked while sending, so two
    workers running the same job send it once."""
    with transaction.atomic():
        notification = Notification.objects.select_for_update().filter(pk=notification_id).first()
        if notification is None or notification.status != Notification.Status.QUEUED:
            return notification.status if notification else ""
        notification.attempts += 1
        notification.last_attempt_at = timezone.now()
        try:
            if notification.channel == Notification.Channel.SMS:
                _send_sms(notification)
            else:
                _send_email(notification)
        except GatewayError as exc:
            notification.last_error = exc.message[:500]
            if exc.permanent or last:
                notification.status = Notification.Status.FAILED
            log.warning("notification %s (%s to %s), attempt %d: %s", notification.pk, notification.channel,
                        notification.recipient, notification.attempts, exc.message)
        else:
            notification.status = Notification.Status.SENT
            notification.sent_at = timezone.now()
            notification.last_error = ""
        notification.save(update_fields=["attempts", "last_attempt_at", "status", "sent_at", "last_error"])
        return notification.status


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY, retry_backoff=RETRY_BACKOFF, context=True)
def deliver_notification(notification_id: int, task=None) -> str:
    status = attempt(notification_id, last=task is None or task.retries <= 0)
    if status == Notification.Status.QUEUED:
        raise TryAgain(f"notification {notification_id}: will try again")
    return status
