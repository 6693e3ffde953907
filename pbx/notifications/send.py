"""The one way any feature sends a message to a person: ``send_email`` / ``send_sms``.

Both store a ``Notification`` (queued) in the caller's transaction and hand it to the worker when that
commits, so nothing is sent for a change that was rolled back and the caller never waits for a mail server.
Texts arrive already written in the reader's language (the feature knows the company's language).
"""

from __future__ import annotations

import logging
from pathlib import Path

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction

from .gateways import E164_RE
from .models import Notification

log = logging.getLogger(__name__)


def _store(tenant_id: int, channel: str, recipient: str, subject: str, body: str, *, topic: str, key: str,
           attachment: Path | None = None, attachment_name: str = "", attachment_type: str = "",
           error: str = "") -> Notification | None:
    # A subject is one header line: whatever a caller put in a name (the voicemail's caller ID) stays on it.
    subject = " ".join(subject.split())
    values = {
        "tenant_id": tenant_id, "channel": channel, "recipient": recipient, "subject": subject[:200],
        "body": body, "topic": topic, "key": key[:200],
        "attachment_path": str(attachment) if attachment else "", "attachment_name": attachment_name,
        "attachment_type": attachment_type,
    }
    if error:  # refused before any attempt: recorded, so the admin sees what was not sent and why
        values.update(status=Notification.Status.FAILED, last_error=error)
    if key and Notification.objects.filter(tenant_id=tenant_id, key=values["key"]).exists():
        return None
    try:
        with transaction.atomic():
            notification = Notification.objects.create(**values)
    except IntegrityError:  # the same key stored meanwhile by another process: sent once
        return None
    if not error:
        from .tasks import deliver_notification

        transaction.on_commit(lambda: deliver_notification(notification.pk))
    return notification


def send_email(tenant_id: int, to: str, subject: str, body: str, *, topic: str = "", key: str = "",
               attachment: Path | None = None, attachment_name: str = "", attachment_type: str = ""
               ) -> Notification | None:
    """Queue an e-mail; None when ``key`` was already sent (or queued) for this company."""
    error = ""
    try:
        validate_email(to)
    except ValidationError:
        error = "not an e-mail address"
    return _store(tenant_id, Notification.Channel.EMAIL, to, subject, body, topic=topic, key=key,
                  attachment=attachment, attachment_name=attachment_name, attachment_type=attachment_type,
                  error=error)


def send_sms(tenant_id: int, to: str, message: str, *, topic: str = "", key: str = "") -> Notification | None:
    """Queue a text message to an E.164 number; None when ``key`` was already sent for this company."""
    error = "" if E164_RE.match(to or "") else "not an international mobile number"
    return _store(tenant_id, Notification.Channel.SMS, to, "", message, topic=topic, key=key, error=error)
