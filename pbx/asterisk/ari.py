"""A thin client for the Asterisk REST Interface (ARI), Asterisk 22.

* REST on httpx with an ``Authorization: Basic`` header: credentials never go into URLs (no ``api_key``), any
  password characters work, environment proxies are ignored (``trust_env=False``: ARI is on a private net).
* Events on one websocket ``/ari/events?app=<app>&subscribeAll=false`` (websockets library, same Basic
  header), reconnected by our own loop with exponential backoff and jitter, stopped for good by ``stop()``.
  websockets' keepalive pings detect a hung Asterisk (``ping_interval`` / ``ping_timeout``).
* Any non-2xx answer raises :class:`AriError` (an :class:`AsteriskError`) with the HTTP status and Asterisk's
  ``message``; 4xx errors are ``permanent`` (404 channel/bridge gone, 409 not in Stasis, ...), timeouts,
  connection errors and 5xx are not.  204 returns None, 200/201 return the parsed JSON.

Behaviour seen in the captures (tests/fixtures/asterisk/ari) that callers must expect: events are *not*
queued while no websocket is connected (resynchronise in ``on_connect``: list channels/bridges); REST works
without a websocket; a second websocket for the same app makes Asterisk send ``ApplicationReplaced`` to the
first one - this client then closes its websocket and stops reconnecting (two consumers would steal the app
from each other), calling ``on_disconnect`` with a permanent error.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import functools
import json
import logging
import random
from collections.abc import Iterable, Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import httpx
import websockets
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidStatus

from .errors import AsteriskError, Callback, call_safely

log = logging.getLogger(__name__)



class AriError(AsteriskError):
    """An ARI request failed; ``status`` is the HTTP status (0 for network errors/timeouts)."""

    def __init__(self, message, permanent=False, status=0, body=None):
        super().__init__(message, permanent=permanent)
        self.status = status
        self.body = body


def _seg(value: str) -> str:
    return quote(str(value), safe="")


def _params(params: Mapping[str, Any] | None) -> dict[str, str] | None:
    if not params:
        return None
    out = {}
    for key, value in params.items():
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        elif isinstance(value, list | tuple):
            value = ",".join(str(v) for v in value)
        out[key] = str(value)
    return out


@functools.cache
def _tls_context():
    """httpx's own default context (certifi's roots, trust_env off), made once: loading the roots took
    20-50 ms of every apply, which opens a client of its own."""
    return httpx.create_ssl_context(trust_env=False)


class AriClient:
    def __init__(self, base_url: str, username: str, password: str, app: str, *, timeout: float = 5.0,
                 on_event: Callback | None = None, on_connect: Callback | None = None,
                 on_disconnect: Callback | None = None, subscribe_all: bool = False,
                 reconnect_min: float = 0.5, reconnect_max: float = 30.0, ping_interval: float | None = 20.0,
                 ping_timeout: float | None = 20.0, name: str = "ari"):
        parts = urlsplit(base_url.rstrip("/"))
        path = parts.path if parts.path.endswith("/ari") else parts.path + "/ari"
        self.base_url = urlunsplit((parts.scheme, parts.netloc, path, "", ""))
        ws_scheme = "wss" if parts.scheme == "https" else "ws"
        self.events_url = urlunsplit((ws_scheme, parts.netloc, path + "/events", "", ""))
        self.app = app
        self.timeout = timeout
        self.on_event, self.on_connect, self.on_disconnect = on_event, on_connect, on_disconnect
        self.subscribe_all = subscribe_all
        self.reconnect_min, self.reconnect_max = reconnect_min, reconnect_max
        self.ping_interval, self.ping_timeout = ping_interval, ping_timeout
        self.name = name
        self.replaced = False
        self.last_error: AsteriskError | None = None
        self.connect_count = 0
        token = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._auth_header = {"Authorization": f"Basic {token}"}
        self._http = httpx.AsyncClient(base_url=self.base_url, headers=self._auth_header, timeout=timeout,
                                       trust_env=False, verify=_tls_context())
        self._ws = None
        self._stop = asyncio.Event()
        self._ready = asyncio.Event()
        self._attempt_done = asyncio.Event()
        self._runner: asyncio.Task | None = None

    # ------------------------------------------------------------------ lifecycle
    @property
    def connected(self) -> bool:
        return self._ready.is_set()

    async def start(self) -> None:
        """Start the event websocket loop in the background (REST works without it)."""
        if self._runner is not None and not self._runner.done():
            return
        self._stop.clear()
        self.replaced = False
        self._runner = asyncio.get_running_loop().create_task(self._run(), name=f"{self.name}-events")

    async def wait_connected(self, timeout: float | None = None) -> None:
        """Wait for the event websocket; fails at once after a permanent error (401, replaced)."""
        loop = asyncio.get_running_loop()
        deadline = None if timeout is None else loop.time() + timeout
        while not self._ready.is_set():
            remaining = None if deadline is None else deadline - loop.time()
            if (self.last_error is not None and self.last_error.permanent) or (remaining is not None
                                                                                and remaining <= 0):
                reason = f" (last error: {self.last_error.message})" if self.last_error else ""
                raise AsteriskError(f"ARI websocket not connected{reason}",
                                    permanent=bool(self.last_error and self.last_error.permanent))
            self._attempt_done.clear()
            waiters = [loop.create_task(self._ready.wait()), loop.create_task(self._attempt_done.wait())]
            try:
                await asyncio.wait(waiters, timeout=remaining, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for w in waiters:
                    w.cancel()

    async def stop(self) -> None:
        """Close the websocket for good (no reconnect) and the HTTP client."""
        self._stop.set()
        ws = self._ws
        if ws is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 1.0)
        if self._runner is not None and not self._runner.done():
            self._runner.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._runner
        self._runner = None
        await self._http.aclose()

    # ------------------------------------------------------------------ REST core
    async def request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                      body: Any = None) -> Any:
        try:
            response = await self._http.request(method, path, params=_params(params),
                                                 json=body if body is not None else None)
        except httpx.TimeoutException:
            raise AriError(f"ARI {method} {path} timed out after {self.timeout:.1f}s") from None
        except httpx.HTTPError as exc:
            raise AriError(f"ARI {method} {path} failed: {exc!r}") from exc
        except RuntimeError as exc:  # the HTTP client was closed by stop()
            raise AriError(f"ARI {method} {path}: client stopped ({exc})", permanent=True) from exc
        if response.status_code >= 300:
            message = response.reason_phrase
            payload = None
            with contextlib.suppress(ValueError):
                payload = response.json()
                if isinstance(payload, dict) and payload.get("message"):
                    message = payload["message"]
            raise AriError(f"ARI {method} {path}: {response.status_code} {message}",
                           permanent=400 <= response.status_code < 500, status=response.status_code, body=payload)
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            return response.text

    # ------------------------------------------------------------------ channels
    async def list_channels(self) -> list[dict]:
        return await self.request("GET", "/channels")

    async def get_channel(self, channel_id: str) -> dict:
        return await self.request("GET", f"/channels/{_seg(channel_id)}")

    async def originate(self, endpoint: str, *, app: str | None = None, app_args: Iterable[str] | str | None = None,
                        caller_id: str | None = None, timeout: int | None = None, channel_id: str | None = None,
                        context: str | None = None, extension: str | None = None, priority: int | None = None,
                        variables: Mapping[str, str] | None = None) -> dict:
        params = {"endpoint": endpoint, "app": app if app is not None or extension else self.app,
                  "appArgs": app_args if isinstance(app_args, str) or app_args is None else list(app_args),
                  "callerId": caller_id, "timeout": timeout, "channelId": channel_id, "context": context,
                  "extension": extension, "priority": priority}
        body = {"variables": dict(variables)} if variables else None
        return await self.request("POST", "/channels", params=params, body=body)

    async def answer(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/answer")

    async def ring(self, channel_id: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/ring")

    async def hangup(self, channel_id: str, reason: str = "normal") -> None:
        await self.request("DELETE", f"/channels/{_seg(channel_id)}", params={"reason": reason})

    async def continue_in_dialplan(self, channel_id: str, *, context: str | None = None,
                                   extension: str | None = None, priority: int | None = None,
                                   label: str | None = None) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/continue",
                           params={"context": context, "extension": extension, "priority": priority,
                                   "label": label})

    async def redirect(self, channel_id: str, endpoint: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/redirect", params={"endpoint": endpoint})

    async def hold(self, channel_id: str, on: bool = True) -> None:
        await self.request("POST" if on else "DELETE", f"/channels/{_seg(channel_id)}/hold")

    async def moh(self, channel_id: str, on: bool = True, moh_class: str | None = None) -> None:
        await self.request("POST" if on else "DELETE", f"/channels/{_seg(channel_id)}/moh",
                           params={"mohClass": moh_class} if on else None)

    async def send_dtmf(self, channel_id: str, dtmf: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/dtmf", params={"dtmf": dtmf})

    async def play(self, channel_id: str, media: str | Iterable[str], *, playback_id: str | None = None,
                   lang: str | None = None) -> dict:
        """Start a playback (201); its PlaybackStarted/Finished arrive on the websocket."""
        return await self.request("POST", f"/channels/{_seg(channel_id)}/play",
                                  params={"media": media if isinstance(media, str) else list(media),
                                          "playbackId": playback_id, "lang": lang})

    async def snoop(self, channel_id: str, *, app: str | None = None, spy: str = "both", whisper: str = "none",
                    app_args: str | None = None, snoop_id: str | None = None) -> dict:
        """Listen (spy), whisper or barge: a Snoop/ channel that enters ``app`` (StasisStart)."""
        return await self.request("POST", f"/channels/{_seg(channel_id)}/snoop",
                                  params={"spy": spy, "whisper": whisper, "app": app or self.app,
                                          "appArgs": app_args, "snoopId": snoop_id})

    async def get_variable(self, channel_id: str, variable: str) -> str:
        result = await self.request("GET", f"/channels/{_seg(channel_id)}/variable", params={"variable": variable})
        return result.get("value", "") if isinstance(result, dict) else ""

    async def set_variable(self, channel_id: str, variable: str, value: str) -> None:
        await self.request("POST", f"/channels/{_seg(channel_id)}/variable",
                           params={"variable": variable, "value": value})

    # ------------------------------------------------------------------ bridges
    async def list_bridges(self) -> list[dict]:
        return await self.request("GET", "/bridges")

    async def get_bridge(self, bridge_id: str) -> dict:
        return await self.request("GET", f"/bridges/{_seg(bridge_id)}")

    async def create_bridge(self, bridge_type: str = "mixing", *, name: str | None = None,
                            bridge_id: str | None = None) -> dict:
        return await self.request("POST", "/bridges", params={"type": bridge_type, "name": name,
                                                              "bridgeId": bridge_id})

    async def add_channel(self, bridge_id: str, channel_ids: str | Iterable[str], *, role: str | None = None) -> None:
        ids = channel_ids if isinstance(channel_ids, str) else list(channel_ids)
        await self.request("POST", f"/bridges/{_seg(bridge_id)}/addChannel", params={"channel": ids, "role": role})

    async def remove_channel(self, bridge_id: str, channel_ids: str | Iterable[str]) -> None:
        ids = channel_ids if isinstance(channel_ids, str) else list(channel_ids)
        await self.request("POST", f"/bridges/{_seg(bridge_id)}/removeChannel", params={"channel": ids})

    async def destroy_bridge(self, bridge_id: str) -> None:
        await self.request("DELETE", f"/bridges/{_seg(bridge_id)}")

    # ------------------------------------------------------------------ applications, playbacks, states
    async def list_applications(self) -> list[dict]:
        return await self.request("GET", "/applications")

    async def get_application(self, name: str | None = None) -> dict:
        return await self.request("GET", f"/applications/{_seg(name or self.app)}")

    async def get_playback(self, playback_id: str) -> dict:
        return await self.request("GET", f"/playbacks/{_seg(playback_id)}")

    async def stop_playback(self, playback_id: str) -> None:
        await self.request("DELETE", f"/playbacks/{_seg(playback_id)}")

    async def set_device_state(self, device: str, state: str) -> None:
        await self.request("PUT", f"/deviceStates/{_seg(device)}", params={"deviceState": state})

    # ------------------------------------------------------------------ events websocket
    def _ws_url(self) -> str:
        query = f"app={quote(self.app, safe='')}&subscribeAll={'true' if self.subscribe_all else 'false'}"
        return f"{self.events_url}?{query}"

    async def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            connected = False
            error: AsteriskError | None = None
            try:
                async with websockets.connect(self._ws_url(), additional_headers=self._auth_header, proxy=None,
                                              open_timeout=self.timeout, ping_interval=self.ping_interval,
                                              ping_timeout=self.ping_timeout, max_size=None,
                                              close_timeout=1.0) as ws:
                    self._ws = ws
                    connected = True
                    failures = 0
                    self.last_error = None
                    self.connect_count += 1
                    self._ready.set()
                    log.info("%s: event websocket for app %r connected", self.name, self.app)
                    if self.on_connect is not None:
                        await self._call(self.on_connect)
                    async for message in ws:
                        try:
                            event = json.loads(message)
                        except ValueError:
                            log.warning("%s: ignoring a non-JSON websocket message %.80r", self.name, message)
                            continue
                        if self.on_event is not None:
                            await self._call(self.on_event, event)
                        if event.get("type") == "ApplicationReplaced":
                            self.replaced = True
                            error = AsteriskError(f"ARI app {self.app!r} was taken over by another websocket",
                                                  permanent=True)
                            break
                if error is None and not self._stop.is_set():
                    error = AsteriskError("ARI websocket closed by Asterisk")
            except asyncio.CancelledError:
                raise
            except InvalidStatus as exc:
                status = exc.response.status_code
                error = AsteriskError(f"ARI websocket refused: HTTP {status}"
                                      + (" (wrong username or password?)" if status == 401 else ""),
                                      permanent=400 <= status < 500)
            except (OSError, TimeoutError, ConnectionClosed, InvalidHandshake) as exc:
                error = AsteriskError(f"ARI websocket error: {exc!r}")
            finally:
                self._ws = None
                self._ready.clear()
            if error is not None:
                self.last_error = error
                self._attempt_done.set()
                if not self._stop.is_set():
                    log.warning("%s: %s", self.name, error.message)
            if connected and self.on_disconnect is not None:
                await self._call(self.on_disconnect, error)
            if self._stop.is_set() or self.replaced:
                break
            delay = self.reconnect_max if error and error.permanent else \
                min(self.reconnect_max, self.reconnect_min * (2 ** failures))
            failures += 1
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), delay * random.uniform(0.8, 1.2))

    async def _call(self, callback: Callback, *args) -> None:
        await call_safely(self.name, callback, *args)


__all__ = ["AriClient", "AriError", "AsteriskError"]
