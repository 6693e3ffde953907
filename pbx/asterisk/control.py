"""How a web process makes Asterisk do something: a command to the event bridge of the node.

The event bridge owns the one AMI connection of each node (design: one owner per node for each connection),
so call control does not open connections of its own. A web process sends the AMI actions it needs over
the Channels layer to the bridge of the company's node and waits for the answer:

    web process                                   event bridge (service.Bridge, one per deployment)
    -----------                                   ------------------------------------------------
    send("<prefix>.pbx-control-<node id>", {      ControlServer.receive("<prefix>.pbx-control-<node id>")
        "type": "pbx.control", "id": ...,  ───►   drops it if "deadline" has passed (the asker gave up)
        "reply_to": <reply channel>,              runs "steps" in order on the node's AmiClient
        "deadline": <epoch s>,                    (only the actions in ALLOWED_ACTIONS) or AriClient
        "steps": [{"ami": {...}, "missing_ok": bool}, (only the operations in ARI_OPERATIONS)
                  {"ari": {"op": ...}, ...},         or the licence pool's own procedures
                  {"licence": {"op": ...}}, ...]}    (pbx.asterisk.licences.OPERATIONS)
    receive(<reply channel>)               ◄───   send(reply_to, {"type": "pbx.control.reply", "id": ...,
                                                      "ok": true, "results": [...]}
                                                   or {"ok": false, "error": <Asterisk's message>,
                                                       "gone": <the channel is no longer there>,
                                                       "permanent": bool, "step": <index>, "done": n})

- With the Redis layer (production) web and bridge are separate processes; ``<prefix>.pbx-control-<id>``
  is a normal channel only the bridge receives on, the reply channel a process-specific one
  (``new_channel``). The layer's prefix is in the name because Redis pub/sub does not prefix plain
  channels (see ``control_channel``).
- With the in-memory layer (embedded) they must share one process and one event loop: ``manage.py
  run_embedded`` serves the ASGI app and runs the bridge in the same loop.
- No answer within the timeout (no bridge running, Asterisk hung, layer full) is an
  ``AsteriskError("Asterisk did not answer ...")``; the bridge drops a command whose deadline has passed,
  so a command the asker gave up on is not carried out later.
- Steps run one after the other; the first failing step stops the command. ``missing_ok`` makes a
  "no such channel" answer of that step count as done (hanging up the second leg of a call whose first
  leg's hangup already took it along); ``optional`` makes any failure of that step a result
  ``{"error": ...}`` instead (a hold's music: the hold itself has been done).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import AsteriskError

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0  # seconds the asker waits (the bridge's AMI actions time out after 5 s each)
MESSAGE_TYPE = "pbx.control"
REPLY_TYPE = "pbx.control.reply"

# What a web process may make the bridge send. Anything else (Command, Reload, DBDelTree...) is refused by
# the bridge whatever the message says: the channel layer is internal, but a mistake must not restart a node.
ALLOWED_ACTIONS = frozenset({
    "Atxfer", "BlindTransfer", "CancelAtxfer", "CoreShowChannels", "Hangup", "MixMonitor",
    "MixMonitorMute", "Originate", "Ping", "QueueAdd", "QueuePause", "QueuePenalty", "QueueRemove",
    "Redirect", "Setvar", "Status", "StopMixMonitor",
})
# Setvar only for these (a hold's silence, pbx/asterisk/hold.py), and only on a channel. The licence pool's
# GROUP()/LOCK() go through its own procedures ("licence" steps), never as free Setvar/Getvar steps.
SETVAR_VARIABLES = frozenset({"VOLUME(RX)", "VOLUME(TX)"})

# What a web process may make the bridge do over ARI: only the console hold's music channel
# (pbx/asterisk/hold.py), never a free REST path. "hold_music": snoop on the held party's channel with
# spy=none whisper=out into the node's ARI application, named hold-<n>-<holder>, then music on it;
# "hold_music_stop": hang that music channel up.
ARI_OPERATIONS = frozenset({"hold_music", "hold_music_stop"})

# Asterisk's answers when the channel an action names is gone (manager.c, app_mixmonitor.c, res_mutestream.c,
# seen in r_error_responses): the call ended between the click and the action.
GONE_MESSAGES = ("no such channel", "does not exist")
# A channel name as Asterisk writes them (PJSIP/<endpoint>-<n>, Local/<exten>@<context>-<n>;1).
CHANNEL_RE = re.compile(r"\A[A-Za-z]+/[A-Za-z0-9@+._;-]{1,150}\Z")


def control_channel(node_id: int) -> str:
    """The node's command channel. Redis pub/sub puts a layer's ``prefix`` on groups only, not on plain
    channels, so the prefix (``pbx-db<N>``, or a test run's own) is part of the name: two deployments (or a
    test run beside a running bridge) on one Redis server must not take each other's commands."""
    from django.conf import settings

    config = (getattr(settings, "CHANNEL_LAYERS", {}).get("default") or {}).get("CONFIG") or {}
    prefix = str(config.get("prefix") or "")
    return f"{prefix}.pbx-control-{node_id}" if prefix else f"pbx-control-{node_id}"


