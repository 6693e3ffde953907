"""A minimal asyncio HTTP/1.1 server with WebSocket upgrade, enough for the fake ARI.

``websockets``' own server only accepts GET requests (ARI needs POST/PUT/DELETE), so plain requests are parsed
here and a WebSocket upgrade is handed to the sans-I/O ``websockets.server.ServerProtocol``.  Like Asterisk's
HTTP server, every plain response is sent with ``Connection: close``.
"""

from __future__ import annotations

import asyncio
import email.utils
import json
from dataclasses import dataclass, field
from urllib.parse import parse_qsl, unquote, urlsplit

from websockets.frames import Opcode
from websockets.http11 import Request as WsRequest
from websockets.server import ServerProtocol

REASONS = {200: "OK", 201: "Created", 204: "No Content", 400: "Bad Request", 401: "Unauthorized",
           404: "Not Found", 405: "Method Not Allowed", 409: "Conflict", 412: "Precondition Failed",
           422: "Unprocessable Entity", 500: "Internal Server Error", 501: "Not Implemented",
           503: "Service Unavailable"}


@dataclass
class HttpRequest:
    method: str
    target: str
    headers: dict[str, str]  # lower-cased names
    body: bytes = b""
    path: str = ""
    query: dict[str, str] = field(default_factory=dict)
    raw_head: bytes = b""
    received_at: float = 0.0  # event-loop time

    def json(self):
        return json.loads(self.body or b"null")


@dataclass
class HttpResponse:
    status: int
    body: object = None  # JSON-serialisable, or None for an empty body
    headers: list[tuple[str, str]] = field(default_factory=list)
    reason: str | None = None

    def encode(self) -> bytes:
        reason = self.reason or REASONS.get(self.status, "Unknown")
        head = [f"HTTP/1.1 {self.status} {reason}", "Server: Asterisk/22.10.1",
                f"Date: {email.utils.formatdate(usegmt=True)}", "Connection: close",
                "Cache-Control: no-cache, no-store"]
        head += [f"{k}: {v}" for k, v in self.headers]
        payload = b""
        if self.body is not None:
            payload = json.dumps(self.body, indent=2).encode()  # ari.conf pretty = yes (exact Content-Length)
            head.append("Content-type: application/json")
        head.append(f"Content-Length: {len(payload)}")
        return ("\r\n".join(head) + "\r\n\r\n").encode() + payload


class WebSocket:
    """Server side of one accepted WebSocket (text frames out, close handling in)."""

    def __init__(self, protocol: ServerProtocol, reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        self.protocol, self.reader, self.writer = protocol, reader, writer
        self.closed = asyncio.Event()

    def _flush(self) -> None:
        data = b"".join(self.protocol.data_to_send())
        if data and not self.writer.is_closing():
            self.writer.write(data)

    def send_json(self, obj) -> None:
        if self.closed.is_set():
            return
        self.protocol.send_text(json.dumps(obj, indent=2).encode())
        self._flush()

    def close(self, code: int = 1000, reason: str = "") -> None:
        if not self.closed.is_set():
            try:
                self.protocol.send_close(code, reason)
                self._flush()
            except Exception:  # noqa: S110 - already closing
                pass
            self.writer.close()
            self.closed.set()

    def abort(self) -> None:
        self.closed.set()
        if self.writer.transport is not None:
            self.writer.transport.abort()

    async def run(self) -> None:
        """Read frames until the peer closes (answers pings and close frames)."""
        try:
            while not self.closed.is_set():
                data = await self.reader.read(65536)
                if not data:
                    self.protocol.receive_eof()
                    break
                self.protocol.receive_data(data)
                for frame in self.protocol.events_received():
                    if getattr(frame, "opcode", None) == Opcode.CLOSE:
                        self._flush()
                        self.closed.set()
                self._flush()
        except (ConnectionError, asyncio.CancelledError):
            pass
        finally:
            self.closed.set()
            if not self.writer.is_closing():
                self.writer.close()


class HttpServer:
    """Calls ``handle_http(request) -> HttpResponse`` or ``handle_ws(request, websocket)`` (a coroutine)."""

    def __init__(self, host: str, port: int, handle_http, handle_ws, check_ws):
        self.host, self.port = host, port
        self.handle_http, self.handle_ws, self.check_ws = handle_http, handle_ws, check_ws
        self._server: asyncio.base_events.Server | None = None
        self._conns: set[asyncio.StreamWriter] = set()

    async def start(self) -> int:
        self._server = await asyncio.start_server(self._handle, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.port

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._conns):
                if w.transport is not None:
                    w.transport.abort()
            await self._server.wait_closed()
            self._server = None

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._conns.add(writer)
        try:
            head = await reader.readuntil(b"\r\n\r\n")
            req = self._parse(head)
            req.received_at = asyncio.get_running_loop().time()
            length = int(req.headers.get("content-length", "0") or 0)
            if length:
                req.body = await reader.readexactly(length)
            if req.headers.get("upgrade", "").lower() == "websocket":
                await self._upgrade(req, reader, writer)
                return
            response = self.handle_http(req)
            writer.write(response.encode())
            await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            self._conns.discard(writer)
            if not writer.is_closing():
                writer.close()

    @staticmethod
    def _parse(head: bytes) -> HttpRequest:
        lines = head.decode("latin-1").split("\r\n")
        method, target, _ = lines[0].split(" ", 2)
        headers = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        parts = urlsplit(target)
        query = dict(parse_qsl(parts.query, keep_blank_values=True))
        return HttpRequest(method.upper(), target, headers, path=unquote(parts.path), query=query, raw_head=head)

    async def _upgrade(self, req: HttpRequest, reader, writer) -> None:
        denial = self.check_ws(req)
        if denial is not None:
            writer.write(denial.encode())
            await writer.drain()
            return
        protocol = ServerProtocol()
        protocol.receive_data(req.raw_head)
        events = protocol.events_received()
        if not events or not isinstance(events[0], WsRequest):
            writer.write(HttpResponse(400, {"message": "Bad websocket upgrade"}).encode())
            return
        response = protocol.accept(events[0])
        protocol.send_response(response)
        writer.write(b"".join(protocol.data_to_send()))
        if response.status_code != 101:
            return
        ws = WebSocket(protocol, reader, writer)
        await self.handle_ws(req, ws)
