"""Validation at the edge: what a person types never reaches the dialplan unchecked.

Numbers are digits (E.164 with a leading +), extensions and PINs are digits, names may hold any
printable text but never control characters (a newline in a name would start a new line in a
generated Asterisk file).
"""

import re

from django.core.exceptions import ValidationError
from django.core.validators import RegexValidator
from django.utils.translation import gettext_lazy as _

E164_RE = re.compile(r"^\+[1-9][0-9]{6,14}$")
DIALABLE_RE = re.compile(r"^\+?[0-9]{2,20}$")
CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

validate_extension = RegexValidator(
    r"^[0-9]{2,8}$",
    _("An extension is 2–8 digits, for example 1001."),
    code="bad_extension",
)
validate_pin = RegexValidator(r"^[0-9]{4,12}$", _("A PIN is 4–12 digits."), code="bad_pin")
validate_menu_digit = RegexValidator(
    r"^[0-9*#]$", _("A menu choice is one key: 0–9, * or #."), code="bad_digit"
)
validate_slug_id = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,39}$",
    _("Use lower-case letters, digits and hyphens (at most 40)."),
    code="bad_slug",
)


def validate_e164(value: str) -> None:
    if not E164_RE.match(value or ""):
        raise ValidationError(
            _("%(value)s is not a phone number in international form, e.g. +46812345678."),
            code="bad_e164",
            params={"value": value},
        )


def validate_dialable(value: str) -> None:
    """An external number a call may be sent to: digits, optionally with a leading +."""
    if not DIALABLE_RE.match(value or ""):
        raise ValidationError(
            _("%(value)s is not a phone number: use digits only, optionally starting with +."),
            code="bad_number",
            params={"value": value},
        )


def validate_plain_text(value: str) -> None:
    if CONTROL_RE.search(value or ""):
        raise ValidationError(
            _("Line breaks and control characters are not allowed here."), code="control_chars"
        )


def normalize_number(value: str, country_code: str = "46") -> str:
    """Turn what a Swede types (08-123 456 78, 0701234567, 0046..., +46 70...) into E.164.

    Spaces, hyphens, dots and brackets are dropped; anything else that is not a digit is left in
    so that the validator can refuse it with a clear message instead of silently eating it.
    """
    cleaned = re.sub(r"[\s\-.()/]", "", value or "")
    if cleaned.startswith("00"):
        cleaned = "+" + cleaned[2:]
    elif cleaned.startswith("0") and len(cleaned) > 1:
        cleaned = f"+{country_code}{cleaned[1:]}"
    return cleaned


validate_host = RegexValidator(
    r"^[A-Za-z0-9]([A-Za-z0-9.-]{0,252})(:[0-9]{1,5})?$",
    _("A host name or IP address, optionally with :port, e.g. sip.example.net:5060."),
    code="bad_host",
)
validate_networks = RegexValidator(
    r"^[0-9A-Fa-f.:/]+(,[0-9A-Fa-f.:/]+)*$",
    _("Comma-separated IP addresses or networks, e.g. 192.0.2.10,198.51.100.0/24."),
    code="bad_networks",
)
