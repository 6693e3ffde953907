"""A protocol-level fake of Asterisk 22's manager interface (AMI) on asyncio TCP.

What it reproduces from the captures (tests/fixtures/asterisk/ami):

* banner ``Asterisk Call Manager/11.0.0`` without a blank line; requests are header blocks ended by a blank
  line (CRLF or LF), header names case-insensitive, unknown headers ignored;
* before Login every action except Login/Logoff/Challenge gets ``Permission denied``; a wrong secret or user
  gets ``Authentication failed`` after ``auth_fail_delay`` (1 s on a real Asterisk) and the socket is closed;
  Login while logged in answers ``Already authenticated``;
* a Login while ``login_unregistered`` answers ``Permission denied`` (the action not registered yet);
* while Asterisk shuts down (``shutting_down``; ``restart(shutdown_window=...)``) every action, Login included,
  answers ``Asterisk is shutting down`` and the session stays open (main/manager.c process_message checks
  ``ast_shutting_down()`` before anything else); a user in ``single_login`` (``allowmultiplelogin = no``) who is
  already logged in gets ``Login Already In Use`` after the same 1 s and the socket is closed;
* after a successful Login (Events: on): the Response, then ``FullyBooted`` (to that session only), then the
  ``SuccessfulAuth`` security event; with ``Events: off`` neither;
* responses are ``Response``, ``ActionID`` (only if the request had one), then the rest; list actions answer
  ``EventList: start`` ... ``<X>Complete`` with ``EventList: Complete`` / ``ListItems: N``; an unknown action
  or a message without Action answers Error and raises ``RequestBadFormat``; Logoff answers Goodbye, then EOF;
* events reach every logged-in session with events on, after the response of the action that caused them.

Test controls: ``received`` (log of requests), ``emit()``, ``replay()``, ``drop_all()``, ``hang()``/``unhang()``
(stop answering, sockets stay open), ``restart()`` (new process: sessions dropped, optional Shutdown event,
optional refused/reset first connect, new live state), ``fail_reload()`` and ``reloads``.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections.abc import Iterable

from . import (  # noqa: F401  (register the action handlers)
    ami_actions,
    ami_channels,
    ami_queues,
    config_files,
    privileges,
)
from . import events as ev
from .ami_base import ACTIONS, ack, error, goodbye
from .captures import ami_events
from .state import AsteriskState
from .wire import BANNER, Headers, Request, Splitter, encode, parse_block

log = logging.getLogger(__name__)

# the local test-only credential used in the captures (README of the fixtures)
DEFAULT_USERNAME = "orchestrator"
DEFAULT_SECRET = "orchestrator-secret"


class AmiSession:
    _ids = 0

    def __init__(self, server: FakeAmiServer, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        AmiSession._ids += 1
        self.server = server
        self.reader, self.writer = reader, writer
        self.session_id = f"0x7f7da800{AmiSession._ids:04x}"
        self.authenticated = False
        self.username = ""
        self.read = self.write = privileges.CLASSES
        self.events_on = True
        self.closed = False
        self.connected_at = time.time()
        local = writer.get_extra_info("sockname") or ("127.0.0.1", 5038)
        peer = writer.get_extra_info("peername") or ("127.0.0.1", 0)
        self.local_address = f"IPV4/TCP/{local[0]}/{local[1]}"
        self.remote_address = f"IPV4/TCP/{peer[0]}/{peer[1]}"

    def send(self, headers: Headers) -> None:
        if not self.closed:
            self.writer.write(encode(headers))

    def send_event(self, headers: Headers) -> None:
        if self.authenticated and self.events_on and not self.server.hung and privileges.may_read(headers, self.read):
            self.send(headers)

    def close(self) -> None:
        if not self.closed:
            self.closed = True
            self.writer.close()

    def abort(self) -> None:
        self.closed = True
        transport = self.writer.transport
        if transport is not None:
            transport.abort()


class FakeAmiServer:
    def __init__(self, world, host: str = "127.0.0.1", port: int = 0, *, username: str = DEFAULT_USERNAME,
                 secret: str = DEFAULT_SECRET, auth_fail_delay: float = 1.0, read: str | None = None, write: str | None = None):
        self.world = world
        self.host, self._port = host, port
        self.users = {username: secret}
        # The user's read/write classes: by default those of asterisk_conf/manager.conf, so every test through
        # the fake runs with what a deployed node grants ("all" to compare with the captures, recorded so).
        deployed_read, deployed_write = privileges.deployed()
        self.classes = {username: (privileges.parse_classes(read or deployed_read),
                                   privileges.parse_classes(write or deployed_write))}
        self.auth_fail_delay = auth_fail_delay
        self.sessions: list[AmiSession] = []
        self.received: list[tuple[str, Request]] = []  # (session id, request) for every message read
        self.reloads: list[str] = []
        self.reload_failures: dict[str, str] = {}
        self.hung = False
        self.reset_next_connections = 0
        self.shutting_down = False  # ast_shutting_down(): every action is refused, sessions stay open
        self.single_login: set[str] = set()  # users with allowmultiplelogin = no
        # process_message's "Permission denied" for a Login whose action is not registered (manager.c: the
        # action table is filled as modules load and emptied as they unload); the session stays open.
        self.login_unregistered = False
        self.connections: list[float] = []  # loop time of every accepted TCP connection
        self._server: asyncio.base_events.Server | None = None
        self._held: list[Headers] | None = None
        self._boot_pending = False
        # The generated config directory this "Asterisk" reads on reloads (None: reloads change nothing);
        # see config_files.py.
        self.config_dir = None
        world.ami_listeners.append(self._broadcast)

    @property
    def state(self) -> AsteriskState:
        return self.world.state

    @property
    def port(self) -> int:
        if self._server is not None and self._server.sockets:
            return self._server.sockets[0].getsockname()[1]
        return self._port

    # ------------------------------------------------------------------ lifecycle
    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, self.host, self._port)
        self._port = self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for s in list(self.sessions):
                s.abort()
            await self._server.wait_closed()
            self._server = None
        self.sessions.clear()

    # ------------------------------------------------------------------ test controls
    def emit(self, events: Headers | Iterable[Headers]) -> None:
        """Broadcast one event (a header list) or several."""
        batch = [events] if events and isinstance(events[0], tuple) else list(events)
        for headers in batch:
            self.world.emit(list(headers))

    async def replay(self, capture: str, *, realtime: bool = False, speed: float = 1.0,
                     skip_noise: bool = False) -> int:
        """Send the events of a captured scenario, in order (optionally with the original spacing)."""
        items = ami_events(capture, skip_noise=skip_noise, with_time=True)
        t0 = items[0][0] if items else 0.0
        start = time.monotonic()
        for t, headers in items:
            if realtime:
                delay = (t - t0) / speed - (time.monotonic() - start)
                if delay > 0:
                    await asyncio.sleep(delay)
            self.world.emit(list(headers))
            await asyncio.sleep(0)
        return len(items)

    def drop_all(self) -> None:
        """Abort every client connection (like a crash or network loss)."""
        for s in list(self.sessions):
            s.abort()
        self.sessions.clear()

    def hang(self) -> None:
        """Keep sockets open but never answer again (a hung Asterisk)."""
        self.hung = True

    def unhang(self) -> None:
        self.hung = False

    def fail_reload(self, module: str, result: str = "error") -> None:
        """Make ``Reload Module: <module>`` fail: result in error|not_found|not_implemented|in_progress."""
        self.reload_failures[module.removesuffix(".so")] = result

    def load_config(self) -> None:
        """Read queues.conf and extensions.conf from ``config_dir`` as at boot (config_files.py)."""
        if self.config_dir is not None:
            config_files.load_queues(self.state, self.config_dir)
            config_files.load_dialplan(self.state, self.config_dir)

    def actions(self, name: str | None = None) -> list[Request]:
        return [r for _, r in self.received if name is None or r.action.lower() == name.lower()]

    async def restart(self, state: AsteriskState | None = None, *, via_cli: bool = False, downtime: float = 0.0,
                      reset_first: bool = False, boot_delay: float = 0.0, shutdown_window: float = 0.0) -> None:
        """Simulate ``core restart now``: Shutdown event only when started from the CLI (p2), all connections
        closed, optionally refuse connections for ``downtime`` and reset the first one (p), then a new process
        with ``state`` (default: a fresh default state).  With ``boot_delay`` a Login during boot is answered
        before FullyBooted, which is then broadcast with the boot header order (Status first).  With
        ``shutdown_window`` the old process first keeps accepting connections for that long (seconds, not
        scaled) and answers every Login ``Asterisk is shutting down``."""
        if via_cli:
            self.world.emit([("Event", "Shutdown"), ("Privilege", "system,all"), ("Shutdown", "Cleanly"),
                             ("Restart", "True")])
            await asyncio.sleep(0)
        self.world.cancel_pending()
        self.drop_all()
        if shutdown_window > 0:
            self.shutting_down = True
            await asyncio.sleep(shutdown_window)
            self.shutting_down = False
            self.drop_all()
        if downtime > 0 and self._server is not None:
            port = self.port
            self._server.close()
            await self._server.wait_closed()
            await asyncio.sleep(downtime)
            self._server = await asyncio.start_server(self._handle, self.host, port)
        self.reset_next_connections = 1 if reset_first else 0
        self.world.replace_state(state if state is not None else AsteriskState.default())
        if boot_delay > 0:
            self._boot_pending = True
            self.world.later(boot_delay / max(self.world.time_scale, 1e-9), self._finish_boot)

    def _finish_boot(self) -> None:
        self._boot_pending = False
        self.world.emit(ev.fully_booted(self.state, booting=True))

    # ------------------------------------------------------------------ event fan-out
    def _broadcast(self, headers: Headers) -> None:
        if self._held is not None:
            self._held.append(headers)
            return
        for s in list(self.sessions):
            s.send_event(headers)

    def _flush_held(self, held: list[Headers]) -> None:
        for headers in held:
            for s in list(self.sessions):
                s.send_event(headers)

    # ------------------------------------------------------------------ connections
    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections.append(asyncio.get_running_loop().time())
        if self.reset_next_connections > 0:
            self.reset_next_connections -= 1
            writer.transport.abort()
            return
        session = AmiSession(self, reader, writer)
        self.sessions.append(session)
        writer.write(BANNER)
        splitter = Splitter()
        try:
            while not session.closed:
                data = await reader.read(65536)
                if not data:
                    break
                for block in splitter.feed(data):
                    if self.hung:
                        continue
                    req = Request(parse_block(block))
                    self.received.append((session.session_id, req))
                    keep = await self._process(session, req)
                    if not keep:
                        await self._drain(session)
                        session.close()
                        break
                await self._drain(session)
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            if session in self.sessions:
                self.sessions.remove(session)
            if not session.closed:
                session.close()

    async def _drain(self, session: AmiSession) -> None:
        try:
            await session.writer.drain()
        except ConnectionError:
            session.closed = True

    async def _process(self, s: AmiSession, req: Request) -> bool:
        """Handle one request; False closes the session."""
        name = req.action
        if not name:
            s.send(error(req, "Missing action in request"))
            if s.authenticated:
                self.world.emit(ev.security_event("RequestBadFormat", s, "Error", RequestType="Action: NONE"))
            return True
        lname = name.lower()
        if self.shutting_down:
            s.send(error(req, "Asterisk is shutting down"))
            return True
        if lname == "login" and self.login_unregistered and not s.authenticated:
            s.send(error(req, "Permission denied"))
            return True
        if lname == "login":
            return await self._login(s, req)
        if lname == "logoff":
            s.send(goodbye(req))
            return False
        if not s.authenticated and lname != "challenge":
            s.send(error(req, "Permission denied"))
            return True
        handler = ACTIONS.get(lname)
        if handler is not None and not privileges.may_run(lname, s.write):
            s.send(error(req, "Permission denied"))
            return True
        if handler is None:
            s.send(error(req, f"Invalid/unknown command: {name}. Use Action: ListCommands to show available "
                              "commands."))
            self.world.emit(ev.security_event("RequestBadFormat", s, "Error", RequestType=f"Action: {name}"))
            return True
        held: list[Headers] = []
        self._held = held
        try:
            result = handler(self, s, req)
        finally:
            self._held = None
        if inspect.isawaitable(result):
            self._flush_held(held)
            held = []
            result = await result
        if result is None:  # the handler closed the connection without a response (core restart now)
            return False
        for headers in result:
            s.send(headers)
        self._flush_held(held)
        return True

    async def _login(self, s: AmiSession, req: Request) -> bool:
        if s.authenticated:
            s.send(ack(req, "Already authenticated"))
            return True
        user, secret = req.get("Username"), req.get("Secret")
        if user in self.single_login and any(o.authenticated and o.username == user for o in self.sessions):
            await asyncio.sleep(self.auth_fail_delay)
            s.send(error(req, "Login Already In Use"))
            return False
        if user not in self.users or self.users[user] != secret:
            await asyncio.sleep(self.auth_fail_delay)
            s.send(error(req, "Authentication failed"))
            return False
        s.authenticated, s.username = True, user
        s.read, s.write = self.classes[user]
        s.events_on = req.get("Events", "on").strip().lower() not in ("off", "no", "false", "0")
        s.send(ack(req, "Authentication accepted"))
        success = ev.security_event("SuccessfulAuth", s, "Informational", UsingPassword="0")
        if self._boot_pending:
            self.world.emit(success)  # p_core_restart_now: SuccessfulAuth, then FullyBooted when boot ends
        elif s.events_on:
            if "system" in s.read:  # manager.c sends it on login only to a user reading "system"
                s.send(ev.fully_booted(self.state))
            self.world.emit(success)
        return True
