"""Simulated calls: phones dialling, ringing, answering, rejecting, hanging up, and queue calls.

The event sequences follow the captures (filtered of VarSet/Newexten/RTCP noise):

* ``b_call_1001_to_1002_answered_caller_hangup``: dial, answer, caller hangup;
* ``c1_call_no_answer_timeout`` / ``c2_call_rejected_busy``: Dial NOANSWER / BUSY (cause 17);
* ``d_queue_call_answered_by_agent``: QueueCallerJoin, AgentCalled, AgentConnect, AgentComplete;
* ``e_queue_caller_abandon``: DialEnd CANCEL twice, QueueCallerAbandon, then QueueCallerLeave.

This is the hook for a demo's simulated traffic: ``place_call()``, ``answer()``, ``reject()``, ``hangup()``
(and ``originate()`` / transfers in the sibling mixins).  Everything is synchronous (events are emitted before
the method returns); phone behaviour that takes time (auto-answer, ring timeouts, a playback ending) is
scheduled with ``World.later`` and scaled by ``time_scale``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from . import events as ev
from .recording import answer as record_answer
from .recording import dial_option
from .state import Channel, Queue, QueueCaller, QueueMember, Route


@dataclass
class Call:
    caller: Channel
    kind: str = ""  # dial | queue | stasis | app
    ringing: list[Channel] = field(default_factory=list)
    callee: Channel | None = None
    queue: Queue | None = None
    members: dict[str, QueueMember] = field(default_factory=dict)  # agent leg uniqueid -> member
    joined: float = 0.0
    position: int = 0
    ring_started: float = 0.0
    connected_at: float = 0.0
    completed_in_sl: bool = False  # app_queue's callcompletedinsl, decided at the connect
    dialstring: str = ""
    dial_options: str = ""  # the Dial()'s options (U(pbx-rec-answer^...): record on the answering leg)
    timers: list = field(default_factory=list)
    on_answer: list = field(default_factory=list)  # callbacks(call) when the callee answers (Local originate)
    on_fail: list = field(default_factory=list)  # callbacks(call, dialstatus) when the dial fails
    on_leg: list = field(default_factory=list)  # callbacks(leg) as each Dial() leg's Newchannel is out
    on_up: list = field(default_factory=list)  # callbacks(call) once the caller is up, before the bridge
    route: Route | None = None  # where the caller's dialplan is (its next/otherwise say where it goes on)

    @property
    def channels(self) -> list[Channel]:
        return [c for c in [self.caller, self.callee, *self.ringing] if c is not None]


class CallMixin:
    """Mixed into FakeAsterisk (a World)."""

    auto_answer_delay = 0.0  # baresip auto-answers within milliseconds
    reject_delay = 0.5

    def _calls_init(self):
        self.calls: dict[str, Call] = {}  # by caller uniqueid
        self.member_locals: set[str] = set()  # ;1 halves of Local queue members (uniqueids)
        self.member_bridges: dict[str, tuple[Channel, Channel]] = {}  # ;1 → (phone, ;2) to bridge on connect

    def destroy_channel(self, ch: Channel, cause: int = 16, *, refresh: bool = True) -> None:
        super().destroy_channel(ch, cause, refresh=refresh)
        if ch.uniqueid in self.member_locals:
            # A Local member's ;1 went (ring timeout, another agent answered, the caller left): chan_local
            # hangs up its ;2 half, and with it the Dial() of the person's phones.
            self.member_locals.discard(ch.uniqueid)
            self.later(0, self._hangup_local_peer, ch, 0)
        for q in self.state.queues.values():
            q.callers = [c for c in q.callers if c.uniqueid != ch.uniqueid]
        self.calls.pop(ch.uniqueid, None)
        for call in self.calls.values():
            if ch in call.ringing:
                call.ringing.remove(ch)
            if call.callee is ch:
                call.callee = None

    def atxfer_for(self, ch: Channel):  # overridden by TransferMixin
        return None

    # ------------------------------------------------------------------ lookups
    def call_of(self, ch: Channel) -> Call | None:
        for call in self.calls.values():
            if ch is call.caller or ch is call.callee or any(ch is c for c in call.ringing):
                return call
        return None

    def _resolve(self, channel: Channel | str) -> Channel:
        if isinstance(channel, Channel):
            return channel
        ch = self.state.channel(channel)
        if ch is None:
            raise KeyError(f"no such channel {channel!r}")
        return ch

    # ------------------------------------------------------------------ phones
    def place_call(self, endpoint: str, exten: str, *, context: str | None = None, caller_num: str | None = None,
                   caller_name: str | None = None) -> Call:
        """A phone (endpoint) dials ``exten``: new inbound channel, then the fake dialplan runs."""
        ep = self.state.endpoints[endpoint]
        ch = self.new_channel(self.state.new_pjsip_name(ep.name), caller_num=caller_num or ep.name,
                              caller_name=caller_name if caller_name is not None else ep.caller_name,
                              context=context or ep.context, exten=exten, state=4, endpoint=ep.device)
        ch.dnid = exten
        return self.run_dialplan(ch)

    def queue_call(self, endpoint: str, queue: str, *, caller_num: str | None = None,
                   caller_name: str | None = None, context: str | None = None) -> Call:
        """A caller (from ``endpoint``, e.g. an unregistered trunk) is answered and put into ``queue``."""
        ep = self.state.endpoints[endpoint]
        ch = self.new_channel(self.state.new_pjsip_name(ep.name), caller_num=caller_num or ep.name,
                              caller_name=caller_name if caller_name is not None else ep.caller_name,
                              context=context or ep.context, exten=queue, state=4, endpoint=ep.device)
        call = Call(caller=ch)
        self.calls[ch.uniqueid] = call
        self.answer_channel(ch)
        self.queue_join(call, self.state.queues[queue])
        return call

    def run_dialplan(self, ch: Channel, prepare=None) -> Call:
        call = Call(caller=ch)
        if prepare is not None:
            prepare(call)  # hooks that must be in place before the route runs (it may dial at once)
        self.calls[ch.uniqueid] = call
        route = self.state.route(ch.context, ch.exten)
        if route is None:
            self.dialplan_hangup(ch, cause=1)
            return call
        self.exec_route(call, route)
        return call

    def exec_route(self, call: Call, route: Route) -> None:
        ch = call.caller
        call.route = route
        if route.kind == "dial":
            self.dial(call, route.data, route.timeout, route.options)
        elif route.kind == "queue":
            self.answer_channel(ch)
            q = self.state.queues[route.data]
            if route.otherwise is not None and not q.members:
                self.goto(call, route.otherwise)  # GotoIf($[${QUEUE_MEMBER(q,logged)} = 0]?noagents,1)
                return
            if q.max and len(q.callers) >= q.max and route.next is not None:
                # app_queue's join_queue refuses a full queue (maxlen): no QueueCallerJoin, Queue() returns
                ch.variables["QUEUESTATUS"] = "FULL"
                self.goto(call, route.next)
                return
            self.queue_join(call, q)
            if route.max_wait and route.next is not None:
                call.timers.append(self.later(route.max_wait, self._queue_timeout, call))
        elif route.kind == "userevent":
            self.set_dialplan(ch, ch.context, ch.exten, 1, "UserEvent", route.data)
            # A field's value may be a dialplan expression, given as a function of the channel (its variables)
            fields = tuple((k, v(ch) if callable(v) else v) for k, v in route.fields)
            self.emit(ev.user_event(ch, route.data, fields))
            if route.next is not None:
                self.goto(call, route.next)
            else:
                self.dialplan_hangup(ch)
        elif route.kind == "voicemail":
            call.kind = "app"
            self.answer_channel(ch)
            self.set_dialplan(ch, ch.context, ch.exten, 3, "VoiceMail", route.data)
            call.timers.append(self.later(route.duration, self.dialplan_hangup, ch))
        elif route.kind == "stasis":
            self.answer_channel(ch)
            app, _, args = route.data.partition(",")
            self.stasis_enter(call, app, [a for a in args.split(",") if a] if args else [])
        elif route.kind in ("answer", "moh", "playback"):
            call.kind = "app"
            self.answer_channel(ch)
            if route.kind == "moh":
                self.set_dialplan(ch, ch.context, ch.exten, 2, "MusicOnHold", f"{route.data or 'default'},60")
                ch.moh = True
                self.emit(ev.call_event("MusicOnHoldStart", ch, Class=route.data or "default"))
            elif route.kind == "playback":
                self.set_dialplan(ch, ch.context, ch.exten, 2, "Playback", route.data)
                call.timers.append(self.later(route.duration, self.dialplan_hangup, ch))
            else:
                self.set_dialplan(ch, ch.context, ch.exten, 2, "Wait", "60")
        else:
            self.dialplan_hangup(ch)

    def goto(self, call: Call, target: tuple[str, str]) -> None:
        """The caller's dialplan goes on at another extension (Goto, or falling out of Dial()/Queue())."""
        ch = call.caller
        if ch.uniqueid not in self.state.channels:
            return
        context, exten = target
        self.set_dialplan(ch, context, exten, 1)
        call.kind, call.ringing, call.callee, call.queue = "", [], None, None
        route = self.state.route(context, exten)
        if route is None:
            self.dialplan_hangup(ch)
            return
        self.exec_route(call, route)

    def _queue_timeout(self, call: Call) -> None:
        """Queue()'s timeout argument ran out (QUEUESTATUS=TIMEOUT), as a real Asterisk 22 says it (capture
        queue_timeout_and_full): each ringing member gets AgentRingNoAnswer (RingTime in ms) and DialEnd
        NOANSWER then CANCEL, the caller *QueueCallerAbandon* (though it stays), music stops,
        QueueCallerLeave; then the dialplan goes on."""
        caller = call.caller
        if call.kind != "queue" or call.callee is not None or caller.uniqueid not in self.state.channels:
            return
        q = call.queue
        self._cancel_timers(call)
        ring_ms = int((time.time() - call.ring_started) * 1000)
        for leg in list(call.ringing):
            m = call.members.get(leg.uniqueid)
            self.emit(ev.agent_event("AgentRingNoAnswer", caller, leg, q, m, RingTime=str(ring_ms)))
            self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="NOANSWER"))
            self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="CANCEL"))
            self.destroy_channel(leg, 0)
        call.ringing = []
        self._exit_queue(call, "EXITWITHTIMEOUT")
        caller.variables["QUEUESTATUS"] = "TIMEOUT"
        self.goto(call, call.route.next)

    def answer_channel(self, ch: Channel) -> None:
        if ch.state != 6:
            self.set_dialplan(ch, ch.context, ch.exten, ch.priority, "Answer", "")
            self.set_state(ch, 6)
            self.refresh()

    def dialplan_hangup(self, ch: Channel, cause: int = 16) -> None:
        """The dialplan ends (Hangup() or falls off): Cdr then Hangup, as for b's caller."""
        if ch.uniqueid not in self.state.channels:
            return
        call = self.call_of(ch)
        if ch.moh:
            ch.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", ch))
        if ch.ari_app and not ch.stasis_app:
            self.set_dialplan(ch, ch.context, ch.exten, ch.priority + 1, "Hangup", "")
        self.emit(ev.cdr(ch, None, last_app=ch.application or "Hangup", last_data=ch.appdata,
                         disposition="ANSWERED" if ch.answered else "NO ANSWER"))
        self.destroy_channel(ch, cause)
        self._hangup_local_peer(ch, cause)
        if call and call.caller is ch:
            self._forget(call)

    # ------------------------------------------------------------------ Dial()
    def dial(self, call: Call, targets: str, timeout: int = 30, options: str = "") -> None:
        st, caller = self.state, call.caller
        self.set_dialplan(caller, caller.context, caller.exten, 2, "Dial",
                          f"{targets},{timeout}" + (f",{options}" if options else ""))
        call.kind, call.dialstring, call.dial_options = "dial", targets, options
        legs = []
        for device in targets.split("&"):
            _, _, name = device.partition("/")
            number, at, trunk = name.partition("@")  # PJSIP/<number>@<trunk endpoint>: a call out
            if at:
                name = trunk
            ep = st.endpoints.get(name)
            if ep is None or not ep.registered:
                continue
            leg = self.new_channel(st.new_pjsip_name(name), caller_num=number if at else ep.name,
                                   caller_name="" if at else ep.caller_name, context=ep.context, exten="s",
                                   linkedid=caller.linkedid, endpoint=ep.device)
            for cb in call.on_leg:
                cb(leg)
            self.set_dialplan(leg, ep.context, caller.exten, 1, "AppDial", "(Outgoing Line)")
            if "t" in options.lower():
                caller.features.add("atxfer")
                leg.features.add("atxfer")
            self.set_connected(leg, caller.caller_num, caller.caller_name)
            self.emit(ev.dial_event("DialBegin", caller, leg, DialString=f"{number}@{name}" if at else name))
            legs.append(leg)
        if not legs:
            self.dialplan_hangup(caller)
            return
        for leg in legs:
            self.set_state(leg, 5)
        self._local_one_rings(caller, legs[0])
        self.refresh()
        self.set_connected(caller, legs[0].caller_num, legs[0].caller_name)
        for leg in legs:
            self.emit(ev.dial_event("DialState", caller, leg, DialStatus="RINGING"))
        call.ringing = legs
        call.ring_started = time.time()
        for leg in legs:
            self._phone_reacts(leg)
        call.timers.append(self.later(timeout, self._dial_timeout, call))

    def _local_one_rings(self, two: Channel, leg: Channel) -> None:
        """A Local ;2 whose Dial() rings a phone: its ;1 half is Ringing and takes the phone's caller id
        (chan_local passes the connected line on; queue_agent_atxfer, g3: Newstate Ringing, NewCallerid)."""
        one = self.state.channels.get(two.local_peer) if two.local_peer else None
        if one is None or one.state >= 5:
            return
        self.set_state(one, 5)
        self.set_callerid(one, leg.caller_num, leg.caller_name)

    def set_callerid(self, ch: Channel, num: str, name: str) -> None:
        ch.caller_num, ch.caller_name = num, name
        self.emit(ev.call_event("NewCallerid", ch, CID_CallingPres="0 (Presentation Allowed, Not Screened)"))

    def _phone_reacts(self, leg: Channel) -> None:
        ep = self.state.endpoints.get(leg.endpoint.split("/", 1)[1]) if leg.endpoint else None
        if ep is None:
            return
        if ep.answer == "auto":
            self.later(self.auto_answer_delay, self._auto_answer, leg)
        elif ep.answer == "busy":
            self.later(self.reject_delay, self._auto_reject, leg)

    def _auto_answer(self, leg: Channel) -> None:
        if leg.uniqueid in self.state.channels and leg.state == 5:
            self.answer(leg)

    def _auto_reject(self, leg: Channel) -> None:
        if leg.uniqueid in self.state.channels and leg.state == 5:
            self.reject(leg)

    def answer(self, channel: Channel | str) -> None:
        """The phone of a ringing leg answers."""
        leg = self._resolve(channel)
        call = self.call_of(leg)
        if call is None or leg not in call.ringing:
            if leg.originate:
                self._originate_answered(leg)
            return
        if call.kind == "queue":
            self._queue_connect(call, leg)
            return
        caller = call.caller
        self._cancel_timers(call)
        self.set_state(leg, 6)
        self._record_on_answer(call, leg)
        self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="ANSWER"))
        for other in list(call.ringing):
            if other is not leg:
                self.emit(ev.dial_event("DialEnd", caller, other, DialStatus="CANCEL"))
                self.destroy_channel(other, 26)
        call.ringing = []
        call.callee = leg
        if caller.state != 6:
            self.set_state(caller, 6)
        for cb in call.on_up:
            cb(call)
        self.refresh()
        self.set_dialplan(leg, leg.context, "", 1, "AppDial", "(Outgoing Line)")
        member_one = caller.local_peer if caller.local_peer in self.member_locals else None
        if member_one:
            # a queue member's ;2: its phone and it enter their bridge once ;1 has answered the queue, after
            # the caller's music stops (queue_agent_atxfer*, see _queue_connect)
            self.member_bridges[member_one] = (leg, caller)
        else:
            self.two_party_bridge(leg, caller)
        call.connected_at = time.time()
        for cb in call.on_answer:
            cb(call)
        if member_one and member_one in self.member_bridges:
            self.two_party_bridge(*self.member_bridges.pop(member_one))

    def inherited(self, ch: Channel) -> dict[str, str]:
        """The variables a channel's dialplan sees: its own over the call's first channel's PBX_* ones (the
        generated dialplan sets those with "__", so every channel of the call inherits them)."""
        master = self.state.channels.get(ch.linkedid)
        base = {k: v for k, v in master.variables.items() if k.startswith("PBX_")} if master is not None else {}
        return {**base, **ch.variables}

    def _record_on_answer(self, call: Call, leg: Channel) -> None:
        """Dial's U(pbx-rec-answer^...) on the leg that answered, before DialEnd and the bridge (app_dial runs
        U() first; tests/fixtures/asterisk-real/ami/recording_blind_transfer_dtmf)."""
        wanted = dial_option(call.dial_options)
        if wanted is None:
            return
        variables = self.inherited(call.caller)
        tenant = variables.get("PBX_RECT", "")
        if tenant.isdigit():
            record_answer(self, leg, int(tenant), wanted.person, wanted.side, variables, colleague=wanted.colleague,
                          colleague_other=wanted.colleague_other, how=wanted.how)

    def reject(self, channel: Channel | str, cause: int = 17) -> None:
        """The phone of a ringing leg rejects (486 Busy Here -> cause 17), as in c2."""
        leg = self._resolve(channel)
        call = self.call_of(leg)
        if call is None or leg not in call.ringing:
            if leg.originate:
                self._originate_failed(leg, busy=True)
            return
        self.request_hangup(leg, cause)
        if call.kind == "queue":
            self._agent_leg_gone(call, leg, "BUSY", cause)
            return
        self.emit(ev.dial_event("DialEnd", call.caller, leg, DialStatus="BUSY"))
        call.ringing.remove(leg)
        self.destroy_channel(leg, cause)
        if not call.ringing:
            self._dial_failed(call, "BUSY", cause)

    def _dial_timeout(self, call: Call) -> None:
        if not call.ringing or call.kind != "dial":
            return
        for leg in list(call.ringing):
            self.emit(ev.dial_event("DialEnd", call.caller, leg, DialStatus="NOANSWER"))
            self.destroy_channel(leg, 0)
        call.ringing = []
        self._dial_failed(call, "NOANSWER", 16)

    def _dial_failed(self, call: Call, dialstatus: str, cause: int) -> None:
        caller = call.caller
        for cb in call.on_fail:
            cb(call, dialstatus)
        if call.route is not None and call.route.next is not None and call.route.kind == "dial":
            self.goto(call, call.route.next)  # pbx-person: DIALSTATUS picks the busy / no answer step
            return
        self.soft_hangup_request(caller, 16)
        self.emit(ev.cdr(caller, None, last_app="Dial", last_data=caller.appdata,
                         disposition="BUSY" if dialstatus == "BUSY" else "NO ANSWER"))
        self.destroy_channel(caller, cause)
        self._hangup_local_peer(caller, cause)
        self._forget(call)

    # ------------------------------------------------------------------ hangup by a phone / AMI
    def hangup(self, channel: Channel | str, cause: int = 16, *, by_manager: bool = False) -> None:
        """A party hangs up (BYE), or AMI Hangup / ARI DELETE when ``by_manager``."""
        ch = self._resolve(channel)
        call = self.call_of(ch)
        if self.atxfer_for(ch):
            self.complete_atxfer(ch, by_manager=by_manager)
            return
        if call and ch in call.ringing:
            self.reject(ch, 17)
            return
        if ch.originate:
            self._originate_failed(ch, busy=not by_manager, hung_up=by_manager)
            return
        if call and ch is call.caller and call.kind == "queue" and call.callee is None:
            self._queue_abandon(call)
            return
        if call and ch is call.caller and call.ringing:
            self._caller_cancels(call)
            return
        peer = self.state.channels.get(ch.peer) if ch.peer else None
        if peer is not None:
            if call is None or (ch is not call.caller and ch is not call.callee):
                call = Call(caller=ch, callee=peer, kind="dial")
            self._hangup_connected(call, ch, peer, cause, by_manager)
            return
        if self.subscribed_app(ch):
            self.ari_channel_event(ch, "ChannelHangupRequest", ("cause", 32 if by_manager else cause),
                                   ("soft", True))
        for hook in self.hangup_request_hooks:
            hook(ch)
        if by_manager:
            self.soft_hangup_request(ch, cause)
        else:
            self.request_hangup(ch, cause)
        self.dialplan_hangup(ch, cause)

    def _hangup_connected(self, call: Call, ch: Channel, peer: Channel, cause: int, by_manager: bool) -> None:
        """Hang up one side of a bridged two-party call; the orders follow b (dial), d (queue), g1 (AMI)."""
        caller_side = ch is call.caller
        queue = call.kind == "queue" and call.callee is not None
        bridge = self.state.bridges.get(ch.bridge) if ch.bridge else None
        caller, callee = call.caller, call.callee

        def cdr():
            self.emit(ev.cdr(caller, callee, last_app=caller.application, last_data=caller.appdata,
                             disposition="ANSWERED"))

        def leave_and_destroy():
            if bridge is not None and bridge.id in self.state.bridges:
                if ch.bridge == bridge.id:
                    self.bridge_leave(bridge, ch)
                self.destroy_bridge(bridge)

        if by_manager:
            if bridge is not None:
                self.bridge_leave(bridge, ch)
            self.soft_hangup_request(ch, cause)
            if queue:
                self._agent_complete(call, "caller" if caller_side else "agent")
            leave_and_destroy()
            self.destroy_channel(ch, cause)
            cdr()
            self.destroy_channel(peer, cause)
        elif caller_side and queue:
            self.request_hangup(ch)
            self._agent_complete(call, "caller")
            if bridge is not None:
                self.bridge_leave(bridge, ch)
            cdr()
            self.soft_hangup_request(ch, cause)
            leave_and_destroy()
            self.destroy_channel(peer, cause)
            self.destroy_channel(ch, cause)
        elif caller_side:
            self.request_hangup(ch, cause)
            leave_and_destroy()
            self.soft_hangup_request(ch, cause)
            self.destroy_channel(peer, cause)
            cdr()
            self.destroy_channel(ch, cause)
        else:
            self.request_hangup(ch, cause)
            if queue:
                self._agent_complete(call, "agent")
            leave_and_destroy()
            self.destroy_channel(ch, cause)
            cdr()
            self.destroy_channel(peer, cause)
        self._hangup_local_peer(ch, cause)
        self._hangup_local_peer(peer, cause)
        self._forget(call)

    def _caller_cancels(self, call: Call) -> None:
        caller = call.caller
        self._cancel_timers(call)
        self.request_hangup(caller)
        for leg in call.ringing:
            self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="CANCEL"))
        self.soft_hangup_request(caller, 16)
        for leg in list(call.ringing):
            self.destroy_channel(leg, 0)
        call.ringing = []
        self.emit(ev.cdr(caller, None, last_app="Dial", last_data=caller.appdata, disposition="NO ANSWER"))
        self.destroy_channel(caller, 0)
        self._hangup_local_peer(caller, 0)
        self._forget(call)

    def _hangup_local_peer(self, ch: Channel, cause: int) -> None:
        other = self.state.channels.get(ch.local_peer) if ch.local_peer else None
        if other is None:
            return
        other.local_peer = None
        peer = self.state.channels.get(other.peer) if other.peer else None
        if ch.name.endswith(";1") and peer is not None and other.bridge and peer.bridge == other.bridge:
            self._local_two_ends(other, peer)
        else:
            self.hangup(other, cause, by_manager=True)

    def _local_two_ends(self, two: Channel, peer: Channel) -> None:
        """A Local ;1 hung up while its ;2 talks with the phone it dialled: chan_local hangs ;2 up, ;2 leaves
        first and its Dial() then hangs the phone up (queue_agent_atxfer*, the queue member's pair at the end)."""
        call = self.call_of(two)
        bridge = self.state.bridges.get(two.bridge) if two.bridge else None
        self.request_hangup(two, 16)
        if bridge is not None:
            self.bridge_leave(bridge, two)
        self.soft_hangup_request(two, 16)
        self.destroy_channel(two, 16)
        if bridge is not None and bridge.id in self.state.bridges:
            self.destroy_bridge(bridge)
        self.emit(ev.cdr(two, peer, last_app="Dial", last_data=two.appdata, disposition="ANSWERED"))
        self.destroy_channel(peer, 16)
        if call is not None:
            self._forget(call)

    def _cancel_timers(self, call: Call) -> None:
        for t in call.timers:
            t.cancel()
        call.timers.clear()

    def _forget(self, call: Call) -> None:
        self._cancel_timers(call)
        self.calls.pop(call.caller.uniqueid, None)

    # ------------------------------------------------------------------ Stasis()
    def stasis_enter(self, call: Call, app: str, args: list[str]) -> None:
        ch = call.caller
        call.kind = "stasis"
        self.set_dialplan(ch, ch.context, ch.exten, ch.priority + 2, "Stasis", ",".join([app, *args]))
        if app not in getattr(self, "ari_active_apps", set()):
            # no websocket for the app: Stasis() fails at once and the dialplan continues (Hangup)
            self.dialplan_hangup(ch)
            return
        ch.stasis_app = app
        self.ari_event(app, "StasisStart", ("args", args), ("channel", self.ari_channel(ch)))

    # ------------------------------------------------------------------ Queue()
    def queue_join(self, call: Call, q: Queue) -> None:
        caller = call.caller
        self.set_dialplan(caller, caller.context, caller.exten, 2, "Queue", f"{q.name},,,,60")
        call.kind, call.queue, call.joined = "queue", q, time.time()
        if not q.callers:
            self.set_queue_device(q, "RINGING")
        q.callers.append(QueueCaller(caller.uniqueid))
        call.position = len(q.callers)
        self.emit(ev.queue_caller_event("QueueCallerJoin", caller, q, Position=str(call.position),
                                        Count=str(len(q.callers))))
        caller.moh = True
        self.emit(ev.call_event("MusicOnHoldStart", caller, Class="default"))
        self.state.log_queue(caller.uniqueid, q.name, "NONE", "ENTERQUEUE", "", caller.caller_num,
                             str(call.position))
        self._queue_ring(call)

    def _queue_ring(self, call: Call) -> None:
        q, caller, st = call.queue, call.caller, self.state
        if caller.uniqueid not in st.channels or call.callee is not None:
            return
        legs = []
        for m in q.members.values():
            if m.paused or st.device_state(m.state_interface) not in ("NOT_INUSE", "UNKNOWN"):
                continue
            if m.interface.lower().startswith("local/"):
                leg = self._ring_local_member(call, m)
                if leg is not None:
                    call.members[leg.uniqueid] = m
                    legs.append(leg)
                continue
            name = m.interface.split("/", 1)[1]
            ep = st.endpoints.get(name)
            if ep is None or not ep.registered:
                continue
            leg = self.new_channel(st.new_pjsip_name(name), caller_num=ep.name, caller_name=ep.caller_name,
                                   context=ep.context, exten="s", linkedid=caller.linkedid, endpoint=ep.device)
            self.set_dialplan(leg, ep.context, caller.exten, 1, "AppQueue", "(Outgoing Line)")
            leg.connected_num, leg.connected_name = caller.caller_num, caller.caller_name
            self.set_state(leg, 5)
            self.set_connected(leg, caller.caller_num, caller.caller_name)
            self.emit(ev.agent_event("AgentCalled", caller, leg, q, m))
            self.emit(ev.dial_event("DialBegin", caller, leg, DialString=m.interface))
            self.emit(ev.dial_event("DialState", caller, leg, DialStatus="RINGING"))
            self.refresh()
            call.members[leg.uniqueid] = m
            legs.append(leg)
        call.ringing = legs
        call.ring_started = time.time()
        if not legs:
            call.timers.append(self.later(5, self._queue_retry, call))  # queues.conf retry = 5
            return
        for leg in legs:
            self._phone_reacts(leg)
            call.timers.append(self.later(q.timeout, self._agent_timeout, call, leg))

    def _queue_retry(self, call: Call) -> None:
        """After a round of ringing: leavewhenempty (queues.conf: unavailable,invalid) takes the caller out when
        no member is left who could answer — app_queue's LEAVEEMPTY (record_abandoned, so Abandoned counts it;
        QueueCallerAbandon, QueueCallerLeave; queue_log EXITEMPTY); then the dialplan goes on (the generated one:
        to the no-agents destination, ``otherwise``). Else ring again."""
        q, caller = call.queue, call.caller
        if call.kind != "queue" or call.callee is not None or caller.uniqueid not in self.state.channels:
            return
        if q.members and all(self.state.device_state(m.state_interface) in ("UNAVAILABLE", "INVALID")
                             for m in q.members.values()) and call.route is not None:
            self._cancel_timers(call)
            self._exit_queue(call, "EXITEMPTY")
            caller.variables["QUEUESTATUS"] = "LEAVEEMPTY"
            self.goto(call, call.route.otherwise or call.route.next)
            return
        self._queue_ring(call)

    def _ring_local_member(self, call: Call, m: QueueMember) -> Channel | None:
        """app_queue calls a Local member: a ;1/;2 pair (both with the caller's Linkedid), ;1 is the queue's
        leg (AgentCalled/DialBegin name it), ;2 runs the member's extension (a Dial of the person's phones).
        When a phone answers, ;2 is up and ;1 answers the queue (AgentConnect); /n: no optimisation."""
        st, caller = self.state, call.caller
        dest = m.interface.split("/", 1)[1].split("/", 1)[0]
        exten, _, context = dest.partition("@")
        route = st.route(context, exten)
        if route is None or route.kind != "dial":
            return None
        name1, name2 = st.new_local_names(dest)
        # Both halves start without caller id; app_queue gives ;1 the number the caller dialled and ;2 the
        # caller's (queue_agent_atxfer: Newchannel <unknown> twice, then NewCallerid ;1, NewCallerid ;2).
        one = self.new_channel(name1, context=context, exten=exten, linkedid=caller.linkedid)
        two = self.new_channel(name2, context=context, exten=exten, linkedid=caller.linkedid)
        one.local_peer, two.local_peer = two.uniqueid, one.uniqueid
        self.member_locals.add(one.uniqueid)
        self.set_callerid(one, caller.dnid or caller.exten, "")
        two.connected_num = one.caller_num
        self.set_callerid(two, caller.caller_num, caller.caller_name)
        self.emit(ev.event("LocalBridge", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           Context=context, Exten=exten, LocalOptimization="No"))
        self.set_dialplan(one, context, exten, 1, "AppQueue", "(Outgoing Line)")
        self.set_connected(one, caller.caller_num, caller.caller_name)
        self.emit(ev.agent_event("AgentCalled", caller, one, call.queue, m))
        self.emit(ev.dial_event("DialBegin", caller, one, DialString=dest))
        member_call = self.run_dialplan(two)

        def answered(_call):
            if one.uniqueid in st.channels and one in call.ringing:
                self.answer(one)

        def failed(_call, status):
            if one.uniqueid in st.channels and one in call.ringing:
                self._agent_leg_gone(call, one, status, 0)

        if one.uniqueid not in st.channels or two.uniqueid not in st.channels:
            return None
        member_call.on_answer.append(answered)
        member_call.on_fail.append(failed)
        self.set_state(one, 5)
        self.emit(ev.dial_event("DialState", caller, one, DialStatus="RINGING"))
        return one

    def _queue_connect(self, call: Call, leg: Channel) -> None:
        q, caller, m = call.queue, call.caller, call.members[leg.uniqueid]
        self._cancel_timers(call)
        now = time.time()
        self.set_state(leg, 6)
        self.refresh()
        self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="ANSWER"))
        for other in list(call.ringing):
            if other is not leg:
                self.emit(ev.dial_event("DialEnd", caller, other, DialStatus="CANCEL"))
                self.destroy_channel(other, 26)
        call.ringing, call.callee, call.connected_at = [], leg, now
        self.set_connected(caller, leg.caller_num, leg.caller_name)
        caller.moh = False
        self.emit(ev.call_event("MusicOnHoldStop", caller))
        if leg.uniqueid in self.member_bridges:
            self.two_party_bridge(*self.member_bridges.pop(leg.uniqueid))
        self._leave_queue(call)
        # app_queue subtracts whole seconds (time_t): 2.9 s from x.6 to (x+3).5 is 3
        hold, ring = int(now) - int(call.joined), int(now) - int(call.ring_started)
        # try_calling: callcompletedinsl = ((now - qe->start) <= qe->parent->servicelevel), in time_t seconds
        call.completed_in_sl = hold <= q.servicelevel

        # Queue()'s gosub (pbx-rec-queue) on the member's Local;1, before the caller is bridged: the agent whose
        # phone is being recorded (t<T>-agents' Dial U(), see _record_on_answer) hears the announcement.
        master = self.state.channels.get(caller.linkedid)
        if master is not None:
            master.variables.pop(f"PBX_RECU{m.name}", None)
        self.emit(ev.agent_event("AgentConnect", caller, leg, q, m, HoldTime=str(hold), RingTime=str(ring)))
        self.state.log_queue(caller.uniqueid, q.name, m.name, "CONNECT", str(hold), leg.uniqueid, str(ring))
        # recalc_holdtime: the first wait is taken as it is (no call completed or abandoned yet), then an
        # exponential average, ((old << 2) - old + new) >> 2
        q.holdtime = hold if q.completed + q.abandoned == 0 else (3 * q.holdtime + hold) >> 2
        self.two_party_bridge(leg, caller)

    def withdraw_from_queue(self, call: Call) -> None:
        """The caller leaves the queue without abandoning (Redirect/transfer out of Queue())."""
        if call.kind != "queue" or call.callee is not None or call.queue is None:
            return
        self._cancel_timers(call)
        for leg in list(call.ringing):
            self.emit(ev.dial_event("DialEnd", call.caller, leg, DialStatus="CANCEL"))
            self.destroy_channel(leg, 0)
        call.ringing = []
        if call.caller.moh:
            call.caller.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", call.caller))
        self._leave_queue(call)

    def queue_exit_key(self, call: Call, digit: str) -> None:
        """The waiting caller presses a key that the queue's ``context`` (queues.conf) has an extension for
        (our callback key): app_queue's valid_exit — the ringing members' dials are cancelled, music stops,
        QueueCallerLeave, queue_log EXITWITHKEY, and *no* record_abandoned (neither Completed nor Abandoned
        counts it); QUEUEPOSITION says where the caller was, and the dialplan goes on at <context>,<key>,1."""
        q, caller, route = call.queue, call.caller, call.route
        if call.kind != "queue" or call.callee is not None or route is None or route.exit_context is None:
            return
        if self.state.route(route.exit_context, digit) is None:
            return  # no such extension: app_queue ignores the key
        self._cancel_timers(call)
        self.emit(ev.event("DTMFEnd", "dtmf,all", ev.chan(caller), Digit=digit, DurationMs="120", Direction="Received"))
        for leg in list(call.ringing):
            self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="CANCEL"))
            self.destroy_channel(leg, 0)
        call.ringing = []
        if caller.moh:
            caller.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", caller))
        position, wait = call.position, int(time.time() - call.joined)
        self._leave_queue(call)
        self.state.log_queue(caller.uniqueid, q.name, "NONE", "EXITWITHKEY", digit, str(position), str(position),
                             str(wait))
        caller.variables["QUEUEPOSITION"] = str(position)
        self.goto(call, (route.exit_context, digit))

    def _leave_queue(self, call: Call) -> None:
        q = call.queue
        q.callers = [c for c in q.callers if c.uniqueid != call.caller.uniqueid]
        if not q.callers:
            self.set_queue_device(q, "NOT_INUSE")
        self.emit(ev.queue_caller_event("QueueCallerLeave", call.caller, q, Position=str(call.position),
                                        Count=str(len(q.callers))))
        # leave_queue renumbers those still waiting (app_queue.c: "Renumber the people after us")
        waiting = {c.uniqueid: n for n, c in enumerate(q.callers, start=1)}
        for other in self.calls.values():
            if other.queue is q and other.caller.uniqueid in waiting:
                other.position = waiting[other.caller.uniqueid]

    def _agent_complete(self, call: Call, reason: str) -> None:
        q, caller, leg = call.queue, call.caller, call.callee
        m = call.members.get(leg.uniqueid)
        now = time.time()
        hold, talk = int(call.connected_at) - int(call.joined), int(now) - int(call.connected_at)
        self.emit(ev.agent_event("AgentComplete", caller, leg, q, m, HoldTime=str(hold), TalkTime=str(talk),
                                 Reason=reason))
        event = "COMPLETECALLER" if reason == "caller" else "COMPLETEAGENT"
        self.state.log_queue(caller.uniqueid, q.name, m.name, event, str(hold), str(talk), str(call.position))
        self.update_queue(call, now)

    def update_queue(self, call: Call, now: float) -> None:
        """app_queue.c update_queue, when the agent's call ends (the bridge ends: a hang-up, or the caller
        redirected away): Completed, completed within the service level, the talk time's average, the member."""
        q, m = call.queue, call.members.get(call.callee.uniqueid)
        talk = int(now) - int(call.connected_at)
        q.completed += 1
        q.completed_in_sl += call.completed_in_sl  # decided at the connect
        q.talktime = (q.talktime * 3 + talk) // 4 if q.completed > 1 else talk
        if m is not None:
            m.calls_taken += 1
            m.last_call = int(now)

    def _exit_queue(self, call: Call, queue_log_event: str) -> None:
        """A caller leaving Queue() alive for the dialplan (timeout, emptied queue), as app_queue does it: the
        caller *QueueCallerAbandon* (though it stays), music stops, record_abandoned, QueueCallerLeave, and the
        queue_log's EXITWITHTIMEOUT/EXITEMPTY line."""
        q, caller = call.queue, call.caller
        wait = int(time.time() - call.joined)
        self.emit(ev.queue_caller_event("QueueCallerAbandon", caller, q, Position=str(call.position),
                                        OriginalPosition=str(call.position), HoldTime=str(wait)))
        if caller.moh:
            caller.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", caller))
        self._record_abandoned(call)  # app_queue's queue_exec calls record_abandoned on these exits too
        self._leave_queue(call)
        self.state.log_queue(caller.uniqueid, q.name, "NONE", queue_log_event, str(call.position),
                             str(call.position), str(wait))

    def _record_abandoned(self, call: Call) -> None:
        """app_queue.c record_abandoned: callsabandoned, and callsabandonedinsl when the wait was within the
        service level (time_t seconds)."""
        q = call.queue
        q.abandoned += 1
        q.abandoned_in_sl += int(time.time()) - int(call.joined) <= q.servicelevel

    def _queue_abandon(self, call: Call) -> None:
        q, caller = call.queue, call.caller
        self._cancel_timers(call)
        self.request_hangup(caller)
        caller.moh = False
        self.emit(ev.call_event("MusicOnHoldStop", caller))
        for leg in call.ringing:  # Asterisk 22 really emits DialEnd CANCEL twice here (e_queue_caller_abandon)
            self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="CANCEL"))
            self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus="CANCEL"))
        wait = int(time.time() - call.joined)
        self.emit(ev.queue_caller_event("QueueCallerAbandon", caller, q, Position=str(call.position),
                                        OriginalPosition=str(call.position), HoldTime=str(wait)))
        for leg in call.ringing:
            m = call.members[leg.uniqueid]
            ms = int((time.time() - call.ring_started) * 1000)
            self.state.log_queue(caller.uniqueid, q.name, m.name, "RINGCANCELED", str(ms))
        self.state.log_queue(caller.uniqueid, q.name, "NONE", "ABANDON", str(call.position), str(call.position),
                             str(wait))
        self._record_abandoned(call)
        self._leave_queue(call)
        self.soft_hangup_request(caller, 16)
        for leg in list(call.ringing):
            self.destroy_channel(leg, 0, refresh=False)
        call.ringing = []
        self.destroy_channel(caller, 0, refresh=False)
        self.emit(ev.cdr(caller, None, last_app="Queue", last_data=caller.appdata, disposition="ANSWERED"))
        self.refresh()
        self._hangup_local_peer(caller, 0)
        self._forget(call)

    def _agent_timeout(self, call: Call, leg: Channel) -> None:
        """Ring timeout of one agent (queues.conf timeout): AgentRingNoAnswer, then retry (app_queue docs)."""
        if leg not in call.ringing:
            return
        self._agent_leg_gone(call, leg, "NOANSWER", 0)

    def _agent_leg_gone(self, call: Call, leg: Channel, dialstatus: str, cause: int) -> None:
        q, caller, m = call.queue, call.caller, call.members.get(leg.uniqueid)
        self.emit(ev.dial_event("DialEnd", caller, leg, DialStatus=dialstatus))
        ring_ms = int((time.time() - call.ring_started) * 1000)
        # milliseconds here, unlike AgentConnect's seconds (real capture queue_timeout_and_full: RingTime 10000)
        self.emit(ev.agent_event("AgentRingNoAnswer", caller, leg, q, m, RingTime=str(ring_ms)))
        self.state.log_queue(caller.uniqueid, q.name, m.name, "RINGNOANSWER", str(ring_ms))
        call.ringing.remove(leg)
        self.destroy_channel(leg, cause)
        if not call.ringing:
            call.timers.append(self.later(5, self._queue_retry, call))
