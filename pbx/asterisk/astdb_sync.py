"""Fast state written to Asterisk: AstDB keys, BLF presence and dynamic queue members.

Two paths, both from the database (docs/astdb.md has the key layout, docs/apply.md the design):

- **On commit of one change** (``pbx.signals.state_changed``, :func:`on_state_changed`): that object's keys
  (``astdb_keys_for``) through ``DBPut``; for presence also ``PRESENCE_STATE(CustomPresence:t<T>-u<U>)`` so
  phones' BLF shows it; for a queue agent also ``QueueAdd`` / ``QueueRemove`` / ``QueuePause`` /
  ``QueuePenalty`` so app_queue's dynamic member matches ``QueueAgent.logged_in/paused``. The keys are read
  in the committing thread and sent by this process's :class:`StateWriter`: one AMI connection per node,
  kept open on a background event loop, so a status change reaches Asterisk in one TCP round trip (no
  login, no bridge hop, no task queue). A failed write is remembered and written again, from the
  database, when the connection comes back.
- **On every AMI (re)connect of the event bridge** (:func:`rewrite_all`): the whole state of the node's
  companies. It reads what Asterisk has (one ``DBGetTree pbx``, one ``DBGetTree CustomPresence``, one
  ``QueueStatus``) and sends only the difference: ``DBDel`` for keys that are no longer valid (a person
  removed, a company moved to another node), ``DBPut`` for what is missing or different, presence and
  queue members likewise. After an Asterisk restart with its AstDB intact that is a handful of actions;
  with an empty AstDB it is every key, pipelined.

Asterisk remembers neither a wrong nor a missing key for long: each connect of the bridge rewrites
everything, so a lost write costs at most until the next reconnect.
"""

from __future__ import annotations

import asyncio
import base64
import concurrent.futures
import contextlib
import logging
import os
import re
import threading
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field

from pbx.asterisk.astdb import FAMILY, astdb_keys_for, astdb_keys_to_delete, astdb_state
from pbx.asterisk.errors import AsteriskError

log = logging.getLogger(__name__)

PRESENCE_FAMILY = "CustomPresence"  # where func_presencestate keeps PRESENCE_STATE(CustomPresence:<name>)
QUEUE_RE = re.compile(r"\At(\d+)-q(\d+)\Z")
PIPELINE = 256  # actions in flight at once on one connection (Asterisk handles them in order)


# ----------------------------------------------------------------------------- what Asterisk should have


def presence_value(state: str, message: str) -> str:
    """The PRESENCE_STATE() value: ``state,subtype,message,e`` with base64 text (option ``e``), so a
    person's words are never parsed by Asterisk (a comma in a message would start the options)."""
    encoded = base64.b64encode(message.encode()).decode() if message else ""
    return f"{state},,{encoded},e"


def parse_presence_value(value: str) -> tuple[str, str]:
    """(state, message) of a stored PRESENCE_STATE value, decoding the ``e`` option."""
    parts = (value.split(",", 3) + ["", "", ""])[:4]
    state, _subtype, message, options = parts
    if "e" in options and message:
        try:
            message = base64.b64decode(message.encode()).decode("utf-8", "replace")
        except ValueError:
            message = ""
    return state.strip().lower(), message


@dataclass(frozen=True)
class Member:
    """A dynamic queue member as app_queue should have it (QueueAdd fields)."""

    queue: str
    interface: str
    state_interface: str
    member_name: str
    penalty: int
    paused: bool
    reason: str

    def add_action(self) -> dict[str, str]:
        action = {"Action": "QueueAdd", "Queue": self.queue, "Interface": self.interface,
                  "Penalty": str(self.penalty), "Paused": "true" if self.paused else "false",
                  "MemberName": self.member_name}
        if self.state_interface:
            action["StateInterface"] = self.state_interface
        if self.paused and self.reason:
            action["Reason"] = self.reason
        return action


def node_tenant_ids(node) -> list[int]:
    """The active companies this node serves (companies without a node belong to the default node)."""
    from django.db.models import Q

    from pbx.models import Tenant

    query = Q(node=node) | Q(node__isnull=True) if node.is_default else Q(node=node)
    return list(Tenant.objects.filter(query, is_active=True).order_by("id").values_list("id", flat=True))


