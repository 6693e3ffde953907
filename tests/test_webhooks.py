"""Webhooks, from the phone call to the company's receiver: signed, in order, retried, never lost, never sent
inside the stack.

The receiver is a real HTTP server (tests/webhook_receiver.py) that verifies every request with the
``standardwebhooks`` package. The call runs the whole path: the fake Asterisk plays a queue call over AMI,
the NodeBridge turns it into domain events and the call-log row, ``emit_bridge_events`` stores the messages,
and the worker's ``drain`` delivers them.
"""

from __future__ import annotations

import asyncio
import datetime as dt

import pytest
from django.core.exceptions import ValidationError
from django.test import override_settings
from django.urls import reverse
from django.utils import timezone

from pbx import actions
from pbx.asterisk.bridge import domain as d
from pbx.asterisk.bridge.persist import persist_call
from pbx.models import AsteriskNode, PresenceStatus
from pbx.notifications.models import Notification
from pbx.webhooks import deliver
from pbx.webhooks.bridge import webhook_events
from pbx.webhooks.emit import emit, subscriptions
from pbx.webhooks.models import WebhookDelivery, WebhookEndpoint, WebhookMessage, validate_endpoint_url
from pbx.webhooks.security import Refused, check_address, resolve
from stats.models import CallLog
from tests.bridge_fixtures import bridge_on_fake, capture_resolver
from tests.bridge_fixtures import until as until_true  # notify_fixtures' until awaits its condition
from tests.fake_asterisk.state import AsteriskState, Route
from tests.helpers import capture_events
from tests.notify_fixtures import *  # noqa: F403 - test_connection
from tests.webhook_receiver import Receiver

LOCAL = {"WEBHOOK_ALLOWED_NETWORKS": ["127.0.0.1/32"], "WEBHOOK_ALLOW_HTTP": True, "WEBHOOK_TIMEOUT_SECONDS": 2.0}
DDI = "+46855500001"
SCALE = 0.05


@pytest.fixture(autouse=True)
def fresh_subscriptions():
    subscriptions.forget()
    yield
    subscriptions.forget()


@pytest.fixture
def local_receivers():
    with override_settings(**LOCAL):
        yield


@pytest.fixture
def crm(demo, local_receivers):
    """Demo AB's CRM: an endpoint for every event, and its receiver."""
    endpoint = WebhookEndpoint(tenant=demo.tenant, url="http://placeholder.invalid/", description="CRM")
    receiver = Receiver(endpoint.secret)
    endpoint.url = receiver.url
    endpoint.save()
    yield endpoint, receiver
    receiver.stop()


@pytest.fixture
def exempel_crm(exempel, local_receivers):
    endpoint = WebhookEndpoint(tenant=exempel.tenant, url="http://placeholder.invalid/")
    receiver = Receiver(endpoint.secret)
    endpoint.url = receiver.url
    endpoint.save()
    yield endpoint, receiver
    receiver.stop()


def at(seconds: float) -> dt.datetime:
    return timezone.now() + dt.timedelta(seconds=seconds)


# --------------------------------------------------------------------------- the whole path


def play_queue_call(demo, test_connection) -> None:
    """An outside caller dials Demo AB's number, waits in Support, Alice (1001) answers, they talk, hang up."""
    AsteriskNode.default()
    st = AsteriskState.default()
    queue = st.add_queue(f"t{demo.tenant.pk}-q{demo.queues['Support'].pk}")
    st.add_member(queue, "PJSIP/1001", "1001", membership="static")
    st.routes[("default", DDI)] = Route("queue", queue.name)
    ended: list = []

    def persist(record):
        entry = persist_call(record)
        ended.append(entry)
        return entry

    async def scenario():
        from asgiref.sync import sync_to_async
        from django.db import connections

        from pbx.webhooks.bridge import emit_bridge_events

        def share():  # the bridge's database work runs on this test's connection (rolled back after)
            connections["default"] = test_connection

        await sync_to_async(share)()
        async with bridge_on_fake(st, capture_resolver(demo), time_scale=SCALE, persist=persist, threaded=True,
                                  webhooks=emit_bridge_events) as (fake, _bridge):
            call = fake.place_call("sipp", DDI, context="default", caller_num="+46701112233", caller_name="Kund")
            await until_true(lambda: call.callee is not None)
            await asyncio.sleep(0.2)
            fake.hangup(call.caller)
            await until_true(lambda: ended)

    asyncio.run(scenario())


