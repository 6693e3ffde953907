from __future__ import annotations

from datetime import datetime

from django.db import transaction

from pbx.events import send_event_on_commit
from pbx.models import Schedule
from pbx.signals import state_changed_on_commit

from .base import record, require_company_admin, snapshot


def do_set_schedule_override(actor, schedule: Schedule, override: str, *, until: datetime | None = None) -> Schedule:
    """Force open / closed now (until a time, or until cleared); "" follows the schedule again."""
    require_company_admin(actor, schedule)
    schedule.override = Schedule.Override(override)
    schedule.override_until = until if override else None
    schedule.full_clean()
    with transaction.atomic():
        before = snapshot(Schedule.objects.get(pk=schedule.pk))
        schedule.save(update_fields=["override", "override_until"])
        record(actor, "schedule_override", schedule, before, snapshot(schedule))
        state_changed_on_commit(schedule.tenant_id, "schedule", schedule.pk)
        send_event_on_commit(
            schedule.tenant_id,
            {"type": "schedule.changed", "schedule_id": schedule.pk, "override": schedule.override},
        )
    return schedule
