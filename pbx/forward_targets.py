"""Whether a number a call is forwarded to leads anywhere, as the generated dialplan will route it.

A forward goes to ``t<id>-forward,<number>,1``, which includes the company's emergency numbers, its
extensions (people, queues, conferences), its own numbers and the outbound patterns (``_+X.``,
``_00X.`` and, with a valid country code, ``_0X.``: extensions.py). A number none of them matches
(``1099`` when nobody has that extension) would be a Goto into nothing: the checker refuses the whole
company's configuration at apply time, and a forward read from AstDB at call time just hangs up. So
the forms refuse it first, with the same rules.
"""

from __future__ import annotations

import re

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

from pbx.validators import COUNTRY_CODE_RE, EMERGENCY_RE

# The outbound patterns of extensions.TenantDialplan.outbound: X. is one digit and at least one more.
INTERNATIONAL_RE = re.compile(r"\A(\+|00)[0-9][0-9]+\Z")
NATIONAL_RE = re.compile(r"\A0[0-9][0-9]+\Z")


def forward_target_reachable(tenant, number: str) -> bool:
    from pbx.models import Conference, Number, Queue, User

    if INTERNATIONAL_RE.match(number):
        return True
    if NATIONAL_RE.match(number) and COUNTRY_CODE_RE.match(tenant.country_code or ""):
        return True
    emergency = {n.strip() for n in (tenant.emergency_numbers or "").split(",") if EMERGENCY_RE.match(n.strip())}
    if number in emergency:
        return True
    return (
        User.objects.filter(tenant=tenant, is_active=True, extension=number).exists()
        or Queue.objects.filter(tenant=tenant, extension=number).exists()
        or Conference.objects.filter(tenant=tenant, extension=number).exists()
        or Number.objects.filter(tenant=tenant, e164=number).exists()
    )


def validate_forward_target(tenant, number: str) -> None:
    """Refuse a forward to a number that is nobody's (a valid dialable number is assumed)."""
    if not number or tenant is None:
        return
    if not forward_target_reachable(tenant, number):
        raise ValidationError(
            _("%(number)s is nobody in this company and not an outside number: use a colleague's "
              "extension, or a full number such as 0701234567 or +46701234567."),
            code="unreachable_forward",
            params={"number": number},
        )
