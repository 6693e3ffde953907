"""The call log and the queue log, written from real captures: once per call, scoped to its company."""

from __future__ import annotations

import dataclasses

import pytest

from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.core import BridgeCore
from pbx.asterisk.bridge.persist import persist_call
from pbx.asterisk.resolve import DatabaseLoader, Resolver
from pbx.models import AsteriskNode, Device
from stats.models import CallLog, QueueEvent
from tests.bridge_fixtures import capture_resolver, events_of, replay


@pytest.fixture
def node(db):
    return AsteriskNode.default()


@pytest.fixture
def core(demo, node):
    return BridgeCore(node.name, capture_resolver(demo))


def log_calls(events) -> list[CallLog]:
    return [persist_call(e.record) for e in events if isinstance(e, d.CallEnded) and e.record.loggable]


def test_a_finished_call_is_written_to_the_call_log_with_its_people(core, demo):
    alice, olle = demo.admin, demo.operator
    (entry,) = log_calls(replay(core, "b_call_1001_to_1002_answered_caller_hangup"))
    entry.refresh_from_db()
    assert entry.tenant == demo.tenant and entry.linkedid == "1795406452.6"
    assert (entry.direction, entry.from_number, entry.from_name, entry.to_number) == (
        "internal", "1001", "Test 1001", "1002")
    assert (entry.caller, entry.answered_by, entry.result, entry.hangup_cause) == (alice, olle, "answered", 16)
    assert set(entry.users.all()) == {alice, olle}
    assert 3.0 <= entry.talk_s <= 4.0
    assert (entry.ended_at - entry.answered_at).total_seconds() == pytest.approx(entry.talk_s, abs=0.01)
    assert entry.complete and not entry.recorded


def test_replaying_a_capture_twice_logs_the_call_once(demo, node):
    for _ in range(2):
        core = BridgeCore(node.name, capture_resolver(demo))
        log_calls(replay(core, "b_call_1001_to_1002_answered_caller_hangup"))
        log_calls(replay(core, "d_queue_call_answered_by_agent"))
    assert CallLog.objects.filter(tenant=demo.tenant).count() == 2
    assert QueueEvent.objects.filter(tenant=demo.tenant).count() == 3


def test_the_queue_log_has_enter_connect_and_complete_with_the_agent(core, demo):
    olle, support = demo.operator, demo.queues["Support"]
    (entry,) = log_calls(replay(core, "d_queue_call_answered_by_agent"))
    rows = list(QueueEvent.objects.filter(call=entry).order_by("at", "id"))
    assert [(r.kind, r.queue, r.agent) for r in rows] == [
        ("enter", support, None), ("connect", support, olle), ("complete", support, olle)]
    assert rows[1].wait_s == pytest.approx(0.003, abs=0.001)
    assert rows[2].talk_s == pytest.approx(3.0, abs=0.01)
    assert entry.queue == support and entry.wait_s == pytest.approx(0.003, abs=0.001)


def test_an_abandoned_queue_call_logs_one_abandon(core, demo):
    (entry,) = log_calls(replay(core, "e_queue_caller_abandon"))
    assert entry.result == "abandoned" and entry.answered_by is None and entry.talk_s == 0
    assert [r.kind for r in QueueEvent.objects.filter(call=entry).order_by("at", "id")] == ["enter", "abandon"]
    assert entry.wait_s == pytest.approx(5.0, abs=0.01)


def test_transfers_are_kept_in_the_call_log(core, demo):
    alice, olle = demo.admin, demo.operator
    (entry,) = log_calls(replay(core, "g3_atxfer_completed"))
    (transfer,) = entry.transfers
    assert transfer["kind"] == "attended"
    assert (transfer["by"]["user_id"], transfer["to"]["user_id"]) == (olle.pk, alice.pk)
    assert entry.direction == "in" and set(entry.users.all()) == {alice, olle}


def test_a_listen_in_session_is_not_a_call(core, demo):
    assert len(log_calls(replay(core, "j_chanspy_local_originate"))) == 1
    assert CallLog.objects.filter(tenant=demo.tenant).count() == 1