def test_a_queue_call_reaches_the_crm_signed_in_order_with_its_call_log_row(demo, crm, exempel_crm, test_connection,
                                                                             monkeypatch):
    endpoint, receiver = crm
    monkeypatch.setattr("pbx.asterisk.bridge.service.close_old_connections", lambda: None)
    with capture_events():
        play_queue_call(demo, test_connection)
    assert deliver.drain() >= 4
    types = receiver.types()
    assert types[0] == "call.started" and types[-1] == "call.ended"
    assert {"queue.caller_joined", "call.answered"} <= set(types)
    assert types.index("queue.caller_joined") < types.index("call.answered")
    assert receiver.rejected == []  # every signature verified with the endpoint's secret
    ended = receiver.received[-1]
    entry = CallLog.objects.get(tenant=demo.tenant)
    row = ended["data"]["call_log"]
    assert (row["id"], row["result"], row["queue_id"], row["from_number"]) == (
        entry.pk, "answered", demo.queues["Support"].pk, "+46701112233")
    assert row["answered_by_user_id"] == demo.admin.pk
    # One call, one order key; the console's internals (channel names, Asterisk ids) stay home.
    assert len({r["data"]["call_id"] for r in receiver.received}) == 1
    assert all("channel" not in p for r in receiver.received if r["type"].startswith("call.")
               for p in r["data"]["call"]["parties"])
    # Exempel AB's CRM heard nothing of Demo AB's call.
    assert exempel_crm[1].received == [] and exempel_crm[1].requests == 0
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count() == len(types)


# --------------------------------------------------------------------------- retries, time-outs, outages


def test_a_receiver_answering_500_gets_the_same_message_again_after_the_backoff(demo, crm):
    endpoint, receiver = crm
    receiver.fail_next = 2
    emit(demo.tenant.pk, "call.started", {"call_id": "c1"}, order_key="call:c1")
    assert deliver.drain() == 1
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    assert deliver.drain() == 0  # not due before its 5 s
    deliver.drain(now_func=lambda: at(6))
    delivery.refresh_from_db()
    assert (delivery.attempts, delivery.last_error) == (2, "HTTP 500")
    assert delivery.next_attempt_at > at(6 + 299)  # then 5 minutes
    deliver.drain(now_func=lambda: at(6 + 301))
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("delivered", 3, 204)
    assert receiver.requests == 3 and receiver.ids() == [delivery.message.msg_id]  # one id: dedupe on it


@override_settings(WEBHOOK_TIMEOUT_SECONDS=0.3)
def test_a_receiver_that_does_not_answer_in_time_is_tried_again(demo, crm):
    endpoint, receiver = crm
    receiver.delay = 1.0
    emit(demo.tenant.pk, "call.started", {"call_id": "c1"}, order_key="call:c1")
    deliver.drain()
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.last_error) == ("pending", "timed out")
    receiver.delay = 0
    deliver.drain(now_func=lambda: at(6))
    delivery.refresh_from_db()
    assert delivery.status == "delivered"


