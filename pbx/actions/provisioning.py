"""A device's provisioning link and the set-up e-mail to its person."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pbx.actions.errors import ActionRefused
from pbx.models import Device
from pbx.models.directory import generate_provisioning_token

from .base import record, require_company_admin, snapshot


def do_renew_provisioning_token(actor, device: Device) -> Device:
    """A new secret provisioning URL; the old one answers 404 from now on."""
    require_company_admin(actor, device)
    with transaction.atomic():
        before = snapshot(device)
        device.provisioning_token = generate_provisioning_token()
        device.save(update_fields=["provisioning_token"])
        record(actor, "provisioning_renewed", device, before, snapshot(device))
    return device


def do_send_setup_email(actor, device: Device, *, base: str | None = None):
    """Mail the device's person how to set up the phone: server, user name and the provisioning links.

    The links carry the SIP password's way in, so they go only to the person's own address (never to an
    address typed on the page); the mail is sent by the worker through pbx.notifications.
    """
    from pbx import provisioning
    from pbx.notifications.send import send_email
    from pbx.notifications.texts import in_language_of

    require_company_admin(actor, device)
    person = device.user
    if not person.email:
        raise ActionRefused(_("%(person)s has no e-mail address.") % {"person": person.display_name})
    setup = provisioning.setup_of(device)
    with in_language_of(device.tenant):
        subject = _("Set up your phone (%(device)s)") % {"device": device.label or device.get_kind_display()}
        body = _(
            "Hello %(name)s,\n\n"
            "this is how to set up your phone for %(company)s.\n\n"
            "SIP server: %(host)s\nPort: %(port)s\nTransport: %(transport)s\nSIP user name: %(username)s\n\n"
            "The phone can fetch everything (the password too) from one of these addresses:\n"
            "Yealink: %(yealink)s\nSnom: %(snom)s\nLinphone (softphone): %(linphone)s\n\n"
            "Keep these addresses to yourself: they work like a password. Your admin can replace them."
        ) % {
            "name": person.display_name, "company": device.tenant.name, "host": setup.host, "port": setup.port,
            "transport": setup.transport.upper(), "username": setup.username,
            "yealink": provisioning.file_url(device, "yealink.cfg", base=base),
            "snom": provisioning.file_url(device, "snom.xml", base=base),
            "linphone": provisioning.file_url(device, "linphone.xml", base=base),
        }
    with transaction.atomic():
        notification = send_email(device.tenant_id, person.email, subject, body, topic="phone_setup",
                                  key=f"setup:{device.pk}:{timezone.now().isoformat()}")
        record(actor, "setup_email_sent", device, None, {"to": person.email})
    return notification
