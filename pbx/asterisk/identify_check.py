"""The checker's view of trunk identification: no identify covers the node or another company's.

PJSIP's ``identify`` sections match a request's source address before any password is asked, so
the checker reads every one of them back from the generated pjsip.conf, whatever produced it, and
refuses (with the same validator as the trunk form, :func:`pbx.validators.trunk_network`) a match
that is not a narrow public network, or that overlaps an identify of another company (the shared
trunks count as the platform's own). Findings name the company and the trunk's field.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from django.core.exceptions import ValidationError

from pbx.asterisk.confgen.parse import parse_conf
from pbx.validators import network_text, trunk_network

IDENTIFY_RE = re.compile(r"[ \t]*type[ \t]*=>?[ \t]*identify[ \t]*(;.*)?\Z")
TRUNK_RE = re.compile(r"^(?:t(\d+)-)?trunk-(\d+)$")
FIELD = "match IP addresses"


def company_label(tenant_id: str | None) -> str:
    """"company 7 (Demo AB)" when the database can tell, else "company 7"; the shared trunks' owner
    is the platform."""
    if tenant_id is None:
        return "the platform's shared trunks"
    try:
        from pbx.models import Tenant

        name = Tenant.objects.filter(pk=int(tenant_id)).values_list("name", flat=True).first()
    except Exception:  # a checker run without a database (tests, a copied file) still names the id
        name = None
    return f"company {tenant_id} ({name})" if name else f"company {tenant_id}"


def _identify_blocks(text: str) -> list[tuple[str, int]]:
    """(section text, first line) of every section that declares ``type = identify``.

    The word is looked for with ``str.find`` and only its lines are matched: a node's pjsip.conf
    is megabytes of device sections, and this runs on every apply."""
    blocks = []
    position = text.find("identify")
    while position != -1:
        line_start = text.rfind("\n", 0, position) + 1
        line_end = text.find("\n", position)
        line_end = len(text) if line_end == -1 else line_end
        if IDENTIFY_RE.match(text, line_start, line_end):
            start = text.rfind("\n[", 0, line_start)
            start = 0 if start == -1 else start + 1
            end = text.find("\n[", line_end)
            end = len(text) if end == -1 else end
            blocks.append((text[start:end], text.count("\n", 0, start) + 1))
        position = text.find("identify", line_end)
    return blocks


def check_identifies(text: str, add: Callable[[str, int, str, str], None]) -> None:
    seen: list[tuple[str | None, str, object, int]] = []  # (owner, section, network, line)
    for block, first_line in _identify_blocks(text):
        for section in parse_conf(block, "pjsip.conf", first_line).sections:
            if section.get("type") != "identify":
                continue
            endpoint = section.get("endpoint") or section.name
            trunk = TRUNK_RE.match(endpoint)
            owner = trunk.group(1) if trunk else None
            who = f'{company_label(owner)}, trunk {trunk.group(2) if trunk else endpoint}, field "{FIELD}"'
            if trunk is None:
                add("pjsip.conf", section.line, "trunk-identify",
                    f"identify {section.name} points at {endpoint}, which is not a trunk")
            for option in section.options:
                if option.key != "match":
                    continue
                for entry in (e.strip() for e in option.value.split(",")):
                    try:
                        network = trunk_network(entry)
                    except ValidationError as exc:
                        add("pjsip.conf", option.line, "trunk-identify", f"{who}: {' '.join(exc.messages)}")
                        continue
                    for other_owner, other_section, other, _line in seen:
                        if other_owner != owner and network.overlaps(other):
                            add("pjsip.conf", option.line, "trunk-identify",
                                f"{who}: {entry} overlaps {network_text(other)} of {company_label(other_owner)} "
                                f"(identify {other_section}): their calls could not be told apart")
                    seen.append((owner, section.name, network, option.line))
