"""Asyncio client for the Asterisk Manager Interface (AMI), Asterisk 22: panoramisk 1.4, wrapped.

What panoramisk does
--------------------
* ``panoramisk.Manager.connection_made`` wires a new connection's protocol and sends the ``Login`` action;
  its ``login`` callback records ``authenticated``; ``register_event`` / ``dispatch`` route events (we register
  one ``*`` handler).
* ``panoramisk.ami_protocol.AMIProtocol.send`` writes an action and files it by ``ActionID``;
  ``handle_message`` correlates every reply and list item with its action, hands other events to ``dispatch``,
  and closes the connection on a ``Shutdown`` event.
* ``panoramisk.actions.Action`` generates the ActionIDs and collects a reply or a list reply into one future
  (``add_message``); ``panoramisk.message.Message`` is the case-insensitive message type that code reads.

What this module adds, gap by gap of panoramisk 1.4 (tests/test_ami_panoramisk.py runs each test against this
client and, where it must fail, against a plain ``Manager``):

* ``connect()`` returns when TCP is up, before the login, and a wrong secret only leaves
  ``authenticated=False``: ``AmiClient`` opens the connection itself (``_Manager.open``), awaits panoramisk's
  Login future and its ``authenticated`` verdict (and FullyBooted) before it reports ``connected`` and runs
  ``on_connect``; a Login refused with ``Authentication failed`` is a permanent :class:`AsteriskError` ("wrong
  username or secret?"), any other refusal (``Asterisk is shutting down`` during ``core restart``) a
  :class:`LoginRefused` retried within ``refusal_max`` seconds.
* it reconnects by itself every ``reconnect_timeout`` seconds and ``close()`` cannot stop that:
  ``_Manager.connection_lost`` only reports the loss, ``Manager.connect`` is disabled; ``AmiClient`` runs the
  only reconnect loop (exponential backoff with jitter) and ``stop()`` sets the flag that ends it.
* actions pending when the connection drops are re-sent after the next FullyBooted (a second Originate is a
  second call): ``_Protocol.close`` fails each of them with ``AsteriskError(permanent=False)`` instead of
  queueing it, the FullyBooted hook that re-sends is unregistered and ``send_awaiting_actions`` sends nothing.
* an action sent while disconnected, or to a hung Asterisk, never resolves: every action runs under
  ``asyncio.wait_for(timeout)`` (``AsteriskError(permanent=False)``), is refused when not logged in, and its
  entry is removed from panoramisk's table afterwards; ``Response: Error`` raises ``AsteriskError(permanent=True)``
  carrying Asterisk's ``Message`` (and ``Output``).
* a hung Asterisk (socket open, no answers) goes unnoticed (its pinger never reads the Pong):
  ``_Manager.ping`` is off; our watchdog sends ``Ping`` every ``ping_interval``, and without an answer
  within ``ping_timeout`` aborts ``protocol.transport`` so that our loop reconnects.
* ``Action.multi`` guesses list replies from the message text: QueueAdd ("Added interface to queue") never
  resolves, and every "... successfully queued" reply without an ``Async`` key in the action (Originate,
  Atxfer, CancelAtxfer) raises ``KeyError: 'async'`` inside ``data_received``, which kills the connection:
  ``_Action`` decides list vs. single by the first reply's ``EventList: start`` and ends a list at
  ``EventList: Complete``; ``_Protocol`` also never lets one message's exception out of ``data_received``.
* ``data_received`` decodes each TCP chunk on its own with ``errors="ignore"`` (a UTF-8 character split
  across two reads is lost), and ``Message.from_line`` drops a last header with an empty value (``Value:`` of a
  VarSet) and lines not written ``Key: value``: ``_Protocol.data_received`` decodes with an incremental UTF-8
  decoder, frames on blank lines (CRLF or LF) and parses every header exactly (order, repeats, empty values;
  about twice as fast as ``from_line``) into ``_Message``, the ``Message`` subclass panoramisk's correlation and
  dispatch read; callers get :class:`AmiMessage`. An event without ``ActionID`` (the whole unsolicited stream
  the bridge lives on, but ``Shutdown``) has nothing to correlate: it goes from the reader straight to the
  event queue below, skipping the case-insensitive ``Message`` whose per-key lowering was most of the cost
  of reading (``make bench``: ``ami_events_per_s``).
* an Originate without ``Async`` is the ``KeyError`` above (panoramisk issue #90), and a synchronous one holds
  the AMI session until the call is answered: ``Async: true`` is always sent, whatever the caller passed.
* ``Action.__str__`` writes names and values as they are (a CR/LF in a value injects AMI headers):
  ``_Action`` refuses CR/LF anywhere and ``:`` in names (``ValueError``), the Login's username/secret included.
* ``dispatch`` runs coroutine callbacks as loose tasks (their order is not kept) and knows nothing of a resync:
  our one ``*`` handler queues each event, and one task hands them to ``on_event`` in wire order, after a
  (re)connect only once ``on_connect`` has finished (the resync sees the state before the events after it).

Usage::

    client = AmiClient("127.0.0.1", 5038, "orchestrator", secret, on_event=handle, on_connect=resync)
    await client.start()
    await client.wait_connected(10)
    await client.db_put("presence", "1001", "away")
    await client.stop()
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import logging
import random
import re
from collections.abc import Mapping
from typing import Any

from panoramisk.actions import Action
from panoramisk.ami_protocol import AMIProtocol
from panoramisk.manager import Manager
from panoramisk.message import Message

from .errors import AsteriskError, Callback, call_safely

log = logging.getLogger(__name__)

BANNER = "Asterisk Call Manager/"
# main/manager.c action_login: the one Login refusal that retrying cannot fix. Its others are temporary:
# "Asterisk is shutting down" (process_message, while ast_shutting_down(): a restart in progress, or a graceful
# one waiting for calls to end), "Login Already In Use" (allowmultiplelogin=no and our previous session is not
# gone yet), "Permission denied" (the Login action is not registered yet/any more).
PERMANENT_LOGIN_REFUSAL = "authentication failed"


class LoginRefused(AsteriskError):
    """Asterisk answered the Login but refused it for now (not a wrong secret): retry soon."""


class AmiMessage(dict):
    """One AMI message: a dict of the first value of each header (names as Asterisk spells them), plus the
    ordered ``headers`` list; ``getall(name)`` returns every value of a repeated header (Output, Variable)."""

    def __init__(self, headers: list[tuple[str, str]]):
        super().__init__(headers)  # keys in order of first appearance, but the last value
        self.headers = headers
        if len(self) != len(headers):  # a repeated header: its first value wins
            for key, value in reversed(headers):
                self[key] = value

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")


# ---------------------------------------------------------------------------------------------- panoramisk parts
def _check_header(key: Any, value: Any) -> None:
    name = str(key)
    if ":" in name or "\r" in name or "\n" in name:
        raise ValueError(f"AMI header {key!r} contains a line break or colon")
    for item in value if isinstance(value, list | tuple) else (value,):
        text = "" if item is None else str(item)
        if "\r" in text or "\n" in text:
            raise ValueError(f"AMI header {key!r} contains a line break or colon")


def _encode(items) -> str:
    lines = []
    for key, value in items:
        for item in value if isinstance(value, list | tuple) else (value,):
            lines.append(f"{key}: {'' if item is None else item}\r\n")
    return "".join(lines) + "\r\n"


def encode_action(action: Mapping[str, Any]) -> bytes:
    """The wire form of an action, as it is sent (headers in the caller's order); ValueError on CR/LF."""
    for key, value in action.items():
        _check_header(key, value)
    return _encode(action.items()).encode()


def _first(message: Message, name: str) -> str:
    value = message.get(name, "")
    return value[0] if isinstance(value, list) else value


class _Action(Action):
    """panoramisk's Action (ActionID, future, reply collection) with the list decision made by ``EventList``
    (never by the reply's text, never reading an ``Async`` key) and header values checked for CR/LF."""

    def __init__(self, action: Mapping[str, Any]):
        for key, value in action.items():
            _check_header(key, value)
        super().__init__(action)
        self._id = self._store["actionid"][1]  # read several times per action: not through the lowering lookup

    @property
    def id(self) -> str:
        return self._id

    action_id = id

    def __str__(self) -> str:
        return _encode(self.items())  # the caller's order (Action first), not sorted

    @property
    def multi(self) -> bool:
        return _first(self.responses[0], "EventList").lower() == "start"

    @property
    def completed(self) -> bool:
        if not self.multi:
            return True
        return len(self.responses) > 1 and _first(self.responses[-1], "EventList").lower() == "complete"


class _Message(Message):
    """panoramisk's Message (what its correlation and dispatch read), built from exactly parsed headers; keeps
    them in ``headers`` for :class:`AmiMessage`."""

    def __init__(self, headers: list[tuple[str, str]]):  # fills the store itself (no second parse)
        self.headers = headers
        self.manager = None
        store = {key.lower(): (key, value) for key, value in headers}
        if len(store) != len(headers):  # repeated headers become lists, as panoramisk makes them
            store = {}
            for key, value in headers:
                lower = key.lower()
                if lower in store:
                    first, old = store[lower]
                    store[lower] = (first, [*old, value] if isinstance(old, list) else [old, value])
                else:
                    store[lower] = (key, value)
        self._store = store

    def ami(self) -> AmiMessage:
        return AmiMessage(self.headers)


_HEADER = re.compile(r"^([^:\n]*):[ ]?([^\n]*)", re.M)


def _parse(block: str) -> list[tuple[str, str]]:
    """The headers of one message (lines separated by LF, no blank line): ``Key: value`` loses the one blank
    Asterisk writes after the colon; a line without a colon is kept as ``(line, "")``."""
    headers = _HEADER.findall(block)
    if len(headers) == block.count("\n") + 1:  # every line a header: the common case, done in C
        return headers
    headers = []
    for line in block.split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            headers.append((key, value[1:] if value.startswith(" ") else value))
        elif line:
            headers.append((line, ""))
    return headers


def _describe(exc: Any) -> str:
    if exc is None:
        return "closed by Asterisk"
    if isinstance(exc, Message):
        return f"Asterisk sent {exc.get('Event', 'Shutdown')}"
    return str(exc) or type(exc).__name__


class _Protocol(AMIProtocol):
    """panoramisk's AMIProtocol with its reading replaced (incremental UTF-8 decoding, exact parsing), one bad
    message unable to kill the connection, and pending actions failed instead of queued again on close."""

    def __init__(self, manager: _Manager):
        super().__init__()
        self._manager = manager

    def connection_made(self, transport):
        super().connection_made(transport)
        self.factory = self._manager  # from the start: a reset before the login still reaches the manager
        self.log = log
        self.lost_reason: str | None = None
        self._decoder = codecs.getincrementaldecoder("utf-8")("replace")
        self._buffer = ""

    def data_received(self, data: bytes) -> None:
        text = self._buffer + self._decoder.decode(data)
        if self.version is None:  # the banner line comes first, without a blank line after it
            line, sep, rest = text.partition("\n")
            if not sep:
                self._buffer = text
                return
            line = line.rstrip("\r")
            if not line.startswith(BANNER):
                self.lost_reason = f"not an AMI server (banner {line[:40]!r})"
                self.transport.abort()
                return
            self.version = line[len(BANNER):].strip()
            text = rest
        blocks = text.replace("\r\n", "\n").split("\n\n")
        self._buffer = blocks.pop()  # an unfinished message (a trailing CR is joined with its LF next time)
        fast = self._manager.client._on_plain_event
        for block in blocks:
            block = block.lstrip("\n")
            if not block:
                continue
            headers = _parse(block)
            if headers and headers[0][0] == "Event" and headers[0][1] != "Shutdown" and "\nActionID:" not in block:
                # An event no action waits for (the bridge's whole stream): nothing for panoramisk to correlate,
                # so it skips building panoramisk's case-insensitive Message (most of the reading cost).
                fast(AmiMessage(headers))
                continue
            message = _Message(headers)
            if "event" not in message._store and "response" not in message._store:
                continue
            try:
                self.handle_message(message)
            except Exception:
                log.exception("AMI message not handled: %r", block[:200])

    def connection_lost(self, exc):
        if self.lost_reason is None:
            self.lost_reason = _describe(exc)
        super().connection_lost(exc)  # close(), then the manager's connection_lost

    def close(self, reason: str | None = None):
        """Fail every pending action (never queue it for a resend), then close the transport."""
        reason = reason or self.lost_reason or "connection closed"
        pending = {id(action): action for action in self.responses.values()}
        self.responses.clear()
        for action in pending.values():
            if not action.future.done():
                action.future.set_exception(AsteriskError(f"AMI connection lost ({reason})"))
        if not self.closed:
            try:
                self.transport.close()
            finally:
                self.closed = True


class _Manager(Manager):
    """panoramisk's Manager without its own reconnects, pinger and resends: the client owns those."""

    def __init__(self, client: AmiClient, **config):
        super().__init__(protocol_factory=lambda: _Protocol(self), log=log, **config)
        self.client = client
        self.callbacks.clear()  # its FullyBooted -> send_awaiting_actions (the resend): gone
        self.patterns.clear()

    async def open(self, timeout: float) -> asyncio.Future:
        """Connect once (no retry) and let panoramisk send the Login; returns the Login's future."""
        self.loop = asyncio.get_running_loop()
        transport, protocol = await asyncio.wait_for(self.loop.create_connection(
            self.config["protocol_factory"], self.config["host"], self.config["port"], ssl=self.config["ssl"]),
            timeout)
        if protocol.closed or transport.is_closing():
            raise AsteriskError(f"AMI connection lost ({protocol.lost_reason or 'reset'})")
        connected = self.loop.create_future()
        connected.set_result((transport, protocol))
        try:
            self.connection_made(connected)  # panoramisk: wire the protocol, send Login
        except ValueError as exc:  # a CR/LF in the username or secret
            transport.abort()
            raise AsteriskError(f"AMI login refused before sending: {exc}", permanent=True) from None
        return self.authenticated_future

    def connect(self, *args, **kwargs):
        raise NotImplementedError("AmiClient opens connections (Manager.connect would retry on its own)")

    def connection_lost(self, exc):
        self._connected = self.authenticated = False
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None
        self.client._connection_lost(exc)  # no call_later(reconnect_timeout, connect)

    def login(self, future):
        if future.cancelled() or future.exception() is not None:
            self.authenticated_future = None
            self.authenticated = False
            return False
        return super().login(future)

    def ping(self):
        self.pinger = None  # fire-and-forget pings detect nothing: AmiClient._watchdog replaces them

    def send_awaiting_actions(self, *_):
        self.awaiting_actions.clear()  # never send an action twice (not even if called)

    def send_action(self, action, as_list=None, **kwargs):
        if not isinstance(action, Action):
            action = _Action({**action, **kwargs})
        elif kwargs:
            action.update(kwargs)
        return self.protocol.send(action, as_list=as_list)

    def close(self, reason: str | None = None):
        if self.pinger is not None:
            self.pinger.cancel()
            self.pinger = None
        if self.protocol is not None:
            self.protocol.close(reason)


# ---------------------------------------------------------------------------------------------- the client
class AmiClient:
    """A self-healing AMI connection.  All public coroutines raise :class:`AsteriskError` on failure."""

    def __init__(self, host: str, port: int, username: str, secret: str, *, timeout: float = 5.0,
                 ping_interval: float = 10.0, ping_timeout: float | None = None,
                 on_event: Callback | None = None, on_connect: Callback | None = None,
                 on_disconnect: Callback | None = None, events: bool = True,
                 reconnect_min: float = 0.5, reconnect_max: float = 30.0, boot_timeout: float = 10.0,
                 refusal_max: float = 2.0, name: str = "ami"):
        self.host, self.port = host, port
        self.username, self._secret = username, secret
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout if ping_timeout is not None else timeout
        self.on_event, self.on_connect, self.on_disconnect = on_event, on_connect, on_disconnect
        self.events = events
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.refusal_max = refusal_max  # longest wait after a temporary Login refusal
        self.boot_timeout = boot_timeout
        self.name = name
        self.last_error: AsteriskError | None = None
        self.connect_count = 0  # successful logins so far
        self._manager = _Manager(self, host=host, port=port, username=username, secret=secret,
                                 events="on" if events else "off")
        self._manager.register_event("*", self._on_message)
        self._waiters: dict[str, asyncio.Future] = {}  # ActionID -> future of a follow-up event
        self._lost: asyncio.Future | None = None  # resolved when the current connection is gone
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._booted = asyncio.Event()
        self._runner: asyncio.Task | None = None
        self._attempt_done = asyncio.Event()  # set after every failed connection attempt
        self._gate = asyncio.Event()  # closed while on_connect runs: events wait for the resync
        self._gate.set()
        self._events: asyncio.Queue[AmiMessage] = asyncio.Queue()
        self._dispatcher: asyncio.Task | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def connected(self) -> bool:
        """Logged in on an open connection."""
        protocol = self._manager.protocol
        return (self._ready.is_set() and protocol is not None and not protocol.closed
                and not protocol.transport.is_closing())

    async def start(self) -> None:
        """Start connecting in the background (returns at once; see :meth:`wait_connected`)."""
        if self._runner is not None and not self._runner.done():
            return
        self._stop.clear()
        self._runner = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}-run")
        self._dispatcher = asyncio.get_running_loop().create_task(self._dispatch(), name=f"{self.name}-events")

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait until logged in; fails at once after a permanent error (wrong secret), else after timeout."""
        if not await self._wait_ready(timeout):
            raise self._not_connected()

    async def _wait_ready(self, timeout: float | None) -> bool:
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._ready.is_set():
            if self.last_error is not None and self.last_error.permanent:
                return False
            self._attempt_done.clear()
            remaining = None if deadline is None else deadline - loop.time()
            if remaining is not None and remaining <= 0:
                return False
            waiters = [loop.create_task(self._ready.wait()), loop.create_task(self._attempt_done.wait())]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()
        return True

    async def stop(self) -> None:
        """Stop for good: no reconnect after this; pending actions fail with AsteriskError."""
        self._stop.set()
        if self.connected:
            with contextlib.suppress(AsteriskError):
                await self._send_and_wait({"Action": "Logoff"}, min(self.timeout, 1.0))
        for task in (self._runner, self._dispatcher):
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        self._runner = self._dispatcher = None
        self._ready.clear()
        self._manager.close("AMI client stopped")

    # ------------------------------------------------------------------ actions
    async def action(self, action: Mapping[str, Any], *, timeout: float | None = None) -> AmiMessage | list[AmiMessage]:
        """Send an action and return its response; for a list action (``EventList: start``) the list of item
        events (without the ``...Complete`` event).  ``Response: Error`` raises AsteriskError(permanent=True)."""
        timeout = self.timeout if timeout is None else timeout
        if not action.get("Action"):
            raise ValueError("an AMI action needs an 'Action' header")
        if str(action["Action"]).lower() == "originate":  # never a blocking (sync) Originate
            action = {**{k: v for k, v in action.items() if str(k).lower() != "async"}, "Async": "true"}
        request = _Action(action)  # ValueError for a CR/LF, before anything waits
        if self._stop.is_set():
            raise AsteriskError("AMI client stopped", permanent=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not self._ready.is_set() and not await self._wait_ready(timeout):
            raise self._not_connected()
        return await self._send_and_wait(request, max(0.0, deadline - loop.time()))

    async def _send_and_wait(self, action: Mapping[str, Any], timeout: float):
        protocol = self._manager.protocol
        if protocol is None or protocol.closed or protocol.transport.is_closing():
            raise self._not_connected()
        request = action if isinstance(action, _Action) else _Action(action)
        future = protocol.send(request)  # panoramisk: file by ActionID, write
        try:
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AsteriskError(f"AMI {request['Action']} timed out after {timeout:.1f}s") from None
        finally:
            protocol.responses.pop(request.id, None)  # a late reply must not find it
        if isinstance(reply, list):  # [the EventList: start response, items..., the ...Complete event]
            return [item.ami() for item in reply[1:-1]]
        if _first(reply, "Response") == "Error":
            text = _first(reply, "Message") or "error"
            output = [line.strip() for line in reply.ami().getall("Output") if line.strip()]
            if output:
                text += ": " + " / ".join(output)
            raise AsteriskError(text, permanent=True)
        return reply.ami()

    def _not_connected(self) -> AsteriskError:
        reason = f" (last error: {self.last_error.message})" if self.last_error else ""
        permanent = bool(self.last_error and self.last_error.permanent)
        return AsteriskError(f"AMI not connected to {self.host}:{self.port}{reason}", permanent=permanent)

    # ------------------------------------------------------------------ convenience
    async def ping(self) -> AmiMessage:
        return await self.action({"Action": "Ping"})

    async def db_put(self, family: str, key: str, value: str) -> None:
        await self.action({"Action": "DBPut", "Family": family, "Key": key, "Val": value})

    async def db_get(self, family: str, key: str) -> str | None:
        try:
            items = await self.action({"Action": "DBGet", "Family": family, "Key": key})
        except AsteriskError as exc:
            if "not found" in exc.message.lower():
                return None
            raise
        return items[0].get("Val") if items else None

    async def db_del(self, family: str, key: str, *, missing_ok: bool = True) -> None:
        try:
            await self.action({"Action": "DBDel", "Family": family, "Key": key})
        except AsteriskError as exc:
            if not (missing_ok and "could not be deleted" in exc.message):
                raise

    async def db_deltree(self, family: str, key: str | None = None, *, missing_ok: bool = True) -> None:
        action = {"Action": "DBDelTree", "Family": family}
        if key:
            action["Key"] = key
        try:
            await self.action(action)
        except AsteriskError as exc:
            if not (missing_ok and "not found" in exc.message.lower()):
                raise

    async def db_tree(self, family: str, key: str | None = None) -> dict[str, str]:
        action = {"Action": "DBGetTree", "Family": family}
        if key:
            action["Key"] = key
        return {item["Key"]: item.get("Val", "") for item in await self.action(action)}

    async def setvar(self, variable: str, value: str, channel: str | None = None) -> None:
        action = {"Action": "Setvar", "Variable": variable, "Value": value}
        if channel:
            action["Channel"] = channel
        await self.action(action)

    async def getvar(self, variable: str, channel: str | None = None) -> str:
        action = {"Action": "Getvar", "Variable": variable}
        if channel:
            action["Channel"] = channel
        return (await self.action(action)).get("Value", "")

    async def command(self, cli: str) -> list[str]:
        """Run a CLI command; returns its output lines (an invalid command raises with the output)."""
        return (await self.action({"Action": "Command", "Command": cli})).getall("Output")

    async def reload_module(self, name: str | None = None) -> None:
        action = {"Action": "Reload"}
        if name:
            action["Module"] = name
        await self.action(action)

    async def originate(self, channel: str, *, context: str | None = None, exten: str | None = None,
                        priority: int = 1, application: str | None = None, data: str | None = None,
                        caller_id: str | None = None, timeout_ms: int | None = None,
                        variables: Mapping[str, str] | None = None, channel_id: str | None = None,
                        wait: bool = False, wait_timeout: float = 60.0) -> AmiMessage:
        """Async Originate.  Returns the "queued" response, or with ``wait=True`` the ``OriginateResponse``
        event (check its ``Response``/``Reason``: 4 answered, 3 no answer, 0 failed/busy)."""
        action: dict[str, Any] = {"Action": "Originate", "Channel": channel, "Async": "true"}
        if application:
            action.update(Application=application, Data=data or "")
        else:
            action.update(Context=context or "", Exten=exten or "", Priority=priority)
        if caller_id:
            action["CallerID"] = caller_id
        if timeout_ms:
            action["Timeout"] = int(timeout_ms)
        if channel_id:
            action["ChannelId"] = channel_id
        if variables:
            action["Variable"] = [f"{k}={v}" for k, v in variables.items()]
        if not wait:
            return await self.action(action)
        action_id = _Action.action_id_generator()  # panoramisk's ActionID, known before sending
        action["ActionID"] = action_id
        waiter = asyncio.get_running_loop().create_future()
        self._waiters[action_id] = waiter
        try:
            await self.action(action)
            return await asyncio.wait_for(waiter, wait_timeout)
        except TimeoutError:
            raise AsteriskError(f"no OriginateResponse for {channel} within {wait_timeout:.0f}s") from None
        finally:
            self._waiters.pop(action_id, None)

    async def hangup(self, channel: str, cause: int | None = None) -> None:
        action: dict[str, Any] = {"Action": "Hangup", "Channel": channel}
        if cause:
            action["Cause"] = cause
        await self.action(action)

    async def redirect(self, channel: str, context: str, exten: str, priority: int = 1) -> None:
        await self.action({"Action": "Redirect", "Channel": channel, "Context": context, "Exten": exten,
                           "Priority": priority})

    # ------------------------------------------------------------------ connection loop
    async def _run(self) -> None:
        failures = refusals = 0
        while not self._stop.is_set():
            logged_in = False
            error: AsteriskError | None = None
            try:
                await self._open_and_login()
                logged_in = True
                failures = refusals = 0
                await self._session()
            except asyncio.CancelledError:
                raise
            except (OSError, AsteriskError, TimeoutError) as exc:
                error = exc if isinstance(exc, AsteriskError) else AsteriskError(f"AMI connection error: {exc!r}")
                self.last_error = error
                self._attempt_done.set()
                if not self._stop.is_set():
                    log.warning("%s %s:%s: %s", self.name, self.host, self.port, error.message)
            finally:
                self._ready.clear()
                self._booted.clear()
                self._gate.set()
                self._manager.close((error or AsteriskError("AMI client stopped")).message)
                if logged_in and self.on_disconnect is not None:
                    await self._call(self.on_disconnect, error)
            if self._stop.is_set():
                break
            if isinstance(self.last_error, LoginRefused):
                # Asterisk answered, so it is up and only busy (shutting down for a restart, our old session
                # still counted): ask again soon, never after the long wait meant for a dead host. The refused
                # connection that usually follows is the restart itself, so its backoff starts afresh.
                delay = min(self.refusal_max, self.reconnect_min * (2 ** refusals))
                refusals, failures = refusals + 1, 0
            else:
                delay = min(self.reconnect_max, self.reconnect_min * (2 ** failures))
                if self.last_error is not None and self.last_error.permanent:
                    delay = self.reconnect_max  # a wrong secret will not fix itself soon
                refusals, failures = 0, failures + 1
            delay *= random.uniform(0.8, 1.2)  # jitter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _open_and_login(self) -> None:
        loop = asyncio.get_running_loop()
        self._lost = loop.create_future()
        self._booted.clear()
        self._gate.clear()  # events of the new session wait until on_connect has run
        login = await self._manager.open(self.timeout)
        try:
            reply = await asyncio.wait_for(login, self.timeout)
        except TimeoutError:
            raise AsteriskError(f"AMI Login timed out after {self.timeout:.1f}s") from None
        if not self._manager.authenticated:  # panoramisk's verdict on the Login reply
            message = _first(reply, "Message") or _first(reply, "Response") or "no reason given"
            if message.strip().lower() == PERMANENT_LOGIN_REFUSAL:
                raise AsteriskError(f"AMI login as {self.username!r} refused by {self.host}:{self.port}: "
                                    f"{message} (wrong username or secret?)", permanent=True)
            raise LoginRefused(f"AMI login as {self.username!r} refused for now: {message}")
        if self.events:
            booted = loop.create_task(self._booted.wait())
            try:
                done, _ = await asyncio.wait({booted, self._lost}, timeout=self.boot_timeout,
                                             return_when=asyncio.FIRST_COMPLETED)
            finally:
                booted.cancel()
            if self._lost.done():
                raise self._lost_error()
            if not done:
                log.warning("%s: no FullyBooted within %.1fs after login", self.name, self.boot_timeout)
        self.last_error = None
        self.connect_count += 1
        self._ready.set()
        log.info("%s connected to %s:%s (AMI %s)", self.name, self.host, self.port, self._manager.protocol.version)

    def _connection_lost(self, exc: Any) -> None:
        """From _Manager.connection_lost: the connection is gone (panoramisk would schedule a reconnect)."""
        self._ready.clear()
        if self._lost is not None and not self._lost.done():
            self._lost.set_result(exc)

    def _lost_error(self) -> AsteriskError:
        protocol = self._manager.protocol
        reason = protocol.lost_reason if protocol is not None and protocol.lost_reason else "closed by Asterisk"
        return AsteriskError(f"AMI connection lost ({reason})")

    async def _session(self) -> None:
        """Run on_connect, then until the connection is lost or the watchdog gives up on a hung Asterisk."""
        loop = asyncio.get_running_loop()
        watchdog = loop.create_task(self._watchdog())
        connected = loop.create_task(self._after_connect())
        try:
            done, _ = await asyncio.wait({self._lost, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (watchdog, connected):
                if not task.done():
                    task.cancel()
            await asyncio.gather(watchdog, connected, return_exceptions=True)
        if watchdog in done and not watchdog.cancelled() and watchdog.exception() is not None:
            raise watchdog.exception()  # its verdict explains the loss
        raise self._lost_error()

    async def _after_connect(self) -> None:
        try:
            if self.on_connect is not None:
                await self._call(self.on_connect)
        finally:
            self._gate.set()

    async def _watchdog(self) -> None:
        while True:
            await asyncio.sleep(self.ping_interval)
            try:
                await self._send_and_wait({"Action": "Ping"}, self.ping_timeout)
            except AsteriskError as exc:
                if self._lost is not None and self._lost.done():
                    return  # the connection went away by itself
                log.warning("%s: ping failed (%s); aborting the connection", self.name, exc.message)
                protocol = self._manager.protocol
                if protocol is not None and protocol.transport is not None:
                    protocol.transport.abort()
                raise AsteriskError(f"AMI ping watchdog: no answer within {self.ping_timeout:.1f}s") from None

    def _on_message(self, manager: Manager, message: _Message) -> None:
        """panoramisk's dispatch of every event that is not part of an action's reply (in wire order)."""
        self._on_plain_event(message.ami())

    def _on_plain_event(self, msg: AmiMessage) -> None:
        """Every event that is not part of an action's reply, in wire order (through panoramisk's dispatch,
        or straight from the reader when it carries no ActionID)."""
        name = msg.get("Event")
        if name == "FullyBooted":
            self._booted.set()
        elif name == "OriginateResponse":
            waiter = self._waiters.get(msg.get("ActionID", ""))
            if waiter is not None and not waiter.done():
                waiter.set_result(msg)
        if self.on_event is not None:
            self._events.put_nowait(msg)

    async def _dispatch(self) -> None:
        """Deliver events to on_event one at a time, in order, without blocking the reader."""
        while True:
            event = await self._events.get()
            await self._gate.wait()
            await self._call(self.on_event, event)

    async def _call(self, callback: Callback, *args) -> None:
        await call_safely(self.name, callback, *args)


__all__ = ["AmiClient", "AmiMessage", "AsteriskError", "encode_action"]