def test_a_call_log_row_never_names_another_company_s_people(core, demo, exempel):
    (end,) = [e for e in replay(core, "b_call_1001_to_1002_answered_caller_hangup") if isinstance(e, d.CallEnded)]
    dave = exempel.agents[0]
    foreign = dataclasses.replace(end.record, answered_user_id=dave.pk, user_ids=[*end.record.user_ids, dave.pk],
                                  queue_id=exempel.queues["Support"].pk)
    entry = persist_call(foreign)
    assert entry.answered_by is None and entry.queue is None
    assert dave not in entry.users.all()


def renamed(events, mapping: dict[str, str], exact: dict[str, str]):
    """The capture as our configuration would have named it: endpoints, contexts and queues."""
    out = []
    for at, event in events:
        new = {}
        for key, value in event.items():
            if isinstance(value, str):
                value = exact.get(value, value)
                for old, name in mapping.items():
                    value = value.replace(old, name)
            new[key] = value
        out.append((at, new))
    return out


def test_it_resolves_our_own_endpoint_names_to_the_company_s_people(demo, node, django_assert_max_num_queries):
    alice, olle = demo.admin, demo.operator
    tenant = demo.tenant.pk
    endpoints = {u.pk: Device.objects.filter(user=u).first().endpoint for u in (alice, olle)}
    events = renamed(
        events_of("d_queue_call_answered_by_agent"),
        {"PJSIP/1001": f"PJSIP/{endpoints[alice.pk]}", "PJSIP/1002": f"Local/{olle.pk}@t{tenant}-agents/n"},
        {"internal": f"t{tenant}-internal", "support": f"t{tenant}-q{demo.queues['Support'].pk}"},
    )
    # The agent's leg is a device of Olle's, as the t<tenant>-agents dialplan would have dialled.
    for _at, event in events:
        for key in ("Channel", "DestChannel"):
            if event.get(key, "").startswith(f"Local/{olle.pk}@t{tenant}-agents/n-"):
                event[key] = event[key].replace(f"Local/{olle.pk}@t{tenant}-agents/n", f"PJSIP/{endpoints[olle.pk]}")
    core = BridgeCore(node.name, Resolver(DatabaseLoader()))
    with django_assert_max_num_queries(6):  # looked up once each, then cached
        out = [e for at, event in events for e in core.process(event, at)]
    (end,) = [e for e in out if isinstance(e, d.CallEnded)]
    assert end.tenant_id == tenant
    assert (end.record.caller_user_id, end.record.answered_user_id) == (alice.pk, olle.pk)
    assert end.record.queue_id == demo.queues["Support"].pk
    assert {e.user_id for e in out if isinstance(e, d.AgentStatusChanged)} == {olle.pk}


def _row(tenant, node, linkedid: str, number: str) -> CallLog:
    from django.utils import timezone

    now = timezone.now()
    return CallLog.objects.create(tenant=tenant, node=node, linkedid=linkedid, started_at=now, ended_at=now,
                                  direction="in", from_number=number, result="answered")


def _admin_request(rf, user):
    request = rf.get("/admin/")
    request.user = user
    return request


def test_a_company_admin_reads_only_the_own_company_s_call_log(rf, demo, exempel, node):
    from django.contrib import admin

    ours = _row(demo.tenant, node, "1.1", "0701111111")
    _row(exempel.tenant, node, "1.2", "0702222222")
    model_admin = admin.site._registry[CallLog]
    request = _admin_request(rf, demo.admin)
    assert list(model_admin.get_queryset(request)) == [ours]
    assert model_admin.has_view_permission(request, ours)
    assert not model_admin.has_add_permission(request)
    assert not model_admin.has_change_permission(request, ours)
    assert not model_admin.has_delete_permission(request, ours)


def test_exempel_s_admin_sees_none_of_demo_s_queue_log(rf, demo, exempel, node):
    from django.contrib import admin

    entry = _row(demo.tenant, node, "1.3", "0703333333")
    row = QueueEvent.objects.create(tenant=demo.tenant, node=node, key="x:0:enter:0", call=entry, linkedid="1.3",
                                    uniqueid="1.3", queue=demo.queues["Support"], queue_name="t1-q1", kind="enter",
                                    at=entry.started_at)
    model_admin = admin.site._registry[QueueEvent]
    request = _admin_request(rf, exempel.admin)
    assert list(model_admin.get_queryset(request)) == []
    assert not model_admin.has_view_permission(request, row)
    assert list(model_admin.get_queryset(_admin_request(rf, demo.admin))) == [row]
