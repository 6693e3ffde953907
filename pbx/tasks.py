"""Background work on huey: the debounced configuration apply.

Every committed change of a company's structure sends ``config_changed(tenant_id)``; the receiver
(:mod:`pbx.asterisk.receivers`) calls :func:`request_apply`. Many edits in a row must give one apply,
not one each (an admin saving ten people is one render of the node, not ten):

- **With a worker** (Redis): the first request for a node sets ``pbx:apply:pending:<node>`` (``SET NX``,
  with a TTL in case the task is lost) and schedules :func:`apply_tenant_config` ``DEBOUNCE_SECONDS``
  later; the companies are collected in a Redis set. Requests while the flag is set only add their
  company. The task clears the flag and takes the set *before* it renders, so an edit committed while an
  apply runs schedules the next one; that one waits for the node's lock (an ``flock`` in
  :func:`pbx.asterisk.apply.apply_node`), so two applies never run at once for a node.
- **Immediate mode** (embedded first run, tests): no worker runs scheduled tasks, so requests are
  collected in this process and applied by :func:`flush_pending_applies`, which runs at the end of every
  HTTP request (``request_finished``): all edits of one request → one apply, deterministically. Code
  outside a request (a shell, a test) calls it itself.
"""

from __future__ import annotations

import logging
import threading

from django.conf import settings
from huey.contrib.djhuey import HUEY, db_task

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 1.0
PENDING_TTL = 300  # seconds: a lost task does not block the next requests for longer than this


class MemoryPending:
    """Pending applies in this process (immediate mode)."""

    def __init__(self):
        self._lock = threading.Lock()
        self._nodes: dict[int, set[int]] = {}
        self._failed: dict[int, set[int]] = {}

    def add(self, node_id: int, tenant_id: int) -> bool:
        """Remember the company; True when the node was not pending yet (schedule an apply)."""
        with self._lock:
            first = node_id not in self._nodes
            self._nodes.setdefault(node_id, set()).add(tenant_id)
            return first

    def take(self, node_id: int) -> set[int]:
        with self._lock:
            return self._nodes.pop(node_id, set()) | self._failed.pop(node_id, set())

    def keep(self, node_id: int, tenant_ids) -> None:
        """Companies whose apply failed: part of the node's next apply (which this does not schedule)."""
        with self._lock:
            self._failed.setdefault(node_id, set()).update(tenant_ids)

    def nodes(self) -> list[int]:
        with self._lock:
            return sorted(self._nodes)

    def clear(self) -> None:
        with self._lock:
            self._nodes.clear()
            self._failed.clear()


class RedisPending:
    """Pending applies shared by every web and worker process."""

    def __init__(self, url: str):
        import redis

        self.redis = redis.Redis.from_url(url)

    @staticmethod
    def _keys(node_id: int) -> tuple[str, str]:
        return f"pbx:apply:pending:{node_id}", f"pbx:apply:tenants:{node_id}"

    def add(self, node_id: int, tenant_id: int) -> bool:
        flag, tenants = self._keys(node_id)
        pipe = self.redis.pipeline()
        pipe.sadd(tenants, tenant_id)
        pipe.expire(tenants, PENDING_TTL)
        pipe.set(flag, "1", nx=True, ex=PENDING_TTL)
        return bool(pipe.execute()[-1])

    def take(self, node_id: int) -> set[int]:
        flag, tenants = self._keys(node_id)
        pipe = self.redis.pipeline()  # MULTI: a request between the two cannot be lost
        pipe.delete(flag)
        pipe.smembers(tenants)
        pipe.delete(tenants)
        return {int(t) for t in pipe.execute()[1]}

    def keep(self, node_id: int, tenant_ids) -> None:
        """Companies whose apply failed: part of the node's next apply (which this does not schedule)."""
        _flag, tenants = self._keys(node_id)
        if tenant_ids:
            pipe = self.redis.pipeline()
            pipe.sadd(tenants, *tenant_ids)
            pipe.expire(tenants, PENDING_TTL)
            pipe.execute()

    def nodes(self) -> list[int]:
        return sorted(int(k.rsplit(b":", 1)[1]) for k in self.redis.scan_iter("pbx:apply:pending:*"))

    def clear(self) -> None:
        for key in self.redis.scan_iter("pbx:apply:*"):
            self.redis.delete(key)


_pending: MemoryPending | RedisPending | None = None


def pending() -> MemoryPending | RedisPending:
    global _pending
    if _pending is None:
        _pending = MemoryPending() if HUEY.immediate else RedisPending(settings.REDIS_URL)
    return _pending


def request_apply(node_id: int, tenant_id: int, *, delay: float = DEBOUNCE_SECONDS) -> bool:
    """Ask for an apply of ``node_id`` because ``tenant_id`` changed; True when this request scheduled it."""
    first = pending().add(node_id, tenant_id)
    if first and not HUEY.immediate:
        apply_tenant_config.schedule((node_id,), delay=delay)
    return first


def apply_pending(node_id: int):
    """Apply one node for the companies that asked since its last apply; the ApplyResult (None: no node).

    When the check fails for several companies at once, each is applied on its own, so one company's
    problem does not hold back the others; the failing ones stay pending for the node's next apply
    (and the node's last apply status names them).
    """
    from pbx.asterisk.apply import apply_node, record_failures
    from pbx.models import AsteriskNode

    tenant_ids = sorted(pending().take(node_id))
    node = AsteriskNode.objects.filter(pk=node_id).first()
    if node is None:
        log.warning("apply: no Asterisk node %s any more", node_id)
        return None
    result = apply_node(node, tenant_ids=tenant_ids or None)
    if result.ok or not tenant_ids:
        return result
    if result.findings and len(tenant_ids) > 1:
        results = {tenant_id: apply_node(node, tenant_ids=[tenant_id]) for tenant_id in tenant_ids}
        failed = {tenant_id: r for tenant_id, r in results.items() if not r.ok}
        if failed:
            record_failures(node, failed)
        pending().keep(node_id, failed)
        return next(iter(failed.values()), result)
    pending().keep(node_id, tenant_ids)
    return result


RETRIES = 20
RETRY_DELAY = 30  # seconds: an Asterisk that is restarting or unreachable gets the change when it is back


@db_task(retries=RETRIES, retry_delay=RETRY_DELAY)
def apply_tenant_config(node_id: int) -> None:
    """The debounced apply of one node (the outcome is on the node: ``last_apply_*``).

    A failure Asterisk caused (unreachable, a refused reload) raises, so huey runs the task again
    later with the companies kept pending; check findings do not (the data must change first).
    """
    from pbx.asterisk.apply import ApplyError

    result = apply_pending(node_id)
    if result is not None and not result.ok and not result.findings:
        raise ApplyError(result)


def flush_pending_applies() -> list:
    """Immediate mode: apply every pending node now (the end of a request, or a test, calls this)."""
    results = []
    for node_id in pending().nodes():
        result = apply_pending(node_id)
        if result is not None:
            results.append(result)
    return results
