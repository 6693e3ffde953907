"""Originate (AMI action and ARI POST /channels), modelled on n_originate, j_chanspy_local_originate and
ari_bridge_snoop_continue.

* ``PJSIP/<endpoint>``: the phone rings (Newchannel, NewCallerid, NewConnectedLine, DialBegin without a caller
  block, Newstate Ringing, DialState); auto answer -> Newstate Up, DialEnd ANSWER, OriginateResponse Success
  Reason 4, then the channel runs the application or the dialplan at Context/Exten.
  Busy -> HangupRequest 17, DialEnd BUSY, OriginateResponse Failure Reason 0; no answer within Timeout ->
  OriginateResponse Failure Reason 3, Hangup cause 19.
* An unknown/unregistered endpoint or an unknown technology (``Bogus/xyz``) fails at once with Reason 0 and
  ``Uniqueid: <unknown>`` (async Originate still answered ``Originate successfully queued``).
* ``Local/<exten>@<context>``: a ;1/;2 pair (consecutive Uniqueids, ;2 Linkedid = ;1 Uniqueid), LocalBridge;
  ;2 runs the dialplan at exten@context, ;1 is answered when ;2 is and then runs the application/dialplan.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field

from . import events as ev
from .calls import Call
from .state import Channel


@dataclass
class OriginateRequest:
    dest: str
    context: str = ""
    exten: str = ""
    priority: int = 1
    application: str = ""
    data: str = ""
    caller_id: str = ""
    timeout: float = 30.0  # seconds
    variables: dict[str, str] = field(default_factory=dict)
    action_id: str = ""
    ari_app: str | None = None
    ari_args: list[str] = field(default_factory=list)
    channel_id: str | None = None
    future: asyncio.Future | None = None  # resolved with True/False (sync Originate)
    snapshot: dict | None = None  # ARI JSON of the new channel as created (state Down)
    channel: Channel | None = None
    timer: object = None
    done: bool = False


def parse_callerid(value: str) -> tuple[str, str]:
    """'"Name" <num>' / 'Name <num>' / 'num' -> (num, name)."""
    m = re.match(r'^\s*"?([^"<]*?)"?\s*<([^>]*)>\s*$', value)
    if m:
        return m.group(2).strip(), m.group(1).strip()
    return value.strip(), ""


class OriginateMixin:
    def originate(self, req: OriginateRequest) -> OriginateRequest:
        st = self.state
        tech, _, resource = req.dest.partition("/")
        if tech.upper() == "LOCAL":
            return self._originate_local(req, resource)
        ep = st.endpoints.get(resource) if tech.upper() == "PJSIP" else None
        if ep is None or not ep.registered:
            self._originate_result(req, False, 0)
            return req
        leg = self.new_channel(st.new_pjsip_name(ep.name), caller_num=ep.name, caller_name=ep.caller_name,
                               context=ep.context, exten="s", endpoint=ep.device, uniqueid=req.channel_id)
        leg.originate = req
        req.channel = leg
        leg.variables.update(ep.variables)  # chan_pjsip sets the endpoint's set_var on every channel of it
        leg.variables.update(req.variables)
        if req.ari_app:
            self.set_dialplan(leg, ep.context, "s", 1, "AppDial2", "(Outgoing Line)")
            leg.ari_app = req.ari_app
        if req.caller_id:
            num, name = parse_callerid(req.caller_id)
            leg.caller_num, leg.caller_name = num, name
            self.emit(ev.call_event("NewCallerid", leg, CID_CallingPres="0 (Presentation Allowed, Not Screened)"))
            self.set_connected(leg, num, name)
        req.snapshot = self.ari_channel(leg)
        self.emit(ev.dial_event("DialBegin", None, leg, DialString=resource))
        self._ari_dial(leg, "", resource)
        self.set_state(leg, 5)
        self.refresh()
        self.emit(ev.dial_event("DialState", None, leg, DialStatus="RINGING"))
        self._ari_dial(leg, "RINGING", resource)
        self._phone_reacts(leg)
        req.timer = self.later(req.timeout, self._originate_timeout, leg)
        return req

    def _ari_dial(self, leg: Channel, status: str, dialstring: str) -> None:
        if leg.ari_app:
            self.ari_event(leg.ari_app, "Dial", ("dialstatus", status), ("forward", ""),
                           ("dialstring", dialstring), ("peer", self.ari_channel(leg)))

    def _originate_answered(self, leg: Channel) -> None:
        req: OriginateRequest = leg.originate
        if req.done:
            return
        leg.originate = None
        if req.timer:
            req.timer.cancel()
        self.set_state(leg, 6)
        self.emit(ev.dial_event("DialEnd", None, leg, DialStatus="ANSWER"))
        self._ari_dial(leg, "ANSWER", req.dest.partition("/")[2])
        self._originate_result(req, True, 4)
        self.refresh()
        self._originate_run(req, leg)

    def _originate_run(self, req: OriginateRequest, leg: Channel) -> None:
        if req.ari_app:
            call = Call(caller=leg, kind="stasis")
            self.calls[leg.uniqueid] = call
            leg.variables["STASISSTATUS"] = ""
            self.ari_channel_event(leg, "ChannelVarset", ("variable", "STASISSTATUS"), ("value", ""))
            leg.stasis_app = req.ari_app
            self.set_dialplan(leg, leg.context, leg.exten, leg.priority, "Stasis",
                              ",".join([req.ari_app, *req.ari_args]))
            self.ari_event(req.ari_app, "StasisStart", ("args", req.ari_args), ("channel", self.ari_channel(leg)))
        elif req.application:
            self.calls[leg.uniqueid] = Call(caller=leg, kind="app")
            self.set_dialplan(leg, leg.context, leg.exten, leg.priority, req.application, req.data)
            if req.application.lower() == "chanspy":
                self._chanspy(leg, req.data)
            elif req.application.lower() in ("playback", "wait"):
                secs = float(req.data) if req.application.lower() == "wait" and _isnum(req.data) else 1.5
                self.later(secs, self.dialplan_hangup, leg)
        elif req.context == "pbx-listen":
            self._listen(leg, req.exten)
        else:
            self.set_dialplan(leg, req.context or leg.context, req.exten, req.priority)
            self.run_dialplan(leg)

    def _listen(self, leg: Channel, mode: str) -> None:
        """The generated pbx-listen (listen-in): the licence, then ChanSpy, or the refusal's prompt and hangup."""
        from .recording import LISTEN_OPTIONS, listen

        self.calls[leg.uniqueid] = Call(caller=leg, kind="app")
        self.set_dialplan(leg, "pbx-listen", mode, 1, "Set", f"PBX_SPYOPT={LISTEN_OPTIONS.get(mode, '')}")
        if listen(self, leg, mode) == "listening":
            self._chanspy(leg, f"{leg.variables['PBX_SPY']},{LISTEN_OPTIONS[mode]}")
        else:
            self.later(0.3, self.dialplan_hangup, leg)  # after the prompt

    # ------------------------------------------------------------------ ChanSpy (j_chanspy_local_originate)
    def _chanspy(self, spyer: Channel, data: str) -> None:
        """ChanSpy(<channel prefix>,<options>) on an answered channel: ChanSpyStart with the first channel whose
        name starts with the prefix; with option E it ends (ChanSpyStop, then the spyer hangs up) when that
        channel hangs up. Whisper (w) and barge (B) change only the audio, which the fake has none of."""
        prefix, _, options = data.partition(",")
        spyee = next((c for c in self.state.channels.values() if prefix and c is not spyer
                      and c.name.lower().startswith(prefix.lower()) and not c.name.startswith("Snoop/")), None)
        if spyee is None:
            return  # ChanSpy waits for a channel to spy on, in silence
        self.spies[spyer.uniqueid] = (spyee.uniqueid, options)
        self.emit(ev.event("ChanSpyStart", "call,all", ev.chan(spyer, "Spyer"), ev.chan(spyee, "Spyee")))

    def destroy_channel(self, ch: Channel, cause: int = 16, *, refresh: bool = True) -> None:
        spies = self.spies
        if ch.uniqueid in spies:  # the listener hangs up
            spyee = self.state.channels.get(spies.pop(ch.uniqueid)[0])
            if spyee is not None:
                self.emit(ev.event("ChanSpyStop", "call,all", ev.chan(ch, "Spyer"), ev.chan(spyee, "Spyee")))
        for spyer_id, (spyee_id, options) in list(spies.items()):
            spyer = self.state.channels.get(spyer_id)
            if spyee_id == ch.uniqueid and spyer is not None:  # the spied-on channel hangs up
                del spies[spyer_id]
                self.emit(ev.event("ChanSpyStop", "call,all", ev.chan(spyer, "Spyer"), ev.chan(ch, "Spyee")))
                if "E" in options:
                    self.later(0, self.dialplan_hangup, spyer)
        super().destroy_channel(ch, cause, refresh=refresh)

    def _originate_failed(self, leg: Channel, *, busy: bool, hung_up: bool = False) -> None:
        req: OriginateRequest = leg.originate
        if req is None or req.done:
            return
        leg.originate = None
        if req.timer:
            req.timer.cancel()
        if busy:
            self.request_hangup(leg, 17)
            self.emit(ev.dial_event("DialEnd", None, leg, DialStatus="BUSY"))
            self._ari_dial(leg, "BUSY", req.dest.partition("/")[2])
            self._originate_result(req, False, 0)
            self.emit(ev.cdr(leg, None, last_app="AppDial2", last_data="(Outgoing Line)", disposition="BUSY"))
            self.destroy_channel(leg, 17)
        else:  # no answer within Timeout (Reason 3), or hung up by AMI/ARI while ringing (Reason 1)
            self._originate_result(req, False, 1 if hung_up else 3)
            self.emit(ev.cdr(leg, None, last_app="AppDial2", last_data="(Outgoing Line)", disposition="NO ANSWER"))
            self.destroy_channel(leg, 16 if hung_up else 19)

    def _originate_timeout(self, leg: Channel) -> None:
        if leg.uniqueid in self.state.channels and leg.originate:
            self._originate_failed(leg, busy=False)

    def _originate_result(self, req: OriginateRequest, ok: bool, reason: int) -> None:
        req.done = True
        if req.future is not None:  # sync Originate: only its Response reports (no OriginateResponse event)
            if not req.future.done():
                req.future.set_result(ok)
            return
        if req.ari_app:
            return
        self.emit(ev.originate_response(req.action_id, ok, req.dest, channel=req.channel if ok else None,
                                        context=req.context, exten=req.exten, application=req.application,
                                        data=req.data, reason=reason))

    # ------------------------------------------------------------------ Local channels
    def _originate_local(self, req: OriginateRequest, resource: str) -> OriginateRequest:
        st = self.state
        dest = resource.split("/", 1)[0]
        exten, _, context = dest.partition("@")
        context = context or "default"
        name1, name2 = st.new_local_names(dest)
        num, name = parse_callerid(req.caller_id) if req.caller_id else ("", "")
        one = self.new_channel(name1, caller_num=num, caller_name=name, context=context, exten=exten)
        two = self.new_channel(name2, caller_num=num, caller_name=name, context=context, exten=exten,
                               linkedid=one.uniqueid)
        one.local_peer, two.local_peer = two.uniqueid, one.uniqueid
        req.channel = one
        one.variables.update(req.variables)
        self.emit(ev.event("LocalBridge", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           Context=context, Exten=exten, LocalOptimization="Yes"))
        self.emit(ev.dial_event("DialBegin", None, one, DialString=dest))
        self.refresh()

        def answered(_call=None):
            if one.uniqueid not in st.channels or req.done:
                return
            self.set_state(one, 6)
            self.emit(ev.dial_event("DialEnd", None, one, DialStatus="ANSWER"))
            self._originate_result(req, True, 4)
            self._originate_run(req, one)

        def failed(_call=None, _status=None):
            if not req.done:
                self._originate_result(req, False, 0)

        route = st.route(context, exten)
        call = self.run_dialplan(two)
        if route is not None and route.kind == "dial" and call.ringing:
            call.on_answer.append(answered)
            call.on_fail.append(failed)
        elif two.uniqueid in st.channels:
            answered()
        else:
            failed()
        return req


def _isnum(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True