def node_for_tenant(tenant_id: int):
    """The AsteriskNode of a company: its own, else the default node."""
    from pbx.models import AsteriskNode, Tenant

    node_id = Tenant.objects.filter(pk=tenant_id).values_list("node_id", flat=True).first()
    if node_id is not None:
        return AsteriskNode.objects.get(pk=node_id)
    return AsteriskNode.objects.filter(is_default=True).first() or AsteriskNode.default()


def desired_members(*, tenant_ids: Iterable[int] | None = None, agent_ids: Iterable[int] | None = None
                    ) -> dict[tuple[str, str], Member]:
    """{(queue, interface): Member} for the logged-in agents (of some companies, or some QueueAgent rows)."""
    from pbx.asterisk.confgen.queues import queue_member
    from pbx.models import QueueAgent

    rows = QueueAgent.objects.filter(logged_in=True, user__is_active=True, tenant__is_active=True)
    if tenant_ids is not None:
        rows = rows.filter(tenant_id__in=list(tenant_ids))
    if agent_ids is not None:
        rows = rows.filter(id__in=list(agent_ids))
    members = {}
    for tid, qid, uid, extension, priority, paused, reason in rows.order_by("id").values_list(
        "tenant_id", "queue_id", "user_id", "user__extension", "priority", "paused", "pause_reason"
    ):
        fields = queue_member(tid, uid, extension)
        member = Member(f"t{tid}-q{qid}", fields["Interface"], fields.get("StateInterface", ""), str(uid),
                        priority, paused, reason)
        members[(member.queue, member.interface)] = member
    return members


def desired_presence(tenant_ids: Iterable[int] | None = None, user_ids: Iterable[int] | None = None
                     ) -> dict[str, tuple[str, str]]:
    """{"t<T>-u<U>": (presence state, message)} for the active people (of some companies / some people)."""
    from pbx.models import User

    users = User.objects.filter(tenant__isnull=False, tenant__is_active=True, is_active=True)
    if tenant_ids is not None:
        users = users.filter(tenant_id__in=list(tenant_ids))
    if user_ids is not None:
        users = users.filter(id__in=list(user_ids))
    result = {}
    for uid, tid, status_id, state, name, default, message in users.order_by("id").values_list(
        "id", "tenant_id", "presence__status_id", "presence__status__asterisk_state", "presence__status__name",
        "presence__status__default_message", "presence__message",
    ):
        if status_id is None:
            result[f"t{tid}-u{uid}"] = ("available", "")
        else:  # what the phones show: the person's words, else the status's own
            result[f"t{tid}-u{uid}"] = (state or "away", message or default or name or "")
    return result


# ----------------------------------------------------------------------------- sending


async def send_all(ami, actions: list[dict[str, str]], *, ignore_errors: bool = False) -> list[AsteriskError]:
    """Send actions pipelined (in order; Asterisk handles one session's actions one after the other).

    Stops at the first failing chunk unless ``ignore_errors``; returns the errors.
    """
    errors: list[AsteriskError] = []
    for start in range(0, len(actions), PIPELINE):
        chunk = actions[start:start + PIPELINE]
        results = await asyncio.gather(*(ami.action(a) for a in chunk), return_exceptions=True)
        for action, result in zip(chunk, results, strict=True):
            if isinstance(result, BaseException):
                if not isinstance(result, AsteriskError):
                    raise result
                result.action = action
                errors.append(result)
        if errors and not ignore_errors:
            break
    return errors


def _bool(value: str | None) -> bool:
    return str(value or "").strip().lower() in ("1", "true", "yes", "on")


async def current_members(ami, queues: list[str] | None) -> dict[tuple[str, str], dict]:
    """Dynamic members app_queue has now, {(queue, interface): QueueMember event}, of our queues only."""
    requests = [{"Action": "QueueStatus"}] if queues is None else [
        {"Action": "QueueStatus", "Queue": q} for q in queues]
    listings = await asyncio.gather(*(ami.action(r, timeout=max(ami.timeout, 30.0)) for r in requests))
    members = {}
    for items in listings:
        for item in items:
            if item.get("Event") != "QueueMember" or not QUEUE_RE.match(item.get("Queue", "")):
                continue
            if item.get("Membership", "dynamic") != "dynamic":
                continue
            interface = item.get("Location") or item.get("Interface", "")
            members[(item["Queue"], interface)] = item
    return members


