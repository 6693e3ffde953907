"""A real HTTP receiver for webhook tests and the benchmark: it verifies each request's Standard Webhooks
signature with the ``standardwebhooks`` package, as a company's CRM would, and can be told to fail, to be
slow or to be down."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self, secret: str = "", host: str = "127.0.0.1", port: int = 0):
        self.secret = secret
        self.host = host
        self.received: list[dict] = []  # verified: {"id", "type", "data", "headers", "path"}
        self.rejected: list[str] = []  # bodies whose signature did not verify
        self.fail_next = 0  # answer 500 to this many requests
        self.delay = 0.0  # seconds before answering
        self.redirect_to = ""  # answer 307 with this Location
        self.requests = 0
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self.port = port
        self.start()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}/hooks"

    def ids(self) -> list[str]:
        return [r["id"] for r in self.received]

    def types(self) -> list[str]:
        return [r["type"] for r in self.received]

    def start(self) -> None:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                with receiver._lock:
                    receiver.requests += 1
                    fail = receiver.fail_next > 0
                    if fail:
                        receiver.fail_next -= 1
                if receiver.delay:
                    time.sleep(receiver.delay)
                if receiver.redirect_to:
                    return self._answer(307, location=receiver.redirect_to)
                if fail:
                    return self._answer(500)
                try:
                    data = Webhook(receiver.secret).verify(body, dict(self.headers.items()))
                except WebhookVerificationError:
                    receiver.rejected.append(body.decode(errors="replace"))
                    return self._answer(401)
                with receiver._lock:
                    receiver.received.append({"id": self.headers["webhook-id"], "type": data["type"],
                                              "data": data["data"], "headers": dict(self.headers.items()),
                                              "path": self.path, "raw": json.loads(body)})
                return self._answer(204)

            def _answer(self, status: int, location: str = ""):
                self.send_response(status)
                if location:
                    self.send_header("Location", location)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self._server = ThreadingHTTPServer((self.host, self.port), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        threading.Thread(target=self._server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        """Down: the port is closed (connection refused) until ``start`` again."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
