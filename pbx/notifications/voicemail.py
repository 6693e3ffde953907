"""Voicemail to e-mail, sent by the worker from the spool (Asterisk's container has no sendmail).

The bridge sees ``MessageWaiting`` and queues :func:`mail_new_voicemail_job`; every five minutes
:func:`mail_recent_voicemail` looks at the boxes again, for a message left while the bridge was away. Both
mail each new message of a box with an e-mail address once: the notification's key is the message's
``msg_id`` (app_voicemail's own id, which survives renumbering), so a repeated MessageWaiting, a second
bridge or the periodic look never mail it twice.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

from django.utils import timezone
from django.utils.translation import gettext as _
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from pbx import voicemail_store as store

from .models import Notification
from .send import send_email
from .texts import in_language_of, local_time

log = logging.getLogger(__name__)

RECENT = dt.timedelta(days=1)  # the periodic look mails nothing older (no flood after a first setup)


def _duration(seconds: int) -> str:
    return f"{seconds // 60}:{seconds % 60:02d}"


def mail_voicemail(tenant_id: int, mailbox: str, *, since: dt.datetime | None = None) -> list[Notification]:
    """Queue a mail for each new message of the box not mailed yet; returns the mails queued now."""
    from pbx.models import VoicemailBox

    box = (VoicemailBox.objects.select_related("tenant").filter(tenant_id=tenant_id, number=mailbox,
                                                                   is_enabled=True).first())
    if box is None or not box.email:
        return []
    tenant = box.tenant
    queued = []
    try:
        messages = store.list_messages(tenant_id, mailbox, store.NEW_FOLDERS)
    except ValueError:  # not a mailbox number the spool can hold
        return []
    for message in messages:
        if not message.msg_id or (since is not None and (message.received is None or message.received < since)):
            continue
        with in_language_of(tenant):
            caller = " ".join(p for p in (message.caller_name, f"<{message.caller_number}>"
                                          if message.caller_number else "") if p) or _("an unknown caller")
            values = {"caller": caller, "box": f"{box.number} {box.name}",
                      "time": local_time(tenant, message.received or timezone.now()),
                      "duration": _duration(message.duration_s), "company": tenant.name}
            subject = (_("Urgent voicemail from %(caller)s") if message.is_urgent
                       else _("New voicemail from %(caller)s")) % values
            lines = [
                _("You have a new message in voicemail box %(box)s.") % values,
                "",
                _("From: %(caller)s") % values,
                _("Time: %(time)s") % values,
                _("Length: %(duration)s") % values,
                "",
                _("The message is attached.") if box.attach_audio and message.audio else
                _("Listen to it on your phone or in the user web."),
                "-- ",
                _("%(company)s switchboard") % values,
            ]
        attach = message.audio if box.attach_audio else None
        notification = send_email(
            tenant_id, box.email, subject, "\n".join(lines), topic=Notification.Topic.VOICEMAIL,
            key=f"voicemail:{box.number}:{message.msg_id}:{box.email}", attachment=attach,
            attachment_name=f"voicemail-{message.msg_id}{attach.suffix.lower()}" if attach else "",
            attachment_type=message.content_type if attach else "",
        )
        if notification is not None:
            queued.append(notification)
    return queued


def current_audio(notification) -> Path | None:
    """The message's audio file as the spool has it now, found by its ``msg_id``: app_voicemail renumbers a
    folder when a message goes and moves a heard one to Old, so the path seen when the mail was queued may
    be gone or, worse, another message's by the time the worker sends."""
    _topic, mailbox, msg_id, _email = (notification.key.split(":", 3) + ["", "", "", ""])[:4]
    if not msg_id:
        return None
    try:
        messages = store.list_messages(notification.tenant_id, mailbox)
    except ValueError:
        return None
    return next((m.audio for m in messages if m.msg_id == msg_id), None)


@db_task(retries=3, retry_delay=10)
def mail_new_voicemail_job(tenant_id: int, mailbox: str) -> int:
    return len(mail_voicemail(tenant_id, mailbox))


def mail_new_voicemail(tenant_id: int, mailbox: str):
    """Ask the worker to mail what is new in the box (the bridge calls this on MessageWaiting)."""
    return mail_new_voicemail_job(tenant_id, mailbox)


@db_periodic_task(crontab(minute="*/5"))
def mail_recent_voicemail() -> int:
    """Messages of the last day that no MessageWaiting brought to us (the bridge was away)."""
    from pbx.models import VoicemailBox

    since = timezone.now() - RECENT
    count = 0
    for tenant_id, number in (VoicemailBox.objects.filter(is_enabled=True, tenant__is_active=True)
                              .exclude(email="").values_list("tenant_id", "number")):
        count += len(mail_voicemail(tenant_id, number, since=since))
    return count