async def sync_queue_members(ami, desired: dict[tuple[str, str], Member], *, queues: list[str] | None = None,
                             interfaces: set[str] | None = None) -> Counter:
    """Make app_queue's dynamic members of ``queues`` (None: all our queues) match ``desired``.

    ``interfaces`` limits the change to some members (one agent's change). Returns the counts by action.
    """
    current = await current_members(ami, queues)
    actions: list[dict[str, str]] = []
    for key in current:
        if interfaces is not None and key[1] not in interfaces:
            continue
        if key not in desired:
            actions.append({"Action": "QueueRemove", "Queue": key[0], "Interface": key[1]})
    for key, member in desired.items():
        if queues is not None and member.queue not in queues:
            continue
        item = current.get(key)
        if item is None:
            actions.append(member.add_action())
            continue
        if _bool(item.get("Paused")) != member.paused:
            pause = {"Action": "QueuePause", "Queue": member.queue, "Interface": member.interface,
                     "Paused": "true" if member.paused else "false"}
            if member.paused and member.reason:
                pause["Reason"] = member.reason
            actions.append(pause)
        if str(item.get("Penalty", "0")) != str(member.penalty):
            actions.append({"Action": "QueuePenalty", "Queue": member.queue, "Interface": member.interface,
                            "Penalty": str(member.penalty)})
    errors = await send_all(ami, actions, ignore_errors=True)
    for error in errors:
        log.warning("queue member %s: %s", getattr(error, "action", {}), error.message)
    if errors:
        raise AsteriskError(f"{len(errors)} of {len(actions)} queue member actions failed: {errors[0].message}")
    counts = Counter(a["Action"] for a in actions)
    status_requests = 1 if queues is None else len(queues)
    if status_requests:
        counts["QueueStatus"] += status_requests
    return counts


# ----------------------------------------------------------------------------- one change (on commit)


@dataclass
class StateChange:
    """What one ``state_changed`` means for Asterisk, read from the database in the committing thread."""

    kind: str
    object_id: int
    actions: list[dict[str, str]] = field(default_factory=list)
    members: dict[tuple[str, str], Member] | None = None  # queue_agent: the agent's desired membership
    queue: str = ""
    interface: str = ""

    @classmethod
    def load(cls, kind: str, object_id: int) -> StateChange:
        change = cls(kind, object_id)
        change.actions = [{"Action": "DBPut", "Family": family, "Key": key, "Val": value}
                          for (family, key), value in astdb_keys_for(kind, object_id).items()]
        change.actions += [{"Action": "DBDel", "Family": family, "Key": key}
                           for family, key in astdb_keys_to_delete(kind, object_id)]
        if kind in ("presence", "user"):
            for name, (state, message) in desired_presence(user_ids=[object_id]).items():
                change.actions.append({"Action": "Setvar", "Variable": f"PRESENCE_STATE(CustomPresence:{name})",
                                       "Value": presence_value(state, message)})
        if kind == "queue_agent":
            change._load_agent()
        return change

    def _load_agent(self) -> None:
        from pbx.asterisk.confgen.queues import queue_member
        from pbx.models import QueueAgent

        row = QueueAgent.objects.filter(pk=self.object_id).values_list("tenant_id", "queue_id", "user_id",
                                                                        "user__extension").first()
        if row is None:
            return  # deleted: a config change, applied with the queue members of its company
        tid, qid, uid, extension = row
        self.queue = f"t{tid}-q{qid}"
        self.interface = queue_member(tid, uid, extension)["Interface"]
        self.members = desired_members(agent_ids=[self.object_id])

    async def send(self, ami) -> Counter:
        errors = await send_all(ami, self.actions, ignore_errors=True)
        # A key to delete that is already gone (deleted by hand, or by an earlier try) is what we wanted.
        errors = [e for e in errors if getattr(e, "action", {}).get("Action") != "DBDel"
                  or "could not be deleted" not in e.message]
        counts = Counter(a["Action"] for a in self.actions)
        if self.members is not None:
            counts += await sync_queue_members(ami, self.members, queues=[self.queue], interfaces={self.interface})
        if errors:
            raise AsteriskError(f"{self.kind} {self.object_id}: {errors[0].message}")
        return counts


