"""The worker's side: claim what is due, POST it signed, record how it went, retry with backoff.

- **At least once.** A delivery is claimed by moving its ``next_attempt_at`` past the attempt's longest
  possible duration (a lease) in a short transaction (``SKIP LOCKED``: two workers never claim the same row);
  the result is written after the request. A worker that dies mid-request leaves the lease to run out and the
  delivery is tried again: the receiver deduplicates on ``webhook-id``.
- **In order per call.** Deliveries of one endpoint with the same ``order_key`` (a call's id, an agent, a
  person) go one at a time, oldest first: one is due only when no earlier one of its stream is still waiting.
- **Backoff** (``WEBHOOK_RETRY_SCHEDULE``, seconds after each failed try; by default the Standard Webhooks
  schedule: 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h = 27 h 35 min of trying). A success from an endpoint
  that was failing makes its waiting deliveries due at once: a receiver that comes back gets its backlog now,
  not at the next step of each backoff.
- **Probing a failing endpoint.** While an endpoint fails, its oldest waiting delivery is tried early every
  ``WEBHOOK_PROBE_SECONDS`` (30 s): one request per endpoint, whatever the backlog. A probe that fails does not
  count as a try (the delivery keeps its place in the backoff schedule, so probes never use up its retries); a
  probe that succeeds is a success like any other and releases the backlog. A receiver down for a minute has
  its backlog within half a minute of coming back, not at the 5-minute step.
- **Giving up.** A delivery whose last try fails is marked failed. If the endpoint has not answered with a
  2xx since that delivery was first tried (a day of nothing), the endpoint is disabled and the company's
  admins are told by e-mail; an admin enables it again and redelivers from the delivery log.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import ssl
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from urllib.parse import urljoin, urlsplit

import httpcore
from django.conf import settings
from django.db import connection, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from .models import WebhookDelivery, WebhookEndpoint
from .security import Refused, resolve

log = logging.getLogger(__name__)

BATCH = 200
MAX_REDIRECTS = 3
MAX_RESPONSE_BYTES = 64 * 1024
REDIRECTS = {301, 302, 303, 307, 308}
USER_AGENT = "Vaxel-Webhooks/1"

_local = threading.local()


def client() -> httpcore.ConnectionPool:
    """One connection pool per worker thread: keep-alive to receivers, TLS verified against the URL's host name
    (sent as SNI) while the connection goes to the checked address. httpcore, the transport under httpx, used
    directly: httpx's request model cost a third of the worker's CPU per delivery (docs/webhooks.md)."""
    pool = getattr(_local, "pool", None)
    if pool is None:
        pool = httpcore.ConnectionPool(ssl_context=ssl.create_default_context(), max_connections=50,
                                       max_keepalive_connections=50)
        _local.pool = pool
    return pool


def _timeouts() -> dict[str, float]:
    timeout = settings.WEBHOOK_TIMEOUT_SECONDS
    return {"connect": min(timeout, 5.0), "read": timeout, "write": timeout, "pool": timeout}


@dataclass(slots=True)
class Outcome:
    ok: bool
    status_code: int | None = None
    ms: int | None = None
    error: str = ""


def post(url: str, body: bytes, headers: dict[str, str]) -> Outcome:
    """POST to the URL's checked address (Host and TLS name stay the URL's); redirects followed only to
    addresses that pass the same check."""
    started = time.perf_counter()
    for _hop in range(MAX_REDIRECTS + 1):
        try:
            host, port, address = resolve(url)
        except Refused as exc:
            return Outcome(False, error=f"refused: {exc}")
        parts = urlsplit(url)
        literal = f"[{address}]" if address.version == 6 else str(address)
        target = parts._replace(netloc=f"{literal}:{port}").geturl()
        default_port = 443 if parts.scheme == "https" else 80
        host_header = host if port == default_port else f"{host}:{port}"
        extensions: dict = {"timeout": _timeouts()}
        if parts.scheme == "https":
            extensions["sni_hostname"] = host
        request_headers = [(k.encode(), v.encode()) for k, v in {**headers, "Host": host_header}.items()]
        try:
            with client().stream("POST", target, headers=request_headers, content=body,
                                 extensions=extensions) as response:
                read = 0
                for chunk in response.iter_stream():
                    read += len(chunk)
                    if read > MAX_RESPONSE_BYTES:
                        break
                status = response.status
                location = next((v.decode("latin-1") for k, v in response.headers if k.lower() == b"location"), "")
        except httpcore.TimeoutException:
            return Outcome(False, ms=_ms(started), error="timed out")
        except (httpcore.NetworkError, httpcore.ProtocolError, httpcore.UnsupportedProtocol) as exc:
            return Outcome(False, ms=_ms(started), error=f"{exc.__class__.__name__}: {exc}"[:300])
        if status in REDIRECTS and location:
            url = urljoin(url, location)
            continue
        return Outcome(200 <= status < 300, status, _ms(started), "" if 200 <= status < 300 else f"HTTP {status}")
    return Outcome(False, ms=_ms(started), error="too many redirects")


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)


def signed_request(delivery: WebhookDelivery, at: dt.datetime) -> tuple[bytes, dict[str, str]]:
    message = delivery.message
    body = json.dumps(message.payload, separators=(",", ":"), ensure_ascii=False, default=str).encode()
    signature = Webhook(delivery.endpoint.secret).sign(message.msg_id, at, body)
    return body, {
        "content-type": "application/json",
        "user-agent": USER_AGENT,
        "webhook-id": message.msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": signature,
    }


def lease_seconds() -> float:
    return (settings.WEBHOOK_TIMEOUT_SECONDS + 5) * (MAX_REDIRECTS + 1)


def claim(now: dt.datetime, limit: int = BATCH) -> list[WebhookDelivery]:
    """The oldest due deliveries that head their stream, leased to this worker."""
    earlier = WebhookDelivery.objects.filter(
        endpoint_id=OuterRef("endpoint_id"), order_key=OuterRef("order_key"),
        status=WebhookDelivery.Status.PENDING, id__lt=OuterRef("id"))
    with transaction.atomic():
        ids = list(
            WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now,
                                           endpoint__is_active=True)
            .filter(Q(order_key="") | ~Exists(earlier))
            .order_by("id").select_for_update(skip_locked=True, of=("self",)).values_list("id", flat=True)[:limit])
        if not ids:
            return []
        WebhookDelivery.objects.filter(id__in=ids).update(next_attempt_at=now + dt.timedelta(seconds=lease_seconds()))
    return list(WebhookDelivery.objects.filter(id__in=ids).select_related("endpoint", "message").order_by("id"))


def failing_endpoints():
    """Active endpoints whose last try failed (no success since)."""
    return WebhookEndpoint.objects.filter(
        Q(last_success_at__isnull=True) | Q(last_success_at__lt=F("last_failure_at")),
        is_active=True, last_failure_at__isnull=False)


def claim_probes(now: dt.datetime, busy: set[int]) -> list[WebhookDelivery]:
    """For each failing endpoint due a probe (and not in ``busy``, tried anyway this round): its oldest waiting
    delivery (the head of its stream, as the oldest of all), leased like any claim. ``probe_due`` on each keeps
    the try it waits for, to go back to."""
    probes = []
    waited = failing_endpoints().filter(
        last_failure_at__lte=now - dt.timedelta(seconds=settings.WEBHOOK_PROBE_SECONDS))
    for endpoint_id in waited.exclude(id__in=busy).values_list("id", flat=True):
        with transaction.atomic():
            head = (WebhookDelivery.objects.filter(endpoint_id=endpoint_id, status=WebhookDelivery.Status.PENDING,
                                                   next_attempt_at__gt=now)
                    .order_by("id").select_for_update(skip_locked=True, of=("self",)).first())
            if head is None:
                continue
            due = head.next_attempt_at
            WebhookDelivery.objects.filter(pk=head.pk).update(
                next_attempt_at=now + dt.timedelta(seconds=lease_seconds()))
            # The endpoint's probe clock starts now, so another worker does not probe it again meanwhile.
            WebhookEndpoint.objects.filter(pk=endpoint_id).update(last_failure_at=now)
        delivery = WebhookDelivery.objects.select_related("endpoint", "message").get(pk=head.pk)
        delivery.probe_due = due
        probes.append(delivery)
    return probes


def retry_delay(attempts: int) -> float | None:
    """Seconds until the next try after ``attempts`` failed ones; None: give up."""
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    return schedule[attempts - 1] if attempts <= len(schedule) else None


def send(delivery: WebhookDelivery) -> Outcome:
    # Signed with the time it is sent (receivers refuse a timestamp far from their clock).
    body, headers = signed_request(delivery, timezone.now())
    return post(delivery.endpoint.url, body, headers)


FIELDS = ["attempts", "last_attempt_at", "last_status_code", "last_response_ms", "last_error", "status",
          "delivered_at", "next_attempt_at"]


def write_tries(deliveries: list[WebhookDelivery]) -> None:
    """The round's results in one statement. On PostgreSQL ``UPDATE ... FROM (VALUES ...)``: bulk_update's
    CASE per column and row cost half a second a round of 200 (more than sending them). Only the table's own
    name and placeholders are in the text; every value is a parameter."""
    if not deliveries:
        return
    if connection.vendor != "postgresql":
        WebhookDelivery.objects.bulk_update(deliveries, FIELDS, batch_size=500)
        return
    row = "(%s::bigint, %s::integer, %s::timestamptz, %s::integer, %s::integer, %s::text, %s::text, " \
          "%s::timestamptz, %s::timestamptz)"
    params: list = []
    for d in deliveries:
        params += [d.pk, d.attempts, d.last_attempt_at, d.last_status_code, d.last_response_ms, d.last_error,
                   d.status, d.delivered_at, d.next_attempt_at]
    table = connection.ops.quote_name(WebhookDelivery._meta.db_table)
    values = ", ".join([row] * len(deliveries))
    sql = (f"UPDATE {table} AS d SET attempts = v.attempts, last_attempt_at = v.tried, "  # noqa: S608
           "last_status_code = v.code, last_response_ms = v.ms, last_error = v.error, status = v.status, "
           f"delivered_at = v.delivered, next_attempt_at = v.next_try FROM (VALUES {values}) "
           "AS v(id, attempts, tried, code, ms, error, status, delivered, next_try) WHERE d.id = v.id")
    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def record(results: list[tuple[WebhookDelivery, Outcome]], now: dt.datetime) -> None:
    """Write the tries of a round in one go; then the endpoints' state: a success releases what a failing
    endpoint kept waiting, a delivery that used up its retries may disable its endpoint."""
    endpoints: dict[int, WebhookEndpoint] = {}
    succeeded: set[int] = set()
    failed: set[int] = set()
    gave_up: list[tuple[WebhookDelivery, str]] = []
    for delivery, outcome in results:
        delivery.attempts += 1
        delivery.last_attempt_at = now
        delivery.last_status_code = outcome.status_code
        delivery.last_response_ms = outcome.ms
        delivery.last_error = outcome.error[:300]
        endpoint = endpoints.setdefault(delivery.endpoint_id, delivery.endpoint)
        if outcome.ok:
            delivery.status = WebhookDelivery.Status.DELIVERED
            delivery.delivered_at = now
            delivery.next_attempt_at = None
            succeeded.add(endpoint.pk)
            continue
        failed.add(endpoint.pk)
        probe_due = getattr(delivery, "probe_due", None)
        if probe_due is not None:  # a failed probe is not a try: the delivery waits for its own next one
            delivery.attempts -= 1
            delivery.next_attempt_at = probe_due
            continue
        delay = retry_delay(delivery.attempts)
        if delay is None:
            delivery.status = WebhookDelivery.Status.FAILED
            delivery.next_attempt_at = None
            gave_up.append((delivery, outcome.error))
        else:
            delivery.next_attempt_at = now + dt.timedelta(seconds=delay)
    with transaction.atomic():
        write_tries([d for d, _o in results])
        for pk in succeeded:
            endpoint = endpoints[pk]
            was_failing = endpoint.last_failure_at is not None and (
                endpoint.last_success_at is None or endpoint.last_failure_at > endpoint.last_success_at)
            WebhookEndpoint.objects.filter(pk=pk).update(last_success_at=now)
            endpoint.last_success_at = now
            if was_failing and pk not in failed:  # it is back: what waits for a later try goes now
                WebhookDelivery.objects.filter(endpoint_id=pk, status=WebhookDelivery.Status.PENDING,
                                               next_attempt_at__gt=now, attempts__gt=0).update(next_attempt_at=now)
        for pk in failed - succeeded:
            WebhookEndpoint.objects.filter(pk=pk).update(last_failure_at=now)
            endpoints[pk].last_failure_at = now
    for delivery, error in gave_up:
        endpoint = endpoints[delivery.endpoint_id]
        if endpoint.is_active and (endpoint.last_success_at is None or endpoint.last_success_at < delivery.created_at):
            disable(endpoint, now, error)


def disable(endpoint: WebhookEndpoint, now: dt.datetime, error: str) -> None:
    from .notices import tell_admins_disabled

    reason = f"no successful delivery since the first try of a message that was retried for over a day ({error})"
    changed = WebhookEndpoint.objects.filter(pk=endpoint.pk, is_active=True).update(
        is_active=False, disabled_at=now, disabled_reason=reason[:300])
    if changed:
        from .emit import subscriptions

        subscriptions.forget(endpoint.tenant_id)  # this process stops storing messages for it at once
        endpoint.is_active = False
        log.warning("webhook endpoint %s of company %s disabled: %s", endpoint.pk, endpoint.tenant_id, error)
        tell_admins_disabled(endpoint, error)


def _send_safely(delivery: WebhookDelivery) -> tuple[WebhookDelivery, Outcome | None]:
    try:
        return delivery, send(delivery)
    except Exception:  # a bug must not stop the others; the lease runs out and it is tried again
        log.exception("webhook delivery %s failed unexpectedly", delivery.pk)
        return delivery, None


def drain(now_func=timezone.now, max_rounds: int = 10_000) -> int:
    """Deliver everything due, stream heads first, round after round; returns how many were tried.

    The requests of a round go out on ``WEBHOOK_CONCURRENCY`` connections at once (they are heads of
    different streams, so order is kept); their results are written together."""
    tried = 0
    workers = max(1, settings.WEBHOOK_CONCURRENCY)
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook") if workers > 1 else None
    try:
        for round_ in range(max_rounds):
            batch = claim(now_func())
            if round_ == 0:
                batch += claim_probes(now_func(), {d.endpoint_id for d in batch})
            if not batch:
                break
            sent = list(pool.map(_send_safely, batch)) if pool else [_send_safely(d) for d in batch]
            record([(d, o) for d, o in sent if o is not None], now_func())
            tried += len(batch)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
    return tried


def next_due() -> dt.datetime | None:
    """When the worker has something to do next: the earliest try, or the earliest probe of a failing endpoint."""
    due = (WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, endpoint__is_active=True)
           .order_by("next_attempt_at").values_list("next_attempt_at", flat=True).first())
    if due is None:
        return None
    failing = (failing_endpoints().filter(deliveries__status=WebhookDelivery.Status.PENDING)
               .order_by("last_failure_at").values_list("last_failure_at", flat=True).first())
    if failing is not None:
        due = min(due, failing + dt.timedelta(seconds=settings.WEBHOOK_PROBE_SECONDS))
    return due


def redeliver(deliveries) -> int:
    """The admin's "deliver again": failed or delivered rows are tried again now (their endpoint active)."""
    return deliveries.update(status=WebhookDelivery.Status.PENDING, next_attempt_at=timezone.now())
