"""A queue's own callback that no agent can take goes on the list (the real Asterisk dropped it silently:
tests/fixtures/asterisk-real/ami/queue_callback_dropped_when_no_agent_left).

The whole path: the caller presses 1 in the queue (the rendered ``t<T>-qexit-<Q>``: ``PbxCallback``, a queue
callback nobody lists), the Local channel that waits in the queue for them is taken out with nobody to take
it (the rendered ``t<T>-qcbwait-<Q>`` after ``Queue()``, ``QUEUESTATUS`` as app_queue sets it) → the fake
raises ``PbxCallbackUnserved`` → AMI → the event bridge → a callback request on Demo AB's consoles (audited,
pushed, no mail: it has no destination) → called back by Olle, with no AstDB entry to delete. A menu's own
request (its leg has no ``PBX_CBKIND``) raises nothing more: its row is listed already.
"""

from __future__ import annotations

import asyncio

from pbx.models import AuditLog, CallbackRequest
from portal.consumers import run_command
from portal.snapshot import assemble
from tests.fake_asterisk.demo_traffic import TRUNK
from tests.fake_asterisk.dialplan_apps import run_context
from tests.notify_fixtures import *  # noqa: F403 - line, pushed, sms_requests, test_connection, worlds
from tests.notify_fixtures import act, until
from tests.test_callback_requests import rendered_context, stored


def waiting_leg(line, queue_id: int, number: str):
    """The ;2 side of ``Originate(Local/s@t<T>-qcbwait-<Q>/n,...)``: it runs the context with the number."""
    return line.fake.new_channel(f"Local/s@t{line.t}-qcbwait-{queue_id}-00000003;2", caller_num=number,
                                 context=f"t{line.t}-qcbwait-{queue_id}", exten="s", state=4)


async def test_a_queue_callback_nobody_can_take_is_put_on_the_list_once(line, demo, exempel, olle, carol, pushed,
                                                                        mailoutbox):
    support = demo.queues["Support"]
    dialplan, _context = await act(rendered_context, line.t, 0)
    context = f"t{line.t}-qexit-{support.pk}"
    endpoint = line.fake.state.endpoints[TRUNK]
    ch = line.fake.new_channel(line.fake.state.new_pjsip_name(endpoint.name), caller_num="+46811112222",
                               context=context, exten="1", state=6, endpoint=endpoint.device)
    await line.start_capturing_commits()
    run_context(line.fake, ch, dialplan, context, captured="+46811112222", exten="1",
                variables={"QUEUEPOSITION": "1"})
    await stored(line, kind="queue")
    await line.commit()
    assert (await act(assemble, olle, {}))["callbacks"] == []

    # The last agent's phone goes away: app_queue's leavewhenempty takes the waiting leg out (LEAVEEMPTY, as the
    # real Asterisk said in queue_callback_unserved_listed).
    leg = waiting_leg(line, support.pk, "+46811112222")
    leg_vars = {"PBX_CBNUM": "+46811112222", "PBX_CBPOS": "1", "PBX_CBKIND": "queue", "QUEUESTATUS": "LEAVEEMPTY"}
    await line.start_capturing_commits()
    ran = run_context(line.fake, leg, dialplan, f"t{line.t}-qcbwait-{support.pk}", captured="", variables=leg_vars)
    assert ran[-2:] == ["UserEvent", "Hangup"]
    (unserved,) = [h for h in line.fake.history if dict(h).get("UserEvent") == "PbxCallbackUnserved"]
    assert dict(unserved)["Result"] == "LEAVEEMPTY" and dict(unserved)["Number"] == "+46811112222"
    listed = await stored(line, kind="request")
    await line.commit()
    assert (listed.number, listed.queue_id, listed.destination_id, listed.status) == (
        "+46811112222", support.pk, None, "open")
    assert listed.channel_id == leg.uniqueid
    assert [c["number"] for c in (await act(assemble, olle, {}))["callbacks"]] == ["+46811112222"]
    assert (await act(assemble, carol, {}))["callbacks"] == []
    assert await act(AuditLog.objects.filter(action="callback_unserved", object_id=str(listed.pk)).count) == 1
    changed = [(g, e) for g, e in pushed if e["type"] == "callback.changed"]
    assert [g for g, _e in changed] == [[f"tenant-{line.t}"]] and changed[0][1]["callback"]["id"] == listed.pk
    assert mailoutbox == []  # no destination, nobody to mail: the consoles' list is where it shows

    # The same UserEvent again (a replay, a second bridge): still one request.
    line.fake.emit(unserved)
    await asyncio.sleep(0.3)
    assert await act(CallbackRequest.objects.filter(tenant_id=line.t, kind="request").count) == 1

    # Olle calls back; there is no AstDB entry for such a request, so nothing is deleted in Asterisk.
    ok, message = await act(run_command, olle.pk, "en", "callback_done", {"callback_id": listed.pk})
    assert ok, message
    await asyncio.sleep(0.3)
    assert line.fake.ami.actions("DBDel") == []
    assert (await act(assemble, olle, {}))["callbacks"] == []


async def test_a_menu_requests_waiting_leg_adds_nothing_when_it_leaves_the_queue(line, demo):
    """A menu's request is on the list already (its own row); its leg has no PBX_CBKIND."""
    support = demo.queues["Support"]
    dialplan, _context = await act(rendered_context, line.t, 0)
    leg = waiting_leg(line, support.pk, "+46709876543")
    ran = run_context(line.fake, leg, dialplan, f"t{line.t}-qcbwait-{support.pk}", captured="",
                      variables={"PBX_CBNUM": "+46709876543", "PBX_CBPOS": "", "QUEUESTATUS": "JOINUNAVAIL"})
    assert "UserEvent" not in ran
    await asyncio.sleep(0.3)
    assert await act(CallbackRequest.objects.count) == 0


async def test_a_forged_unserved_callback_for_another_companys_queue_is_not_listed(line, demo, exempel):
    theirs = exempel.queues[next(iter(exempel.queues))]
    dialplan, _context = await act(rendered_context, line.t, 0)
    support = demo.queues["Support"]
    leg = waiting_leg(line, support.pk, "+46709876543")
    context = f"t{line.t}-qcbwait-{support.pk}"
    ran = run_context(line.fake, leg, dialplan, context, captured="",
                      variables={"PBX_CBNUM": "+46709876543", "PBX_CBKIND": "queue", "QUEUESTATUS": "TIMEOUT"})
    assert "UserEvent" in ran
    (raised,) = [h for h in line.fake.history if dict(h).get("UserEvent") == "PbxCallbackUnserved"]
    # Another channel naming Exempel AB's queue: the queue must be the channel's company's, or nothing.
    forged = [(k, {"Queue": str(theirs.pk), "Uniqueid": "1796599999.99"}.get(k, v)) for k, v in raised]
    line.fake.emit(forged)

    async def one():
        return await act(CallbackRequest.objects.count) == 1

    await until(one)
    await asyncio.sleep(0.3)
    (only,) = await act(lambda: list(CallbackRequest.objects.all()))
    assert only.queue_id == support.pk and only.tenant_id == demo.tenant.pk
