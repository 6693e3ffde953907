"""A callback request told to whoever the menu's callback destination names (e-mail and/or SMS)."""

from __future__ import annotations

from django.utils.translation import gettext as _

from .models import Notification
from .send import send_email, send_sms
from .texts import in_language_of, local_time


def notify_callback_request(callback) -> list[Notification]:
    """Queue the e-mail and the SMS of a new callback request (a menu's callback choice); once per request."""
    destination = callback.destination
    if destination is None or not (destination.notify_email or destination.notify_sms):
        return []
    tenant = callback.tenant
    queue = callback.queue.name if callback.queue_id else ""
    with in_language_of(tenant):
        when = local_time(tenant, callback.requested_at)
        values = {"number": callback.number, "caller": callback.caller_number or _("unknown"), "time": when,
                  "queue": queue or "–", "company": tenant.name}
        subject = _("Callback request from %(number)s") % values
        body = "\n".join([
            _("A caller asked to be called back.") % values,
            "",
            _("Call back on: %(number)s") % values,
            _("Called from: %(caller)s") % values,
            _("Time: %(time)s") % values,
            _("Queue: %(queue)s") % values,
            "",
            _("Mark it done in the operator console once you have called back."),
            "-- ",
            _("%(company)s switchboard") % values,
        ])
        sms = _("Callback request: call %(number)s (queue %(queue)s, %(time)s).") % values
    sent = []
    if destination.notify_email:
        sent.append(send_email(tenant.pk, destination.notify_email, subject, body, topic=Notification.Topic.CALLBACK,
                               key=f"callback:{callback.pk}:email"))
    if destination.notify_sms:
        sent.append(send_sms(tenant.pk, destination.notify_sms, sms, topic=Notification.Topic.CALLBACK,
                             key=f"callback:{callback.pk}:sms"))
    return [n for n in sent if n is not None]