def is_gone(message: str) -> bool:
    text = (message or "").lower()
    return any(words in text for words in GONE_MESSAGES)


def node_id_for(tenant) -> int:
    """The node serving a company: its own, else the default node (read only: no row is written here)."""
    if tenant.node_id is not None:
        return tenant.node_id
    from pbx.models import AsteriskNode

    node_id = AsteriskNode.objects.filter(is_default=True).values_list("pk", flat=True).first()
    if node_id is None:
        raise AsteriskError("No Asterisk node serves this company", permanent=True)
    return node_id


def step(action: Mapping[str, Any], *, missing_ok: bool = False) -> dict[str, Any]:
    """One AMI action of a command."""
    return {"ami": {str(k): v if isinstance(v, list | tuple) else str(v) for k, v in action.items()},
            "missing_ok": missing_ok}


def ari_step(op: str, *, missing_ok: bool = False, optional: bool = False, **args: str) -> dict[str, Any]:
    """One ARI operation of a command (one of ARI_OPERATIONS). ``optional``: its failure does not fail the
    command; its result is then ``{"error": <why>}``."""
    return {"ari": {"op": op, **{k: str(v) for k, v in args.items()}}, "missing_ok": missing_ok,
            "optional": optional}


class ControlError(AsteriskError):
    """Asterisk refused a step; ``gone``: because the channel it names is no longer there."""

    def __init__(self, message, permanent=False, *, gone: bool = False, done: int = 0):
        super().__init__(message, permanent=permanent)
        self.gone = gone
        self.done = done  # steps carried out before the failing one


# ------------------------------------------------------------------------------------------ the asking side


async def arequest(node_id: int, steps: Iterable[Mapping[str, Any]], *, timeout: float | None = None,
                   layer=None) -> list[Any]:
    """Have the bridge of ``node_id`` run ``steps``; returns each step's result (a dict, or a list of dicts
    for list actions, None for a missing_ok step whose channel was gone). Raises AsteriskError/ControlError."""
    from channels.exceptions import ChannelFull
    from channels.layers import get_channel_layer

    layer = layer or get_channel_layer()
    if layer is None:
        raise AsteriskError("No channel layer: call control needs the event bridge", permanent=True)
    timeout = timeout if timeout is not None else default_timeout()
    reply_to = await layer.new_channel("pbx-control-reply")
    request_id = uuid.uuid4().hex
    message = {"type": MESSAGE_TYPE, "id": request_id, "reply_to": reply_to, "deadline": time.time() + timeout,
               "steps": list(steps)}
    try:
        await layer.send(control_channel(node_id), message)
    except ChannelFull:
        raise AsteriskError("Asterisk did not answer (the event bridge is not taking commands)") from None
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        remaining = deadline - loop.time()
        if remaining <= 0:
            raise AsteriskError(f"Asterisk did not answer within {timeout:g} s")
        try:
            reply = await asyncio.wait_for(layer.receive(reply_to), remaining)
        except TimeoutError:
            raise AsteriskError(f"Asterisk did not answer within {timeout:g} s") from None
        if reply.get("id") == request_id:
            break
    if reply.get("ok"):
        return list(reply.get("results", []))
    raise ControlError(reply.get("error") or "Asterisk refused the action", bool(reply.get("permanent")),
                       gone=bool(reply.get("gone")), done=int(reply.get("done") or 0))


def request(node_id: int, steps: Iterable[Mapping[str, Any]], *, timeout: float | None = None) -> list[Any]:
    """``arequest`` for sync code (views, actions run through ``database_sync_to_async``)."""
    from asgiref.sync import async_to_sync

    return async_to_sync(arequest)(node_id, list(steps), timeout=timeout)


