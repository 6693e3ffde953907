"""Which numbers a company may use: those the operator assigned it, and verified mobile numbers.

Read by the caller-ID choices, the AstDB caller-ID keys and the config snapshot, so an unassigned
number never reaches the dialplan or anyone's caller ID, whatever rows a company holds.
"""

from __future__ import annotations

from collections.abc import Iterable


def covers(first: str, last: str, e164: str) -> bool:
    """Whether ``e164`` lies in ``first``..``last`` (same length, compared as digits)."""
    return len(e164) == len(first) and first <= e164 <= last


def assigned_ranges(tenant_ids: Iterable[int] | None = None) -> dict[int, list[tuple[str, str]]]:
    """(first, last) of every assignment, per company; one query."""
    from pbx.models import NumberAssignment

    rows = NumberAssignment.objects.order_by("first", "id")
    if tenant_ids is not None:
        rows = rows.filter(tenant_id__in=list(tenant_ids))
    ranges: dict[int, list[tuple[str, str]]] = {}
    for tenant_id, first, last in rows.values_list("tenant_id", "first", "last"):
        ranges.setdefault(tenant_id, []).append((first, last or first))
    return ranges


def is_usable(kind: str, e164: str, is_verified: bool, ranges: list[tuple[str, str]]) -> bool:
    """Whether a company's number may be routed and presented, given the company's assignments."""
    if kind == "mobile" and is_verified:
        return True
    return any(covers(first, last, e164) for first, last in ranges)


def usable_number_ids(tenant_ids: Iterable[int]) -> set[int]:
    """Ids of the numbers of these companies that they may route and present."""
    from pbx.models import Number

    tenant_ids = list(tenant_ids)
    ranges = assigned_ranges(tenant_ids)
    return {
        pk
        for pk, tenant_id, kind, e164, verified in Number.objects.filter(tenant_id__in=tenant_ids)
        .values_list("pk", "tenant_id", "kind", "e164", "is_verified")
        if is_usable(kind, e164, verified, ranges.get(tenant_id, []))
    }


class NumberPolicy:
    """Which E.164 numbers each company may route and present, read once for the checker."""

    def __init__(self, ranges: dict[int, list[tuple[str, str]]], mobiles: set[tuple[int, str]]):
        self.ranges, self.mobiles = ranges, mobiles

    @classmethod
    def from_db(cls) -> NumberPolicy:
        from pbx.models import Number

        mobiles = set(Number.objects.filter(kind="mobile", is_verified=True).values_list("tenant_id", "e164"))
        return cls(assigned_ranges(), mobiles)

    def allows(self, tenant_id: int, e164: str) -> bool:
        return (tenant_id, e164) in self.mobiles or any(
            covers(first, last, e164) for first, last in self.ranges.get(tenant_id, [])
        )
