"""What the call log needs beyond the channel events: queue positions, and the dialplan's own facts.

Mixed into ``CallTracker`` (calls.py), whose state and helpers (``calls``, ``_ensure``, ``_emit``,
``_claim``, ``_leave_queue``) these methods use.

* Positions: app_queue numbers its waiting callers 1..n and renumbers them on every join and leave
  (apps/app_queue.c join_queue / leave_queue) without telling anyone; ``_renumber`` does the same.
* ``PbxQueueResult`` (no agents, closed, overflow, timeout), ``PbxCallback`` (the caller left for a callback),
  ``PbxForward`` and ``PbxVoicemail``: raised by the generated dialplan (pbx/asterisk/confgen) where no standard
  AMI event says it.
"""

from __future__ import annotations

from pbx.asterisk.resolve import Resolver

from . import domain as d
from .model import Call, Chan, Visit

Out = list[d.Event]


class OutcomeTracking:
    # Provided by CallTracker.
    channels: dict[str, Chan]
    calls: dict[str, Call]
    resolver: Resolver

    def _renumber(self, queue: str, at: float, out: Out, joining: Visit | None = None) -> None:
        """Number a queue's waiting callers 1..n as app_queue does (join_queue inserts at the position asked
        for and renumbers those behind; leave_queue renumbers everyone after the one leaving), so No. 2
        becomes No. 1 once No. 1 is answered. A call whose number changed is redrawn."""
        waiting = [(v, call) for call in self.calls.values() for v in call.visits
                   if v.queue.name == queue and v.left_at is None and v.entered and v is not joining]
        waiting.sort(key=lambda item: (item[0].position, item[0].joined_at))
        if joining is not None:
            owner = next(c for c in self.calls.values() if joining in c.visits)
            slot = max(0, min(len(waiting), joining.position - 1)) if joining.position > 0 else len(waiting)
            waiting.insert(slot, (joining, owner))
        for number, (visit, call) in enumerate(waiting, start=1):
            if visit.position != number:
                visit.position = number
                if visit is not joining and call.visible:
                    out.append(d.QueuePositionChanged(call.tenant_id, at, call.id, visit.queue.queue_id,
                                                      visit.queue.name, number, visit.joined_at, call.caller))
                    self._emit(out, call, d.CallUpdated, at)

    def _queue_missed(self, fact: d.QueueMissed, out: Out) -> None:
        """The queue did not take the call: Queue() returned (timeout, full, emptied) or was never reached
        (no agent logged in, the number's schedule closed). The visit says why; one that never entered is
        added, so the call counts for that queue."""
        chan = self._ensure(fact.channel, fact.at, out)
        if chan is None:
            return
        call = self.calls[chan.call_id]
        visit = call.visit(fact.queue, chan.uniqueid)
        if visit is not None and visit.left_at is None:
            self._leave_queue(call, visit, fact.at, out)
        # Asterisk 22 reports a Queue() timeout as QueueCallerAbandon (real capture queue_timeout_and_full):
        # the dialplan going on afterwards says the caller did not hang up.
        if visit is None or visit.outcome not in (None, "abandon") or not visit.entered:
            queue = self.resolver.queue(fact.queue)
            self._claim(call, queue.tenant_id, fact.at, out)
            index = sum(1 for v in call.visits if v.queue.name == fact.queue and v.uniqueid == chan.uniqueid)
            visit = Visit(queue, index, chan.uniqueid, fact.at, 0, left_at=fact.at, left_published=True,
                          entered=False)
            call.visits.append(visit)
        visit.outcome = fact.result

    def _callback_requested(self, event: d.CallbackRequested, out: Out) -> None:
        """The caller pressed the queue's callback key (queues.conf ``context``: app_queue leaves with
        EXITWITHKEY, a QueueCallerLeave and no QueueCallerAbandon) and left a number: ``UserEvent(PbxCallback)``
        on the caller's channel ends their visit as "callback", neither timed out nor abandoned (a Local
        channel takes their place in the queue, a visit of its own). The event goes on to its consumer."""
        out.append(event)
        if event.kind != "queue":
            return
        chan = self.channels.get(event.channel_id)
        call = self.calls.get(chan.call_id) if chan is not None else None
        visit = call.visit(event.queue, chan.uniqueid) if call is not None else None
        if visit is not None and visit.entered and visit.outcome is None:
            visit.outcome = "callback"
            visit.left_at = visit.left_at or event.at

    def _forwarded(self, fact: d.CallForwarded, out: Out) -> None:
        chan = self._ensure(fact.channel, fact.at, out)
        if chan is None:
            return
        call = self.calls[chan.call_id]
        if call.forward_reason or call.answered_at is not None:
            # Forwarded on again by the next person: the log keeps whom the caller wanted. After an answer
            # (a blind transfer to someone whose status forwards) it is part of the transfer, logged as such.
            return
        call.forwarded_from, call.forward_reason, call.forwarded_to = fact.user_id, fact.reason, fact.to
        self._emit(out, call, d.CallUpdated, fact.at)

    def _voicemail(self, fact: d.VoicemailReached, out: Out) -> None:
        chan = self._ensure(fact.channel, fact.at, out)
        if chan is None:
            return
        call = self.calls[chan.call_id]
        if call.voicemail_at is None:
            call.voicemail_at, call.voicemail_box, call.voicemail_user = fact.at, fact.mailbox, fact.user_id
            self._emit(out, call, d.CallUpdated, fact.at)