class StateWriter:
    """One AMI connection per node for this process, on a background event loop.

    ``submit(node, send)`` runs ``send(ami)`` there and returns a ``concurrent.futures.Future`` at once,
    so a request never waits for Asterisk. Connections log in with ``Events: off`` (this process wants no
    event stream; the bridge has it) and reconnect by themselves; what failed to be written is written
    again, freshly read from the database, after the reconnect.
    """

    def __init__(self, *, timeout: float = 3.0):
        self.timeout = timeout
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._pid = os.getpid()
        self._clients: dict[int, tuple[tuple, object]] = {}
        self._failed: dict[int, set[tuple[str, int]]] = {}
        self._creating: asyncio.Lock | None = None  # made on the writer's loop

    def _ensure_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._pid != os.getpid():  # forked (a worker process): the parent's thread is not ours
                self._loop, self._thread, self._clients, self._pid = None, None, {}, os.getpid()
                self._creating = None
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name="pbx-astdb-writer", daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    def submit(self, node, send: Callable[[object], Awaitable], *, change: tuple[str, int] | None = None
               ) -> concurrent.futures.Future:
        loop = self._ensure_loop()
        params = (node.ami_host, node.ami_port, node.ami_username, node.ami_secret)
        return asyncio.run_coroutine_threadsafe(self._run(node.pk, node.name, params, send, change), loop)

    async def _client(self, node_id: int, name: str, params: tuple):
        if self._creating is None:
            self._creating = asyncio.Lock()
        async with self._creating:  # two first writes at once must not open two connections
            return await self._open(node_id, name, params)

    async def _open(self, node_id: int, name: str, params: tuple):
        from pbx.asterisk.ami import AmiClient

        known = self._clients.get(node_id)
        if known is not None and known[0] == params:
            return known[1]
        if known is not None:  # the node's address or secret changed
            await known[1].stop()
        host, port, username, secret = params
        client = AmiClient(host, port, username, secret, timeout=self.timeout, ping_interval=20.0, events=False,
                           reconnect_max=10.0, name=f"astdb-{name}",
                           on_connect=lambda: self._replay(node_id))
        self._clients[node_id] = (params, client)
        await client.start()
        return client

    async def _run(self, node_id: int, name: str, params: tuple, send, change):
        client = await self._client(node_id, name, params)
        try:
            return await send(client)
        except AsteriskError:
            if change is not None:
                self._failed.setdefault(node_id, set()).add(change)
            raise

    async def _replay(self, node_id: int) -> None:
        """Write again what failed while the connection was down (read afresh: the latest state wins)."""
        from asgiref.sync import sync_to_async

        failed = self._failed.pop(node_id, set())
        client = self._clients.get(node_id, (None, None))[1]
        for kind, object_id in sorted(failed):
            try:
                change = await sync_to_async(StateChange.load, thread_sensitive=False)(kind, object_id)
                await change.send(client)
            except Exception:
                log.exception("AstDB: could not write %s %s again", kind, object_id)

    def close(self, timeout: float = 5.0) -> None:
        """Stop every connection and the loop (tests; a process that ends does not need to)."""
        with self._lock:
            loop, thread, clients = self._loop, self._thread, list(self._clients.values())
            self._loop, self._thread, self._clients, self._creating = None, None, {}, None
        if loop is None:
            return

        async def stop_all():
            for _params, client in clients:
                await client.stop()
            others = [t for t in asyncio.all_tasks() if t is not asyncio.current_task()]
            for task in others:
                task.cancel()
            await asyncio.gather(*others, return_exceptions=True)

        try:
            asyncio.run_coroutine_threadsafe(stop_all(), loop).result(timeout)
        except (concurrent.futures.TimeoutError, RuntimeError):
            log.warning("AstDB writer: connections did not stop within %.0fs", timeout)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(timeout)
        loop.close()


_writer: StateWriter | None = None
_writer_lock = threading.Lock()


def get_writer() -> StateWriter:
    """This process's writer (created on first use)."""
    global _writer
    with _writer_lock:
        if _writer is None:
            _writer = StateWriter()
        return _writer


def close_writer() -> None:
    global _writer
    with _writer_lock:
        writer, _writer = _writer, None
    if writer is not None:
        writer.close()


def write_state(tenant_id: int, kind: str, object_id: int, *, writer: StateWriter | None = None
                ) -> concurrent.futures.Future:
    """Write one change's state to its company's node; returns the future of the AMI work."""
    change = StateChange.load(kind, object_id)
    node = node_for_tenant(tenant_id)
    return (writer or get_writer()).submit(node, change.send, change=(kind, object_id))


_collecting = threading.local()


@contextlib.contextmanager
def collect_writes():
    """The writes that changes committed in this thread queue meanwhile (their futures), for a caller that
    must know Asterisk has them before it says so (a feature code's answer to the phone)."""
    previous = getattr(_collecting, "futures", None)
    _collecting.futures = futures = []
    try:
        yield futures
    finally:
        _collecting.futures = previous


