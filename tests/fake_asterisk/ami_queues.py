"""Queue actions of the fake (app_queue.c), with the responses and events of f_queue_member_actions and
r_error_responses: QueueStatus, QueueSummary, QueueAdd, QueueRemove, QueuePause, QueuePenalty, QueueLog.

Side effects as captured: QueueMemberAdded / QueueMemberRemoved / QueueMemberPause / QueueMemberPenalty events,
the ``Queue:<q>_pause_<iface>`` and ``Queue:<q>_avail`` device states, and queue_log lines (ADDMEMBER,
REMOVEMEMBER, PAUSE, UNPAUSE, PAUSEALL/UNPAUSEALL, PENALTY) in ``state.queue_log``.
"""

from __future__ import annotations

import time

from . import events as ev
from .ami_base import ack, action, error, id_last, listing
from .state import Queue, QueueMember
from .wire import truthy


def _status_items(srv, req) -> list:
    st, qfilter, mfilter = srv.state, req.get("Queue"), req.get("Member")
    items = []
    now = time.time()
    for q in st.queues.values():
        if qfilter and q.name.lower() != qfilter.lower():
            continue
        done = q.completed + q.abandoned
        sl = 100.0 * q.completed_in_sl / q.completed if q.completed else 0.0
        sl2 = 100.0 * (q.abandoned_in_sl + q.completed_in_sl) / done if done else 0.0
        items.append(id_last(req, "QueueParams", ("Queue", q.name), ("Max", str(q.max)), ("Strategy", q.strategy),
                             ("Calls", str(len(q.callers))), ("Holdtime", str(q.holdtime)),
                             ("TalkTime", str(q.talktime)), ("Completed", str(q.completed)),
                             ("Abandoned", str(q.abandoned)), ("ServiceLevel", str(q.servicelevel)),
                             ("ServicelevelPerf", f"{sl:2.1f}"), ("ServicelevelPerf2", f"{sl2:2.1f}"),
                             ("Weight", str(q.weight))))
        for m in q.members.values():
            if mfilter and mfilter not in (m.interface, m.name):
                continue
            items.append(id_last(req, "QueueMember", ("Queue", q.name), ("Name", m.name), ("Location", m.interface),
                                 ("StateInterface", m.state_interface), ("Membership", m.membership),
                                 ("Penalty", str(m.penalty)), ("CallsTaken", str(m.calls_taken)),
                                 ("LastCall", str(m.last_call)), ("LastPause", str(m.last_pause)),
                                 ("LoginTime", str(m.login_time)), ("InCall", str(m.in_call)),
                                 ("Status", str(m.status)), ("Paused", "1" if m.paused else "0"),
                                 ("PausedReason", m.paused_reason), ("Wrapuptime", str(m.wrapuptime))))
        for pos, c in enumerate(q.callers, 1):
            ch = st.channels.get(c.uniqueid)
            if ch is None:
                continue
            items.append(id_last(req, "QueueEntry", ("Queue", q.name), ("Position", str(pos)), ("Channel", ch.name),
                                 ("Uniqueid", ch.uniqueid), ("CallerIDNum", ch.caller_num or "unknown"),
                                 ("CallerIDName", ch.caller_name or "unknown"),
                                 ("ConnectedLineNum", ch.connected_num or "unknown"),
                                 ("ConnectedLineName", ch.connected_name or "unknown"),
                                 ("Wait", str(int(now - c.joined))), ("Priority", str(c.priority))))
    return items


@action("QueueStatus")
def queue_status(srv, s, req):
    return listing(req, "Queue status will follow", "QueueStatusComplete", _status_items(srv, req))


@action("QueueSummary")
def queue_summary(srv, s, req):
    st, qfilter, now = srv.state, req.get("Queue"), time.time()
    items = []
    for q in st.queues.values():
        if qfilter and q.name.lower() != qfilter.lower():
            continue
        logged = [m for m in q.members.values() if m.status not in (4, 5)]
        avail = [m for m in logged if m.status in (0, 1) and not m.paused]
        longest = max((int(now - c.joined) for c in q.callers), default=0)
        items.append(id_last(req, "QueueSummary", ("Queue", q.name), ("LoggedIn", str(len(logged))),
                             ("Available", str(len(avail))), ("Callers", str(len(q.callers))),
                             ("HoldTime", str(q.holdtime)), ("TalkTime", str(q.talktime)),
                             ("LongestHoldTime", str(longest))))
    return listing(req, "Queue summary will follow", "QueueSummaryComplete", items)


def _pause_device(srv, q: Queue, m: QueueMember) -> None:
    dev = f"Queue:{q.name}_pause_{m.interface}"
    value = "INUSE" if m.paused else "NOT_INUSE"
    srv.state._last_dev[dev] = value
    srv.world.emit(ev.device_state_change(dev, value))


