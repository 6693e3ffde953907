"""A callback request, end to end: a caller in a menu's callback choice → the generated dialplan's own
``Set(DB(pbxcb/...))`` and ``UserEvent(PbxCallbackRequest, ...)`` raised by the fake Asterisk → AMI → the event
bridge → a callback to make (row, audit) → its e-mail (``mail.outbox``) and SMS (46elks' API, seen by an
``httpx.MockTransport``) sent by the worker → the consoles' list; then an operator marks it done from the
console and the AstDB entry goes through the AstDB writer. Exempel AB sees none of it and can do nothing to it.

The bridge runs in the test's event loop with its database work in asgiref's sync thread, on this test's
connection (so everything is rolled back); what would run on commit is run by ``commit()``.
"""

from __future__ import annotations

import asyncio
import base64
import urllib.parse
import zoneinfo

from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text
from pbx.models import AuditLog, CallbackRequest, Destination, Tenant
from pbx.notifications.models import Notification
from portal.consumers import run_command
from portal.snapshot import assemble
from tests.fake_asterisk.demo_traffic import TRUNK
from tests.fake_asterisk.dialplan_apps import run_context
from tests.notify_fixtures import *  # noqa: F403 - line, pushed, sms_requests, test_connection, worlds
from tests.notify_fixtures import Line, act, until


def callback_destination(tenant: Tenant, queue, *, email="support-lead@demo.example", sms="+46705550101"):
    return Destination.objects.create(tenant=tenant, kind=Destination.Kind.CALLBACK, queue=queue, label="Ring upp",
                                      notify_email=email, notify_sms=sms)


def rendered_context(tenant_id: int, destination_id: int):
    dialplan = parse_dialplan_text(render_from_db()["extensions.conf"])
    return dialplan, f"t{tenant_id}-cbreq-{destination_id}"


async def caller_asks_for_a_callback(line: Line, destination: Destination, *, caller="+46812345678",
                                     typed="0701234567"):
    """A caller from outside reaches the menu's callback choice and types the number to call back."""
    dialplan, context = await act(rendered_context, line.t, destination.pk)
    endpoint = line.fake.state.endpoints[TRUNK]
    ch = line.fake.new_channel(line.fake.state.new_pjsip_name(endpoint.name), caller_num=caller, caller_name="",
                               context=context, exten="s", state=4, endpoint=endpoint.device)
    ran = run_context(line.fake, ch, dialplan, context, captured=typed)
    return ch, ran


async def stored(line, **filters) -> CallbackRequest:
    found = {}

    async def there():
        found["row"] = await act(lambda: CallbackRequest.objects.filter(tenant_id=line.t, **filters)
                                 .select_related("queue").first())
        return found["row"] is not None

    await until(there)
    return found["row"]


async def test_a_callback_request_is_stored_mailed_texted_shown_and_cleaned_up_when_done(
        line, demo, exempel, olle, carol, mailoutbox, sms_requests, pushed):
    support = demo.queues["Support"]
    destination = await act(callback_destination, demo.tenant, support)
    await line.start_capturing_commits()
    ch, ran = await caller_asks_for_a_callback(line, destination)
    assert "UserEvent" in ran and "Set" in ran
    astdb_key = f"/pbxcb/t{line.t}/{ch.uniqueid}"
    assert line.fake.state.astdb[astdb_key].startswith(f"{destination.pk}:{support.pk}:0701234567:")

    callback = await stored(line, channel_id=ch.uniqueid)
    await line.commit()
    assert (callback.kind, callback.status, callback.number, callback.caller_number) == (
        "request", "open", "0701234567", "+46812345678")
    assert (callback.queue_id, callback.destination_id, callback.call_id) == (support.pk, destination.pk, ch.linkedid)

    # The e-mail, in the company's language (Demo AB speaks Swedish), with what the reader needs.
    (mail,) = mailoutbox
    assert mail.to == ["support-lead@demo.example"]
    assert mail.subject == "Återuppringning begärd av 0701234567"
    assert "Ring upp: 0701234567" in mail.body and "Ringde från: +46812345678" in mail.body
    assert "Kö: Support" in mail.body
    local = callback.requested_at.astimezone(zoneinfo.ZoneInfo("Europe/Stockholm"))
    assert f"Tid: {local:%Y-%m-%d %H:%M}" in mail.body

    # The SMS, as 46elks' API wants it: POST, Basic auth, form fields from/to/message.
    (request,) = sms_requests
    assert (request.method, str(request.url)) == ("POST", "https://api.46elks.com/a1/sms")
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"u-elks-test:elks-secret").decode()
    form = urllib.parse.parse_qs(request.content.decode())
    assert form["to"] == ["+46705550101"] and form["from"] == ["Vaxel"]
    assert "0701234567" in form["message"][0] and "Support" in form["message"][0]
    sent = await act(lambda: list(Notification.objects.filter(tenant_id=line.t).order_by("channel")))
    assert [(n.channel, n.status, n.attempts, n.topic) for n in sent] == [
        ("email", "sent", 1, "callback"), ("sms", "sent", 1, "callback")]

    # The consoles of Demo AB, and only they, hear of it; the snapshot lists it.
    demo_group, exempel_group = f"tenant-{line.t}", f"tenant-{exempel.tenant.pk}"
    told = [(groups, e) for groups, e in pushed if e["type"] in ("queue.callback_requested", "callback.changed")]
    assert {e["type"] for _g, e in told} == {"queue.callback_requested", "callback.changed"}
    assert all(groups == [demo_group] for groups, _e in told)
    assert not [e for groups, e in pushed if exempel_group in groups and "callback" in e["type"]]
    changed = next(e for _g, e in told if e["type"] == "callback.changed")
    assert changed["callback"]["id"] == callback.pk and changed["callback"]["queue"] == "Support"
    snapshot = await act(assemble, olle, {})
    assert [c["number"] for c in snapshot["callbacks"]] == ["0701234567"]
    assert (await act(assemble, carol, {}))["callbacks"] == []

    # Exempel AB's operator cannot mark it (it does not exist for them); nothing changes.
    ok, message = await act(run_command, carol.pk, "en", "callback_done", {"callback_id": callback.pk})
    assert (ok, message) == (False, "That callback is no longer there.")

    # Olle calls back and says so in the console: audited, pushed, and the AstDB entry goes.
    await line.start_capturing_commits()
    ok, message = await act(run_command, olle.pk, "en", "callback_done", {"callback_id": callback.pk})
    assert ok, message
    assert message == "0701234567 is marked as called back."
    await line.commit()
    done = await act(CallbackRequest.objects.select_related("done_by").get, pk=callback.pk)
    assert (done.status, done.done_by_id) == ("done", olle.pk) and done.done_at is not None
    (audit,) = await act(lambda: list(AuditLog.objects.filter(action="callback_done", object_id=str(callback.pk))))
    assert audit.actor_id == olle.pk and audit.tenant_id == line.t

    async def astdb_cleaned():
        return astdb_key not in line.fake.state.astdb

    await until(astdb_cleaned)
    dels = line.fake.ami.actions("DBDel")
    assert [(r.get("Family"), r.get("Key")) for r in dels] == [("pbxcb", f"t{line.t}/{ch.uniqueid}")]
    last = [e for groups, e in pushed if e["type"] == "callback.changed"][-1]
    assert last["callback"]["status"] == "done" and last["callback"]["done_by"] == olle.display_name
    assert (await act(assemble, olle, {}))["callbacks"] == []
    ok, message = await act(run_command, olle.pk, "en", "callback_done", {"callback_id": callback.pk})
    assert not ok and "already called" in message


