"""Redirect, BlindTransfer, Atxfer and CancelAtxfer, modelled on g1/g1b/g2/g3/g4.

* Redirect (g1): the redirected channel leaves its bridge; a bridged outbound leg whose Dial ended is hung up;
  the channel then runs the dialplan at the new place.  With ExtraChannel (g1b) both legs move, nobody hangs up.
* BlindTransfer (g2): Unhold?, BlindTransfer event (IsExternal Yes), transferer leaves and hangs up, the
  transferee runs the dialplan at Context/Exten.
* Atxfer (g3): only queues DTMF (feature code then the digits).  When the channel has the atxfer feature
  (Dial option t/T) the transferer holds the transferee (Hold on the transferer, MusicOnHoldStart on the
  transferee) and consults the target through a Local/<exten>@<context> pair.  The transfer completes when the
  transferer hangs up (BridgeMerge, AttendedTransfer, Local optimisation ~0.45 s later); CancelAtxfer (g4, DTMF
  ``*1``) drops the consultation and the transferer returns (MusicOnHoldStop, Unhold).
* The same for a queue call answered through a Local member (``Local/<user>@t<T>-agents/n``), as captured with
  this project's config (tests/fixtures/asterisk-real: queue_agent_atxfer, queue_agent_atxfer_cancel): the
  transferee is the member's Local;2; completed by AMI Hangup there is no HangupRequest and the AttendedTransfer
  has no TransferTarget. Where Asterisk's threads race the captures differ, and the fake follows each capture in
  its own case; tests/test_fake_fidelity.py compares the fake with them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from . import events as ev
from .calls import Call
from .state import Bridge, Channel

FEATURES = {"atxfer": "*2", "atxferabort": "*1", "blindxfer": "#1", "atxfercomplete": "*3"}


@dataclass
class Atxfer:
    transferer: Channel
    transferee: Channel
    orig_bridge: Bridge
    consult_bridge: Bridge
    local_one: Channel
    local_two: Channel


class TransferMixin:
    def _transfers_init(self):
        self.features = dict(FEATURES)
        self.atxfers: dict[str, Atxfer] = {}  # by transferer uniqueid
        self.optimising: dict[str, tuple[Atxfer, bool, object]] = {}  # by ;1 uniqueid: completed, not yet optimised

    def atxfer_for(self, ch: Channel) -> Atxfer | None:
        return self.atxfers.get(ch.uniqueid)

    def hangup(self, channel, cause: int = 16, *, by_manager: bool = False) -> None:
        # A simplification: a party hanging up within the half second before chan_local optimises a completed
        # transfer's pair finds it optimised already (tests may hang up at once, a real Asterisk would not).
        ch = self._resolve(channel)
        for x, member, task in list(self.optimising.values()):
            if ch in (x.transferee, x.local_one, x.local_two) or (x.local_two.peer == ch.uniqueid):
                task.cancel()
                self._optimise_consultation(x, member)
        super().hangup(ch, cause, by_manager=by_manager)

    def destroy_channel(self, ch: Channel, cause: int = 16, *, refresh: bool = True) -> None:
        super().destroy_channel(ch, cause, refresh=refresh)
        for x in list(self.atxfers.values()):
            if ch is x.local_one or ch is x.local_two:
                self._abort_atxfer(x)  # the consultation ended: the transferer is back with the transferee
            elif ch is x.transferee:
                self.atxfers.pop(x.transferer.uniqueid, None)

    def _bridge_partner(self, ch: Channel) -> tuple[Bridge | None, Channel | None]:
        """The bridge of ``ch`` and the other channel in it (two-party calls)."""
        bridge = self.state.bridges.get(ch.bridge) if ch.bridge else None
        if bridge is None:
            return None, None
        others = [self.state.channels[u] for u in bridge.channels if u != ch.uniqueid and u in self.state.channels]
        return bridge, (others[0] if len(others) == 1 else None)

    # ------------------------------------------------------------------ Redirect
    def redirect(self, ch: Channel, context: str, exten: str, priority: int = 1,
                 extra: tuple[Channel, str, str, int] | None = None) -> None:
        bridge, peer = self._bridge_partner(ch)
        movers = [(ch, context, exten, priority)] + ([extra] if extra else [])
        for mover, ctx, ext, prio in movers:
            self._detach_from_call(mover)
            # Asterisk moves the channel in the dialplan first (its Newexten comes before the BridgeLeave), so
            # the BridgeLeave snapshot already carries the new extension (g1_redirect_answered_call).
            mover.context, mover.exten, mover.priority = ctx, ext, prio
        if bridge is not None and bridge.id in self.state.bridges:
            for mover, *_ in movers:
                self.bridge_leave(bridge, mover)
            if not bridge.ari:
                self.destroy_bridge(bridge)
        if extra is None and peer is not None and not (bridge and bridge.ari):
            if peer.application in ("AppDial", "AppQueue", "AppDial2"):
                self.destroy_channel(peer, 16)  # the outbound leg of the ended Dial goes away (g1)
            else:
                self.dialplan_hangup(peer)  # Dial()/Queue() returned: that dialplan goes on to Hangup()
        for mover, ctx, ext, prio in movers:
            if mover.stasis_app:  # leaving Stasis for the dialplan
                self.ari_event(mover.stasis_app, "StasisEnd", ("channel", self.ari_channel(mover)))
                mover.stasis_app = None
            mover.peer = None
            self.set_dialplan(mover, ctx, ext, prio)
            self.run_dialplan(mover)

    def _detach_from_call(self, ch: Channel) -> None:
        call = self.call_of(ch)
        if call is not None:
            if call.kind == "queue" and call.caller is ch and call.callee is not None and call.queue is not None:
                # The queue's bridge ends here: app_queue counts the call completed now (real capture
                # queue_stats_vs_app_queue: TalkTime's average took the 5 s before the Redirect), though its
                # AgentComplete comes only at the caller's hang-up (not modelled: this fake forgets the call).
                self.update_queue(call, time.time())
            self.withdraw_from_queue(call)
            self._cancel_timers(call)
            for leg in list(call.ringing):  # a redirected caller stops its Dial()
                if leg is not ch:
                    self.emit(ev.dial_event("DialEnd", call.caller, leg, DialStatus="CANCEL"))
                    self.destroy_channel(leg, 0)
            call.ringing = []
            self.calls.pop(call.caller.uniqueid, None)

    # ------------------------------------------------------------------ BlindTransfer
    def blind_transfer(self, transferer: Channel, context: str, exten: str) -> bool:
        bridge, transferee = self._bridge_partner(transferer)
        if bridge is None or transferee is None or transferer.uniqueid not in self.state.channels:
            return False
        if transferer.held:
            transferer.held = False
        self.emit(ev.call_event("Unhold", transferer))
        self.emit(ev.event("BlindTransfer", "call,all", [("Result", "Success")], ev.chan(transferer, "Transferer"),
                           ev.chan(transferee, "Transferee"), ev.bridge(bridge),
                           IsExternal="Yes", Context=context, Extension=exten))
        self._detach_from_call(transferer)
        self._detach_from_call(transferee)
        self.bridge_leave(bridge, transferer)
        self.bridge_leave(bridge, transferee)
        transferee.peer = transferer.peer = None
        self.destroy_bridge(bridge)
        self.destroy_channel(transferer, 16)
        self.set_dialplan(transferee, context, exten, 1)
        self.run_dialplan(transferee)
        return True

    # ------------------------------------------------------------------ Atxfer
    def dtmf(self, ch: Channel, digits: str) -> None:
        for digit in digits:
            self.emit(ev.event("DTMFEnd", "dtmf,all", ev.chan(ch), Digit=digit, DurationMs="0", Direction="Received"))

    def start_atxfer(self, transferer: Channel, context: str, exten: str) -> None:
        if transferer.uniqueid not in self.state.channels:
            return
        code = self.features.get("atxfer", "")
        self.dtmf(transferer, code)
        bridge, transferee = self._bridge_partner(transferer)
        if "atxfer" not in transferer.features or bridge is None or transferee is None \
                or transferer.uniqueid in self.atxfers:
            self.dtmf(transferer, exten)  # the digits go nowhere: the feature is not enabled on this channel
            return
        transferer.held = True
        self.emit(ev.call_event("Hold", transferer))
        transferee.moh = True  # music for whoever is bridged with the transferer: a queue member's Local;2
        self.emit(ev.call_event("MusicOnHoldStart", transferee, Class="default"))
        self.dtmf(transferer, exten)
        st = self.state
        name1, name2 = st.new_local_names(f"{exten}@{context}")
        # Both halves start without caller id; ;2 takes the transferer's before it dials (g3, queue_agent_atxfer).
        one = self.new_channel(name1, context=context, exten=exten, linkedid=transferer.linkedid)
        two = self.new_channel(name2, context=context, exten=exten, linkedid=transferer.linkedid)
        one.local_peer, two.local_peer = two.uniqueid, one.uniqueid
        consult = self.new_bridge()
        self.set_callerid(two, transferer.caller_num, transferer.caller_name)
        self.emit(ev.event("LocalBridge", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           Context=context, Exten=exten, LocalOptimization="Yes"))
        self.bridge_enter(consult, one)
        self.bridge_leave(bridge, transferer)
        x = Atxfer(transferer, transferee, bridge, consult, one, two)
        self.atxfers[transferer.uniqueid] = x

        def transferer_enters(_leg=None):
            self.bridge_enter(consult, transferer)  # once only: it is then in the bridge

        def answered(_call):
            # ;2 is up (its Dial answered): ;1 answers the transfer's dial, before the target's bridge
            if one.uniqueid in st.channels:
                self.set_state(one, 6)
                self.emit(ev.dial_event("DialEnd", None, one, DialStatus="ANSWER"))

        def prepare(call):
            if self._queue_member(x):
                # queue_agent_atxfer: the target's channel is created before the transferer is in the
                # consultation bridge (g3: after; the two threads race)
                call.on_leg.append(transferer_enters)
            call.on_up.append(answered)

        if not self._queue_member(x):
            transferer_enters()
        self.run_dialplan(two, prepare)
        transferer_enters()

    @staticmethod
    def _queue_member(x: Atxfer) -> bool:
        """The transferer talks with a queue member's Local;2 (queue_agent_atxfer*), not a phone (g3/g4).

        Where Asterisk's threads race, the captures of the two differ; the fake follows each in its case."""
        return x.transferee.name.startswith("Local/")

    def cancel_atxfer(self, transferer: Channel) -> None:
        """CancelAtxfer (DTMF ``*1``): the transferer returns to the transferee, the consultation ends.

        g4 and queue_agent_atxfer_cancel: BridgeLeave/BridgeEnter of the transferer, MusicOnHoldStop on the
        transferee, Unhold; then the Local pair and the target hang up (the target without HangupRequest);
        no AttendedTransfer, no Local optimisation."""
        if transferer.uniqueid not in self.state.channels:
            return
        self.dtmf(transferer, self.features.get("atxferabort", "*1"))
        x = self.atxfers.pop(transferer.uniqueid, None)
        if x is None:
            return
        st = self.state
        one, two, consult = x.local_one, x.local_two, x.consult_bridge
        if one.uniqueid not in st.channels or two.uniqueid not in st.channels:
            self.atxfers[transferer.uniqueid] = x
            self._abort_atxfer(x)
            return
        transferee = x.transferee
        if consult.id in st.bridges:
            self.bridge_leave(consult, transferer)
        if x.orig_bridge.id in st.bridges:
            self.bridge_enter(x.orig_bridge, transferer)
        if transferee.uniqueid in st.channels:
            transferee.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", transferee))
        transferer.held = False
        self.emit(ev.call_event("Unhold", transferer))
        if transferee.uniqueid in st.channels:
            transferer.peer, transferee.peer = transferee.uniqueid, transferer.uniqueid
        target = st.channels.get(two.peer) if two.peer else None
        target_bridge = st.bridges.get(two.bridge) if two.bridge else None
        one.local_peer = two.local_peer = None
        dialing = self.calls.get(two.uniqueid)
        if dialing is not None:
            self._forget(dialing)
        for leg in (dialing.ringing if dialing is not None else []):
            self.emit(ev.dial_event("DialEnd", two, leg, DialStatus="CANCEL"))
        ringing = list(dialing.ringing) if dialing is not None else []
        if dialing is not None:
            dialing.ringing = []

        def leave(bridge, ch):
            if bridge is not None and ch is not None and bridge.id in st.bridges:
                self.bridge_leave(bridge, ch)

        def destroy(bridge):
            if bridge is not None and bridge.id in st.bridges:
                self.destroy_bridge(bridge)

        leave(consult, one)
        if self._queue_member(x):  # queue_agent_atxfer_cancel
            self.request_hangup(two, 16)
            leave(target_bridge, two)
            self.soft_hangup_request(two, 16)
            leave(target_bridge, target)
            destroy(consult)
            destroy(target_bridge)
            self.destroy_channel(one, 16)
            self.destroy_channel(two, 16)
        else:  # g4
            destroy(consult)
            self.request_hangup(two, 16)
            self.destroy_channel(one, 16)
            leave(target_bridge, two)
            leave(target_bridge, target)
            destroy(target_bridge)
            self.soft_hangup_request(two, 16)
            self.destroy_channel(two, 16)
        for ch in [target, *ringing]:
            if ch is not None:
                self.destroy_channel(ch, 16 if ch is target else 0)

    def _abort_atxfer(self, x: Atxfer) -> None:
        """The consultation ended by itself (the target or the Local pair went): the transferer returns."""
        st = self.state
        self.atxfers.pop(x.transferer.uniqueid, None)
        for ch in (x.local_two, x.local_one):
            if ch.uniqueid in st.channels:
                self.hangup(ch, 16, by_manager=True)
        if x.consult_bridge.id in st.bridges:
            self.destroy_bridge(x.consult_bridge)
        transferer, transferee = x.transferer, x.transferee
        if transferer.uniqueid not in st.channels:
            return
        if x.orig_bridge.id in st.bridges:
            self.bridge_enter(x.orig_bridge, transferer)
        transferer.held = False
        self.emit(ev.call_event("Unhold", transferer))
        if transferee.uniqueid in st.channels:
            transferee.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", transferee))
            transferer.peer, transferee.peer = transferee.uniqueid, transferer.uniqueid

    def complete_atxfer(self, transferer: Channel, *, by_manager: bool = False) -> None:
        """The transferer hangs up while consulting: the transferee is joined with the target.

        g3 (the transferer's phone hangs up): HangupRequest, BridgeLeave, BridgeMerge of the consultation into
        the original bridge, ;1 moves over, MusicOnHoldStop, AttendedTransfer naming ;1 as TransferTarget.
        queue_agent_atxfer (AMI Hangup, as do_complete_transfer sends; the transferee a queue member's
        Local;2): no HangupRequest, MusicOnHoldStop first, AttendedTransfer without TransferTarget.
        Either way the transferer hangs up without Unhold, and about half a second later chan_local
        optimises the consultation pair away (``_optimise_consultation``)."""
        x = self.atxfers.pop(transferer.uniqueid)
        st = self.state
        if x.local_one.uniqueid not in st.channels or x.orig_bridge.id not in st.bridges \
                or x.transferee.uniqueid not in st.channels:
            self.hangup(transferer, by_manager=by_manager)  # nothing left to join: an ordinary hangup
            return
        member = self._queue_member(x)
        one, orig, transferee = x.local_one, x.orig_bridge, x.transferee
        if not by_manager:
            self.request_hangup(transferer, 16)  # the phone's BYE (AMI Hangup has none: ast_softhangup_nolock)
        if member:
            transferee.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", transferee))
        self.bridge_leave(x.consult_bridge, transferer)
        self.emit(ev.event("BridgeMerge", "call,all", ev.bridge(orig, "To"), ev.bridge(x.consult_bridge, "From")))
        self.bridge_leave(x.consult_bridge, one)
        self.bridge_enter(orig, one)
        if not member:
            transferee.moh = False
            self.emit(ev.call_event("MusicOnHoldStop", transferee))
        target_block = [] if member else [ev.chan(one, "TransferTarget")]
        self.emit(ev.event("AttendedTransfer", "call,all", [("Result", "Success")],
                           ev.chan(transferer, "OrigTransferer"), ev.bridge(orig, "Orig"),
                           ev.chan(transferer, "SecondTransferer"), ev.bridge(x.consult_bridge, "Second"),
                           ev.chan(transferee, "Transferee"), *target_block,
                           IsExternal="No", DestType="Bridge", DestBridgeUniqueid=orig.id))
        self.emit(ev.cdr(transferer, None, last_app="AppDial", last_data="(Outgoing Line)", disposition="ANSWERED"))
        self.destroy_bridge(x.consult_bridge)
        self.destroy_channel(transferer, 16)
        transferee.peer, one.peer = one.uniqueid, transferee.uniqueid  # until the optimisation
        if member:
            # the connected lines cross the merged bridge (queue_agent_atxfer)
            self.set_callerid(x.local_two, transferee.caller_num, transferee.caller_name)
            member_one = st.channels.get(transferee.local_peer) if transferee.local_peer else None
            if member_one is not None:
                self.set_callerid(member_one, one.caller_num, one.caller_name)
        task = self.later(0.48 if member else 0.43, self._optimise_consultation, x, member)
        self.optimising[one.uniqueid] = (x, member, task)

    def _optimise_consultation(self, x: Atxfer, member: bool) -> None:
        """chan_local optimises the consultation pair away: the target swaps into the original bridge in place
        of ;1 (LocalOptimizationEnd says ``Success: No`` in both captures), then the pair hangs up."""
        st = self.state
        one, two, orig, transferee = x.local_one, x.local_two, x.orig_bridge, x.transferee
        self.optimising.pop(one.uniqueid, None)
        target = st.channels.get(two.peer) if two.peer else None
        if target is None or one.uniqueid not in st.channels or two.uniqueid not in st.channels \
                or orig.id not in st.bridges or one.uniqueid not in orig.channels \
                or transferee.uniqueid not in st.channels:
            return
        self.emit(ev.event("LocalOptimizationBegin", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           ev.chan(target, "Source"), DestUniqueId=two.uniqueid, Id="0"))
        target_bridge = st.bridges.get(target.bridge) if target.bridge else None
        if target_bridge is not None:
            self.bridge_leave(target_bridge, target)
        self.bridge_leave(orig, one)
        self.bridge_enter(orig, target, swap=one)
        if not member:
            self.set_callerid(two, transferee.caller_num, transferee.caller_name)  # g3
        self.emit(ev.event("LocalOptimizationEnd", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           Success="No", Id="0"))
        dialing = self.calls.pop(two.uniqueid, None)
        if dialing is not None:
            self._cancel_timers(dialing)
        one.local_peer = two.local_peer = None
        self.emit(ev.cdr(one, None, last_app="", last_data="", disposition="ANSWERED"))
        if member:  # queue_agent_atxfer
            if target_bridge is not None:
                self.bridge_leave(target_bridge, two)
                self.destroy_bridge(target_bridge)
            self.soft_hangup_request(two, 16)
            self.request_hangup(one, 16)
            self.destroy_channel(two, 16)
            self.destroy_channel(one, 16)
        else:  # g3
            self.request_hangup(two, 16)
            self.destroy_channel(one, 16)
            if target_bridge is not None and target_bridge.id in st.bridges:
                self.destroy_bridge(target_bridge)
            self.soft_hangup_request(two, 16)
            self.destroy_channel(two, 16)
        target.peer, transferee.peer = transferee.uniqueid, target.uniqueid
        self.calls[transferee.uniqueid] = Call(caller=transferee, callee=target, kind="dial")
