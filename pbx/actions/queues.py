"""Agents logging in and out of queues and pausing: by themselves or by an admin."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.utils.translation import gettext as _

from pbx.events import send_event_on_commit
from pbx.models import Queue, QueueAgent
from pbx.signals import state_changed_on_commit
from pbx.validators import validate_plain_text

from .base import record, require_same_tenant, snapshot


def _require_agent_or_admin(actor, agent: QueueAgent) -> None:
    require_same_tenant(actor, agent)
    if actor is None or actor.is_superuser or actor.is_company_admin or actor.pk == agent.user_id:
        return
    raise PermissionDenied(_("Only the agent or a company admin may do that."))


def agent_event(agent: QueueAgent) -> dict:
    return {
        "type": "agent.changed",
        "queue_id": agent.queue_id,
        "user_id": agent.user_id,
        "logged_in": agent.logged_in,
        "paused": agent.paused,
        "pause_reason": agent.pause_reason,
    }


def _change_agent(actor, agent: QueueAgent, verb: str, **values) -> QueueAgent:
    _require_agent_or_admin(actor, agent)
    with transaction.atomic():
        locked = QueueAgent.objects.select_for_update().get(pk=agent.pk)
        before = snapshot(locked)
        for key, value in values.items():
            setattr(locked, key, value)
        if before == snapshot(locked):
            return locked
        locked.save(update_fields=list(values))
        entry = record(actor, verb, locked, before, snapshot(locked))
        state_changed_on_commit(locked.tenant_id, "queue_agent", locked.pk)
        send_event_on_commit(locked.tenant_id, agent_event(locked))
        if before["logged_in"] and not locked.logged_in:
            _tell_if_last_agent_left(locked, entry.pk)
    return locked


def _tell_if_last_agent_left(agent: QueueAgent, audit_id: int) -> None:
    """Every way out (console, user web, phone, admin) ends here, inside the logout's transaction."""
    from pbx.notifications.queues import notify_queue_unstaffed, queue_can_receive_calls

    # The queue's row is the lock two agents logging out at once queue up on: the second one counts after
    # the first has committed, so exactly one of them is the last.
    queue = Queue.objects.select_for_update().select_related("tenant").get(pk=agent.queue_id)
    if not (queue.notify_last_agent_logout or queue.notify_last_agent_logout_sms):
        return
    if QueueAgent.objects.filter(queue=queue, logged_in=True, user__is_active=True).exists():
        return
    if queue_can_receive_calls(queue):
        notify_queue_unstaffed(queue, agent.user, event_key=f"queue-unstaffed:{queue.pk}:{audit_id}")


def do_queue_login(actor, agent: QueueAgent) -> QueueAgent:
    return _change_agent(actor, agent, "queue_login", logged_in=True, paused=False, pause_reason="")


def do_queue_logout(actor, agent: QueueAgent) -> QueueAgent:
    return _change_agent(actor, agent, "queue_logout", logged_in=False, paused=False, pause_reason="")


def do_queue_pause(actor, agent: QueueAgent, *, paused: bool = True, reason: str = "") -> QueueAgent:
    validate_plain_text(reason)
    return _change_agent(actor, agent, "queue_pause" if paused else "queue_unpause", paused=paused,
                         pause_reason=reason if paused else "")
