"""After a change of the recording policy commits, Asterisk gets what decides at answer time.

Every save and delete goes through ``pbx.actions.do_save_object`` / ``do_delete_object``, which schedule the
company's configuration apply (queue policies and approved numbers are in its dialplan) and run the follow-up
registered here in ``pbx.actions.numbers.POLICIES``: the company's recording keys in AstDB (``recording``:
the switches, licences, excluded numbers and everyone's rule), or one person's (``recording_user``).
"""

from __future__ import annotations

from pbx.signals import state_changed_on_commit


def company_keys(obj) -> None:
    tenant_id = obj.pk if obj.__class__.__name__ == "Tenant" else obj.tenant_id
    if tenant_id is not None:
        state_changed_on_commit(tenant_id, "recording", tenant_id)


def person_keys(obj) -> None:
    if obj.pk is not None and obj.tenant_id is not None:
        state_changed_on_commit(obj.tenant_id, "recording_user", obj.pk)


def _chain(existing, follow_up):
    if existing is None:
        return follow_up

    def both(obj):
        existing(obj)
        follow_up(obj)

    return both


def connect() -> None:
    from pbx.actions.numbers import POLICIES
    from pbx.models import Department, Tenant, User

    from .models import DepartmentRule, ExcludedNumber, RecordedPerson, RecordingSettings

    follow_ups = {
        RecordingSettings: company_keys, ExcludedNumber: company_keys, DepartmentRule: company_keys,
        Tenant: company_keys,  # the licence count
        Department: company_keys,
        RecordedPerson: lambda obj: person_keys(obj.user) if obj.user_id else None,
        User: person_keys,  # moved to another department, or made inactive
    }
    for model, follow_up in follow_ups.items():
        check, existing = POLICIES.get(model, (None, None))
        if getattr(existing, "recording_keys", False):
            continue  # connected already (ready() twice in one process)
        chained = _chain(existing, follow_up)
        chained.recording_keys = True
        POLICIES[model] = (check, chained)
