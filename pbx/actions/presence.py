"""A person's status and forwarding: fast state that never needs a config reload."""

from __future__ import annotations

import zoneinfo
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pbx.events import send_event_on_commit
from pbx.models import ForwardingProfile, PresenceStatus, User, UserPresence
from pbx.signals import state_changed_on_commit
from pbx.validators import validate_plain_text
from pbx.webhooks.emit import emit_on_commit

from .base import record, require_same_tenant, require_self_or_admin, snapshot

FALLBACK_MINUTES = 60  # a status set from a phone that needs an end time, when nothing else says when


def default_until(status: PresenceStatus, at: datetime | None = None) -> datetime:
    """When a status set without an end time (from a phone: *20<code>) ends: the status's own default
    duration, else the end of today's working day in the company's schedules, else FALLBACK_MINUTES."""
    at = at or timezone.now()
    if status.default_minutes:
        return at + timedelta(minutes=status.default_minutes)
    closing = _closing_time(status.tenant, at)
    return closing if closing is not None else at + timedelta(minutes=FALLBACK_MINUTES)


def _closing_time(tenant, at: datetime) -> datetime | None:
    """The latest closing time still ahead today among the company's schedules (a special day's hours win)."""
    from pbx.models import Schedule

    zone = zoneinfo.ZoneInfo(tenant.time_zone)
    local = at.astimezone(zone)
    today = local.date()
    closings = []
    for schedule in Schedule.objects.filter(tenant=tenant).prefetch_related("weekly_hours", "special_days"):
        special = next((day for day in schedule.special_days.all() if day.start_date <= today <= day.end_date), None)
        if special is not None:
            if not special.is_closed and special.close_time:
                closings.append(special.close_time)
            continue
        closings.extend(rule.close_time for rule in schedule.weekly_hours.all() if rule.weekday == today.weekday())
    ahead = [datetime.combine(today, t, tzinfo=zone) for t in closings]
    ahead = [end for end in ahead if end > local]
    return max(ahead) if ahead else None


def presence_event(presence: UserPresence) -> dict:
    return {
        "type": "presence.changed",
        "user_id": presence.user_id,
        "status": presence.status.name if presence.status else None,
        "status_id": presence.status_id,
        "message": presence.message,
        "until": presence.until.isoformat() if presence.until else None,
    }


def do_set_presence(
    actor, user: User, status: PresenceStatus | None, *, message: str = "", until: datetime | None = None
) -> UserPresence:
    require_self_or_admin(actor, user)
    if status is not None:
        require_same_tenant(user, status)
        if status.needs_end_time and until is None:
            raise ValidationError(_("%(status)s needs an end time.") % {"status": status.name})
    validate_plain_text(message)
    if until is not None and until <= timezone.now():
        raise ValidationError(_("The end time has already passed."))
    with transaction.atomic():
        presence, _created = UserPresence.objects.select_for_update().get_or_create(
            user=user, defaults={"tenant_id": user.tenant_id}
        )
        before = snapshot(presence)
        presence.status = status
        presence.message = message if status else ""
        presence.until = until if status else None
        presence.set_at = timezone.now()
        presence.save(update_fields=["status", "message", "until", "set_at"])
        record(actor, "presence_set" if status else "presence_cleared", presence, before, snapshot(presence))
        state_changed_on_commit(user.tenant_id, "presence", user.pk)
        send_event_on_commit(user.tenant_id, presence_event(presence))
        data = {k: v for k, v in presence_event(presence).items() if k != "type"}
        emit_on_commit(user.tenant_id, "presence.changed", data, order_key=f"presence:{user.pk}")
    return presence


def do_clear_presence(actor, user: User) -> UserPresence:
    return do_set_presence(actor, user, None)


def do_activate_profile(actor, profile: ForwardingProfile | None, *, user: User | None = None) -> None:
    """Make one profile the active one (or none: plain ringing) for its owner."""
    owner = profile.user if profile else user
    if owner is None:
        raise ValueError("a profile or a user is needed")
    require_self_or_admin(actor, owner)
    with transaction.atomic():
        current = ForwardingProfile.objects.select_for_update().filter(user=owner, is_active=True).first()
        if current == profile:
            return
        if current:
            current.is_active = False
            current.save(update_fields=["is_active"])
        if profile:
            profile.is_active = True
            profile.save(update_fields=["is_active"])
        record(
            actor, "profile_activated", profile or owner,
            {"active_profile": current.pk if current else None},
            {"active_profile": profile.pk if profile else None},
            tenant_id=owner.tenant_id,
        )
        state_changed_on_commit(owner.tenant_id, "profile", owner.pk)
        send_event_on_commit(
            owner.tenant_id,
            {"type": "profile.changed", "user_id": owner.pk, "profile": profile.name if profile else None},
            user_ids=[owner.pk],
        )
