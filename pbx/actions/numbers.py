"""Numbers by assignment, trunks by policy: what only the platform's operator decides.

A company routes and presents only the numbers the operator assigned it (and verified mobile
numbers of its people), and its trunks are recognised only by narrow public addresses that are
neither the node's nor another company's. The checks run on every save through the actions
(``do_save_object`` calls :data:`POLICIES`), so the admin, the API and commands cannot skip them.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from pbx.models import Number, NumberAssignment, SipTrunk, Tenant, User
from pbx.signals import config_changed_on_commit, state_changed_on_commit

from .base import record, snapshot


def is_platform_operator(actor) -> bool:
    """A superuser, or the system itself (no actor: seed, migrations, commands)."""
    return actor is None or bool(actor.is_superuser)


def check_trunk(actor, trunk: SipTrunk) -> None:
    stored = SipTrunk.objects.filter(pk=trunk.pk).values_list("is_shared", flat=True).first() if trunk.pk else None
    if not is_platform_operator(actor) and (trunk.is_shared or stored):
        raise PermissionDenied(_("Only the platform operator changes a trunk shared by all companies."))
    trunk.full_clean()


def check_trunk_delete(actor, trunk: SipTrunk) -> None:
    if trunk.is_shared and not is_platform_operator(actor):
        raise PermissionDenied(_("Only the platform operator changes a trunk shared by all companies."))


def check_assignment_delete(actor, assignment: NumberAssignment) -> None:
    if not is_platform_operator(actor):
        raise PermissionDenied(_("Only the platform operator assigns numbers to companies."))


def check_number(actor, number: Number) -> None:
    if not is_platform_operator(actor):
        stored = Number.objects.filter(pk=number.pk).values_list("e164", "is_verified").first() if number.pk else None
        if stored and stored[1] and stored[0] != number.e164:
            number.is_verified = False  # the operator verified that number, not this one
        elif number.is_verified and not (stored and stored[1]):
            raise PermissionDenied(_("Only the platform operator verifies mobile numbers."))
    number.full_clean()


def check_assignment(actor, assignment: NumberAssignment) -> None:
    if not is_platform_operator(actor):
        raise PermissionDenied(_("Only the platform operator assigns numbers to companies."))
    assignment.full_clean()


def refresh_caller_ids(tenant_id: int, number: Number | None = None) -> None:
    """The people's chosen caller IDs live in AstDB (``cli``); an assignment change, or a number's
    new e164 or verification, may make one presentable or not: their keys are written again."""
    people = User.objects.filter(tenant_id=tenant_id, caller_id_number__isnull=False)
    if number is not None:
        people = people.filter(caller_id_number=number)
    for user_id in people.values_list("pk", flat=True):
        state_changed_on_commit(tenant_id, "caller_id", user_id)


# model → (check before a save, follow-up after a save or delete)
POLICIES = {
    SipTrunk: (check_trunk, None),
    Number: (check_number, lambda obj: refresh_caller_ids(obj.tenant_id, obj) if obj.pk else None),
    NumberAssignment: (check_assignment, lambda obj: refresh_caller_ids(obj.tenant_id)),
}
DELETE_POLICIES = {NumberAssignment: check_assignment_delete, SipTrunk: check_trunk_delete}


def do_assign_numbers(actor, tenant: Tenant, first: str, last: str = "", *, note: str = "") -> NumberAssignment:
    """Give a company one number (``last`` empty) or the range ``first``..``last``."""
    from .objects import do_save_object

    return do_save_object(actor, NumberAssignment(tenant=tenant, first=first, last=last, note=note))


def do_unassign_numbers(actor, assignment: NumberAssignment) -> None:
    """Take numbers back: the company's rows stay, but the generator routes and presents them no more."""
    from .objects import do_delete_object

    do_delete_object(actor, assignment)


def do_verify_mobile_number(actor, number: Number, verified: bool = True) -> Number:
    if not is_platform_operator(actor):
        raise PermissionDenied(_("Only the platform operator verifies mobile numbers."))
    if number.kind != Number.Kind.MOBILE:
        raise PermissionDenied(_("Only a mobile number is verified; other numbers are assigned."))
    with transaction.atomic():
        before = snapshot(number)
        number.is_verified = verified
        number.save(update_fields=["is_verified"])
        record(actor, "verified" if verified else "unverified", number, before, snapshot(number))
        config_changed_on_commit(number.tenant_id)
        refresh_caller_ids(number.tenant_id, number)
    return number
