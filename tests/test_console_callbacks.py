"""Callbacks to make in the console's websocket: listed in the snapshot of their company only, marked done by
the ``callback_done`` command (the real action, the page's language), refused to another company."""

from __future__ import annotations

import datetime as dt

import pytest

from pbx.actions.callbacks import do_record_callback_request
from pbx.models import AuditLog, CallbackRequest, Destination
from tests.test_consumers import keep_test_connection, live, memory_layer, open_console, run  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def callback(demo, django_capture_on_commit_callbacks):
    destination = Destination.objects.create(tenant=demo.tenant, kind="callback", queue=demo.queues["Support"])
    return do_record_callback_request(
        None, tenant_id=demo.tenant.pk, kind="request", number="0701234567", channel_id="1795406700.12",
        call_id="1795406700.12", queue_id=demo.queues["Support"].pk, destination_id=destination.pk,
        caller_number="+46812345678", requested_at=dt.datetime.now(dt.UTC))


def test_the_snapshot_lists_the_companys_callbacks_and_the_operator_marks_one_done(callback, olle, exempel):
    petra = exempel.operator

    async def scenario():
        theirs, their_snapshot = await open_console(petra)
        await theirs.send_json_to({"action": "callback_done", "id": "x1", "callback_id": callback.pk})
        refused = await theirs.receive_json_from(timeout=5)
        ours, our_snapshot = await open_console(olle, language="sv")
        await ours.send_json_to({"action": "callback_done", "id": "c1", "callback_id": callback.pk})
        done = await ours.receive_json_from(timeout=5)
        await ours.send_json_to({"action": "callback_done", "id": "c2", "callback_id": callback.pk})
        again = await ours.receive_json_from(timeout=5)
        await ours.send_json_to({"action": "callback_done", "id": "c3", "callback_id": "1; DROP"})
        nonsense = await ours.receive_json_from(timeout=5)
        for comm in (theirs, ours):
            await comm.disconnect()
        return their_snapshot, refused, our_snapshot, done, again, nonsense

    their_snapshot, refused, our_snapshot, done, again, nonsense = run(scenario)
    assert their_snapshot["callbacks"] == []
    assert refused == {"type": "result", "id": "x1", "action": "callback_done", "ok": False,
                       "message": "That callback is no longer there."}
    (listed,) = our_snapshot["callbacks"]
    assert listed["id"] == callback.pk and listed["number"] == "0701234567" and listed["queue"] == "Support"
    assert listed["caller_number"] == "+46812345678" and listed["status"] == "open"
    assert done["ok"] is True and done["message"] == "0701234567 är markerad som uppringd."
    assert again["ok"] is False and again["message"] == f"{olle.display_name} har redan ringt upp 0701234567."
    assert nonsense["ok"] is False
    callback.refresh_from_db()
    assert (callback.status, callback.done_by_id) == (CallbackRequest.Status.DONE, olle.pk)
    assert AuditLog.objects.filter(action="callback_done", actor=olle, object_id=str(callback.pk)).count() == 1


def test_an_agent_of_the_queue_may_mark_it_a_plain_user_may_not(callback, demo, eva):
    from django.core.exceptions import PermissionDenied

    from pbx.actions.callbacks import do_mark_callback_done

    with pytest.raises(PermissionDenied):
        do_mark_callback_done(eva, callback)
    bob = demo.agents[0]  # an agent of Support
    assert do_mark_callback_done(bob, callback).done_by_id == bob.pk


def test_a_caller_asking_twice_is_told_once_and_one_call_back_answers_both(demo, olle, mailoutbox,
                                                                           django_capture_on_commit_callbacks):
    support = demo.queues["Support"]
    destination = Destination.objects.create(tenant=demo.tenant, kind="callback", queue=support,
                                             notify_email="lead@demo.example")

    def ask(channel_id, number="0701234567"):
        return do_record_callback_request(
            None, tenant_id=demo.tenant.pk, kind="request", number=number, channel_id=channel_id,
            queue_id=support.pk, destination_id=destination.pk, requested_at=dt.datetime.now(dt.UTC))

    with django_capture_on_commit_callbacks(execute=True):
        first, second, other = ask("1.1"), ask("1.2"), ask("1.3", number="0709999999")
    assert [m.subject for m in mailoutbox] == ["Återuppringning begärd av 0701234567",
                                               "Återuppringning begärd av 0709999999"]
    with django_capture_on_commit_callbacks(execute=True):
        from pbx.actions.callbacks import do_mark_callback_done

        do_mark_callback_done(olle, first)
    statuses = dict(CallbackRequest.objects.filter(pk__in=[first.pk, second.pk, other.pk])
                    .values_list("channel_id", "status"))
    assert statuses == {"1.1": "done", "1.2": "done", "1.3": "open"}
    assert AuditLog.objects.filter(action="callback_done", actor=olle).count() == 2
