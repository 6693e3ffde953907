"""A fake of Asterisk 22's ARI (REST + /ari/events websocket), built from tests/fixtures/asterisk/ari.

Reproduced from the captures:

* 204 with an empty body for answer/continue/redirect/dtmf/hold/moh/DELETE channel/addChannel/removeChannel/
  DELETE bridge; 200 + JSON for POST /channels, /channels/{id}/snoop and POST /bridges; 201 + ``Location:
  /ari/playbacks/<id>`` for play; 404 ``{"message": "Channel not found"}`` / ``"Bridge not found"`` (reason
  ``Not found``) / ``"Application not found"``; 409 ``Channel not in Stasis application``; 401 without auth;
  JSON pretty-printed (``pretty = yes``), ``Connection: close`` on every response;
* ``/ari/events?app=X``: an app is registered while a websocket is open or it still has channels; a second
  websocket for the same app sends ``ApplicationReplaced`` to the first (which stays open but gets nothing
  more); events are never queued while no websocket is connected; ``Stasis(X)`` fails at once (the dialplan
  continues and hangs up) when X has no websocket;
* with ``subscribeAll=false`` a dialplan channel's events stop at StasisEnd, while a channel created by
  ``POST /channels`` keeps reporting (ChannelDialplan ... ChannelDestroyed) after ``continue``.

``requests`` logs every HTTP request (method, target, headers) so tests can check that credentials never
appear in URLs.
"""

from __future__ import annotations

import asyncio
import base64
import re
import time
import uuid
from dataclasses import dataclass

from . import events as ev
from .ari_http import HttpRequest, HttpResponse, HttpServer, WebSocket
from .calls import Call
from .captures import ari_records
from .originate import OriginateRequest
from .state import Channel
from .world import ASTERISK_ID, iso

CAUSES = {"normal": 16, "busy": 17, "congestion": 34, "no_answer": 19, "timeout": 19, "rejected": 21,
          "unallocated": 1, "answered_elsewhere": 26}
MEDIA_SECONDS = {"sound:hello-world": 1.4, "sound:beep": 0.42, "sound:tt-monkeys": 10.0}


def _not_found(what: str, reason: str = "Not Found") -> HttpResponse:
    return HttpResponse(404, {"message": f"{what} not found"}, reason=reason)


def _error(status: int, message: str) -> HttpResponse:
    return HttpResponse(status, {"message": message})


@dataclass
class Playback:
    id: str
    media_uri: str
    target_uri: str
    channel_id: str
    app: str | None
    state: str = "queued"
    language: str = "en"
    timer: object = None

    def json(self, state: str | None = None) -> dict:
        return {"id": self.id, "media_uri": self.media_uri, "target_uri": self.target_uri,
                "language": self.language, "state": state or self.state}


class AriApp:
    def __init__(self, name: str):
        self.name = name
        self.ws: WebSocket | None = None
        self.replaced: list[WebSocket] = []


