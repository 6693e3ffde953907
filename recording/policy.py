"""Whether a call is recorded automatically: the precedence, in one place (docs/recording.md).

Asterisk decides at answer time with the same rules (``pbx-rec-answer`` in the generated dialplan, from
AstDB and the dialplan's own variables); this function is the rule book both follow, tested as a table.

    kill switch (or service off) > excluded number > person not enabled > queue "never"
        > queue "always" / department rule / approved number > not recorded
"""

from __future__ import annotations

from dataclasses import dataclass

# Call kinds as the department rule names them.
INBOUND_EXTERNAL = "inbound_external"
OUTBOUND_EXTERNAL = "outbound_external"
INTERNAL = "internal"
CALL_KINDS = (INBOUND_EXTERNAL, OUTBOUND_EXTERNAL, INTERNAL)

# Queue policies (recording.models.QueuePolicy.Policy values).
ALWAYS, NEVER, NOT_APPLICABLE = "always", "never", "na"


@dataclass(frozen=True)
class Call:
    """What is known of a call when the person answers."""

    kind: str  # one of CALL_KINDS
    other_number: str = ""  # the other party, +E.164 (or an extension for an internal call)
    queue_policy: str = NOT_APPLICABLE  # of the queue the call came through, if any
    approved_number: bool = False  # to or from an approved direct number ("Godkänt direktnummer")


@dataclass(frozen=True)
class Setup:
    """The company's and the answering person's settings."""

    service_on: bool = True
    kill_switch: bool = False
    excluded: frozenset[str] = frozenset()  # +E.164
    person_enabled: bool = False  # "Aktivera samtalsinspelning"
    department_kinds: frozenset[str] = frozenset()  # the kinds the person's department rule records


@dataclass(frozen=True)
class Decision:
    record: bool
    reason: str  # why (a Recording.Reason value) or why not (the rule that said no)


def decide(call: Call, setup: Setup) -> Decision:
    if not setup.service_on or setup.kill_switch:
        return Decision(False, "kill_switch")
    if call.other_number and call.other_number in setup.excluded:
        return Decision(False, "excluded_number")
    if not setup.person_enabled:
        return Decision(False, "person_not_enabled")
    if call.queue_policy == NEVER:
        return Decision(False, "queue_never")
    if call.queue_policy == ALWAYS:
        return Decision(True, "queue")
    if call.kind in setup.department_kinds:
        return Decision(True, "department")
    if call.approved_number:
        return Decision(True, "approved_number")
    return Decision(False, "no_rule")


# The department rule's kinds as the letters in AstDB's u<U>/rec (after the "e" of an enabled person) and in
# the dialplan's PBX_RECK: i inbound external, o outbound external, n internal.
KIND_LETTERS = {INBOUND_EXTERNAL: "i", OUTBOUND_EXTERNAL: "o", INTERNAL: "n"}
