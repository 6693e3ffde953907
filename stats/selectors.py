"""Reading the call log for people: who called whom, by name where the company knows the person.

A call log row keeps numbers as Asterisk reported them (an outside caller's number, an extension, the DDI);
the people behind them are the row's own links (caller, answered by, forwarded by) or, for an extension, the
company's directory, read once per page, never across companies.
"""

from __future__ import annotations

from pbx.models import User

from .models import CallLog


def names_by_extension(tenant_id: int) -> dict[str, str]:
    """Extension → the person's name, for one company."""
    rows = User.objects.filter(tenant_id=tenant_id).exclude(extension="").values_list(
        "extension", "first_name", "last_name", "email")
    return {ext: (f"{first} {last}".strip() or email) for ext, first, last, email in rows}


def caller_name(call: CallLog) -> str:
    """The calling person's name, else the caller ID name the call brought (an outside caller's)."""
    if call.caller_id is not None and call.caller is not None:
        return call.caller.display_name
    return call.from_name


def called_name(call: CallLog, names: dict[str, str] | None = None) -> str:
    """Whom the caller wanted: the person whose forward sent the call on, the person at the dialled
    extension, else the person who answered (an incoming call to a queue or a number)."""
    if call.forwarded_from_id is not None and call.forwarded_from is not None:
        return call.forwarded_from.display_name
    if names is not None and call.to_number in names and call.direction != CallLog.Direction.OUT:
        return names[call.to_number]
    if call.answered_by_id is not None and call.answered_by is not None and call.direction != CallLog.Direction.OUT:
        return call.answered_by.display_name
    return ""


def with_names(calls: list[CallLog], tenant_id: int) -> list[CallLog]:
    """Set ``from_who`` and ``to_who`` on each row (rows selected with their caller, answerer and forwarder)."""
    names = names_by_extension(tenant_id)
    for call in calls:
        call.from_who = caller_name(call)
        call.to_who = called_name(call, names)
    return calls
