"""What a company's admins are told when their configuration is held (``Tenant.config_held_*``).

The apply stores each problem as a code and the technical detail (the generator's or the checker's
own words, which name the file, the line and the object); here the code becomes a sentence in the
reader's language, and the detail is shown under it as it is.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils.translation import gettext_lazy as _

EXPLANATIONS = {
    "render": _("A value cannot be written into the telephone system's configuration."),
    "control-character": _("A value holds a line break or another control character."),
    "dangling-context": _("Something points to a menu, queue or destination that does not exist."),
    "dangling-extension": _("Something points to a number that nobody in the company has."),
    "dangling-priority": _("Something points to a step of a call flow that does not exist."),
    "dangling-reference": _("Something refers to a phone, profile or music class that does not exist."),
    "missing-prompt": _("A voice prompt's sound file is missing: upload the prompt again."),
    "unknown-endpoint": _("Something refers to a phone or trunk that does not exist."),
    "unknown-queue": _("Something refers to a queue that does not exist."),
    "unknown-mailbox": _("Something refers to a voicemail box that does not exist."),
    "cross-tenant": _("Something would reach another company's telephony."),
    "unescaped-text": _("A text would not read back the way it was typed."),
    "trunk-identify": _("A trunk's IP addresses are too wide, not public, or another company's."),
    "unassigned-number": _("A number is used that the operator has not assigned to the company."),
}
FALLBACK = _("The configuration check refused part of the company's configuration.")


@dataclass(frozen=True)
class Problem:
    explanation: str
    detail: str


def problems_of(tenant) -> list[Problem]:
    return [Problem(str(EXPLANATIONS.get(p.get("code", ""), FALLBACK)), p.get("detail", ""))
            for p in tenant.config_held_problems or []]


def held_status(tenant) -> dict | None:
    """For a template: since when the company is held and why; None when it is not."""
    if tenant is None or tenant.config_held_at is None:
        return None
    return {"since": tenant.config_held_at, "problems": problems_of(tenant)}
