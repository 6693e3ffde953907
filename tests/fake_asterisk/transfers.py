"""Redirect, BlindTransfer, Atxfer and CancelAtxfer, modelled on g1/g1b/g2/g3/g4.

* Redirect (g1): the redirected channel leaves its bridge; a bridged outbound leg whose Dial ended is hung up;
  the channel then runs the dialplan at the new place.  With ExtraChannel (g1b) both legs move, nobody hangs up.
* BlindTransfer (g2): Unhold?, BlindTransfer event (IsExternal Yes), transferer leaves and hangs up, the
  transferee runs the dialplan at Context/Exten.
* Atxfer (g3): only queues DTMF (feature code then the digits).  When the channel has the atxfer feature
  (Dial option t/T) the transferer holds the transferee (Hold on the transferer, MusicOnHoldStart on the
  transferee) and consults the target through a Local/<exten>@<context> pair.  The transfer completes when the
  transferer hangs up (BridgeMerge, AttendedTransfer, Local optimisation); CancelAtxfer (g4, DTMF ``*1``) drops
  the consultation and the transferer returns (Unhold, MusicOnHoldStop).
"""

from __future__ import annotations

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

    def atxfer_for(self, ch: Channel) -> Atxfer | None:
        return self.atxfers.get(ch.uniqueid)

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
        transferee.moh = True
        self.emit(ev.call_event("MusicOnHoldStart", transferee, Class="default"))
        self.dtmf(transferer, exten)
        st = self.state
        name1, name2 = st.new_local_names(f"{exten}@{context}")
        one = self.new_channel(name1, caller_num=transferer.caller_num, caller_name=transferer.caller_name,
                               context=context, exten=exten, linkedid=transferer.linkedid)
        two = self.new_channel(name2, caller_num=transferer.caller_num, caller_name=transferer.caller_name,
                               context=context, exten=exten, linkedid=transferer.linkedid)
        one.local_peer, two.local_peer = two.uniqueid, one.uniqueid
        consult = self.new_bridge()
        self.emit(ev.event("LocalBridge", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           Context=context, Exten=exten, LocalOptimization="Yes"))
        self.bridge_enter(consult, one)
        self.bridge_leave(bridge, transferer)
        self.bridge_enter(consult, transferer)
        self.atxfers[transferer.uniqueid] = Atxfer(transferer, transferee, bridge, consult, one, two)

        def answered(_call):
            if one.uniqueid in st.channels:
                self.set_state(one, 6)

        call = self.run_dialplan(two)
        call.on_answer.append(answered)

    def cancel_atxfer(self, transferer: Channel) -> None:
        if transferer.uniqueid not in self.state.channels:
            return
        self.dtmf(transferer, self.features.get("atxferabort", "*1"))
        x = self.atxfers.get(transferer.uniqueid)
        if x is not None:
            self._abort_atxfer(x)

    def _abort_atxfer(self, x: Atxfer) -> None:
        """Drop the consultation (g4): Local pair and target hang up, the transferer returns."""
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

    def complete_atxfer(self, transferer: Channel) -> None:
        """The transferer hangs up while consulting: the transferee is joined with the target (g3)."""
        x = self.atxfers.pop(transferer.uniqueid)
        st = self.state
        if x.local_one.uniqueid not in st.channels or x.orig_bridge.id not in st.bridges \
                or x.transferee.uniqueid not in st.channels:
            self.hangup(transferer)  # nothing left to join: an ordinary hangup
            return
        self.request_hangup(transferer, 16)
        self.bridge_leave(x.consult_bridge, transferer)
        one, two, orig = x.local_one, x.local_two, x.orig_bridge
        self.emit(ev.event("BridgeMerge", "call,all", ev.bridge(orig, "To"), ev.bridge(x.consult_bridge, "From")))
        self.bridge_leave(x.consult_bridge, one)
        self.bridge_enter(orig, one)
        x.transferee.moh = False
        self.emit(ev.call_event("MusicOnHoldStop", x.transferee))
        self.emit(ev.event("AttendedTransfer", "call,all", [("Result", "Success")],
                           ev.chan(transferer, "OrigTransferer"), ev.bridge(orig, "Orig"),
                           ev.chan(transferer, "SecondTransferer"), ev.bridge(x.consult_bridge, "Second"),
                           ev.chan(x.transferee, "Transferee"), ev.chan(one, "TransferTarget"),
                           IsExternal="No", DestType="Bridge", DestBridgeUniqueid=orig.id))
        self.emit(ev.cdr(transferer, None, last_app="AppDial", last_data="(Outgoing Line)", disposition="ANSWERED"))
        self.destroy_bridge(x.consult_bridge)
        self.destroy_channel(transferer, 16)
        # Local channel optimisation: the real target replaces ;1 in the original bridge
        target = st.channels.get(two.peer) if two.peer else None
        if target is None:
            return
        self.emit(ev.event("LocalOptimizationBegin", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           ev.chan(target, "Source"), DestUniqueId=two.uniqueid, Id="0"))
        target_bridge = st.bridges.get(target.bridge) if target.bridge else None
        if target_bridge is not None:
            self.bridge_leave(target_bridge, target)
        self.bridge_leave(orig, one)
        self.bridge_enter(orig, target)
        self.emit(ev.event("LocalOptimizationEnd", "call,all", ev.chan(one, "LocalOne"), ev.chan(two, "LocalTwo"),
                           Success="Yes", Id="0"))
        for call in list(self.calls.values()):
            if call.caller is two:
                self.calls.pop(two.uniqueid, None)
        one.local_peer = two.local_peer = None
        self.emit(ev.cdr(one, None, last_app="", last_data="", disposition="ANSWERED"))
        self.request_hangup(two, 16)
        self.destroy_channel(one, 16)
        if target_bridge is not None and target_bridge.id in st.bridges:
            self.destroy_bridge(target_bridge)
        self.soft_hangup_request(two, 16)
        self.destroy_channel(two, 16)
        target.peer, x.transferee.peer = x.transferee.uniqueid, target.uniqueid
        self.calls[x.transferee.uniqueid] = Call(caller=x.transferee, callee=target, kind="dial")
