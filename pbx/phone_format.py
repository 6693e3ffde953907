"""Phone numbers the way Swedes write them: ``+46812345678`` → ``08-123 456 78``.

Storage and the API keep E.164; this is only for people reading. The area code decides where the
hyphen goes (Sweden's area codes are one to three digits after the 0, mobile numbers have 07x), and
the subscriber part is grouped from the end in pairs with a leading group of three when the length is
odd, as PTS recommends: 08-123 456 78, 070-123 45 67, 031-12 34 56, 0380-123 45.
"""

from __future__ import annotations

import re

from django import forms

# Two-digit area codes (after the 0): the larger towns. 8 is Stockholm (one digit). Everything else
# that is not 07x (mobile) has three digits.
TWO_DIGIT_AREAS = frozenset({
    "10", "11", "13", "16", "18", "19", "20", "21", "23", "26", "31", "33", "35", "36", "40", "42", "44",
    "46", "54", "60", "63", "90",
})
MOBILE_PREFIXES = ("70", "72", "73", "76", "79")
E164_SE = re.compile(r"\+46([1-9][0-9]{5,10})\Z")


def group_subscriber(digits: str) -> str:
    """123 456 78, 123 45 67, 12 34 56, 123 45: pairs from the end, a group of three first."""
    if len(digits) == 8:
        return f"{digits[:3]} {digits[3:6]} {digits[6:]}"
    groups = []
    rest = digits
    while len(rest) > 3:
        groups.insert(0, rest[-2:])
        rest = rest[:-2]
    groups.insert(0, rest)
    return " ".join(groups)


def split_area(national: str) -> tuple[str, str]:
    """National significant number (no 0) → (area code, subscriber number)."""
    if national.startswith("8"):
        return national[:1], national[1:]
    if national[:2] in TWO_DIGIT_AREAS or national.startswith(MOBILE_PREFIXES):
        return national[:2], national[2:]
    return national[:3], national[3:]


def format_number(value: str | None) -> str:
    """A Swedish E.164 number as people write it; anything else (extensions, foreign numbers) as it is."""
    if not value:
        return value or ""
    match = E164_SE.match(value)
    if not match:
        return value
    area, subscriber = split_area(match.group(1))
    if len(subscriber) < 5:  # too short to be a real number: do not pretend
        return value
    return f"0{area}-{group_subscriber(subscriber)}"


def number_html(value: str | None):
    """``format_number`` for an HTML list cell: the number never breaks across lines ("08-155" / "00 00")."""
    from django.utils.html import format_html

    shown = format_number(value)
    return format_html('<span class="nowrap">{}</span>', shown) if shown else ""


class PhoneNumberInput(forms.TextInput):
    """A number field's box: a stored Swedish E.164 number shown as people write it (070-123 45 67); whatever is
    typed goes back through the form's cleaning (pbx.validators.normalize_number) and is stored as E.164."""

    def format_value(self, value):
        return format_number(value) if isinstance(value, str) else super().format_value(value)