def test_nothing_is_lost_while_the_receiver_is_down_and_each_call_stays_in_order(demo, crm):
    endpoint, receiver = crm
    receiver.stop()
    calls = [f"c{i}" for i in range(5)]
    for step in ("call.started", "call.answered", "call.ended"):
        for call in calls:
            emit(demo.tenant.pk, step, {"call_id": call, "step": step}, order_key=f"call:{call}")
    deliver.drain()
    # Only the head of each call's stream was tried: the rest wait behind it, in order.
    assert WebhookDelivery.objects.filter(attempts=1).count() == len(calls)
    assert not WebhookDelivery.objects.exclude(status="pending").exists()
    receiver.start()
    # Back: the next event goes through, and its success releases the backlog without waiting for the backoff.
    emit(demo.tenant.pk, "presence.changed", {"user_id": 1}, order_key="presence:1")
    deliver.drain()
    assert WebhookDelivery.objects.filter(status="delivered").count() == 16
    assert len(set(receiver.ids())) == 16
    for call in calls:
        steps = [r["data"]["step"] for r in receiver.received if r["data"].get("call_id") == call]
        assert steps == ["call.started", "call.answered", "call.ended"]


@override_settings(WEBHOOK_PROBE_SECONDS=30)
def test_a_receiver_back_after_a_minute_gets_its_backlog_at_the_next_probe_not_the_5_minute_step(demo, crm):
    endpoint, receiver = crm
    receiver.stop()
    for step in ("call.started", "call.answered", "call.ended"):
        for call in ("c1", "c2"):
            emit(demo.tenant.pk, step, {"call_id": call, "step": step}, order_key=f"call:{call}")
    deliver.drain(now_func=lambda: at(0))
    deliver.drain(now_func=lambda: at(6))  # the heads' second try: the next one is 5 minutes on
    heads = WebhookDelivery.objects.filter(endpoint=endpoint, attempts=2)
    assert heads.count() == 2 and all(h.next_attempt_at > at(300) for h in heads)
    # Still down at the first probe: one request for the whole endpoint, and it is not counted as a try.
    requests = receiver.requests
    assert deliver.drain(now_func=lambda: at(40)) == 1
    assert receiver.requests == requests  # the receiver is down: nothing reached it
    assert sorted(WebhookDelivery.objects.filter(endpoint=endpoint, attempts__gt=0).values_list("attempts", flat=True)) == [2, 2]
    assert all(h.next_attempt_at > at(300) for h in heads.all())
    assert deliver.drain(now_func=lambda: at(50)) == 0  # the next probe is 30 s after that one
    receiver.start()
    deliver.drain(now_func=lambda: at(71))
    assert WebhookDelivery.objects.filter(endpoint=endpoint, status="delivered").count() == 6
    for call in ("c1", "c2"):
        steps = [r["data"]["step"] for r in receiver.received if r["data"].get("call_id") == call]
        assert steps == ["call.started", "call.answered", "call.ended"]


@override_settings(WEBHOOK_RETRY_SCHEDULE=[1, 1])
def test_an_endpoint_failing_for_good_is_disabled_and_the_admins_are_told(demo, crm, mailoutbox,
                                                                          django_capture_on_commit_callbacks):
    endpoint, receiver = crm
    receiver.stop()
    WebhookDelivery.objects.all().delete()
    emit(demo.tenant.pk, "call.started", {"call_id": "c1"}, order_key="call:c1")
    with django_capture_on_commit_callbacks(execute=True):
        for seconds in (0, 2, 4):
            deliver.drain(now_func=lambda s=seconds: at(s))
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    assert (delivery.status, delivery.attempts) == ("failed", 3)
    endpoint.refresh_from_db()
    assert not endpoint.is_active and endpoint.disabled_at is not None
    told = Notification.objects.filter(tenant=demo.tenant, key__startswith=f"webhook-disabled:{endpoint.pk}:")
    assert {n.recipient for n in told} == {demo.admin.email}
    assert not Notification.objects.exclude(tenant=demo.tenant).filter(key__startswith="webhook-disabled:").exists()
    # Disabled: new events are not even stored for it; enabled again, "deliver again" sends the failed one.
    emit(demo.tenant.pk, "call.started", {"call_id": "c2"}, order_key="call:c2")
    assert WebhookDelivery.objects.count() == 1
    receiver.start()
    endpoint.is_active = True
    endpoint.save()
    deliver.redeliver(WebhookDelivery.objects.filter(pk=delivery.pk))
    deliver.drain()
    delivery.refresh_from_db()
    assert delivery.status == "delivered" and receiver.ids() == [delivery.message.msg_id]


