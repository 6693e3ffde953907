"""Asyncio client for the Asterisk Manager Interface (AMI), Asterisk 22.

Why the AMI framing is written here on asyncio streams instead of wrapping panoramisk 1.4
-------------------------------------------------------------------------------------------
panoramisk stays in requirements.txt, but wrapping it could not be made correct.  Against the protocol-level
fake (tests/fake_asterisk, built from real Asterisk 22 captures) panoramisk 1.4:

* never resolves ``QueueAdd`` ("Added interface to queue" is guessed to be a list response);
* raises ``KeyError: 'async'`` inside ``data_received`` for *every* "... successfully queued" reply without
  an ``Async`` key - not only Originate (issue #90) but also ``Atxfer`` / ``CancelAtxfer`` - which kills the
  connection;
* silently re-sends actions that were pending when the connection dropped, after the next FullyBooted (a
  second Originate = a second call), and decodes every TCP chunk on its own with ``errors="ignore"``, so a
  UTF-8 caller name split across two reads loses characters;
* reconnects on its own fixed-interval loop that ``close()`` cannot stop, resolves ``connect()`` before the
  login, hangs forever on an action sent while disconnected, and never notices a hung Asterisk.

The framing itself is small (header blocks ended by a blank line, ``ActionID`` correlation, ``EventList``
lists), so this module owns it and gets, by construction:

* every action bounded by ``timeout`` -> :class:`AsteriskError` (also on ``Response: Error``, carrying the
  Asterisk ``Message``; ``permanent=True`` for an error reply, False for timeouts/disconnects);
* list actions (``EventList: start``) collected until their ``...Complete`` event;
* ``Async: true`` always sent on Originate; header values checked for CR/LF (no AMI header injection);
* a ping watchdog that aborts a hung connection, our own reconnect loop with exponential backoff and jitter,
  a stop flag that really stops it, ``on_connect`` awaited after every successful login (and FullyBooted),
  ``on_disconnect`` after every lost session, and a clear error for a wrong secret.

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
import itertools
import logging
import random
import uuid
from collections.abc import Mapping
from typing import Any

from .errors import AsteriskError, Callback, call_safely

log = logging.getLogger(__name__)



class AmiMessage(dict):
    """One AMI message: a dict of the first value of each header (names as Asterisk spells them), plus the
    ordered ``headers`` list; ``getall(name)`` returns every value of a repeated header (Output, Variable)."""

    def __init__(self, headers: list[tuple[str, str]]):
        super().__init__()
        self.headers = headers
        for key, value in headers:
            self.setdefault(key, value)

    def getall(self, name: str) -> list[str]:
        return [v for k, v in self.headers if k == name]

    @property
    def event(self) -> str | None:
        return self.get("Event")

    @property
    def response(self) -> str | None:
        return self.get("Response")


def encode_action(action: Mapping[str, Any]) -> bytes:
    lines = []
    for key, value in action.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            text = "" if item is None else str(item)
            if any(c in str(key) + text for c in "\r\n") or ":" in str(key):
                raise ValueError(f"AMI header {key!r} contains a line break or colon")
            lines.append(f"{key}: {text}\r\n")
    return ("".join(lines) + "\r\n").encode()


class _Pending:
    def __init__(self, future: asyncio.Future):
        self.future = future
        self.response: AmiMessage | None = None
        self.items: list[AmiMessage] = []


class AmiClient:
    """A self-healing AMI connection.  All public coroutines raise :class:`AsteriskError` on failure."""

    def __init__(self, host: str, port: int, username: str, secret: str, *, timeout: float = 5.0,
                 ping_interval: float = 10.0, ping_timeout: float | None = None,
                 on_event: Callback | None = None, on_connect: Callback | None = None,
                 on_disconnect: Callback | None = None, events: bool = True,
                 reconnect_min: float = 0.5, reconnect_max: float = 30.0, boot_timeout: float = 10.0,
                 name: str = "ami"):
        self.host, self.port = host, port
        self.username, self._secret = username, secret
        self.timeout = timeout
        self.ping_interval = ping_interval
        self.ping_timeout = ping_timeout if ping_timeout is not None else timeout
        self.on_event, self.on_connect, self.on_disconnect = on_event, on_connect, on_disconnect
        self.events = events
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.boot_timeout = boot_timeout
        self.name = name
        self.last_error: AsteriskError | None = None
        self.connect_count = 0  # successful logins so far
        self._ids = itertools.count(1)
        self._id_prefix = f"{name}-{uuid.uuid4().hex[:8]}"
        self._pending: dict[str, _Pending] = {}
        self._waiters: dict[str, asyncio.Future] = {}  # ActionID -> future of a follow-up event
        self._writer: asyncio.StreamWriter | None = None
        self._ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._booted = asyncio.Event()
        self._runner: asyncio.Task | None = None
        self._reader_task: asyncio.Task | None = None
        self._attempt_done = asyncio.Event()  # set after every failed connection attempt
        self._gate = asyncio.Event()  # closed while on_connect runs: events wait for the resync
        self._gate.set()
        self._events: asyncio.Queue[AmiMessage] = asyncio.Queue()
        self._dispatcher: asyncio.Task | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def connected(self) -> bool:
        """Logged in on an open socket."""
        return self._ready.is_set() and self._writer is not None and not self._writer.is_closing()

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
        self._close_socket()
        self._fail_pending(AsteriskError("AMI client stopped"))

    # ------------------------------------------------------------------ actions
    async def action(self, action: Mapping[str, Any], *, timeout: float | None = None) -> AmiMessage | list[AmiMessage]:
        """Send an action and return its response; for a list action (``EventList: start``) the list of item
        events (without the ``...Complete`` event).  ``Response: Error`` raises AsteriskError(permanent=True)."""
        timeout = self.timeout if timeout is None else timeout
        if not action.get("Action"):
            raise ValueError("an AMI action needs an 'Action' header")
        if str(action["Action"]).lower() == "originate":  # never a blocking (sync) Originate
            action = {**{k: v for k, v in action.items() if str(k).lower() != "async"}, "Async": "true"}
        if self._stop.is_set():
            raise AsteriskError("AMI client stopped", permanent=True)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if not self._ready.is_set() and not await self._wait_ready(timeout):
            raise self._not_connected()
        return await self._send_and_wait(action, max(0.0, deadline - loop.time()))

    async def _send_and_wait(self, action: Mapping[str, Any], timeout: float):
        writer = self._writer
        if writer is None or writer.is_closing():
            raise self._not_connected()
        action_id = str(action.get("ActionID") or f"{self._id_prefix}-{next(self._ids)}")
        data = encode_action({**action, "ActionID": action_id})
        future = asyncio.get_running_loop().create_future()
        self._pending[action_id] = _Pending(future)
        try:
            writer.write(data)
            return await asyncio.wait_for(future, timeout)
        except TimeoutError:
            raise AsteriskError(f"AMI {action['Action']} timed out after {timeout:.1f}s") from None
        except (ConnectionError, RuntimeError) as exc:
            raise AsteriskError(f"AMI {action['Action']} failed: {exc}") from exc
        finally:
            self._pending.pop(action_id, None)

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
        action_id = f"{self._id_prefix}-{next(self._ids)}"
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
        failures = 0
        while not self._stop.is_set():
            logged_in = False
            error: AsteriskError | None = None
            try:
                await self._open_and_login()
                logged_in = True
                failures = 0
                await self._session()
                if not self._stop.is_set():
                    raise AsteriskError("AMI connection closed by Asterisk")
            except asyncio.CancelledError:
                raise
            except (OSError, EOFError, AsteriskError, TimeoutError, asyncio.IncompleteReadError) as exc:
                error = exc if isinstance(exc, AsteriskError) else AsteriskError(f"AMI connection error: {exc!r}")
                self.last_error = error
                self._attempt_done.set()
                if not self._stop.is_set():
                    log.warning("%s %s:%s: %s", self.name, self.host, self.port, error.message)
            finally:
                self._ready.clear()
                self._booted.clear()
                self._gate.set()
                if self._reader_task is not None and not self._reader_task.done():
                    self._reader_task.cancel()
                self._close_socket()
                self._fail_pending(error or AsteriskError("AMI client stopped"))
                if logged_in and self.on_disconnect is not None:
                    await self._call(self.on_disconnect, error)
            if self._stop.is_set():
                break
            delay = min(self.reconnect_max, self.reconnect_min * (2 ** failures))
            if self.last_error is not None and self.last_error.permanent:
                delay = self.reconnect_max  # a wrong secret will not fix itself soon
            failures += 1
            delay *= random.uniform(0.8, 1.2)  # jitter
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay)

    async def _open_and_login(self) -> None:
        reader, writer = await asyncio.wait_for(asyncio.open_connection(self.host, self.port), self.timeout)
        self._writer = writer
        banner = await asyncio.wait_for(reader.readline(), self.timeout)
        if not banner.startswith(b"Asterisk Call Manager/"):
            raise AsteriskError(f"not an AMI server or connection reset (banner {banner[:40]!r})")
        self._reader_task = asyncio.get_running_loop().create_task(self._read_loop(reader))
        self._reader_task.add_done_callback(_retrieve)
        self._gate.clear()  # events of the new session wait until on_connect has run
        try:
            await self._send_and_wait({"Action": "Login", "Username": self.username, "Secret": self._secret,
                                       "Events": "on" if self.events else "off"}, self.timeout)
        except AsteriskError as exc:
            if "authentication" in exc.message.lower():
                raise AsteriskError(f"AMI login as {self.username!r} refused by {self.host}:{self.port}: "
                                    f"{exc.message} (wrong username or secret?)", permanent=True) from None
            raise
        if self.events:
            try:
                await asyncio.wait_for(self._booted.wait(), self.boot_timeout)
            except TimeoutError:
                log.warning("%s: no FullyBooted within %.1fs after login", self.name, self.boot_timeout)
        self.last_error = None
        self.connect_count += 1
        self._ready.set()
        log.info("%s connected to %s:%s", self.name, self.host, self.port)

    async def _session(self) -> None:
        """Run on_connect, then until the reader ends or the watchdog gives up on a hung Asterisk."""
        loop = asyncio.get_running_loop()
        reader_task = self._reader_task
        watchdog = loop.create_task(self._watchdog())
        connected = loop.create_task(self._after_connect())
        try:
            done, _ = await asyncio.wait({reader_task, watchdog}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for task in (reader_task, watchdog, connected):
                if not task.done():
                    task.cancel()
            await asyncio.gather(reader_task, watchdog, connected, return_exceptions=True)
        for task in (watchdog, reader_task):  # the watchdog's verdict explains the reader's EOF
            if task in done and not task.cancelled() and task.exception() is not None:
                raise task.exception()

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
                log.warning("%s: ping failed (%s); aborting the connection", self.name, exc.message)
                writer = self._writer
                if writer is not None and writer.transport is not None:
                    writer.transport.abort()
                raise AsteriskError(f"AMI ping watchdog: no answer within {self.ping_timeout:.1f}s") from None

    async def _read_loop(self, reader: asyncio.StreamReader) -> None:
        decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        buffer = ""
        while True:
            data = await reader.read(65536)
            if not data:
                raise EOFError("AMI connection closed by peer")
            buffer += decoder.decode(data)
            buffer = buffer.replace("\r\n", "\n")
            while True:
                buffer = buffer.lstrip("\n")
                end = buffer.find("\n\n")
                if end < 0:
                    break
                block, buffer = buffer[:end], buffer[end + 2:]
                self._handle(AmiMessage(_parse(block)))

    def _handle(self, msg: AmiMessage) -> None:
        action_id = msg.get("ActionID")
        pending = self._pending.get(action_id) if action_id else None
        if "Event" not in msg and "Response" in msg and pending is not None and pending.response is None:
            if msg["Response"] == "Error":
                text = msg.get("Message", "error")
                output = msg.getall("Output")
                if output:
                    text += ": " + " / ".join(line.strip() for line in output if line.strip())
                _resolve(pending.future, exc=AsteriskError(text, permanent=True))
            elif msg.get("EventList") == "start":
                pending.response = msg
            else:
                _resolve(pending.future, msg)
            return
        if "Event" in msg:
            if pending is not None and pending.response is not None:
                if msg.get("EventList") == "Complete":
                    _resolve(pending.future, pending.items)
                else:
                    pending.items.append(msg)
                return
            if msg["Event"] == "FullyBooted":
                self._booted.set()
            waiter = self._waiters.get(action_id) if action_id else None
            if waiter is not None and msg["Event"] == "OriginateResponse":
                _resolve(waiter, msg)
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

    def _close_socket(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None and not writer.is_closing():
            writer.close()

    def _fail_pending(self, exc: AsteriskError) -> None:
        for pending in list(self._pending.values()):
            _resolve(pending.future, exc=AsteriskError(f"AMI connection lost ({exc.message})"))
        self._pending.clear()


def _parse(block: str) -> list[tuple[str, str]]:
    headers = []
    for line in block.split("\n"):
        key, sep, value = line.partition(":")
        if sep:
            headers.append((key, value[1:] if value.startswith(" ") else value))
        elif line:
            headers.append((line, ""))
    return headers


def _retrieve(task: asyncio.Task) -> None:
    """Mark a background task's exception as seen (the session loop reports it)."""
    if not task.cancelled():
        task.exception()


def _resolve(future: asyncio.Future, result: Any = None, exc: BaseException | None = None) -> None:
    if future.done():
        return
    if exc is not None:
        future.set_exception(exc)
    else:
        future.set_result(result)


__all__ = ["AmiClient", "AmiMessage", "AsteriskError", "encode_action"]