async def test_the_same_request_reported_twice_is_one_callback_told_once(line, demo, mailoutbox, sms_requests):
    destination = await act(callback_destination, demo.tenant, demo.queues["Support"], sms="")
    await line.start_capturing_commits()
    ch, _ran = await caller_asks_for_a_callback(line, destination)
    await stored(line, channel_id=ch.uniqueid)
    # The bridge sees the same event again (a replay after a reconnect, or a second bridge).
    event = next(h for h in reversed(line.fake.history) if dict(h).get("Event") == "UserEvent")
    line.fake.emit(event)
    await asyncio.sleep(0.2)
    await line.commit()
    assert await act(CallbackRequest.objects.filter(tenant_id=line.t).count) == 1
    assert len(mailoutbox) == 1 and sms_requests == []


async def test_a_forged_company_header_is_not_believed(line, demo, exempel, mailoutbox):
    """A UserEvent whose Tenant header names another company than the channel's context is dropped."""
    destination = await act(callback_destination, demo.tenant, demo.queues["Support"])
    dialplan, context = await act(rendered_context, line.t, destination.pk)
    forged = context.replace(f"t{line.t}-", f"t{exempel.tenant.pk}-", 1)
    dialplan.contexts[forged] = dialplan.contexts[context]
    endpoint = line.fake.state.endpoints[TRUNK]
    ch = line.fake.new_channel(line.fake.state.new_pjsip_name(endpoint.name), caller_num="+4670999", context=forged,
                               exten="s", state=4, endpoint=endpoint.device)
    run_context(line.fake, ch, dialplan, forged, captured="0709999999")
    await asyncio.sleep(0.3)
    assert await act(CallbackRequest.objects.count) == 0
    assert mailoutbox == []


async def test_a_queue_callback_is_logged_and_announced_but_not_listed(line, demo, olle, pushed, mailoutbox):
    support = demo.queues["Support"]
    dialplan, _context = await act(rendered_context, line.t, 0)
    context = f"t{line.t}-qexit-{support.pk}"
    endpoint = line.fake.state.endpoints[TRUNK]
    ch = line.fake.new_channel(line.fake.state.new_pjsip_name(endpoint.name), caller_num="+46811112222",
                               context=context, exten="1", state=6, endpoint=endpoint.device)
    await line.start_capturing_commits()
    ran = run_context(line.fake, ch, dialplan, context, captured="+46811112222", exten="1")
    assert "Originate" in ran  # the queue dials the caller back by itself
    callback = await stored(line, kind="queue")
    await line.commit()
    assert (callback.number, callback.queue_id, callback.destination_id) == ("+46811112222", support.pk, None)
    assert (await act(assemble, olle, {}))["callbacks"] == []
    assert mailoutbox == []
    announced = [e for _g, e in pushed if e["type"] == "queue.callback_requested"]
    assert announced and announced[0]["kind"] == "queue" and announced[0]["queue_id"] == support.pk
    assert announced[0]["caller"]["number"] == "+46811112222"
    assert not [e for _g, e in pushed if e["type"] == "callback.changed"]  # the queue calls back: no list entry