# --------------------------------------------------------------------------- where a webhook may go


@pytest.mark.parametrize("address", [
    "127.0.0.1", "10.1.2.3", "172.16.0.9", "192.168.1.1", "169.254.169.254", "100.64.0.1",
    "0.0.0.0",  # noqa: S104 - an address refused, nothing is bound
    "::1", "fe80::1", "fc00::5", "::ffff:127.0.0.1", "224.0.0.1"])
def test_private_loopback_and_metadata_addresses_are_refused(address):
    import ipaddress

    with pytest.raises(Refused):
        check_address(ipaddress.ip_address(address))


def test_a_public_address_passes_and_the_operator_can_allow_a_network():
    import ipaddress

    check_address(ipaddress.ip_address("193.10.1.1"))
    with override_settings(WEBHOOK_BLOCKED_NETWORKS=["193.10.0.0/16"]), pytest.raises(Refused):
        check_address(ipaddress.ip_address("193.10.1.1"))
    with override_settings(WEBHOOK_ALLOWED_NETWORKS=["10.20.0.0/16"]):
        check_address(ipaddress.ip_address("10.20.3.4"))


@override_settings(WEBHOOK_ALLOW_HTTP=True)
def test_a_name_that_resolves_to_loopback_is_refused_after_resolution():
    with pytest.raises(Refused, match="is (this server.s own|not a public) address"):
        resolve("http://localhost:8088/ari/channels")


def test_a_checked_answer_is_reused_for_a_second_and_a_refusal_never_is(monkeypatch):
    """A worker sends hundreds a second to one receiver: one lookup, not one per request. Only an answer that
    passed the checks is kept (a name turning private meanwhile still gets the checked address), and a change
    of the platform's allowances is a new lookup."""
    import socket

    from pbx.webhooks import security

    answers = {"crm.example.se": "151.101.65.7"}
    asked: list[str] = []
    real = socket.getaddrinfo

    def getaddrinfo(host, port, *args, **kwargs):
        if host not in answers:  # this server's own names (own_addresses)
            return real(host, port, *args, **kwargs)
        asked.append(host)
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answers[host], port))]

    monkeypatch.setattr(security.socket, "getaddrinfo", getaddrinfo)
    monkeypatch.setattr(security, "_RESOLVED", {})
    url = "https://crm.example.se/hooks"
    first = resolve(url)
    answers["crm.example.se"] = "10.0.0.5"  # rebinding to a private address: the checked one is still used
    assert resolve(url) == first and str(first[2]) == "151.101.65.7" and asked == ["crm.example.se"]
    with override_settings(WEBHOOK_BLOCKED_NETWORKS=["151.101.0.0/16"]), pytest.raises(Refused):
        resolve(url)  # other settings: asked again, and now refused
    monkeypatch.setattr(security, "RESOLVED_FOR_S", 0.0)
    with pytest.raises(Refused, match="private"):
        resolve(url)  # a second later the new answer is checked, and refused
    assert asked == ["crm.example.se"] * 3


def test_the_stacks_own_services_never_get_a_request(demo):
    """Without the operator's allowance the receiver on 127.0.0.1 (standing in for ARI, Redis...) is never
    contacted; the delivery log says why."""
    with override_settings(WEBHOOK_ALLOW_HTTP=True):
        endpoint = WebhookEndpoint(tenant=demo.tenant, url="http://placeholder.invalid/")
        receiver = Receiver(endpoint.secret)
        try:
            endpoint.url = receiver.url
            endpoint.save()
            emit(demo.tenant.pk, "call.started", {"call_id": "c1"}, order_key="call:c1")
            deliver.drain()
            assert receiver.requests == 0
            delivery = WebhookDelivery.objects.get(endpoint=endpoint)
            assert delivery.last_error.startswith("refused: 127.0.0.1 is this server's own address") or \
                delivery.last_error.startswith("refused: 127.0.0.1 is not a public address")
        finally:
            receiver.stop()