def _avail_device(srv, q: Queue, *, force: bool = False) -> None:
    dev, value = f"Queue:{q.name}_avail", srv.state.queue_avail_state(q)
    if force or srv.state._last_dev.get(dev) != value:
        srv.state._last_dev[dev] = value
        srv.world.emit(ev.device_state_change(dev, value))


@action("QueueAdd")
def queue_add(srv, s, req):
    qname, iface = req.get("Queue"), req.get("Interface")
    if not qname:
        return [error(req, "'Queue' not specified.")]
    if not iface:
        return [error(req, "'Interface' not specified.")]
    st = srv.state
    q = next((x for x in st.queues.values() if x.name.lower() == qname.lower()), None)
    if q is None:
        return [error(req, "Unable to add interface to queue: No such queue")]
    if iface.lower() in q.members:
        return [error(req, "Unable to add interface: Already there")]
    penalty = req.get("Penalty")
    paused = truthy(req.get("Paused")) if req.get("Paused") else False
    m = st.add_member(q, iface, req.get("MemberName"), state_interface=req.get("StateInterface"),
                      penalty=int(penalty) if penalty.isdigit() else 0, paused=paused, reason=req.get("Reason"),
                      baseline=False)
    m.wrapuptime = int(req.get("Wrapuptime")) if req.get("Wrapuptime").isdigit() else 0
    _pause_device(srv, q, m)
    srv.world.emit(ev.member_event("QueueMemberAdded", q, m))
    _avail_device(srv, q)
    st.log_queue("MANAGER", q.name, iface, "ADDMEMBER", "PAUSED" if paused else "")
    return [ack(req, "Added interface to queue")]


@action("QueueRemove")
def queue_remove(srv, s, req):
    qname, iface = req.get("Queue"), req.get("Interface")
    if not qname or not iface:
        return [error(req, "Need 'Queue' and 'Interface' parameters.")]
    st = srv.state
    q = next((x for x in st.queues.values() if x.name.lower() == qname.lower()), None)
    if q is None:
        return [error(req, "Unable to remove interface from queue: No such queue")]
    m = q.members.get(iface.lower())
    if m is None:
        return [error(req, "Unable to remove interface: Not there")]
    if m.membership != "dynamic":
        return [error(req, "Member not dynamic")]
    del q.members[iface.lower()]
    srv.world.emit(ev.member_event("QueueMemberRemoved", q, m))
    _avail_device(srv, q)
    st.log_queue("MANAGER", q.name, iface, "REMOVEMEMBER", "")
    return [ack(req, "Removed interface from queue")]


@action("QueuePause")
def queue_pause(srv, s, req):
    iface, paused_s, qname, reason = req.get("Interface"), req.get("Paused"), req.get("Queue"), req.get("Reason")
    if not iface or not paused_s:
        return [error(req, "Need 'Interface' and 'Paused' parameters.")]
    paused = truthy(paused_s)
    st = srv.state
    targets = [(q, q.members[iface.lower()]) for q in st.queues.values()
               if iface.lower() in q.members and (not qname or q.name.lower() == qname.lower())]
    if not targets:
        return [error(req, "Interface not found")]
    if not qname:
        st.log_queue("NONE", "NONE", targets[0][1].name, "PAUSEALL" if paused else "UNPAUSEALL", reason)
    for q, m in targets:
        m.paused = paused
        m.paused_reason = reason if paused else ""
        if paused:
            m.last_pause = int(time.time())
        _pause_device(srv, q, m)
        _avail_device(srv, q)
        srv.world.emit(ev.member_event("QueueMemberPause", q, m))
        st.log_queue("NONE", q.name, m.name, "PAUSE" if paused else "UNPAUSE", reason)
    return [ack(req, "Interface paused successfully" if paused else "Interface unpaused successfully")]


@action("QueuePenalty")
def queue_penalty(srv, s, req):
    iface, penalty, qname = req.get("Interface"), req.get("Penalty"), req.get("Queue")
    if not iface or not penalty:
        return [error(req, "Need 'Interface' and 'Penalty' parameters.")]
    targets = [(q, q.members[iface.lower()]) for q in srv.state.queues.values()
               if iface.lower() in q.members and (not qname or q.name.lower() == qname.lower())]
    if not penalty.lstrip("-").isdigit() or int(penalty) < 0 or not targets:
        return [error(req, "Invalid interface, queuename or penalty")]
    for q, m in targets:
        m.penalty = int(penalty)
        srv.world.emit(ev.member_event("QueueMemberPenalty", q, m))
        srv.state.log_queue("NONE", q.name, iface, "PENALTY", penalty)
    return [ack(req, "Interface penalty set successfully")]


@action("QueueLog")
def queue_log(srv, s, req):
    qname, event = req.get("Queue"), req.get("Event")
    if not qname or not event:
        return [error(req, "Need 'Queue' and 'Event' parameters.")]
    srv.state.log_queue(req.get("UniqueId") or "NONE", qname, req.get("Interface") or "NONE", event,
                        req.get("Message"))
    return [ack(req, "Event added successfully")]
