"""The isolation matrix: every API endpoint × every verb × every role of Demo AB, against a row of Exempel AB.
Alice (admin), Olle (operator) and Eva (user) with their personal tokens, and Alice's company key with every
scope: Exempel's row never shows in a list, and every verb on its id is 404 (never 403, which would tell it
exists; never a change)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.cache import cache
from django.utils import timezone

from api.auth import do_create_api_key
from api.models import ApiKey
from api.urls import router
from pbx.actions.base import snapshot
from pbx.models import AsteriskNode, Conference, Prompt, User
from pbx.webhooks.models import WebhookEndpoint
from recording.models import Recording
from stats.models import CallLog, QueueEvent
from tests.api_fixtures import ALL_SCOPES, api_client_for
from tests.recording_fixtures import make_recording

pytestmark = pytest.mark.django_db

RESOURCES = [(prefix, viewset) for prefix, viewset, _basename in router.registry if prefix != "calls/live"]
ROLES = ["admin", "operator", "user", "company_key"]


def their_row(model, exempel):
    """A row of Exempel AB of the model (the demo has most; the rest are made here)."""
    tenant = exempel.tenant
    row = model._default_manager.filter(tenant=tenant).order_by("pk").first()
    if row is not None:
        return row
    if model is Conference:
        return Conference.objects.create(tenant=tenant, name="Styrelse", extension="3999")
    if model is Prompt:
        return Prompt.objects.create(tenant=tenant, name="Hälsning")
    node = AsteriskNode.objects.filter(is_default=True).first() or AsteriskNode.default()
    now = timezone.now()
    call = CallLog.objects.create(tenant=tenant, node=node, linkedid="iso-1", started_at=now - timedelta(minutes=1),
                                  ended_at=now, direction="in", result="answered", from_number="+46701234567")
    call.users.add(exempel.admin)
    if model is CallLog:
        return call
    if model is QueueEvent:
        return QueueEvent.objects.create(tenant=tenant, node=node, key="iso-1", call=call, linkedid="iso-1",
                                         uniqueid="iso-1", queue_name="q", kind="enter", at=now)
    if model is ApiKey:
        return do_create_api_key(exempel.admin, exempel.admin, name="theirs", kind="personal")[0]
    if model is WebhookEndpoint:
        return WebhookEndpoint.objects.create(tenant=tenant, url="https://crm.exempel.example/hooks")
    if model is Recording:
        return make_recording(tenant, exempel.agents[0])
    raise AssertionError(f"no row of {model.__name__} for the matrix")


def demo_client(role, demo):
    cache.clear()  # no throttle budget carried between roles
    person = {"admin": demo.admin, "operator": demo.operator, "user": demo.users[0],
              "company_key": demo.admin}[role]
    return api_client_for(person, scopes=ALL_SCOPES if role == "company_key" else None)


def model_of(viewset):
    if viewset.__name__ == "ApiKeyViewSet":
        return ApiKey
    return Recording if viewset.__name__ == "RecordingViewSet" else viewset.model


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize(("prefix", "viewset"), RESOURCES, ids=[p for p, _v in RESOURCES])
def test_another_companys_row_is_404_for_every_verb(prefix, viewset, role, demo, exempel):
    row = their_row(model_of(viewset), exempel)
    before = snapshot(row)
    client = demo_client(role, demo)
    listed = client.get(f"/api/v1/{prefix}/?page_size=500")
    if listed.status_code == 200:
        assert row.pk not in {item["id"] for item in listed.json()["results"]}
    else:
        assert listed.status_code == 403  # a role that may not list this at all
    url = f"/api/v1/{prefix}/{row.pk}/"
    requests = [("get", url), ("put", url), ("patch", url), ("delete", url)]
    for extra in viewset.get_extra_actions():
        if extra.detail:
            requests += [(method, f"{url}{extra.url_path}/") for method in extra.mapping]
    for method, path in requests:
        response = getattr(client, method)(path, {}, format="json", HTTP_IF_MATCH="*")
        assert response.status_code in (404, 405), (method, path, response.status_code)
        if response.status_code == 404:
            assert response["Content-Type"] == "application/problem+json"
    assert snapshot(type(row)._default_manager.get(pk=row.pk)) == before


@pytest.mark.parametrize("role", ROLES)
def test_another_companys_live_call_and_voicemail_are_404(role, demo, exempel):
    client = demo_client(role, demo)
    for action in ("", "answer/", "transfer/", "hold/", "hangup/", "record/", "listen/", "complete-transfer/",
                   "cancel-transfer/"):
        method = "get" if not action else "post"
        response = getattr(client, method)(f"/api/v1/calls/live/1700000000.1/{action}", {"target": "1001",
                                           "action": "start", "mode": "listen"}, format="json")
        # A plain user is refused listen-in for their role before any call is looked up: a refusal that
        # tells nothing of the call either.
        refused_for_role = role == "user" and action == "listen/" and response.status_code == 403
        assert response.status_code == 404 or refused_for_role, (action, response.status_code)
    box = their_row(__import__("pbx.models", fromlist=["VoicemailBox"]).VoicemailBox, exempel)
    for method, suffix in (("get", ""), ("delete", ""), ("post", "heard/"), ("get", "audio/")):
        response = getattr(client, method)(f"/api/v1/voicemail/{box.pk}/inbox/0/{suffix}")
        assert response.status_code == 404


@pytest.mark.parametrize(("prefix", "viewset"), [(p, v) for p, v in RESOURCES if getattr(v, "scope_area", None)],
                         ids=[p for p, v in RESOURCES if getattr(v, "scope_area", None)])
def test_a_company_key_without_the_areas_scope_is_403(prefix, viewset, demo):
    cache.clear()
    others = [s for s in ALL_SCOPES if not s.startswith(f"{viewset.scope_area}:")]
    client = api_client_for(demo.admin, scopes=others)
    assert client.get(f"/api/v1/{prefix}/").status_code == 403


STATS = ["queues", "agents", "volumes"]


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("figures", STATS)
def test_another_companys_queue_and_person_are_404_in_the_statistics(figures, role, demo, exempel):
    """The statistics take ids in the query: Exempel's queue or person is 404 (agents: a person filter; the
    queue figures take no person), never their figures; a write verb is 405; and no list names Exempel."""
    client = demo_client(role, demo)
    url = f"/api/v1/stats/{figures}/"
    queue, person = next(iter(exempel.queues.values())), exempel.agents[0]
    response = client.get(url, {"queue": queue.pk})
    assert response.status_code == 404 and response["Content-Type"] == "application/problem+json"
    if figures != "queues":
        assert client.get(url, {"agent": person.pk}).status_code == 404
    for method in ("post", "put", "patch", "delete"):
        assert getattr(client, method)(url, {}, format="json").status_code == 405
    shown = client.get(url, {"period": "month"})
    assert shown.status_code == 200
    body = shown.json()
    assert {row["id"] for row in body.get("queues", ())} <= {q.pk for q in demo.queues.values()}
    people = {row["id"] for key in ("agents", "people") for row in body.get(key, ())}
    assert set(User.objects.filter(pk__in=people).values_list("tenant_id", flat=True)) <= {demo.tenant.pk}
