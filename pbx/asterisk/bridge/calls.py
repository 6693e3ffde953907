"""Following calls across channels, Local pairs, bridges and transfers.

A *call* is what Asterisk groups under one Linkedid: the caller's channel starts it (its Uniqueid
becomes every later channel's Linkedid), the channels it dials join it, and so do the consultation
legs of an attended transfer made with the feature code (Asterisk gives them the transferer's Linkedid).
Asterisk rewrites a channel's Linkedid to the oldest one in a bridge when two calls meet in it (ARI
bridges, transfers of separate calls): every channel event is checked for that and the younger call is
merged into the older one (``CallMerged``).

Local channels (``;1``/``;2``) and Snoop channels are never parties: a Local pair only connects its two
sides, so "who is behind" a Local channel is found by crossing to its other half and looking at who
that half is bridged with or dialled. When Asterisk optimises a pair away the real channels simply move
into the bridges, which the BridgeEnter/Leave events show.

Transfers: ``BlindTransfer`` and ``AttendedTransfer`` say who moved whom. A ``Redirect`` (our own
call control, or anyone's AMI) has no event of its own: it shows as a party leaving its bridge with
another extension than it had (the BridgeLeave snapshot already carries the new one), which is recorded
as a "redirect" transfer by the party it was talking to.

The tracker is synchronous and does no I/O but the resolver's (cached) lookups; it turns facts into
domain events, and a call's end into a ``CallRecord`` to persist.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from pbx.asterisk import hold
from pbx.asterisk.resolve import LOCAL, SNOOP, Resolver, local_base

from . import domain as d
from . import records
from .model import TRANSITIONS, Call, CallState, Chan, Dial, Visit
from .outcomes import OutcomeTracking

log = logging.getLogger(__name__)

S = CallState
Out = list[d.Event]


class CallTracker(OutcomeTracking):
    def __init__(self, node: str, resolver: Resolver):
        self.node = node
        self.resolver = resolver
        self.channels: dict[str, Chan] = {}
        self.calls: dict[str, Call] = {}
        self.aliases: dict[str, str] = {}  # merged-away call id → the call it went into
        self.bridges: dict[str, set[str]] = {}
        self.local_halves: dict[str, list[str | None]] = {}
        self._handlers: dict[type, Callable[[object, Out], None]] = {
            d.ChannelCreated: self._created,
            d.ChannelStateChanged: self._state_changed,
            d.ChannelCallerChanged: self._caller_changed,
            d.ChannelRenamed: self._renamed,
            d.ChannelHungUp: self._hung_up,
            d.DialStarted: self._dial_started,
            d.DialEnded: self._dial_ended,
            d.BridgeEntered: self._bridge_entered,
            d.BridgeLeft: self._bridge_left,
            d.BridgesMerged: self._bridges_merged,
            d.LocalPaired: self._local_paired,
            d.LocalOptimized: self._local_optimized,
            d.HoldChanged: self._hold_changed,
            d.BlindTransferDone: self._blind_transfer,
            d.AttendedTransferDone: self._attended_transfer,
            d.QueueJoined: self._queue_joined,
            d.QueueAbandoned: self._queue_abandoned,
            d.QueueLeft: self._queue_left,
            d.QueueMissed: self._queue_missed,
            d.CallbackRequested: self._callback_requested,
            d.CallForwarded: self._forwarded,
            d.VoicemailReached: self._voicemail,
            d.AgentOffered: self._agent,
            d.RecordingChanged: self._recording,
            d.SpyChanged: self._spy,
            d.NodeShutdown: self._shutdown,
        }

    # ------------------------------------------------------------------------------ entry point

    def apply(self, item) -> list[d.Event]:
        """Facts become call events; other events (device, presence, agents...) pass through."""
        handler = self._handlers.get(type(item))
        if handler is None:
            return [item] if isinstance(item, d.Event) else []
        out: Out = []
        handler(item, out)
        return out

    # ------------------------------------------------------------------------------ helpers

    def canonical(self, call_id: str) -> str:
        while call_id in self.aliases:
            call_id = self.aliases[call_id]
        return call_id

    def call_of(self, info: d.ChannelInfo | None) -> Call | None:
        if info is None:
            return None
        chan = self.channels.get(info.uniqueid)
        if chan is not None:
            return self.calls.get(chan.call_id)
        return self.calls.get(self.canonical(info.linkedid))

    def _emit(self, out: Out, call: Call, cls: type[d.CallEvent], at: float, **values) -> None:
        if call.visible:
            out.append(cls(call.tenant_id, at, call.id, records.view(call), **values))

    def _move(self, call: Call, state: CallState, at: float, out: Out, *, quiet: bool = False) -> bool:
        if call.state is state:
            return False
        if state not in TRANSITIONS[call.state]:
            log.debug("call %s: no transition %s → %s", call.id, call.state, state)
            return False
        call.state = state
        if not quiet:
            self._emit(out, call, d.CallUpdated, at)
        return True

    def _touch(self, info: d.ChannelInfo, at: float, out: Out) -> Chan | None:
        """The tracked channel an event speaks of, refreshed from the event's snapshot."""
        chan = self.channels.get(info.uniqueid)
        if chan is None:
            return None
        if info.state:
            chan.state = info.state
        if info.number != chan.number or info.caller_name != chan.caller_name:
            chan.number, chan.caller_name = info.number, info.caller_name
            call = self.calls[chan.call_id]
            if call.caller_uid == chan.uniqueid:
                call.caller = chan.party
        if info.context and info.context != chan.context:
            chan.context = info.context
            call = self.calls[chan.call_id]
            if call.tenant_id is None:
                # A shared trunk's call learns its company when the dialplan routes it (t<id>-inbound).
                self._claim(call, self.resolver.context(info.context), at, out)
        if info.linkedid and info.linkedid != chan.linkedid:
            chan.linkedid = info.linkedid
            self._relink(chan, at, out)
        return chan

    def _ensure(self, info: d.ChannelInfo, at: float, out: Out) -> Chan | None:
        """A channel we may not have seen created (we connected, or resynchronised, after its birth)."""
        chan = self._touch(info, at, out)
        if chan is None:
            self._created(d.ChannelCreated(at, info), out)
            chan = self.channels.get(info.uniqueid)
        return chan

    def _call_for(self, linkedid: str, at: float) -> Call:
        call_id = self.canonical(linkedid)
        call = self.calls.get(call_id)
        if call is None:
            call = self.calls[call_id] = Call(call_id, self.node, at)
        return call

    def peers(self, chan: Chan, *, exclude: str | None = None) -> list[Chan]:
        """The real parties ``chan`` is connected with, seen through bridges and Local pairs (not through
        ``exclude``, a channel whose side is not to be looked at)."""
        found: list[Chan] = []
        seen = {chan.uniqueid} if exclude is None else {chan.uniqueid, exclude}
        todo = [chan]
        while todo:
            current = todo.pop()
            neighbours: list[str] = []
            if current.bridge is not None:
                neighbours.extend(self.bridges.get(current.bridge, ()))
            if current.kind == LOCAL and current.local_peer:
                neighbours.append(current.local_peer)
            for uid in neighbours:
                if uid in seen:
                    continue
                seen.add(uid)
                other = self.channels.get(uid)
                if other is None:
                    continue
                if other.is_party:
                    found.append(other)
                else:
                    todo.append(other)
        return found

    def behind(self, chan: Chan) -> Chan | None:
        """The real party a Local channel stands for: its other half's bridge peer, or whom that half dialled."""
        if chan.is_party:
            return chan
        other = self.channels.get(chan.local_peer) if chan.local_peer else None
        if other is None:
            return None
        # Only the far side: crossing back through ``chan`` itself would find whom ``chan`` is bridged with
        # (after an agent's attended transfer, the queue caller instead of the agent's phone).
        for peer in self.peers(other, exclude=chan.uniqueid):
            return peer
        dialled = [c for c in self.channels.values() if c.dialled_by == other.uniqueid and c.is_party]
        answered = [c for c in dialled if c.answered]
        return (answered or dialled or [None])[0]

    def target_party(self, call: Call, exten: str, context: str) -> d.Party:
        """Who an extension reaches: a person of the company, or a number/service as such."""
        tenant_id = call.tenant_id if call.tenant_id is not None else self.resolver.context(context)
        user_id = self.resolver.extension(tenant_id, exten)
        if user_id is not None:
            return d.Party("user", exten, "", tenant_id, user_id)
        outside = exten.startswith(("+", "00")) or (exten.isdigit() and len(exten) >= 7)
        return d.Party("external" if outside else "system", exten, "", tenant_id)

    def _take_part(self, call: Call, chan: Chan, at: float, out: Out) -> None:
        if chan.uniqueid not in call.parties:
            call.parties[chan.uniqueid] = chan.party
            if chan.kind != "device":
                call.external = call.external or chan.uniqueid != call.caller_uid
        call.visible = True
        self._claim(call, chan.endpoint.tenant_id, at, out)

    def _claim(self, call: Call, tenant_id: int | None, at: float, out: Out) -> None:
        """Learn the call's company; announce the call once it has both a real party and a company."""
        if call.tenant_id is None and tenant_id is not None:
            call.tenant_id = tenant_id
        if call.visible and not call.announced and call.tenant_id is not None:
            call.announced = True
            self._emit(out, call, d.CallCreated, at)

    # ------------------------------------------------------------------------------ channels

    def _created(self, fact: d.ChannelCreated, out: Out) -> None:
        info, at = fact.channel, fact.at
        if self._touch(info, at, out) is not None:
            return
        endpoint = self.resolver.channel(info.name)
        if endpoint.kind == SNOOP:
            return
        call = self._call_for(info.linkedid, at)
        chan = Chan(info.uniqueid, info.name, info.linkedid, call.id, endpoint, info.number, info.caller_name,
                    info.context, info.exten, info.state, at)
        self.channels[chan.uniqueid] = chan
        call.channels[chan.uniqueid] = chan
        if call.tenant_id is None:
            call.tenant_id = endpoint.tenant_id
        if call.tenant_id is None:
            call.tenant_id = self.resolver.context(info.context)
        if endpoint.kind == LOCAL:
            self._pair(chan)
        if call.caller_uid is None:
            call.caller_uid = chan.uniqueid
            call.started_at = at
            call.caller = chan.party
            if info.exten not in ("", "s"):
                call.dialled = info.exten
        if chan.is_party:
            self._take_part(call, chan, at, out)

    def _pair(self, chan: Chan) -> None:
        halves = self.local_halves.setdefault(local_base(chan.name), [None, None])
        halves[0 if chan.name.endswith(";1") else 1] = chan.uniqueid
        if halves[0] and halves[1]:
            one, two = self.channels.get(halves[0]), self.channels.get(halves[1])
            if one and two:
                one.local_peer, two.local_peer = two.uniqueid, one.uniqueid

    def _relink(self, chan: Chan, at: float, out: Out) -> None:
        """Asterisk gave the channel another Linkedid: it now belongs with that call."""
        target_id = self.canonical(chan.linkedid)
        if target_id == chan.call_id:
            return
        current = self.calls[chan.call_id]
        target = self.calls.get(target_id)
        if target is None:
            self.aliases[chan.linkedid] = current.id
            current.aliases.append(chan.linkedid)
            return
        # The older call absorbs the younger one.
        older, younger = (target, current) if target.started_at <= current.started_at else (current, target)
        self._merge(younger, older, at, out)

    def _merge(self, absorbed: Call, survivor: Call, at: float, out: Out) -> None:
        for uid, chan in absorbed.channels.items():
            chan.call_id = survivor.id
            survivor.channels[uid] = chan
        for uid, party in absorbed.parties.items():
            survivor.parties.setdefault(uid, party)
        survivor.external = survivor.external or absorbed.external
        survivor.dials.update(absorbed.dials)
        survivor.dial_statuses.extend(absorbed.dial_statuses)
        survivor.visits.extend(absorbed.visits)
        survivor.transfers.extend(absorbed.transfers)
        survivor.answered_by.extend(absorbed.answered_by)
        if absorbed.answered_at is not None:
            survivor.answered_at = min(survivor.answered_at or absorbed.answered_at, absorbed.answered_at)
        if survivor.tenant_id is None:
            survivor.tenant_id = absorbed.tenant_id
        survivor.recorded = survivor.recorded or absorbed.recorded
        survivor.recording_ends.update(absorbed.recording_ends)
        survivor.complete = survivor.complete and absorbed.complete
        survivor.aliases.extend([absorbed.id, *absorbed.aliases])
        self.aliases[absorbed.id] = survivor.id
        del self.calls[absorbed.id]
        if absorbed.announced:
            out.append(d.CallMerged(absorbed.tenant_id, at, absorbed.id, records.view(absorbed), into_call_id=survivor.id))
        survivor.visible = survivor.visible or absorbed.visible
        if not survivor.announced:
            self._claim(survivor, absorbed.tenant_id, at, out)
        else:
            self._emit(out, survivor, d.CallUpdated, at)

    def _state_changed(self, fact: d.ChannelStateChanged, out: Out) -> None:
        chan = self._ensure(fact.channel, fact.at, out)
        if chan is None:
            return
        call = self.calls[chan.call_id]
        if chan.state == "up" and chan.uniqueid == call.caller_uid and call.caller_up_at is None:
            call.caller_up_at = fact.at
        if call.caller_uid == chan.uniqueid and not call.dialled and fact.channel.exten not in ("", "s"):
            call.dialled = fact.channel.exten
        chan.exten = fact.channel.exten

    def _caller_changed(self, fact: d.ChannelCallerChanged, out: Out) -> None:
        chan = self.channels.get(fact.channel.uniqueid)
        if chan is None:
            return
        before = chan.party
        self._touch(fact.channel, fact.at, out)
        call = self.calls[chan.call_id]
        if chan.is_party and chan.party != before:
            if chan.uniqueid in call.parties:
                call.parties[chan.uniqueid] = chan.party
            self._emit(out, call, d.CallUpdated, fact.at)

    def _renamed(self, fact: d.ChannelRenamed, out: Out) -> None:
        chan = self.channels.get(fact.uniqueid)
        if chan is not None:
            chan.name = fact.new_name

    def _hung_up(self, fact: d.ChannelHungUp, out: Out) -> None:
        chan = self.channels.get(fact.channel.uniqueid)
        if chan is None:
            return
        self._touch(fact.channel, fact.at, out)
        call = self.calls[chan.call_id]
        if chan.uniqueid == call.caller_uid:
            call.cause, call.cause_text = fact.cause, fact.cause_text
            if not call.dialled and fact.channel.exten not in ("", "s", "h"):
                call.dialled = fact.channel.exten  # an originated call: its extension shows only now
        call.last_cause, call.last_cause_text = fact.cause, fact.cause_text
        if chan.recording:
            call.recording_ends.setdefault(chan.uniqueid, fact.at)  # no MixMonitorStop comes at a hangup
        self._drop(chan)
        if call.held_by == chan.uniqueid:
            call.held_by = None
            self._move(call, S.UP, fact.at, out, quiet=True)
        if not call.channels:
            self._end(call, fact.at, out)
        elif chan.is_party:
            self._emit(out, call, d.CallUpdated, fact.at)

    def _drop(self, chan: Chan) -> None:
        self.channels.pop(chan.uniqueid, None)
        call = self.calls.get(chan.call_id)
        if call is not None:
            call.channels.pop(chan.uniqueid, None)
        if chan.bridge is not None:
            self._leave_bridge(chan, chan.bridge)
        if chan.kind == LOCAL:
            base = local_base(chan.name)
            halves = self.local_halves.get(base)
            if halves is not None:
                halves[:] = [None if uid == chan.uniqueid else uid for uid in halves]
                if halves == [None, None]:
                    del self.local_halves[base]

    def _leave_bridge(self, chan: Chan, bridge_id: str) -> None:
        members = self.bridges.get(bridge_id)
        if members is not None:
            members.discard(chan.uniqueid)
            if not members:
                del self.bridges[bridge_id]
        if chan.bridge == bridge_id:
            chan.bridge = None

    # ------------------------------------------------------------------------------ dialling

    def _dial_started(self, fact: d.DialStarted, out: Out) -> None:
        at = fact.at
        caller = self._touch(fact.caller, at, out) if fact.caller else None
        callee = self._ensure(fact.callee, at, out)
        if callee is None:
            return
        call = self.calls[callee.call_id]
        callee.dialled_by = caller.uniqueid if caller else ""
        call.dials[callee.uniqueid] = Dial(callee.uniqueid, callee.dialled_by or None, at, fact.dial_string)
        if not callee.is_party:
            return
        self._take_part(call, callee, at, out)
        if call.state is S.ROUTING:
            self._move(call, S.RINGING, at, out, quiet=True)
        elif call.state is S.UP and caller is not None and not self.peers(caller):
            # The caller talks to nobody any more and dials anew: after a blind transfer or a redirect.
            self._move(call, S.RINGING, at, out, quiet=True)
        elif call.state is S.HELD:
            self._move(call, S.TRANSFERRING, at, out, quiet=True)
        self._emit(out, call, d.CallRinging, at, party=callee.party)

    def _dial_ended(self, fact: d.DialEnded, out: Out) -> None:
        at = fact.at
        if fact.caller is not None:
            self._touch(fact.caller, at, out)
        callee = self._touch(fact.callee, at, out)
        call = self.call_of(fact.callee)
        if call is None:
            return
        dial = call.dials.get(fact.callee.uniqueid)
        if dial is None or dial.status is not None:
            return  # a repeated DialEnd (Asterisk sends CANCEL twice when a queue caller hangs up)
        dial.status = fact.status
        if callee is not None and not callee.is_party:
            return  # a Local channel: what it reached shows in its other half's own dial
        if fact.status == "ANSWER":
            if dial.caller is None:
                # Originate/ARI got its first leg up (click-to-call: your own phone): that answers
                # nothing yet; the PBX now takes the call where it was meant to go.
                if call.state is S.RINGING:
                    self._move(call, S.ROUTING, at, out)
                return
            if callee is not None:
                self._answered(call, callee, at, out)
            return
        call.dial_statuses.append(fact.status)
        if call.state is S.RINGING and all(x.status is not None for x in call.dials.values()):
            self._move(call, S.ROUTING, at, out)

    def _answered(self, call: Call, chan: Chan, at: float, out: Out) -> None:
        if chan.answered:
            return
        chan.answered = True
        call.answered_by.append(chan.party)
        if call.answered_at is None:
            call.answered_at = at
        if call.state not in (S.HELD, S.TRANSFERRING):
            self._move(call, S.UP, at, out, quiet=True)
        self._emit(out, call, d.CallAnswered, at, party=chan.party)

    # ------------------------------------------------------------------------------ bridges

    def _bridge_entered(self, fact: d.BridgeEntered, out: Out) -> None:
        at = fact.at
        chan = self._ensure(fact.channel, at, out)
        if chan is None:
            return
        if chan.bridge is not None and chan.bridge != fact.bridge_id:
            self._leave_bridge(chan, chan.bridge)
        members = self.bridges.setdefault(fact.bridge_id, set())
        members.add(chan.uniqueid)
        chan.bridge = fact.bridge_id
        chan.exten = fact.channel.exten
        call = self.calls[chan.call_id]
        peers = self.peers(chan)
        if chan.is_party:
            for peer in peers:
                peer.last_peers = (*(p.party for p in self.peers(peer)),)
            chan.last_peers = tuple(p.party for p in peers)
        if call.held_by == chan.uniqueid and call.state is S.HELD:
            # The holder went into another bridge: a consultation (attended transfer) has begun.
            self._move(call, S.TRANSFERRING, at, out)
        if call.answered_at is None and chan.is_party and peers:
            # Two real parties met in a bridge without a Dial between them (ARI, Bridge() application).
            callee = chan if chan.uniqueid != call.caller_uid else peers[0]
            self._answered(call, callee, at, out)

    def _bridge_left(self, fact: d.BridgeLeft, out: Out) -> None:
        at = fact.at
        chan = self.channels.get(fact.channel.uniqueid)
        if chan is None:
            return
        was = (chan.context, chan.exten)
        self._touch(fact.channel, at, out)
        call = self.calls[chan.call_id]
        talked_with = [p.party for p in self.peers(chan)] or list(chan.last_peers)
        self._leave_bridge(chan, fact.bridge_id)
        new_exten = fact.channel.exten
        # Only a redirect changes a bridged party's place in the dialplan under it (Hangup leaves it as it was):
        # its extension, or only its context (a queue caller sent to another queue's "s"); after one leg of a
        # call was redirected the other may follow (Redirect with ExtraChannel).
        redirected = (
            chan.is_party and not chan.moved and new_exten
            and (new_exten, fact.channel.context or was[0]) != (was[1], was[0])
            and (call.state in (S.UP, S.HELD, S.TRANSFERRING) or (call.state is S.ROUTING and chan.last_peers))
        )
        chan.moved = False
        chan.exten = new_exten
        if redirected:
            by = talked_with[0] if talked_with else d.NOBODY
            to = self.target_party(call, new_exten, fact.channel.context)
            call.transfers.append(records.transfer_entry("redirect", at, by, chan.party, to))
            call.held_by = None
            self._complete_redirected_visits(call, chan, at, out)
            self._move(call, S.ROUTING, at, out, quiet=True)
            self._emit(out, call, d.CallTransferred, at, kind="redirect", by=by, transferee=chan.party, to=to)

    def _complete_redirected_visits(self, call: Call, chan: Chan, at: float, out: Out) -> None:
        """A queue caller redirected away from the agent (the console's transfer to another queue, any AMI
        Redirect): the agent's call from that queue ends here. app_queue counts it completed now (update_queue
        when the queue's bridge ends: the talk it averages into TalkTime stops at the redirect), though the AMI
        AgentComplete comes only when the caller hangs up, with a TalkTime that includes what followed
        (real capture queue_stats_vs_app_queue, caller 9: 5 s in Support, AgentComplete TalkTime 21)."""
        for visit in call.visits:
            if visit.uniqueid == chan.uniqueid and visit.connected_at is not None and visit.completed_at is None:
                visit.completed_at, visit.reason = at, "transfer"
                self._emit_queue(out, call, d.AgentCompleted, at, visit.queue, agent=visit.agent or d.NOBODY,
                                 talk_s=round(at - visit.connected_at, 3), reason="transfer")

    def _bridges_merged(self, fact: d.BridgesMerged, out: Out) -> None:
        moving = self.bridges.pop(fact.from_bridge, set())
        if moving:
            self.bridges.setdefault(fact.to_bridge, set()).update(moving)
            for uid in moving:
                chan = self.channels.get(uid)
                if chan is not None:
                    chan.bridge = fact.to_bridge

    def _local_paired(self, fact: d.LocalPaired, out: Out) -> None:
        one = self._ensure(fact.one, fact.at, out)
        two = self._ensure(fact.two, fact.at, out)
        if one is not None and two is not None:
            one.local_peer, two.local_peer = two.uniqueid, one.uniqueid

    def _local_optimized(self, fact: d.LocalOptimized, out: Out) -> None:
        # Nothing to do: the real channels' BridgeLeave/BridgeEnter around it carry the swap, and the
        # Local pair's Hangups end it. (LocalOptimizationEnd says Success=No even when the swap happened.)
        return

    # ------------------------------------------------------------------------------ hold, transfer

    def _hold_changed(self, fact: d.HoldChanged, out: Out) -> None:
        # A console hold's music channel names only the holder's Uniqueid: nothing to refresh from it.
        chan = self.channels.get(fact.channel.uniqueid) if fact.console else self._touch(fact.channel, fact.at, out)
        if chan is None or chan.holding == fact.held:
            return  # e.g. the Unhold Asterisk raises on the transferer just before a BlindTransfer
        chan.holding = fact.held
        chan.console_hold = fact.held and fact.console
        call = self.calls[chan.call_id]
        if fact.held:
            call.held_by = chan.uniqueid
            self._move(call, S.HELD, fact.at, out, quiet=True)
            self._emit(out, call, d.CallHeld, fact.at, by=chan.party)
        else:
            if call.held_by == chan.uniqueid:
                call.held_by = None
            if call.state in (S.HELD, S.TRANSFERRING):
                self._move(call, S.UP, fact.at, out, quiet=True)
            self._emit(out, call, d.CallResumed, fact.at, by=chan.party)

    def _blind_transfer(self, fact: d.BlindTransferDone, out: Out) -> None:
        at = fact.at
        transferer = self._touch(fact.transferer, at, out)
        transferee = self._touch(fact.transferee, at, out) if fact.transferee else None
        call = self.call_of(fact.transferee) or self.call_of(fact.transferer)
        if call is None:
            return
        by = transferer.party if transferer else d.NOBODY
        moved = self._real_party(transferee)
        to = self.target_party(call, fact.exten, fact.context)
        if transferee is not None:
            transferee.moved = True
        call.transfers.append(records.transfer_entry("blind", at, by, moved, to))
        call.held_by = None
        self._move(call, S.ROUTING, at, out, quiet=True)
        self._emit(out, call, d.CallTransferred, at, kind="blind", by=by, transferee=moved, to=to)

    def _joined_with(self, transferee: Chan | None, transferer: Chan | None) -> Chan | None:
        """Whom an attended transfer joined the transferee with, when the event names no target (a real
        Asterisk 22 leaves the TransferTarget fields out when the consultation bridge merged into the
        transferee's, DestType Bridge): the party now in the transferee's bridge, looked for on that side
        only (not back through the transferee's own Local pair)."""
        if transferee is None:
            return None
        side = transferee.local_peer if transferee.kind == LOCAL else None
        found = [c for c in self.peers(transferee, exclude=side) if transferer is None or c is not transferer]
        return found[0] if found else None

    def _real_party(self, chan: Chan | None) -> d.Party:
        """Who a transfer moved: a queue caller's transferee is the member's Local/<user>@..-agents;2, which
        stands for the caller on its other side (real Asterisk, AttendedTransfer after a queue call)."""
        if chan is None:
            return d.NOBODY
        real = self.behind(chan)
        return real.party if real is not None else chan.party

    def _attended_transfer(self, fact: d.AttendedTransferDone, out: Out) -> None:
        at = fact.at
        transferer = self._touch(fact.transferer, at, out)
        transferee = self._touch(fact.transferee, at, out) if fact.transferee else None
        target = self._touch(fact.target, at, out) if fact.target else None
        call = self.call_of(fact.transferee) or self.call_of(fact.transferer)
        if call is None:
            return
        behind = self.behind(target) if target is not None else self._joined_with(transferee, transferer)
        if behind is not None:
            to = behind.party
        elif fact.target is not None:
            to = self.target_party(call, fact.target.exten, fact.target.context)
        else:
            to = d.NOBODY
        other = self.calls.get(target.call_id) if target is not None else None
        if other is not None and other is not call:
            self._merge(other, call, at, out)
        by = transferer.party if transferer else d.NOBODY
        moved = self._real_party(transferee)
        call.transfers.append(records.transfer_entry("attended", at, by, moved, to))
        if transferer is not None:
            transferer.holding = False
        call.held_by = None
        self._move(call, S.UP, at, out, quiet=True)
        self._emit(out, call, d.CallTransferred, at, kind="attended", by=by, transferee=moved, to=to)

    # ------------------------------------------------------------------------------ queues

    def _queue_joined(self, fact: d.QueueJoined, out: Out) -> None:
        chan = self._ensure(fact.channel, fact.at, out)
        if chan is None:
            return
        call = self.calls[chan.call_id]
        queue = self.resolver.queue(fact.queue)
        call.visible = True  # a queue caller counts even when a Local channel holds its place (callback)
        self._claim(call, queue.tenant_id, fact.at, out)
        index = sum(1 for v in call.visits if v.queue.name == fact.queue and v.uniqueid == chan.uniqueid)
        visit = Visit(queue, index, chan.uniqueid, fact.at, fact.position, joined_position=fact.position)
        call.visits.append(visit)
        self._renumber(fact.queue, fact.at, out, joining=visit)
        self._move(call, S.QUEUED, fact.at, out)
        if call.visible:
            out.append(d.QueueCallerJoined(call.tenant_id, fact.at, call.id, queue.queue_id, queue.name,
                                           visit.position, call.caller))

    def _queue_abandoned(self, fact: d.QueueAbandoned, out: Out) -> None:
        call = self.call_of(fact.channel)
        visit = call.visit(fact.queue, fact.channel.uniqueid) if call else None
        if call is None or visit is None or visit.outcome is not None:
            return
        visit.outcome = "abandon"
        visit.left_at = visit.left_at or fact.at
        self._renumber(visit.queue.name, fact.at, out)
        if call.visible:
            out.append(d.QueueCallerAbandoned(call.tenant_id, fact.at, call.id, visit.queue.queue_id, visit.queue.name,
                                              fact.position, round(visit.left_at - visit.joined_at, 3)))

    def _queue_left(self, fact: d.QueueLeft, out: Out) -> None:
        call = self.call_of(fact.channel)
        visit = call.visit(fact.queue, fact.channel.uniqueid) if call else None
        if call is None or visit is None:
            return
        if self._leave_queue(call, visit, fact.at, out):
            if call.state is S.QUEUED:
                self._move(call, S.ROUTING, fact.at, out)
            else:
                self._emit(out, call, d.CallUpdated, fact.at)  # the console's picture loses its queue

    def _leave_queue(self, call: Call, visit: Visit, at: float, out: Out) -> bool:
        if visit.left_at is None:
            visit.left_at = at
            self._renumber(visit.queue.name, at, out)
        if visit.left_published:
            return False
        visit.left_published = True
        if call.visible:
            out.append(d.QueueCallerLeft(call.tenant_id, at, call.id, visit.queue.queue_id, visit.queue.name,
                                         visit.position))
        return True

    def _agent(self, fact: d.AgentOffered, out: Out) -> None:
        at = fact.at
        self._touch(fact.caller, at, out)
        call = self.call_of(fact.caller)
        visit = call.visit(fact.queue, fact.caller.uniqueid) if call else None
        if call is None or visit is None:
            return
        agent_chan = self._touch(fact.agent_channel, at, out) if fact.agent_channel else None
        agent = self._agent_party(agent_chan, fact)
        q = visit.queue
        if fact.what == "called":
            if agent_chan is not None:
                visit.offered[agent_chan.uniqueid] = at
            self._emit_queue(out, call, d.AgentRinging, at, q, agent=agent)
        elif fact.what == "connect":
            if visit.outcome is not None:
                return
            visit.outcome, visit.connected_at, visit.agent, visit.agent_member = "connect", at, agent, fact.member
            real = self.behind(agent_chan) if agent_chan is not None else None  # members are Local/<user>@..-agents
            if real is not None:
                self._answered(call, real, at, out)
            self._emit_queue(out, call, d.AgentConnected, at, q, agent=agent,
                             wait_s=round(at - visit.joined_at, 3))
            self._emit(out, call, d.CallUpdated, at)  # the call's view now names the queue it was answered from
        elif fact.what == "complete":
            if visit.completed_at is not None or visit.connected_at is None:
                return
            visit.completed_at, visit.reason = at, fact.reason
            # The agent who took the call, even when it was transferred on since (the member's Local channel
            # then leads elsewhere).
            self._emit_queue(out, call, d.AgentCompleted, at, q, agent=visit.agent or agent,
                             talk_s=round(at - visit.connected_at, 3), reason=fact.reason)
        elif fact.what == "ringnoanswer":
            started = visit.offered.pop(agent_chan.uniqueid, None) if agent_chan else None
            ring_s = round(at - started, 3) if started is not None else fact.ring_time / 1000
            visit.missed.append((agent, fact.member, ring_s, at))
            self._emit_queue(out, call, d.AgentMissed, at, q, agent=agent, ring_s=ring_s)

    def _agent_party(self, chan: Chan | None, fact: d.AgentOffered) -> d.Party:
        if chan is not None and chan.is_party:
            return chan.party
        if chan is not None:
            real = self.behind(chan)
            if real is not None:
                return real.party
        who = self.resolver.member(fact.member, fact.state_interface)
        if who is not None:
            return d.Party("user", "", "", who.tenant_id, who.user_id)
        return d.Party("system", fact.member)

    def _emit_queue(self, out: Out, call: Call, cls, at: float, queue, **values) -> None:
        if call.visible:
            out.append(cls(call.tenant_id, at, call.id, queue.queue_id, queue.name, **values))

    # ------------------------------------------------------------------------------ recording, listen-in

    def _recording(self, fact: d.RecordingChanged, out: Out) -> None:
        chan = self._touch(fact.channel, fact.at, out)
        if chan is None:
            return
        call = self.calls[chan.call_id]
        if fact.what == "start":
            chan.recording = call.recorded = True
            call.recording_ends.pop(chan.uniqueid, None)
            self._emit(out, call, d.RecordingStarted, fact.at, party=chan.party, channel_id=chan.uniqueid)
        elif fact.what == "stop":
            chan.recording = chan.recording_paused = False
            call.recording_ends[chan.uniqueid] = fact.at
            self._emit(out, call, d.RecordingStopped, fact.at, party=chan.party, channel_id=chan.uniqueid)
        else:
            chan.recording_paused = fact.what == "mute"
            self._emit(out, call, d.RecordingPaused, fact.at, party=chan.party, paused=fact.what == "mute",
                       direction=fact.direction, channel_id=chan.uniqueid)

    def _spy(self, fact: d.SpyChanged, out: Out) -> None:
        spyer = self._touch(fact.spyer, fact.at, out)
        spyee = self._touch(fact.spyee, fact.at, out)
        if spyer is not None:
            self.calls[spyer.call_id].listen_in = True
        call = self.call_of(fact.spyee)
        if call is None or spyee is None:
            return
        real = self.behind(spyer) if spyer is not None else None
        listener = real.party if real is not None else d.Party("system", fact.spyer.number, fact.spyer.caller_name)
        cls = d.ListenInStarted if fact.started else d.ListenInStopped
        self._emit(out, call, cls, fact.at, listener=listener, target=spyee.party)

    # ------------------------------------------------------------------------------ the end

    def _end(self, call: Call, at: float, out: Out, *, complete: bool = True) -> None:
        for chan in list(call.channels.values()):
            self._drop(chan)
        visit = call.open_visit()
        if visit is not None:
            if visit.outcome is None:
                visit.outcome = "abandon"
            self._leave_queue(call, visit, at, out)
        call.complete = call.complete and complete
        call.state = S.ENDED
        self.calls.pop(call.id, None)
        for alias in call.aliases:
            self.aliases.pop(alias, None)
        if not call.visible:
            return
        record = records.record(call, at)
        out.append(d.CallEnded(call.tenant_id, at, call.id, records.view(call), result=record.result,
                               cause=record.cause, cause_text=call.cause_text or call.last_cause_text, record=record))

    def _shutdown(self, fact: d.NodeShutdown, out: Out) -> None:
        out.append(fact)
        self.end_all(fact.at, out)

    def end_all(self, at: float, out: Out) -> None:
        """Asterisk went away with every call (Shutdown): end them all, as incomplete."""
        for call in list(self.calls.values()):
            self._end(call, at, out, complete=False)
        self.channels.clear()
        self.bridges.clear()
        self.local_halves.clear()
        self.aliases.clear()

    # ------------------------------------------------------------------------------ resynchronisation

    def reconcile(self, live: list, waiting: list, at: float, queued: dict[str, str] | None = None) -> list[d.Event]:
        """Make the tracker match what Asterisk has now (after a reconnect or a restart).

        ``live``: ``(ChannelInfo, bridge_id, seconds_alive)`` per channel (CoreShowChannels);
        ``waiting``: ``(ChannelInfo, queue, position, seconds_waiting)`` per queue caller (QueueStatus);
        ``queued``: Uniqueid → queue of the channels Queue() holds (CoreShowChannels' Application), so that
        a call taken in while talking with an agent still counts for its queue.
        Calls whose channels are all gone end as incomplete (no ghost calls); channels we did not know
        are taken in, with their age, and the calls they make up are marked incomplete.
        """
        out: Out = []
        alive = {info.uniqueid for info, _bridge, _age in live}
        for chan in [c for uid, c in self.channels.items() if uid not in alive]:
            call = self.calls.get(chan.call_id)
            self._drop(chan)
            if call is not None and not call.channels:
                self._end(call, at, out, complete=False)
        # Oldest first, so that a call's first channel is its caller (the one whose Uniqueid is the
        # Linkedid, and Uniqueids count up: a listing says the age in whole seconds only).
        for info, bridge, age in sorted(live, key=lambda item: (-item[2], item[0].uniqueid != item[0].linkedid,
                                                                _sequence(item[0].uniqueid))):
            chan = self.channels.get(info.uniqueid)
            since = at - age
            if chan is None:
                self._created(d.ChannelCreated(since, info), out)
                chan = self.channels.get(info.uniqueid)
                if chan is None:
                    continue
                chan.created_at = since
                call = self.calls[chan.call_id]
                call.complete = False
                call.started_at = min(call.started_at, since)
            else:
                self._touch(info, at, out)
            if bridge and chan.bridge != bridge:
                # Taken in mid-call: it has talked (at most) since it was created.
                self._bridge_entered(d.BridgeEntered(since if not chan.answered else at, bridge, info), out)
            elif not bridge and chan.bridge is not None:
                self._leave_bridge(chan, chan.bridge)
        self._reconcile_holds(live, at, out)
        self._reconcile_queues(waiting, at, out)
        self._reconcile_answered_in_queue(queued or {}, {info.uniqueid for info, *_rest in waiting})
        return out

    def _reconcile_answered_in_queue(self, queued: dict[str, str], waiting: set[str]) -> None:
        """A call taken in mid-conversation inside Queue(): a visit answered when the call was (the split
        between wait and talk before we came is unknown; the call is marked incomplete anyway)."""
        for uniqueid, name in queued.items():
            chan = self.channels.get(uniqueid)
            if chan is None or uniqueid in waiting:
                continue
            call = self.calls[chan.call_id]
            if call.complete or any(v.queue.name == name for v in call.visits):
                continue
            answered = call.answered_at if call.answered_at is not None else chan.created_at
            visit = Visit(self.resolver.queue(name), 0, uniqueid, chan.created_at, 0)
            visit.outcome, visit.connected_at, visit.left_at = "connect", answered, answered
            visit.agent = next((p.party for p in self.peers(chan)), None)
            call.visits.append(visit)

    def _reconcile_holds(self, live: list, at: float, out: Out) -> None:
        """Console holds as the music channels still up say (pbx.asterisk.hold)."""
        holders = {hold.holder_of(info.uniqueid) for info, _bridge, _age in live} - {None}
        for chan in list(self.channels.values()):
            if chan.console_hold and chan.uniqueid not in holders:
                self._hold_changed(d.HoldChanged(at, d.ChannelInfo.only_id(chan.uniqueid), False, console=True), out)
        for uid in holders:
            chan = self.channels.get(uid)
            if chan is not None and not chan.holding:
                self._hold_changed(d.HoldChanged(at, d.ChannelInfo.only_id(uid), True, console=True), out)

    def _reconcile_queues(self, waiting: list, at: float, out: Out) -> None:
        still = {(info.uniqueid, queue) for info, queue, _pos, _wait in waiting}
        for call in list(self.calls.values()):
            visit = call.open_visit()
            if visit is not None and (visit.uniqueid, visit.queue.name) not in still:
                self._leave_queue(call, visit, at, out)
                if call.state is S.QUEUED:
                    self._move(call, S.ROUTING, at, out, quiet=True)
                self._emit(out, call, d.CallUpdated, at)
        for info, queue, position, wait in waiting:
            call = self.call_of(info)
            if call is None:
                continue
            visit = call.open_visit()
            if visit is None or visit.queue.name != queue:
                self._queue_joined(d.QueueJoined(at - wait, info, queue, position), out)
            elif position and visit.position != position:
                visit.position = position  # QueueStatus numbers the callers as app_queue does now
                out.append(d.QueuePositionChanged(call.tenant_id, at, call.id, visit.queue.queue_id, visit.queue.name,
                                                  position, visit.joined_at, call.caller))

    # ------------------------------------------------------------------------------ reading

    def views(self) -> list[dict]:
        """Every visible live call, as the console draws it, with its company."""
        return [{"tenant_id": c.tenant_id, **records.view(c)} for c in self.calls.values() if c.visible]


def _sequence(uniqueid: str) -> int:
    """Asterisk's Uniqueid is <epoch>.<counter>: the counter orders channels created in the same second."""
    _seconds, _dot, counter = uniqueid.rpartition(".")
    return int(counter) if counter.isdigit() else 0
