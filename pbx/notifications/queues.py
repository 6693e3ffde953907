"""A queue left without agents while callers can still reach it: its contacts are told, once per logout."""

from __future__ import annotations

import datetime as dt

from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext as _

from .models import Notification
from .send import send_email, send_sms
from .texts import in_language_of, local_time


def queue_can_receive_calls(queue, at: dt.datetime | None = None) -> bool:
    """Whether a call can reach the queue now, by the company's numbers and their opening hours.

    A number leads to the queue directly or through a menu's choice (its open-hours or its closed
    destination); the queue can receive calls when one of them does so at ``at``. A queue no number leads
    to is reached by its extension, from colleagues, at any time.
    """
    from pbx.models import Destination, IvrMenu, IvrOption, Number

    at = at or timezone.now()
    to_queue = set(Destination.objects.filter(tenant_id=queue.tenant_id, kind=Destination.Kind.QUEUE, queue=queue)
                   .values_list("id", flat=True))
    menus = set(IvrOption.objects.filter(tenant_id=queue.tenant_id, destination_id__in=to_queue)
                .values_list("menu_id", flat=True))
    menus |= set(IvrMenu.objects.filter(Q(timeout_destination_id__in=to_queue) | Q(invalid_destination_id__in=to_queue),
                                        tenant_id=queue.tenant_id).values_list("id", flat=True))
    leads = to_queue | set(Destination.objects.filter(tenant_id=queue.tenant_id, kind=Destination.Kind.MENU,
                                                      menu_id__in=menus).values_list("id", flat=True))
    numbers = list(Number.objects.filter(Q(destination_id__in=leads) | Q(closed_destination_id__in=leads),
                                         tenant_id=queue.tenant_id).select_related("schedule", "schedule__tenant"))
    if not numbers:
        return bool(queue.extension)
    for number in numbers:
        is_open = number.schedule is None or number.schedule.is_open(at)
        if is_open and number.destination_id in leads or not is_open and number.closed_destination_id in leads:
            return True
    return False


def notify_queue_unstaffed(queue, last_agent, *, event_key: str) -> list[Notification]:
    """Tell the queue's contacts that ``last_agent`` was its last agent to log out (``event_key``: this
    logout, so the same logout never notifies twice)."""
    if not (queue.notify_last_agent_logout or queue.notify_last_agent_logout_sms):
        return []
    tenant = queue.tenant
    with in_language_of(tenant):
        values = {"queue": queue.name, "agent": last_agent.display_name, "time": local_time(tenant, timezone.now()),
                  "company": tenant.name}
        subject = _("No agent is logged in to %(queue)s") % values
        body = "\n".join([
            _("%(agent)s was the last agent of %(queue)s and logged out at %(time)s.") % values,
            _("The queue is open: callers now reach it with nobody to answer them."),
            "",
            _("Log an agent in (console, user web or the phone) to take calls again."),
            "-- ",
            _("%(company)s switchboard") % values,
        ])
        sms = _("%(queue)s: the last agent (%(agent)s) logged out at %(time)s while the queue is open.") % values
    sent = []
    if queue.notify_last_agent_logout:
        sent.append(send_email(tenant.pk, queue.notify_last_agent_logout, subject, body,
                               topic=Notification.Topic.QUEUE_UNSTAFFED, key=f"{event_key}:email"))
    if queue.notify_last_agent_logout_sms:
        sent.append(send_sms(tenant.pk, queue.notify_last_agent_logout_sms, sms,
                             topic=Notification.Topic.QUEUE_UNSTAFFED, key=f"{event_key}:sms"))
    return [n for n in sent if n is not None]