def test_a_redirect_into_the_stack_is_not_followed(demo, crm):
    endpoint, receiver = crm
    inside = Receiver(endpoint.secret, host="127.0.0.2")
    try:
        receiver.redirect_to = inside.url  # 127.0.0.2: loopback, not in the allowed 127.0.0.1/32
        emit(demo.tenant.pk, "call.started", {"call_id": "c1"}, order_key="call:c1")
        deliver.drain()
        delivery = WebhookDelivery.objects.get(endpoint=endpoint)
        assert delivery.status == "pending" and delivery.last_error.startswith("refused: 127.0.0.2")
        assert inside.requests == 0
    finally:
        inside.stop()


@pytest.mark.parametrize(("url", "code"), [
    ("http://crm.example.se/hook", "scheme"),
    ("https://user:pw@crm.example.se/hook", "userinfo"),
    ("ftp://crm.example.se/", "scheme"),
    ("https://crm.example.se:99999/", "port"),
])
def test_hostile_or_plain_addresses_get_a_clear_error(url, code):
    with override_settings(WEBHOOK_ALLOW_HTTP=False), pytest.raises(ValidationError) as exc:
        validate_endpoint_url(url)
    assert exc.value.code == code


def test_unknown_event_names_are_refused(demo):
    endpoint = WebhookEndpoint(tenant=demo.tenant, url="https://crm.example.se/hook", event_types=["call.ended", "x"])
    with pytest.raises(ValidationError, match="Unknown events: x"):
        endpoint.full_clean()


# --------------------------------------------------------------------------- what is sent, to whom


def test_an_endpoint_gets_only_the_events_it_chose(demo, crm):
    endpoint, receiver = crm
    endpoint.event_types = ["presence.changed"]
    endpoint.save()
    emit(demo.tenant.pk, "call.started", {"call_id": "c1"})
    eva = demo.users[0]
    away = PresenceStatus.objects.filter(tenant=demo.tenant, needs_end_time=False).first()
    actions.do_set_presence(eva, eva, away, message="Lunch")
    from django.db import connection

    for _sids, func, _robust in list(connection.run_on_commit):
        func()
    deliver.drain()
    assert receiver.types() == ["presence.changed"]
    data = receiver.received[0]["data"]
    assert (data["user_id"], data["status"], data["message"]) == (eva.pk, away.name, "Lunch")


def test_agent_and_queue_facts_map_to_their_events_with_an_order_key_per_agent(demo):
    tenant = demo.tenant.pk
    support = demo.queues["Support"]
    bob = demo.agents[0]
    events = [
        d.AgentLoggedIn(tenant, 1.0, support.pk, "Support", bob.pk, "PJSIP/t1-d1"),
        d.AgentPaused(tenant, 2.0, support.pk, "Support", bob.pk, "PJSIP/t1-d1", paused=True, reason="Lunch"),
        d.QueueCallerAbandoned(tenant, 3.0, "c9", support.pk, "Support", position=1, wait_s=12.0),
        d.AgentLoggedOut(None, 4.0, support.pk, "Support", bob.pk, "PJSIP/t1-d1"),  # no company: nothing
    ]
    out = webhook_events(events)
    assert [(e.type, e.order_key) for e in out] == [
        ("agent.logged_in", f"agent:{bob.pk}"), ("agent.paused", f"agent:{bob.pk}"),
        ("queue.caller_abandoned", "call:c9")]
    assert out[1].data["reason"] == "Lunch" and "member" not in out[1].data
    assert out[2].data["wait_s"] == 12.0


def test_a_company_without_endpoints_stores_nothing(demo):
    assert emit(demo.tenant.pk, "call.started", {"call_id": "c1"}) == 0
    assert not WebhookMessage.objects.exists()