def default_timeout() -> float:
    from django.conf import settings

    return float(getattr(settings, "ASTERISK_CONTROL_TIMEOUT", DEFAULT_TIMEOUT))


# ------------------------------------------------------------------------------------------ the bridge side


def _plain(result: Any) -> Any:
    """An AMI answer as plain dicts (the layer serialises messages: msgpack for Redis)."""
    if isinstance(result, list):
        return [_plain(item) for item in result]
    if isinstance(result, dict):
        return {str(k): v for k, v in result.items()}
    return result


class ControlServer:
    """Receives a node's commands and runs them on its AMI connection (started by ``service.Bridge``)."""

    def __init__(self, node_id: int, ami: Callable[[], Any], *, ari: Callable[[], Any] | None = None, layer=None,
                 concurrency: int = 16, clock: Callable[[], float] = time.time):
        self.node_id = node_id
        self.channel = control_channel(node_id)
        self._ami = ami  # the node's AmiClient, looked up at each command (it is created after us)
        self._ari = ari or (lambda: None)  # its AriClient, if the node has ARI
        self._layer = layer
        self._slots = asyncio.Semaphore(concurrency)
        self.clock = clock
        self.handled = 0
        self._task: asyncio.Task | None = None
        self._running: set[asyncio.Task] = set()

    @property
    def layer(self):
        if self._layer is None:
            from channels.layers import get_channel_layer

            self._layer = get_channel_layer()
        return self._layer

    async def start(self) -> ControlServer:
        if self.layer is None:
            log.warning("no channel layer: node %s takes no call control commands", self.node_id)
            return self
        if self._task is None or self._task.done():
            self._task = asyncio.get_running_loop().create_task(self._serve(), name=f"control-{self.node_id}")
        return self

    async def stop(self) -> None:
        task, self._task = self._task, None
        for running in [task, *self._running]:
            if running is not None and not running.done():
                running.cancel()
        for running in [task, *self._running]:
            if running is not None:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await running

    async def _serve(self) -> None:
        while True:
            try:
                message = await self.layer.receive(self.channel)
            except asyncio.CancelledError:
                raise
            except Exception:  # the layer hiccupped (Redis restarting): try again shortly
                log.exception("control %s: could not receive", self.node_id)
                await asyncio.sleep(1.0)
                continue
            await self._slots.acquire()
            task = asyncio.get_running_loop().create_task(self._answer(message))
            self._running.add(task)
            task.add_done_callback(self._done)

    def _done(self, task: asyncio.Task) -> None:
        self._running.discard(task)
        self._slots.release()

    async def _answer(self, message: Mapping[str, Any]) -> None:
        reply_to = message.get("reply_to")
        if message.get("type") != MESSAGE_TYPE or not isinstance(reply_to, str):
            return
        if float(message.get("deadline") or 0) < self.clock():
            log.info("control %s: dropped a command its sender gave up on", self.node_id)
            return
        reply = await self.handle(message)
        self.handled += 1
        try:
            await self.layer.send(reply_to, reply)
        except Exception:
            log.exception("control %s: could not reply", self.node_id)

    async def handle(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Run the command's steps; the reply says what happened (never raises)."""
        reply: dict[str, Any] = {"type": REPLY_TYPE, "id": message.get("id")}
        steps = message.get("steps")
        if not isinstance(steps, list) or not steps:
            return {**reply, "ok": False, "error": "empty command", "permanent": True, "done": 0}
        for index, item in enumerate(steps):
            refusal = _refusal(item)
            if refusal:
                return {**reply, "ok": False, "error": refusal, "permanent": True, "step": index, "done": 0}
        ami = self._ami()
        if ami is None:
            return {**reply, "ok": False, "error": "the event bridge has no AMI connection", "done": 0}
        results: list[Any] = []
        for index, item in enumerate(steps):
            try:
                if "ari" in item:
                    results.append(await self._ari_operation(item["ari"]))
                elif "licence" in item:
                    results.append(await self._licence_operation(ami, item["licence"]))
                else:
                    results.append(_plain(await ami.action(dict(item["ami"]))))
            except AsteriskError as exc:
                gone = is_gone(exc.message)
                if gone and item.get("missing_ok"):
                    results.append(None)
                    continue
                if item.get("optional"):
                    log.warning("control %s: optional step %d failed: %s", self.node_id, index, exc.message)
                    results.append({"error": exc.message})
                    continue
                return {**reply, "ok": False, "error": exc.message, "permanent": exc.permanent, "gone": gone,
                        "step": index, "done": index}
            except ValueError as exc:  # a header with a line break: never sent
                return {**reply, "ok": False, "error": str(exc), "permanent": True, "step": index, "done": index}
        return {**reply, "ok": True, "results": results}

    async def _licence_operation(self, ami, op: Mapping[str, str]) -> Any:
        from . import licences

        async def action(request):
            return _plain(await ami.action(request))

        name = op["op"]
        if name == "release":
            return await licences.release(action, op["channel"])
        if name == "in_use":
            return await licences.in_use(action, int(op["tenant"]))
        return await licences.take(action, int(op["tenant"]), op["channel"])

    async def _ari_operation(self, op: Mapping[str, str]) -> None:
        ari = self._ari()
        if ari is None or not ari.connected:
            # Without the event websocket the application is not registered: Asterisk would refuse the snoop.
            raise AsteriskError("the event bridge has no ARI connection to this node")
        from .ari import AriError

        name, snoop = op["op"], op["snoop"]
        try:
            if name == "hold_music":
                await ari.snoop(op["channel"], spy="none", whisper="out", snoop_id=snoop)
                try:
                    await ari.moh(snoop, True, op.get("moh_class") or None)
                except AsteriskError:
                    with contextlib.suppress(AsteriskError):
                        await ari.hangup(snoop)  # nothing half-done: no silent snoop left behind
                    raise
            else:
                await ari.hangup(snoop)
        except AriError as exc:
            if exc.status == 404:  # ARI's "Channel not found": the same words as AMI's gone channel
                raise AsteriskError(f"No such channel: {exc.message}", permanent=True) from None
            raise


def _refusal(item: Any) -> str:
    """Why a step may not run (empty when it may): the allow-lists above, and well-formed ARI arguments."""
    from . import hold

    if not isinstance(item, Mapping):
        return "a step must be a mapping"
    if "ari" in item:
        op = item["ari"]
        name = op.get("op") if isinstance(op, Mapping) else None
        if name not in ARI_OPERATIONS:
            return f"ARI operation {name!r} is not allowed here"
        if not hold.is_hold_snoop(op.get("snoop")):
            return "ARI operations here act on a hold's music channel only"
        if name == "hold_music" and not isinstance(op.get("channel"), str):
            return "which channel to play music to?"
        return ""
    if "licence" in item:
        return _licence_refusal(item["licence"])
    action = item.get("ami")
    if not isinstance(action, Mapping) or action.get("Action") not in ALLOWED_ACTIONS:
        name = action.get("Action") if isinstance(action, Mapping) else None
        return f"action {name!r} is not allowed here"
    if action["Action"] == "Setvar" and (action.get("Variable") not in SETVAR_VARIABLES or not action.get("Channel")):
        return f"Setvar of {action.get('Variable')!r} is not allowed here"
    return ""


def _licence_refusal(op: Any) -> str:
    from . import licences

    if not isinstance(op, Mapping) or op.get("op") not in licences.OPERATIONS:
        return "no such licence operation"
    if op["op"] != "release" and not licences.TENANT_RE.match(str(op.get("tenant", ""))):
        return "which company's licences?"
    if op["op"] != "in_use" and not (isinstance(op.get("channel"), str) and CHANNEL_RE.match(op["channel"])):
        return "a licence is held by a channel"
    return ""


def licence_step(op: str, *, tenant: int | None = None, channel: str | None = None) -> dict[str, Any]:
    """One procedure of the licence pool (pbx.asterisk.licences), run by the bridge on its AMI connection."""
    args = {"op": op}
    if tenant is not None:
        args["tenant"] = str(int(tenant))
    if channel is not None:
        args["channel"] = channel
    return {"licence": args, "missing_ok": False}


__all__ = [
    "ALLOWED_ACTIONS",
    "ARI_OPERATIONS",
    "ControlError",
    "ControlServer",
    "ari_step",
    "arequest",
    "control_channel",
    "is_gone",
    "licence_step",
    "node_id_for",
    "request",
    "step",
]
