"""Callbacks to make: recorded when the dialplan reports a request, marked done by whoever calls back."""

from __future__ import annotations

import datetime as dt

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from pbx.events import send_event_on_commit
from pbx.models import CallbackRequest, Destination, Queue, QueueAgent
from pbx.signals import state_changed_on_commit
from pbx.webhooks.emit import emit_on_commit

from .base import record, require_same_tenant, snapshot
from .errors import ActionRefused


def callback_view(callback: CallbackRequest) -> dict:
    """A callback as the console shows it (whole, so an event replaces the console's copy)."""
    done_by = callback.done_by
    return {
        "id": callback.pk, "kind": callback.kind, "status": callback.status, "number": callback.number,
        "caller_number": callback.caller_number, "caller_name": callback.caller_name,
        "queue_id": callback.queue_id, "queue": callback.queue.name if callback.queue_id else "",
        "requested_at": callback.requested_at.isoformat(),
        "done_by": done_by.display_name if done_by is not None else "", "done_by_id": callback.done_by_id,
        "done_at": callback.done_at.isoformat() if callback.done_at else None,
    }


def callback_event(callback: CallbackRequest) -> dict:
    return {"type": "callback.changed", "callback": callback_view(callback)}


def do_record_callback_request(actor, *, tenant_id: int, kind: str, number: str, channel_id: str,
                               requested_at: dt.datetime, call_id: str = "", queue_id: int | None = None,
                               destination_id: int | None = None, caller_number: str = "",
                               caller_name: str = "") -> CallbackRequest | None:
    """Store what the dialplan reported (``actor``: None, the PBX itself) and tell the destination's contacts.

    The same request reported twice (an event replayed, a second bridge) is stored and told once; a queue or
    destination of another company (a forged header) is not used. Returns None when nothing was stored.
    """
    if kind not in CallbackRequest.Kind.values or not number or not channel_id:
        return None
    queue = Queue.objects.filter(pk=queue_id, tenant_id=tenant_id).first() if queue_id else None
    destination = None
    if destination_id:
        destination = Destination.objects.filter(pk=destination_id, tenant_id=tenant_id,
                                                 kind=Destination.Kind.CALLBACK).first()
    if kind == CallbackRequest.Kind.REQUEST and destination is None:
        return None
    callback = CallbackRequest(
        tenant_id=tenant_id, kind=kind, number=number[:21], channel_id=channel_id[:40], call_id=call_id[:40],
        queue=queue, destination=destination, caller_number=caller_number[:40], caller_name=caller_name[:80],
        requested_at=requested_at,
    )
    try:
        with transaction.atomic():
            callback.save()
            record(actor, "callback_requested", callback, None, snapshot(callback))
            emit_on_commit(tenant_id, "callback.requested", {"call_id": callback.call_id, **callback_view(callback)},
                           order_key=f"callback:{callback.pk}")
            if kind == CallbackRequest.Kind.REQUEST:  # the queue calls its own callbacks back: nobody's list
                from pbx.notifications.callbacks import notify_callback_request

                send_event_on_commit(tenant_id, callback_event(callback))
                # A caller asking again before anyone called back is listed again but told once: a number that
                # calls the menu over and over cannot make the company send an SMS each time.
                if not _open_requests_for(callback).exclude(pk=callback.pk).exists():
                    notify_callback_request(callback)
    except IntegrityError:
        return None  # already stored: this is the same request again
    return callback


def do_list_unserved_callback(actor, *, tenant_id: int, queue_id: int | None, number: str, channel_id: str,
                              at: dt.datetime, call_id: str = "") -> CallbackRequest | None:
    """A queue's own callback left the queue with nobody to take it (``Queue()`` in ``t<T>-qcbwait-<Q>`` timed
    out, or every agent was or became unavailable): nothing else would call the customer back, so it goes on
    everyone's list as a callback request (no destination: nobody is mailed; no AstDB entry to delete).

    Keyed by the waiting Local channel (``channel_id``), not by the queue callback's own row: that row is
    written by another handler that may run later (the two UserEvents come milliseconds apart), and the same
    event seen twice (a replay, a second bridge) stays one request."""
    queue = Queue.objects.filter(pk=queue_id, tenant_id=tenant_id).first() if queue_id else None
    if queue is None or not number or not channel_id:
        return None
    callback = CallbackRequest(
        tenant_id=tenant_id, kind=CallbackRequest.Kind.REQUEST, number=number[:21], channel_id=channel_id[:40],
        call_id=call_id[:40], queue=queue, caller_number=number[:40], requested_at=at)
    try:
        with transaction.atomic():
            callback.save()
            record(actor, "callback_unserved", callback, None, snapshot(callback))
            send_event_on_commit(tenant_id, callback_event(callback))
    except IntegrityError:
        return None
    return callback


def _require_may_call_back(actor, callback: CallbackRequest) -> None:
    require_same_tenant(actor, callback)
    if actor is None or actor.is_superuser or actor.is_company_admin or actor.is_operator:
        return
    if callback.queue_id and QueueAgent.objects.filter(queue_id=callback.queue_id, user=actor).exists():
        return
    raise ActionRefused(_("Only an operator, a company admin or an agent of the queue may do that."))


def _open_requests_for(callback: CallbackRequest):
    return CallbackRequest.objects.filter(tenant_id=callback.tenant_id, kind=CallbackRequest.Kind.REQUEST,
                                          number=callback.number, status=CallbackRequest.Status.OPEN)


def do_mark_callback_done(actor, callback: CallbackRequest) -> CallbackRequest:
    """``actor`` has called the customer back: the callback leaves everyone's list, its AstDB entry goes.

    The customer's other open requests (they asked twice) are answered by the same call: done too."""
    _require_may_call_back(actor, callback)
    with transaction.atomic():
        locked = (CallbackRequest.objects.select_for_update(of=("self",)).select_related("done_by", "queue")
                  .get(pk=callback.pk))
        if locked.status == CallbackRequest.Status.DONE:
            who = locked.done_by.display_name if locked.done_by is not None else _("someone")
            raise ActionRefused(_("%(name)s has already called %(number)s back.") % {
                "name": who, "number": locked.number})
        others = list(_open_requests_for(locked).exclude(pk=locked.pk).select_for_update(of=("self",))
                      .select_related("queue")) if locked.kind == CallbackRequest.Kind.REQUEST else []
        # A platform operator (no company) is recorded in the audit row; done_by names the company's people.
        done_by = actor if getattr(actor, "tenant_id", None) == locked.tenant_id else None
        now = timezone.now()
        for row in (locked, *others):
            before = snapshot(row)
            row.status, row.done_by, row.done_at = CallbackRequest.Status.DONE, done_by, now
            row.save(update_fields=["status", "done_by", "done_at"])
            record(actor, "callback_done", row, before, snapshot(row))
            send_event_on_commit(row.tenant_id, callback_event(row))
            if row.kind == CallbackRequest.Kind.REQUEST:
                state_changed_on_commit(row.tenant_id, "callback", row.pk)
    return locked
