"""Companies held at their last good configuration, and why (``Tenant.config_held_*``).

The apply (:mod:`pbx.asterisk.apply`) holds a company whose part of the generated files cannot be
rendered or is refused by the check: Asterisk keeps running that company's previous part, every other
company is applied, and the company's admins see the reason on their company page
(:mod:`pbx.apply_status`). The hold ends with the company's next apply that goes through.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from django.utils import timezone

from pbx.asterisk.checker import Finding
from pbx.asterisk.confgen.parse import layout

TENANT_NAME_RE = re.compile(r"\bt(\d+)-")
MAX_PROBLEMS = 20


def render_problem(exc: Exception) -> dict[str, str]:
    return {"code": "render", "detail": str(exc)[:1000]}


def finding_problem(finding: Finding) -> dict[str, str]:
    return {"code": finding.code, "detail": str(finding)[:1000]}


def owners(findings: Iterable[Finding], files: dict[str, str]) -> dict[int | None, list[Finding]]:
    """The findings by the company whose part holds their line; in the shared head or tail, by the one
    company the finding names (``[from-trunk]`` jumps into ``t<id>-inbound``), else under None (the
    node's own problem)."""
    spans: dict[str, list[tuple[int, int, int]]] = {}
    found: dict[int | None, list[Finding]] = {}
    for finding in findings:
        if finding.file not in spans:
            text = files.get(finding.file, "")
            plan = layout(text)
            spans[finding.file] = [(plan.line_of(start), plan.line_of(end), tid)
                                   for tid, (start, end) in sorted(plan.parts.items(), key=lambda p: p[1])]
        owner = next((tid for first, after, tid in spans[finding.file] if first <= finding.line < after), None)
        if owner is None:
            named = {int(t) for t in TENANT_NAME_RE.findall(finding.message)}
            owner = named.pop() if len(named) == 1 else None
        found.setdefault(owner, []).append(finding)
    return found


def held_tenant_ids(node) -> set[int]:
    """The node's active companies that are held (one query; none in the usual case)."""
    from django.db.models import Q

    from pbx.models import Tenant

    on_node = Q(node=node) | Q(node__isnull=True) if node.is_default else Q(node=node)
    return set(Tenant.objects.filter(on_node, is_active=True, config_held_at__isnull=False).values_list("id", flat=True))


def hold(problems: dict[int, list[dict[str, str]]]) -> None:
    """Mark companies as held with their problems (the first time keeps its date)."""
    from pbx.models import Tenant

    now = timezone.now()
    for tenant_id, found in problems.items():
        Tenant.objects.filter(pk=tenant_id, config_held_at__isnull=True).update(config_held_at=now)
        Tenant.objects.filter(pk=tenant_id).update(config_held_problems=found[:MAX_PROBLEMS])


def release(tenant_ids: Iterable[int]) -> None:
    """Their configuration went through: no longer held."""
    from pbx.models import Tenant

    ids = list(tenant_ids)
    if ids:
        Tenant.objects.filter(id__in=ids, config_held_at__isnull=False).update(config_held_at=None,
                                                                              config_held_problems=[])