def on_state_changed(sender, *, tenant_id: int, kind: str, object_id: int, **kwargs):
    """Receiver of ``pbx.signals.state_changed`` (sent on commit)."""
    if kind == "voicemail":
        return None  # app_voicemail's own: MWI follows without us
    try:
        future = write_state(tenant_id, kind, object_id)
    except Exception:  # never break the action that committed; the next rewrite repairs Asterisk
        log.exception("AstDB: could not queue the write of %s %s", kind, object_id)
        return None
    future.add_done_callback(_log_failure)
    collecting = getattr(_collecting, "futures", None)
    if collecting is not None:
        collecting.append(future)
    return future


def _log_failure(future: concurrent.futures.Future) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("AstDB write failed: %s (written again after the reconnect)", future.exception())


# ----------------------------------------------------------------------------- everything (on connect)


@dataclass
class NodeState:
    tenant_ids: list[int]
    keys: dict[tuple[str, str], str]
    presence: dict[str, tuple[str, str]]
    members: dict[tuple[str, str], Member]


def load_node_state(node) -> NodeState:
    """The node's whole fast state from the database (a dozen queries whatever the size)."""
    tenant_ids = node_tenant_ids(node)
    if len(tenant_ids) < 50:  # a small node: its companies one by one
        keys = {k: v for tid in tenant_ids for k, v in astdb_state(tid).items()}
    else:  # every company in six queries, then keep this node's
        wanted = {f"t{tid}" for tid in tenant_ids}
        keys = {k: v for k, v in astdb_state().items() if k[1].split("/", 1)[0] in wanted}
    return NodeState(tenant_ids, keys, desired_presence(tenant_ids), desired_members(tenant_ids=tenant_ids))


async def rewrite_all(node, ami, *, state: NodeState | None = None) -> Counter:
    """Make Asterisk's fast state of ``node`` equal the database's; called on every AMI (re)connect.

    Sends only the difference (see the module's docstring). Returns the counts by action.
    """
    from asgiref.sync import sync_to_async

    if state is None:
        state = await sync_to_async(load_node_state)(node)
    counts: Counter = Counter()
    have = await ami.db_tree(FAMILY)
    actions: list[dict[str, str]] = []
    seen = set()
    for full_key, value in have.items():
        key = full_key.removeprefix(f"/{FAMILY}/")
        seen.add(key)
        if (FAMILY, key) not in state.keys:
            # a person, queue or schedule that is gone, or a company moved away or switched off
            actions.append({"Action": "DBDel", "Family": FAMILY, "Key": key})
        elif state.keys[(FAMILY, key)] != value:
            actions.append({"Action": "DBPut", "Family": FAMILY, "Key": key, "Val": state.keys[(FAMILY, key)]})
    for (family, key), value in state.keys.items():
        if key not in seen:
            actions.append({"Action": "DBPut", "Family": family, "Key": key, "Val": value})
    stored = await ami.db_tree(PRESENCE_FAMILY)
    for name, (presence, message) in state.presence.items():
        current = stored.get(f"/{PRESENCE_FAMILY}/{name}")
        if current is None and presence == "available" or current is not None and \
                parse_presence_value(current) == (presence, message):
            continue
        actions.append({"Action": "Setvar", "Variable": f"PRESENCE_STATE(CustomPresence:{name})",
                        "Value": presence_value(presence, message)})
    errors = await send_all(ami, actions, ignore_errors=True)
    counts.update(a["Action"] for a in actions)
    if errors:
        log.warning("%s: %d of %d AstDB actions failed, first: %s", node, len(errors), len(actions),
                    errors[0].message)
    counts += await sync_queue_members(ami, state.members)
    try:  # the dialplan's own entries: callbacks done or missed while the bridge was away
        from pbx.asterisk.callback_sync import reconcile_callbacks

        counts += await reconcile_callbacks(state.tenant_ids, ami)
    except Exception:
        log.exception("%s: callback requests in AstDB not reconciled", node)
    log.info("%s: AstDB rewritten: %s", node, dict(counts) or "nothing to change")
    return counts


__all__ = [
    "Member",
    "NodeState",
    "StateChange",
    "StateWriter",
    "close_writer",
    "collect_writes",
    "desired_members",
    "desired_presence",
    "get_writer",
    "load_node_state",
    "node_for_tenant",
    "node_tenant_ids",
    "on_state_changed",
    "presence_value",
    "rewrite_all",
    "sync_queue_members",
    "write_state",
]
