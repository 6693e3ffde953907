"""Turning what happened into webhook messages: one row per event and one delivery per endpoint that wants it.

Cheap when nobody listens: which endpoints of a company want which events is kept in this process for
``CACHE_SECONDS`` (a new or changed endpoint is heard within that time in the event bridge's process, at once in
the process that saved it), and a company without endpoints costs a dictionary lookup per event.
"""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from .catalogue import EVENT_TYPES

log = logging.getLogger(__name__)

CACHE_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class Event:
    """One fact for the webhooks of a company, before it is a message."""

    tenant_id: int
    type: str
    data: dict[str, Any]
    order_key: str = ""
    dedup_key: str = ""
    at: dt.datetime | None = None


class _Subscriptions:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_tenant: dict[int, tuple[float, list[tuple[int, frozenset[str] | None]]]] = {}

    def endpoints(self, tenant_id: int, event_type: str) -> list[int]:
        now = time.monotonic()
        entry = self._by_tenant.get(tenant_id)
        if entry is None or entry[0] < now:
            from .models import WebhookEndpoint

            rows = WebhookEndpoint.objects.filter(tenant_id=tenant_id, is_active=True).values_list("pk", "event_types")
            entry = (now + CACHE_SECONDS, [(pk, frozenset(types) if types else None) for pk, types in rows])
            with self._lock:
                self._by_tenant[tenant_id] = entry
        return [pk for pk, types in entry[1] if types is None or event_type in types]

    def forget(self, tenant_id: int | None = None) -> None:
        with self._lock:
            if tenant_id is None:
                self._by_tenant.clear()
            else:
                self._by_tenant.pop(tenant_id, None)


subscriptions = _Subscriptions()


def new_message_id() -> str:
    """``msg_`` and 24 random characters: the ``webhook-id`` receivers deduplicate on."""
    return "msg_" + secrets.token_urlsafe(18)


def payload(event_type: str, at: dt.datetime, data: dict[str, Any]) -> dict[str, Any]:
    """The body as Standard Webhooks suggests: the type, when it happened, and the event's own data."""
    return {"type": event_type, "timestamp": at.astimezone(dt.UTC).isoformat().replace("+00:00", "Z"),
            "data": data}


def emit_many(events: Iterable[Event]) -> int:
    """Store a message and its deliveries for each event some endpoint wants; the worker is woken on commit.
    Returns how many deliveries were created."""
    from .models import WebhookDelivery, WebhookMessage

    now = timezone.now()
    wanted: list[tuple[Event, list[int]]] = []
    for event in events:
        if event.type not in EVENT_TYPES and not event.type.startswith("webhook."):
            log.error("webhook event %r is not in the catalogue", event.type)
            continue
        endpoints = subscriptions.endpoints(event.tenant_id, event.type)
        if endpoints:
            wanted.append((event, endpoints))
    if not wanted:
        return 0
    created = 0
    with transaction.atomic():
        plain = [(e, eps) for e, eps in wanted if not e.dedup_key]
        messages = WebhookMessage.objects.bulk_create([
            WebhookMessage(tenant_id=e.tenant_id, msg_id=new_message_id(), event_type=e.type,
                           payload=payload(e.type, e.at or now, e.data), order_key=e.order_key[:80], created_at=now)
            for e, _eps in plain
        ])
        pairs = list(zip(messages, (eps for _e, eps in plain), strict=True))
        for event, endpoints in wanted:
            if not event.dedup_key:
                continue
            try:
                with transaction.atomic():
                    message = WebhookMessage.objects.create(
                        tenant_id=event.tenant_id, msg_id=new_message_id(), event_type=event.type,
                        payload=payload(event.type, event.at or now, event.data), order_key=event.order_key[:80],
                        dedup_key=event.dedup_key[:120], created_at=now)
            except IntegrityError:
                continue  # told already
            pairs.append((message, endpoints))
        deliveries = [
            WebhookDelivery(tenant_id=message.tenant_id, endpoint_id=endpoint_id, message=message,
                            order_key=message.order_key, next_attempt_at=now, created_at=now)
            for message, endpoints in pairs for endpoint_id in endpoints
        ]
        WebhookDelivery.objects.bulk_create(deliveries)
        created = len(deliveries)
        if created:
            transaction.on_commit(wake_worker)
    return created


def emit(tenant_id: int, event_type: str, data: dict[str, Any], *, order_key: str = "", dedup_key: str = "",
         at: dt.datetime | None = None) -> int:
    return emit_many([Event(tenant_id, event_type, data, order_key, dedup_key, at)])


def emit_on_commit(tenant_id: int, event_type: str, data: dict[str, Any], **kwargs: Any) -> None:
    """For actions: the message exists only if the change it tells of was committed."""

    def run() -> None:
        try:
            emit(tenant_id, event_type, data, **kwargs)
        except Exception:  # a webhook must never undo a committed change
            log.exception("could not queue webhook %s of company %s", event_type, tenant_id)

    transaction.on_commit(run)


def wake_worker() -> None:
    from .tasks import deliver_due

    try:
        deliver_due()
    except Exception:  # the sweep every minute picks them up
        log.exception("could not wake the webhook worker")


def send_test(endpoint) -> int:
    """The admin's "send a test event": one ``webhook.test`` message to this endpoint only."""
    from .catalogue import TEST_EVENT
    from .models import WebhookDelivery, WebhookMessage

    now = timezone.now()
    with transaction.atomic():
        message = WebhookMessage.objects.create(
            tenant_id=endpoint.tenant_id, msg_id=new_message_id(), event_type=TEST_EVENT,
            payload=payload(TEST_EVENT, now, {"endpoint_id": endpoint.pk, "message": "This is a test event."}),
            created_at=now)
        WebhookDelivery.objects.create(tenant_id=endpoint.tenant_id, endpoint=endpoint, message=message,
                                       next_attempt_at=now, created_at=now)
        transaction.on_commit(wake_worker)
    return 1
