"""Telling a company's admins that one of their webhook endpoints was switched off."""

from __future__ import annotations

from django.utils.translation import gettext as _

from pbx.notifications.send import send_email
from pbx.notifications.texts import in_language_of

from .models import WebhookEndpoint


def tell_admins_disabled(endpoint: WebhookEndpoint, error: str) -> int:
    from pbx.models import User

    tenant = endpoint.tenant
    admins = User.objects.filter(tenant=tenant, is_company_admin=True, is_active=True).exclude(email="")
    sent = 0
    for admin in admins:
        with in_language_of(tenant):
            values = {"url": endpoint.url, "error": error or "-", "company": tenant.name}
            subject = _("Webhook endpoint disabled: %(url)s") % values
            body = "\n".join([
                _("Your webhook endpoint %(url)s has not accepted any event for more than a day, so it was "
                  "disabled and no more events are sent to it.") % values,
                "",
                _("Last error: %(error)s") % values,
                "",
                _("When the receiver works again, enable the endpoint in the admin (Webhook endpoints) and "
                  "deliver the failed events again from its delivery log."),
                "-- ",
                _("%(company)s switchboard") % values,
            ])
        key = f"webhook-disabled:{endpoint.pk}:{endpoint.disabled_at or ''}"
        if send_email(tenant.pk, admin.email, subject, body, key=key[:200]) is not None:
            sent += 1
    return sent