class FakeAriServer:
    def __init__(self, world, host: str = "127.0.0.1", port: int = 0, *, username: str, password: str):
        self.world = world
        self.host, self._port = host, port
        self.credentials = (username, password)
        self.apps: dict[str, AriApp] = {}
        self.playbacks: dict[str, Playback] = {}
        self.requests: list[HttpRequest] = []
        self.refuse_websockets = 0  # answer the next N websocket upgrades with 503 (an Asterisk going down)
        self._http = HttpServer(host, port, self._handle_http, self._handle_ws, self._check_ws)
        world.ari_listeners.append(self._deliver)
        world.hangup_request_hooks.append(self._finish_playbacks)
        self._routes = [
            ("GET", r"/ari/applications", self.list_applications),
            ("GET", r"/ari/applications/([^/]+)", self.get_application),
            ("GET", r"/ari/asterisk/info", self.asterisk_info),
            ("GET", r"/ari/endpoints", self.list_endpoints),
            ("GET", r"/ari/deviceStates", self.list_device_states),
            ("GET", r"/ari/deviceStates/([^/]+)", self.get_device_state),
            ("PUT", r"/ari/deviceStates/([^/]+)", self.put_device_state),
            ("DELETE", r"/ari/deviceStates/([^/]+)", self.delete_device_state),
            ("GET", r"/ari/channels", self.list_channels),
            ("POST", r"/ari/channels", self.create_channel),
            ("GET", r"/ari/channels/([^/]+)", self.get_channel),
            ("DELETE", r"/ari/channels/([^/]+)", self.delete_channel),
            ("GET", r"/ari/channels/([^/]+)/variable", self.get_variable),
            ("POST", r"/ari/channels/([^/]+)/variable", self.set_variable),
            ("POST", r"/ari/channels/([^/]+)/(answer|ring|hold|moh|mute|silence|dtmf)", self.channel_simple),
            ("DELETE", r"/ari/channels/([^/]+)/(ring|hold|moh|mute|silence)", self.channel_simple),
            ("POST", r"/ari/channels/([^/]+)/continue", self.channel_continue),
            ("POST", r"/ari/channels/([^/]+)/redirect", self.channel_redirect),
            ("POST", r"/ari/channels/([^/]+)/play", self.channel_play),
            ("POST", r"/ari/channels/([^/]+)/snoop", self.channel_snoop),
            ("GET", r"/ari/playbacks/([^/]+)", self.get_playback),
            ("DELETE", r"/ari/playbacks/([^/]+)", self.stop_playback),
            ("GET", r"/ari/bridges", self.list_bridges),
            ("POST", r"/ari/bridges", self.create_bridge),
            ("GET", r"/ari/bridges/([^/]+)", self.get_bridge),
            ("DELETE", r"/ari/bridges/([^/]+)", self.delete_bridge),
            ("POST", r"/ari/bridges/([^/]+)/addChannel", self.bridge_add),
            ("POST", r"/ari/bridges/([^/]+)/removeChannel", self.bridge_remove),
            ("GET", r"/ari/asterisk/config/dynamic/([^/]+)/([^/]+)/([^/]+)", self.get_config_object),
            ("PUT", r"/ari/asterisk/config/dynamic/([^/]+)/([^/]+)/([^/]+)", self.update_config_object),
            ("DELETE", r"/ari/asterisk/config/dynamic/([^/]+)/([^/]+)/([^/]+)", self.delete_config_object),
        ]
        # Dynamic configuration (resource_asterisk.c): objects created through ARI, by (class, type, id).
        # Only object types listed in ``sorcery_writable`` have a writable sorcery wizard (for res_pjsip that
        # needs e.g. ``endpoint=memory`` after the config wizard in sorcery.conf); the others answer 403 like the
        # config-file wizard, which cannot create objects.
        self.config_objects: dict[tuple[str, str, str], list[dict[str, str]]] = {}
        self.sorcery_writable: set[str] = set()

    # ------------------------------------------------------------------ lifecycle
    @property
    def port(self) -> int:
        return self._http.port

    async def start(self) -> None:
        self._http.port = self._port
        self._port = await self._http.start()

    async def stop(self) -> None:
        self.drop_websockets()
        await self._http.stop()

    def websocket_attempts(self) -> list[float]:
        """Loop times of every /ari/events upgrade request."""
        return [r.received_at for r in self.requests if r.path == "/ari/events"]

    def reset(self) -> None:
        """A restarted Asterisk: no apps, no playbacks, every websocket gone."""
        self.drop_websockets()
        self.apps.clear()
        self.playbacks.clear()
        self.world.ari_active_apps.clear()

    def drop_websockets(self) -> None:
        """Abort every event websocket (like a network loss); apps stay registered while they have channels."""
        for app in list(self.apps.values()):
            for ws in [app.ws, *app.replaced]:
                if ws is not None:
                    ws.abort()
            app.ws, app.replaced = None, []
        self.world.ari_active_apps.clear()
        self._gc_apps()

    async def replay(self, capture: str, *, app: str | None = None, realtime: bool = False,
                     speed: float = 1.0) -> int:
        """Send the websocket events of an ARI capture (ari/<capture>.jsonl) to the connected app, in order
        (optionally with the original spacing).  Returns how many were sent."""
        records = [r for r in ari_records(capture) if r["kind"] == "ws-event"]
        loop = asyncio.get_running_loop()
        start, t0 = loop.time(), records[0]["t"] if records else 0.0
        for rec in records:
            if realtime:
                delay = (rec["t"] - t0) / speed - (loop.time() - start)
                if delay > 0:
                    await asyncio.sleep(delay)
            event = dict(rec["event"])
            self._deliver(app or event.get("application", ""), event)
            await asyncio.sleep(0)
        return len(records)

    # ------------------------------------------------------------------ auth and dispatch
    def _authorised(self, req: HttpRequest) -> bool:
        header = req.headers.get("authorization", "")
        if header.lower().startswith("basic "):
            try:
                user, _, password = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return False
            return (user, password) == self.credentials
        api_key = req.query.get("api_key")  # Asterisk accepts it; our client must never use it
        return api_key is not None and tuple(api_key.split(":", 1)) == self.credentials

    def _unauthorised(self) -> HttpResponse:
        return HttpResponse(401, {"message": "Authentication required"},
                            headers=[("WWW-Authenticate", 'Basic realm="Asterisk REST Interface"')])

    def _handle_http(self, req: HttpRequest) -> HttpResponse:
        self.requests.append(req)
        if not self._authorised(req):
            return self._unauthorised()
        for method, pattern, handler in self._routes:
            m = re.fullmatch(pattern, req.path)
            if m and method == req.method:
                return handler(req, *m.groups())
        if any(re.fullmatch(p, req.path) for _, p, _ in self._routes):
            return _error(405, "Method Not Allowed")
        return _error(404, "Resource not found")

    def _check_ws(self, req: HttpRequest) -> HttpResponse | None:
        self.requests.append(req)
        if req.path != "/ari/events":
            return _error(404, "Resource not found")
        if not self._authorised(req):
            return self._unauthorised()
        if not req.query.get("app"):
            return _error(400, "Missing param 'app'")
        if self.refuse_websockets > 0:
            self.refuse_websockets -= 1
            return _error(503, "Service Unavailable")
        return None

    async def _handle_ws(self, req: HttpRequest, ws: WebSocket) -> None:
        names = [a for a in req.query["app"].split(",") if a]
        for name in names:
            app = self.apps.setdefault(name, AriApp(name))
            if app.ws is not None:
                app.ws.send_json({"type": "ApplicationReplaced", "timestamp": _now(), "application": name,
                                  "asterisk_id": ASTERISK_ID})
                app.replaced.append(app.ws)
            app.ws = ws
            self.world.ari_active_apps.add(name)
        await ws.run()
        for name in names:
            app = self.apps.get(name)
            if app is None:
                continue
            if app.ws is ws:
                app.ws = None
                self.world.ari_active_apps.discard(name)
            elif ws in app.replaced:
                app.replaced.remove(ws)
        self._gc_apps()

    def _deliver(self, app_name: str, event: dict) -> None:
        app = self.apps.get(app_name)
        if app is not None and app.ws is not None:
            app.ws.send_json(event)

    def _gc_apps(self) -> None:
        for name, app in list(self.apps.items()):
            if app.ws is None and not app.replaced and not self._app_channels(name) and not self._app_bridges(name):
                del self.apps[name]

    def _app_channels(self, name: str) -> list[str]:
        return [c.uniqueid for c in self.world.state.channels.values() if c.stasis_app == name]

    def _app_bridges(self, name: str) -> list[str]:
        return [b.id for b in self.world.state.bridges.values() if b.ari and b.ari_app == name]

    # ------------------------------------------------------------------ applications and info
    def _app_json(self, name: str) -> dict:
        return {"name": name, "channel_ids": self._app_channels(name), "bridge_ids": self._app_bridges(name),
                "endpoint_ids": [], "device_names": [], "events_allowed": [], "events_disallowed": []}

    def list_applications(self, req):
        self._gc_apps()
        return HttpResponse(200, [self._app_json(n) for n in self.apps])

    def get_application(self, req, name):
        self._gc_apps()
        if name not in self.apps:
            return _not_found("Application")
        return HttpResponse(200, self._app_json(name))

    def asterisk_info(self, req):
        for rec in ari_records("ari_stasis_basic_answer_play_hangup"):
            if rec["kind"] == "rest" and rec["url"].startswith("/ari/asterisk/info"):
                return HttpResponse(200, rec["response_body"])
        return HttpResponse(200, {"system": {"version": "22.10.1", "entity_id": ASTERISK_ID}})

    def list_endpoints(self, req):
        st = self.world.state
        return HttpResponse(200, [{"technology": ep.tech, "resource": ep.name,
                                   "state": "online" if ep.registered else "offline",
                                   "channel_ids": [c.uniqueid for c in st.channels.values()
                                                   if c.endpoint == ep.device]}
                                  for ep in st.endpoints.values()])

    def list_device_states(self, req):
        return HttpResponse(200, [{"name": d, "state": s} for d, s in self.world.state.custom_devstates.items()])

    def get_device_state(self, req, name):
        return HttpResponse(200, {"name": name, "state": self.world.state.device_state(name)})

    def put_device_state(self, req, name):
        value = req.query.get("deviceState", "").upper()
        if not name.lower().startswith("custom:"):
            return _error(409, "Uncontrolled device specified")
        if not value:
            return _error(400, "Missing parameter deviceState")
        self.world.set_custom_devstate(name, value)
        return HttpResponse(204)

    def delete_device_state(self, req, name):
        if self.world.state.custom_devstates.pop(name, None) is None:
            return _not_found("Device")
        return HttpResponse(204)

    # ------------------------------------------------------------------ dynamic configuration
    CONFIG_TYPES = {"res_pjsip": {"endpoint", "auth", "aor", "identify", "registration", "transport", "contact",
                                  "domain_alias", "global", "system", "phoneprov"}}

    def _config_type(self, config_class: str, object_type: str) -> HttpResponse | None:
        if config_class not in self.CONFIG_TYPES:
            return _error(404, f"configClass '{config_class}' not found")
        if object_type not in self.CONFIG_TYPES[config_class]:
            return _error(404, f"objectType '{object_type}' not found")
        return None

    def get_config_object(self, req, config_class, object_type, object_id):
        missing = self._config_type(config_class, object_type)
        if missing is not None:
            return missing
        fields = self.config_objects.get((config_class, object_type, object_id))
        if fields is None:
            return _error(404, f"Object with id '{object_id}' not found")
        return HttpResponse(200, fields)

    def update_config_object(self, req, config_class, object_type, object_id):
        missing = self._config_type(config_class, object_type)
        if missing is not None:
            return missing
        try:
            body = req.json() if req.body else None
        except ValueError:
            return _error(400, "Bad request body")
        fields = (body or {}).get("fields", []) if isinstance(body, dict) else None
        if not isinstance(fields, list) or any(
                not isinstance(f, dict) or not isinstance(f.get("attribute"), str) or "value" not in f
                for f in fields):
            return _error(400, "Bad request body")
        if object_type not in self.sorcery_writable:
            verb = "update" if (config_class, object_type, object_id) in self.config_objects else "create"
            return _error(403, f"Cannot {verb} sorcery objects of type '{object_type}'")
        current = {f["attribute"]: f["value"] for f in self.config_objects.get((config_class, object_type,
                                                                                 object_id), [])}
        current.update({f["attribute"]: str(f["value"]) for f in fields})
        tuples = [{"attribute": k, "value": v} for k, v in current.items()]
        self.config_objects[(config_class, object_type, object_id)] = tuples
        if config_class == "res_pjsip" and object_type == "endpoint" and object_id not in self.world.state.endpoints:
            self.world.state.add_endpoint(object_id, registered=False)
        return HttpResponse(200, tuples)

    def delete_config_object(self, req, config_class, object_type, object_id):
        missing = self._config_type(config_class, object_type)
        if missing is not None:
            return missing
        if (config_class, object_type, object_id) not in self.config_objects:
            return _error(404, f"Object with id '{object_id}' not found")
        if object_type not in self.sorcery_writable:
            return _error(403, f"Could not delete object with id '{object_id}'")
        del self.config_objects[(config_class, object_type, object_id)]
        if config_class == "res_pjsip" and object_type == "endpoint":
            self.world.state.endpoints.pop(object_id, None)
        return HttpResponse(204)

    # ------------------------------------------------------------------ channels
    def _channel(self, cid: str) -> Channel | None:
        return self.world.state.channels.get(cid)

    def _control(self, cid: str) -> tuple[Channel | None, HttpResponse | None]:
        """find_control(): 404 if the channel is gone, 409 if it is not in Stasis."""
        ch = self._channel(cid)
        if ch is None:
            return None, _not_found("Channel")
        if not ch.stasis_app:
            return None, _error(409, "Channel not in Stasis application")
        return ch, None

    def list_channels(self, req):
        return HttpResponse(200, [self.world.ari_channel(c) for c in self.world.state.channels.values()])

    def get_channel(self, req, cid):
        ch = self._channel(cid)
        return HttpResponse(200, self.world.ari_channel(ch)) if ch else _not_found("Channel")

    def delete_channel(self, req, cid):
        ch = self._channel(cid)
        if ch is None:
            return _not_found("Channel")
        cause = CAUSES.get(req.query.get("reason", "normal"), 16)
        self.world.hangup(ch, cause, by_manager=True)
        return HttpResponse(204)

    def create_channel(self, req):
        q = req.query
        endpoint, app = q.get("endpoint", ""), q.get("app", "")
        if not endpoint:
            return _error(400, "Endpoint must be specified")
        if not app and not q.get("extension"):
            return _error(400, "Application or extension must be specified")
        channel_id = q.get("channelId")
        if channel_id and channel_id in self.world.state.channels:
            return _error(409, "Channel with given unique ID already exists")
        tech, _, resource = endpoint.partition("/")
        ep = self.world.state.endpoints.get(resource)
        if tech.upper() != "PJSIP" or ep is None or not ep.registered:
            return _error(400, "Invalid endpoint specified")
        body = req.json() if req.body else None
        variables = (body or {}).get("variables", {}) if isinstance(body, dict) else {}
        o = OriginateRequest(dest=endpoint, context=q.get("context", ""), exten=q.get("extension", ""),
                             priority=int(q.get("priority", "1") or 1), caller_id=q.get("callerId", ""),
                             timeout=float(q.get("timeout", "30") or 30), variables=variables,
                             ari_app=app or None, ari_args=[a for a in q.get("appArgs", "").split(",") if a],
                             channel_id=channel_id)
        self.world.originate(o)
        return HttpResponse(200, o.snapshot or self.world.ari_channel(o.channel))

    def get_variable(self, req, cid):
        ch = self._channel(cid)
        if ch is None:
            return HttpResponse(404, {"message": "Provided channel was not found"}, reason="Channel Not Found")
        name = req.query.get("variable", "")
        if not name:
            return _error(400, "Variable name is required")
        if name.upper() == "CALLERID(NUM)":
            return HttpResponse(200, {"value": ch.caller_num})
        if name.upper() == "CALLERID(NAME)":
            return HttpResponse(200, {"value": ch.caller_name})
        if name not in ch.variables:
            return HttpResponse(404, {"message": "Provided variable was not found"}, reason="Variable Not Found")
        return HttpResponse(200, {"value": ch.variables[name]})

    def set_variable(self, req, cid):
        ch, err = self._control(cid)
        if err:
            return err
        name = req.query.get("variable", "")
        if not name:
            return _error(400, "Variable name is required")
        ch.variables[name] = req.query.get("value", "")
        return HttpResponse(204)

    def channel_simple(self, req, cid, verb):
        ch, err = self._control(cid)
        if err:
            return err
        w = self.world
        if verb == "answer" and ch.state != 6:
            w.set_state(ch, 6)
            w.refresh()
        elif verb == "ring" and req.method == "POST" and ch.state != 6:
            w.set_state(ch, 5)
        elif verb == "hold":
            ch.held = req.method == "POST"
            w.emit(ev.call_event("Hold" if ch.held else "Unhold", ch))
        elif verb == "dtmf":
            w.dtmf(ch, req.query.get("dtmf", ""))
        elif verb == "moh" and (req.method == "POST") != ch.moh:
            ch.moh = req.method == "POST"
            if ch.moh:
                w.emit(ev.call_event("MusicOnHoldStart", ch, Class=req.query.get("mohClass") or "default"))
            else:
                w.emit(ev.call_event("MusicOnHoldStop", ch))
        return HttpResponse(204)

    def channel_continue(self, req, cid):
        ch, err = self._control(cid)
        if err:
            return err
        q = req.query
        w = self.world
        w.ari_event(ch.stasis_app, "StasisEnd", ("channel", w.ari_channel(ch)))
        ch.stasis_app = None
        if ch.bridge and ch.bridge in w.state.bridges:
            w.bridge_leave(w.state.bridges[ch.bridge], ch)
        if q.get("extension") or q.get("context"):
            w.set_dialplan(ch, q.get("context") or ch.context, q.get("extension") or ch.exten,
                           int(q.get("priority") or 1))
            w.later(0, w.run_dialplan, ch)
        else:
            w.later(0, w.dialplan_hangup, ch)  # the next priority after Stasis() is Hangup() in our dialplans
        return HttpResponse(204)

    def channel_redirect(self, req, cid):
        ch, err = self._control(cid)
        if err:
            return err
        if not req.query.get("endpoint"):
            return _error(400, "Required parameter 'endpoint' not provided")
        return HttpResponse(204)  # ari_redirect_and_move: 204, then nothing happens unless the peer follows

    def channel_play(self, req, cid):
        ch, err = self._control(cid)
        if err:
            return err
        media = req.query.get("media", "")
        if not media:
            return _error(400, "Missing parameter media")
        pid = req.query.get("playbackId") or str(uuid.uuid4())
        pb = Playback(pid, media.split(",")[0], f"channel:{ch.uniqueid}", ch.uniqueid, ch.stasis_app)
        self.playbacks[pid] = pb
        w = self.world

        def started():
            if pid in self.playbacks:
                pb.state = "playing"
                w.ari_event(pb.app, "PlaybackStarted", ("playback", pb.json()))

        w.later(0, started)
        pb.timer = w.later(MEDIA_SECONDS.get(pb.media_uri, 1.0), self._playback_done, pid)
        return HttpResponse(201, pb.json("queued"), headers=[("Location", f"/ari/playbacks/{pid}")],
                            reason="Created")

    def _playback_done(self, pid: str) -> None:
        pb = self.playbacks.pop(pid, None)
        if pb is not None:
            pb.state = "done"
            self.world.ari_event(pb.app, "PlaybackFinished", ("playback", pb.json()))

    def _finish_playbacks(self, ch: Channel) -> None:
        for pid, pb in list(self.playbacks.items()):
            if pb.channel_id == ch.uniqueid:
                if pb.timer:
                    pb.timer.cancel()
                self._playback_done(pid)

    def get_playback(self, req, pid):
        pb = self.playbacks.get(pid)
        return HttpResponse(200, pb.json()) if pb else _not_found("Playback")

    def stop_playback(self, req, pid):
        pb = self.playbacks.get(pid)
        if pb is None:
            return _not_found("Playback")
        if pb.timer:
            pb.timer.cancel()
        self._playback_done(pid)
        return HttpResponse(204)

    def channel_snoop(self, req, cid):
        # Any channel may be snooped on (channels.json: 400 and 404 only, no 409): it need not be in Stasis.
        target = self._channel(cid)
        if target is None:
            return _not_found("Channel")
        # The checks in the order of ari_channels_handle_snoop_channel (res/ari/resource_channels.c).
        directions = ("none", "both", "out", "in")
        spy, whisper = req.query.get("spy") or "none", req.query.get("whisper") or "none"
        if spy not in directions:
            return _error(400, "Invalid direction specified for spy")
        if whisper not in directions:
            return _error(400, "Invalid direction specified for whisper")
        if spy == "none" and whisper == "none":
            return _error(400, "Direction must be specified for at least spy or whisper")
        app = req.query.get("app", "")
        if not app:
            return _error(400, "Application name is required")
        w = self.world
        snoop_id = req.query.get("snoopId") or None
        if snoop_id and snoop_id in w.state.channels:
            return _error(500, "Snoop channel could not be created")
        snoop = w.new_channel(w.state.new_snoop_name(target.uniqueid), context="default", exten="s", state=6,
                              uniqueid=snoop_id, linkedid=None)
        snoop.protocol_id = ""
        snoop.snooped = target.uniqueid
        # publish_chanspy_message(snoop, 1): the Snoop/ channel is the spyer (ari_bridge_snoop_continue)
        w.spies[snoop.uniqueid] = (target.uniqueid, "")
        w.emit(ev.event("ChanSpyStart", "call,all", ev.chan(snoop, "Spyer"), ev.chan(target, "Spyee")))
        if app not in self.apps or self.apps[app].ws is None:
            # res_stasis: "Stasis app '<app>' not registered"; the snoop thread hangs the channel up at once
            # (the REST answer was already 200).
            w.later(0, w.hangup, snoop)
            return HttpResponse(200, w.ari_channel(snoop))
        args = [a for a in req.query.get("appArgs", "").split(",") if a]
        w.calls[snoop.uniqueid] = Call(caller=snoop, kind="stasis")
        snoop.stasis_app = app
        w.set_dialplan(snoop, "default", "s", 1, "Stasis", ",".join([app, *args]))
        w.ari_event(app, "StasisStart", ("args", args), ("channel", w.ari_channel(snoop)))
        return HttpResponse(200, w.ari_channel(snoop))

    # ------------------------------------------------------------------ bridges
    def list_bridges(self, req):
        return HttpResponse(200, [self.world.ari_bridge(b) for b in self.world.state.bridges.values() if b.ari])

    def create_bridge(self, req):
        q = req.query
        bid = q.get("bridgeId") or str(uuid.uuid4())
        if bid in self.world.state.bridges:
            return HttpResponse(200, self.world.ari_bridge(self.world.state.bridges[bid]))
        btype = (q.get("type") or "mixing").split(",")[0]
        b = self.world.new_bridge(bridge_id=bid, ari=True, name=q.get("name", ""), creator="Stasis",
                                  ari_type=btype)
        b.type = "stasis"
        return HttpResponse(200, self.world.ari_bridge(b))

    def _bridge(self, bid):
        b = self.world.state.bridges.get(bid)
        return b if b is not None and b.ari else None

    def get_bridge(self, req, bid):
        b = self._bridge(bid)
        return HttpResponse(200, self.world.ari_bridge(b)) if b else _not_found("Bridge", "Not found")

    def delete_bridge(self, req, bid):
        b = self._bridge(bid)
        if b is None:
            return _not_found("Bridge", "Not found")
        self.world.destroy_bridge(b, ari_app=b.ari_app)
        self._gc_apps()
        return HttpResponse(204)

    def _bridge_channels(self, req, bid):
        b = self._bridge(bid)
        if b is None:
            return None, [], _not_found("Bridge", "Not found")
        ids = [c for c in req.query.get("channel", "").split(",") if c]
        if not ids:
            return None, [], _error(400, "Missing parameter channel")
        chans = [self._channel(c) for c in ids]
        if any(c is None for c in chans):
            return None, [], _error(400, "Channel not found")
        if any(not c.stasis_app for c in chans):
            return None, [], _error(422, "Channel not in Stasis application")
        return b, chans, None

    def bridge_add(self, req, bid):
        b, chans, err = self._bridge_channels(req, bid)
        if err:
            return err
        for ch in chans:
            if not b.ari_app:
                b.ari_app = ch.stasis_app
            self.world.bridge_enter(b, ch)
        return HttpResponse(204)

    def bridge_remove(self, req, bid):
        b, chans, err = self._bridge_channels(req, bid)
        if err:
            return err
        if any(c.uniqueid not in b.channels for c in chans):
            return _error(422, "Channel not in this bridge")
        for ch in chans:
            self.world.bridge_leave(b, ch)
        return HttpResponse(204)


def _now() -> str:
    return iso(time.time())
