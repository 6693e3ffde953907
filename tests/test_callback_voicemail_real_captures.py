"""IVR callback requests and voicemail to e-mail, from calls recorded on a real Asterisk 22.10.1 running this
branch's generated dialplan (tests/fixtures/asterisk-real/ami/<name>.jsonl; each .map.json says what ran).

An outside caller (SIPp on the trunk, RFC 2833 keys) dials Demo AB's menu number, presses 3 (the menu's
callback choice), types 0709876543# (or only #: keep my own number) and confirms with 1; the dialplan writes
``pbxcb/t1/<Uniqueid>`` and raises ``UserEvent PbxCallbackRequest``. Another caller reaches Bob, whose phones
are all offline, and leaves a message: app_voicemail writes the spool and raises ``MessageWaiting``.

The captures go through the real subscription table (``BridgeCore``) and, with the capture's ids mapped onto
this test's companies, through the real consumers: the callback's row, mail and SMS, the operator's
"called back" and the AstDB entry it deletes (the key Asterisk itself showed), the reconnect's
reconciliation of the real AstDB value, and the worker's mail of the real spool message with its audio.
The fake Asterisk must raise the same headers.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import shutil
from pathlib import Path

import pytest

from pbx.actions.callbacks import do_mark_callback_done
from pbx.asterisk import astdb_sync
from pbx.asterisk.astdb import astdb_keys_to_delete
from pbx.asterisk.astdb_sync import collect_writes
from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from pbx.asterisk.bridge.dialplan_events import HANDLERS
from pbx.asterisk.bridge.followups import FOLLOWUPS
from pbx.asterisk.callback_sync import reconcile
from pbx.asterisk.confgen import render_from_db
from pbx.asterisk.confgen.parse import parse_dialplan_text
from pbx.models import CallbackRequest, Destination, VoicemailBox
from pbx.notifications.models import Notification
from pbx.notifications.voicemail import mail_voicemail
from tests.bridge_fixtures import REAL, events_of, real_capture_map, real_capture_resolver, replay
from tests.fake_asterisk import events as ev
from tests.fake_asterisk.dialplan_apps import run_context
from tests.fake_asterisk.pbx_fixtures import *  # noqa: F403 - applied, fake, node, no_pending_applies
from tests.fake_asterisk.state import Channel
from tests.notify_fixtures import sms_requests  # noqa: F401 - fixture

CALLBACK, OWN_NUMBER, VOICEMAIL = "ivr_callback_request", "ivr_callback_request_own_number", "voicemail_unreachable_message"
CHANNEL_BLOCK = [k for k, _v in ev.chan(Channel("x", "1", "1"))]


def replayed(name: str) -> list[d.Event]:
    core = BridgeCore("real", real_capture_resolver(name))
    out = replay(core, name)
    assert core.tracker.calls == {} and core.tracker.channels == {}  # every channel hung up: no ghost
    return out


def real_user_event(name: str, kind: str) -> dict:
    (raw,) = [raw for _at, raw in events_of(name) if raw.get("UserEvent") == kind]
    return raw


def astdb_entry(name: str) -> tuple[str, str]:
    """What ``database show pbxcb`` printed on the real Asterisk after the call: (key, value)."""
    key, _, value = real_capture_map(name)["astdb_after_call"].partition(":")
    return key.strip(), value.strip()


@pytest.mark.parametrize(("name", "typed", "number"), [(CALLBACK, "0709876543#", "+46709876543"),
                                                       (OWN_NUMBER, "#", "+46701234567")])
def test_the_real_menu_callback_becomes_one_request_with_the_number_the_caller_confirmed(name, typed, number):
    about = real_capture_map(name)
    assert about["typed"] == typed
    raw = real_user_event(name, "PbxCallbackRequest")
    (request,) = [e for e in replayed(name) if isinstance(e, d.CallbackRequested)]
    assert (request.kind, request.number, request.feature) == ("request", number, "PbxCallbackRequest")
    assert (request.tenant_id, request.queue_id, request.queue) == (1, about["queue"]["queue_pk"], "t1-q1")
    assert request.destination_id == int(next(iter(about["destinations"])))
    assert (request.caller.number, request.caller.name) == ("+46701234567", "Kund")
    # The channel's Uniqueid names Asterisk's own AstDB entry, which the "called back" deletes.
    key, value = astdb_entry(name)
    assert key == f"/pbxcb/t1/{request.channel_id}" and request.channel_id == raw["Uniqueid"]
    assert value.startswith(f"{request.destination_id}:{request.queue_id}:{number}:")
    assert request.call_id == raw["Linkedid"]
    # The Local channel that would wait in the queue for the callback raised nothing for the callback list.
    assert HANDLERS[request.feature] is not None


def test_the_real_callback_request_is_stored_told_and_its_real_astdb_entry_deleted_when_done(
        applied, fake, demo, exempel, olle, carol, mailoutbox, sms_requests,  # noqa: F811
        django_capture_on_commit_callbacks):
    support = demo.queues["Support"]
    destination = Destination.objects.create(tenant=demo.tenant, kind=Destination.Kind.CALLBACK, queue=support,
                                             label="Ring upp", notify_email="support-lead@demo.example",
                                             notify_sms="+46705550101")
    (request,) = [e for e in replayed(CALLBACK) if isinstance(e, d.CallbackRequested)]
    ours = dataclasses.replace(request, tenant_id=demo.tenant.pk, queue_id=support.pk,
                               destination_id=destination.pk)
    with django_capture_on_commit_callbacks(execute=True):
        HANDLERS[ours.feature](ours)
    callback = CallbackRequest.objects.get(tenant=demo.tenant)
    assert (callback.kind, callback.status, callback.number, callback.caller_number, callback.caller_name) == (
        "request", "open", "+46709876543", "+46701234567", "Kund")
    assert (callback.channel_id, callback.call_id) == ("1796594863.1", "1796594863.1")
    assert callback.requested_at == dt.datetime.fromtimestamp(request.at, tz=dt.UTC)
    (mail,) = mailoutbox
    assert mail.to == ["support-lead@demo.example"] and "+46709876543" in mail.subject
    assert "Ringde från: +46701234567" in mail.body and "Kö: Support" in mail.body
    (sms,) = sms_requests
    assert b"%2B46709876543" in sms.content
    assert not CallbackRequest.objects.filter(tenant=exempel.tenant).exists()

    # The same UserEvent seen again (a second bridge, a replay): nothing new, nobody told twice.
    with django_capture_on_commit_callbacks(execute=True):
        HANDLERS[ours.feature](ours)
    assert CallbackRequest.objects.count() == 1 and len(mailoutbox) == 1 and len(sms_requests) == 1

    with pytest.raises(Exception):  # noqa: B017 - Exempel AB's operator may not touch Demo AB's callback
        do_mark_callback_done(carol, callback)
    # Asterisk holds the entry the dialplan wrote, as 'database show pbxcb' showed it (this company's prefix).
    key, value = astdb_entry(CALLBACK)
    ours_key = key.replace("/t1/", f"/t{demo.tenant.pk}/", 1)
    fake.run(lambda: fake.state.astdb.update({ours_key: value}))
    try:
        with collect_writes() as writes, django_capture_on_commit_callbacks(execute=True):
            do_mark_callback_done(olle, callback)
        [future.result(timeout=5) for future in writes]
    finally:
        astdb_sync.close_writer()
    assert astdb_keys_to_delete("callback", callback.pk) == [("pbxcb", ours_key.removeprefix("/pbxcb/"))]
    assert [(a.get("Family"), a.get("Key")) for a in fake.ami.actions("DBDel")] == [
        ("pbxcb", f"t{demo.tenant.pk}/1796594863.1")]
    assert ours_key not in fake.state.astdb


def test_the_real_astdb_value_is_taken_in_by_the_reconnect_and_deleted_once_called_back(demo, olle, mailoutbox):
    support = demo.queues["Support"]
    destination = Destination.objects.create(tenant=demo.tenant, kind=Destination.Kind.CALLBACK, queue=support,
                                             label="Ring upp", notify_email="support-lead@demo.example")
    key, value = astdb_entry(CALLBACK)
    _dest, _queue, number, epoch = value.split(":")
    t = demo.tenant.pk
    entries = {key.replace("/t1/", f"/t{t}/"): f"{destination.pk}:{support.pk}:{number}:{epoch}"}
    actions, taken = reconcile([t], entries)
    assert (actions, taken) == ([], 1)
    callback = CallbackRequest.objects.get(tenant=demo.tenant)
    assert (callback.number, callback.channel_id) == ("+46709876543", "1796594863.1")
    assert callback.requested_at == dt.datetime.fromtimestamp(int(epoch), tz=dt.UTC)
    do_mark_callback_done(olle, callback)
    assert reconcile([t], entries) == ([{"Action": "DBDel", "Family": "pbxcb",
                                         "Key": f"t{t}/1796594863.1"}], 0)


def test_the_fake_raises_the_real_callback_request_from_the_rendered_dialplan(fake, demo):
    """The fake runs the rendered t<T>-cbreq-<D> context and raises what the real Asterisk raised: the same
    headers in the same order with the same values (the ids mapped onto this test's company)."""
    support = demo.queues["Support"]
    destination = Destination.objects.create(tenant=demo.tenant, kind=Destination.Kind.CALLBACK, queue=support,
                                             label="Ring upp", notify_email="support-lead@demo.example")
    real = real_user_event(CALLBACK, "PbxCallbackRequest")
    about = real_capture_map(CALLBACK)
    assert (real["Destination"], real["Queue"]) == (next(iter(about["destinations"])), str(about["queue"]["queue_pk"]))
    t = demo.tenant.pk
    context = f"t{t}-cbreq-{destination.pk}"
    dialplan = parse_dialplan_text(render_from_db()["extensions.conf"])

    def caller_presses_3():
        # The trunk's channel as t<T>-inbound left it: ringing, in the company's language (its MSet).
        ch = fake.new_channel(real["Channel"], caller_num=real["CallerIDNum"], caller_name=real["CallerIDName"],
                              context=context, state=4, uniqueid=real["Uniqueid"])
        ch.language = about["tenant"]["language"]
        fake.history.clear()
        run_context(fake.fake, ch, dialplan, context, captured=real["Number"])
        return [h for h in fake.history if dict(h).get("Event") == "UserEvent"], dict(fake.state.astdb)

    (headers,), astdb = fake.run(caller_presses_3)
    expected = dict(real, Context=context, Tenant=str(t), Destination=str(destination.pk), Queue=str(support.pk))
    assert [k for k, _v in headers] == list(real)
    assert dict(headers) == expected
    stored = astdb[f"/pbxcb/t{t}/{real['Uniqueid']}"]
    assert stored.startswith(f"{destination.pk}:{support.pk}:{real['Number']}:")


def test_the_real_message_is_one_voicemail_arrival_in_bobs_box():
    out = replayed(VOICEMAIL)
    (arrived,) = [e for e in out if isinstance(e, d.VoicemailArrived)]
    assert (arrived.tenant_id, arrived.mailbox, arrived.new) == (1, "1003", 1)
    assert type(arrived) in FOLLOWUPS
    (ended,) = [e for e in out if isinstance(e, d.CallEnded)]
    assert (ended.record.result, ended.record.voicemail_box, ended.record.voicemail_user_id) == (
        "voicemail", "1003", 3)


def test_the_fakes_message_waiting_is_the_real_one(demo):
    real = next(raw for _at, raw in events_of(VOICEMAIL) if raw.get("Event") == "MessageWaiting")
    ch = Channel(real["Channel"], real["Uniqueid"], real["Linkedid"], state=int(real["ChannelState"]),
                 caller_num=real["CallerIDNum"], caller_name=real["CallerIDName"], context=real["Context"],
                 exten=real["Exten"], priority=int(real["Priority"]), language=real["Language"])
    headers = ev.message_waiting(real["Mailbox"], new=1, old=0, channel=ch)
    assert [k for k, _v in headers] == list(real)
    assert {k: v for k, v in headers if not k.startswith("ConnectedLine")} == {
        k: v for k, v in real.items() if not k.startswith("ConnectedLine")}


def test_the_worker_mails_the_real_spool_message_with_its_audio_once(demo, bob, tmp_path, settings, mailoutbox,
                                                                     django_capture_on_commit_callbacks):
    """app_voicemail's own .txt and .wav of the recorded call, in Bob's box of this test's company."""
    settings.VOICEMAIL_DIR = tmp_path
    box = VoicemailBox.objects.get(tenant=demo.tenant, owner=bob)
    inbox = tmp_path / f"t{demo.tenant.pk}" / box.number / "INBOX"
    inbox.mkdir(parents=True)
    audio = REAL / "ami" / f"{VOICEMAIL}.msg0000.wav"
    shutil.copyfile(audio, inbox / "msg0000.wav")
    info = (REAL / "ami" / f"{VOICEMAIL}.msg0000.txt").read_text()
    assert "msg_id=1796594949-00000000" in info and 'callerid="Kund" <+46701234567>' in info
    (inbox / "msg0000.txt").write_text(info)
    with django_capture_on_commit_callbacks(execute=True):
        mail_voicemail(demo.tenant.pk, box.number)
    (mail,) = mailoutbox
    assert mail.to == [box.email]
    assert mail.subject == "Nytt röstmeddelande från Kund <+46701234567>"
    assert "Längd: 0:04" in mail.body
    ((name, content, mimetype),) = mail.attachments
    assert (name, mimetype) == ("voicemail-1796594949-00000000.wav", "audio/wav")
    assert content == Path(audio).read_bytes() and content[:4] == b"RIFF"
    with django_capture_on_commit_callbacks(execute=True):
        mail_voicemail(demo.tenant.pk, box.number)  # MessageWaiting again: nothing new to mail
    assert len(mailoutbox) == 1
    assert Notification.objects.filter(tenant=demo.tenant, topic="voicemail").count() == 1


QUEUE_CALLBACK, DROPPED = "queue_callback_keeps_place", "queue_callback_dropped_when_no_agent_left"


def test_the_real_queue_callback_is_one_queue_callback_at_the_callers_place():
    """Bob's phone rings unanswered; the caller presses 1, keeps their own number and confirms."""
    core = BridgeCore("real", real_capture_resolver(QUEUE_CALLBACK))
    out = []
    for name in (QUEUE_CALLBACK, DROPPED):  # the second capture goes on where the first stopped
        for at, event in events_of(name):
            out.extend(core.process(event, at))
    (callback,) = [e for e in out if isinstance(e, d.CallbackRequested)]
    raw = real_user_event(QUEUE_CALLBACK, "PbxCallback")
    assert (callback.kind, callback.feature, callback.number, callback.position) == (
        "queue", "PbxCallback", "+46701234567", 1)
    assert (callback.tenant_id, callback.queue_id, callback.queue, callback.destination_id) == (1, 1, "t1-q1", None)
    assert (callback.channel_id, callback.caller.number) == (raw["Uniqueid"], "+46701234567")
    # The Local channel that waits in the queue for the callback joined at the caller's own place.
    joins = [raw for _at, raw in events_of(QUEUE_CALLBACK) if raw.get("Event") == "QueueCallerJoin"]
    assert [(j["Channel"].split("-0")[0], j["Position"]) for j in joins] == [
        ("PJSIP/t1-trunk-1", "1"), ("Local/s@t1-qcbwait-1", "1")]
    # When the last available agent left, app_queue took the waiting Local out (leavewhenempty) and the
    # dialplan hung it up: every channel is gone, and nothing else was raised for the callback.
    assert core.tracker.calls == {} and core.tracker.channels == {}
    assert not [raw for _at, raw in events_of(DROPPED) if raw.get("Event") == "UserEvent"]


def test_the_fake_raises_the_real_queue_callback_from_the_rendered_dialplan(fake, demo):
    real = real_user_event(QUEUE_CALLBACK, "PbxCallback")
    support = demo.queues["Support"]
    t = demo.tenant.pk
    context = f"t{t}-qexit-{support.pk}"
    dialplan = parse_dialplan_text(render_from_db()["extensions.conf"])

    def caller_presses_1():
        # app_queue sends the caller to queues.conf's context at the key's extension, position kept.
        ch = fake.new_channel(real["Channel"], caller_num=real["CallerIDNum"], caller_name=real["CallerIDName"],
                              context=context, exten="1", state=6, uniqueid=real["Uniqueid"])
        ch.language = real["Language"]
        fake.history.clear()
        run_context(fake.fake, ch, dialplan, context, exten="1", captured=real["Number"],
                    variables={"QUEUEPOSITION": real["Position"]})
        return [h for h in fake.history if dict(h).get("Event") == "UserEvent"]

    (headers,) = fake.run(caller_presses_1)
    assert [k for k, _v in headers] == list(real)
    assert dict(headers) == dict(real, Context=context, Tenant=str(t), Queue=str(support.pk))


UNSERVED = "queue_callback_unserved_listed"


def test_the_real_unserved_queue_callback_is_put_on_the_list():
    """With the fix on the real Asterisk: the waiting leg taken out of the queue raises PbxCallbackUnserved."""
    core = BridgeCore("real", real_capture_resolver(UNSERVED))
    out = []
    for at, event in events_of(UNSERVED):
        out.extend(core.process(event, at))
    assert core.tracker.calls == {} and core.tracker.channels == {}
    queued, unserved = [e for e in out if isinstance(e, d.CallbackRequested)]
    raw = real_user_event(UNSERVED, "PbxCallbackUnserved")
    assert (queued.kind, unserved.kind, unserved.feature) == ("queue", "unserved", "PbxCallbackUnserved")
    assert (unserved.number, unserved.queue_id, unserved.channel_id) == ("+46701234567", 1, raw["Uniqueid"])
    assert raw["Channel"].startswith("Local/s@t1-qcbwait-1-") and raw["Result"] == "LEAVEEMPTY"
    assert unserved.channel_id != queued.channel_id  # the waiting leg's own row: no clash with the queue's
    assert HANDLERS["PbxCallbackUnserved"] is not HANDLERS["PbxCallback"]


def test_the_fake_raises_the_real_unserved_queue_callback_from_the_rendered_dialplan(fake, demo):
    real = real_user_event(UNSERVED, "PbxCallbackUnserved")
    support = demo.queues["Support"]
    t = demo.tenant.pk
    context = f"t{t}-qcbwait-{support.pk}"
    dialplan = parse_dialplan_text(render_from_db()["extensions.conf"])

    def the_leg_leaves_the_queue():
        # Originate's Local ;2 side, ringing, with the variables t<T>-qexit-<Q> gave it and app_queue's status.
        ch = fake.new_channel(real["Channel"], caller_num=real["CallerIDNum"], context=context, state=4,
                              uniqueid=real["Uniqueid"], linkedid=real["Linkedid"])
        fake.history.clear()
        run_context(fake.fake, ch, dialplan, context, captured="", variables={
            "PBX_CBNUM": real["Number"], "PBX_CBPOS": "1", "PBX_CBKIND": "queue", "QUEUESTATUS": real["Result"]})
        return [h for h in fake.history if dict(h).get("Event") == "UserEvent"]

    (headers,) = fake.run(the_leg_leaves_the_queue)
    assert [k for k, _v in headers] == list(real)
    assert dict(headers) == dict(real, Context=context, Tenant=str(t), Queue=str(support.pk))