# --------------------------------------------------------------------------- the admin, per company


def test_alice_registers_an_endpoint_and_sees_its_secret_carol_sees_none_of_it(client, demo, exempel, crm):
    endpoint, _receiver = crm
    alice, carol = demo.admin, exempel.admin
    client.force_login(alice)
    page = client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk]))
    assert page.status_code == 200 and endpoint.secret in page.content.decode()
    created = client.post(reverse("admin:webhooks_webhookendpoint_add"), {
        "url": "https://crm.demo.example/hooks", "description": "Säljsystem", "event_types": ["call.ended"],
        "is_active": "on"})
    assert created.status_code == 302
    new = WebhookEndpoint.objects.get(description="Säljsystem")
    assert new.tenant == demo.tenant and new.event_types == ["call.ended"] and new.secret.startswith("whsec_")
    client.force_login(carol)
    assert client.get(reverse("admin:webhooks_webhookendpoint_change", args=[endpoint.pk])).status_code == 302
    listing = client.get(reverse("admin:webhooks_webhookendpoint_changelist"))
    assert listing.status_code == 200 and endpoint.url not in listing.content.decode()
    emit(demo.tenant.pk, "call.started", {"call_id": "c1"})
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    delivery.status = "failed"
    delivery.save()
    assert client.get(reverse("admin:webhooks_webhookdelivery_change", args=[delivery.pk])).status_code == 302
    client.post(reverse("admin:webhooks_webhookdelivery_changelist"),
                {"action": "deliver_again", "_selected_action": [delivery.pk]})
    delivery.refresh_from_db()
    assert delivery.status == "failed"  # Carol's "deliver again" did not reach Demo AB's row


def test_the_delivery_log_redelivers_and_the_test_button_sends(client, demo, crm, django_capture_on_commit_callbacks):
    endpoint, receiver = crm
    client.force_login(demo.admin)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:webhooks_webhookendpoint_changelist"),
                    {"action": "send_test_event", "_selected_action": [endpoint.pk]})
    assert receiver.types() == ["webhook.test"]
    delivery = WebhookDelivery.objects.get(endpoint=endpoint)
    page = client.get(reverse("admin:webhooks_webhookdelivery_changelist"))
    assert page.status_code == 200 and "webhook.test" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        client.post(reverse("admin:webhooks_webhookdelivery_changelist"),
                    {"action": "deliver_again", "_selected_action": [delivery.pk]})
    assert receiver.ids() == [delivery.message.msg_id] * 2


# --------------------------------------------------------------------------- the API


def test_alice_registers_an_endpoint_through_the_api_and_eva_sees_none(demo, exempel):
    from django.core.cache import cache

    from tests.api_fixtures import api_client_for

    cache.clear()
    alice, eva = demo.admin, demo.users[0]
    api = api_client_for(alice)
    made = api.post("/api/v1/webhook-endpoints/", {"url": "https://crm.demo.example/hooks", "description": "CRM",
                                                   "event_types": ["call.ended"]}, format="json")
    assert made.status_code == 201, made.content
    body = made.json()
    assert body["secret"].startswith("whsec_") and body["event_types"] == ["call.ended"]
    assert WebhookEndpoint.objects.get(pk=body["id"]).tenant == demo.tenant
    hostile = api.post("/api/v1/webhook-endpoints/", {"url": "https://user:pw@crm.demo.example/",
                                                      "event_types": ["call.ended", "rm -rf"]}, format="json")
    assert hostile.status_code == 400 and WebhookEndpoint.objects.count() == 1
    assert api_client_for(eva).get("/api/v1/webhook-endpoints/").json()["results"] == []
    theirs = WebhookEndpoint.objects.create(tenant=exempel.tenant, url="https://crm.exempel.example/hooks")
    assert api.get(f"/api/v1/webhook-endpoints/{theirs.pk}/").status_code == 404
