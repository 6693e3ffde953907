"""The REST API's conventions, each through the real endpoint: keys (hashed, scoped, revoked), company
scoping, writes through the actions (audit rows), ETag/If-Match, problem details in the caller's language,
idempotency keys, throttling, the schema and its documentation pages under the CSP."""

from __future__ import annotations

import hashlib

import pytest
from django.core.cache import cache
from django.test import override_settings

from api.auth import do_create_api_key
from api.models import ApiKey, IdempotentRequest
from pbx.models import AuditLog, Department, User
from tests.api_fixtures import api_client_for, client_with, token_for

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def fresh_throttle():
    cache.clear()


@pytest.fixture
def api_as():
    return api_client_for


# ----------------------------------------------------------------------------------------------- keys


def test_a_key_is_stored_hashed_and_shown_once(alice):
    key, secret = do_create_api_key(alice, alice, name="CRM", kind=ApiKey.Kind.COMPANY, scopes=["stats:read"])
    stored = ApiKey.objects.get(pk=key.pk)
    assert secret.startswith(f"vxl_{stored.prefix}_") and len(secret) > 50
    assert stored.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in str(AuditLog.objects.filter(object_type="api.apikey").values_list("after", flat=True))


def test_alice_lists_people_with_her_token_and_its_last_use_is_kept(api_as, alice):
    response = api_as(alice).get("/api/v1/people/")
    assert response.status_code == 200
    emails = {p["email"] for p in response.json()["results"]}
    assert alice.email in emails and not any("exempel" in e for e in emails)
    assert ApiKey.objects.get(user=alice).last_used_at is not None


def test_no_key_a_wrong_key_and_a_revoked_key_are_401_problems(alice):
    assert client_with(None).get("/api/v1/people/").status_code == 401
    secret = token_for(alice)
    response = client_with(secret[:-2] + "xx").get("/api/v1/people/")
    assert response.status_code == 401 and response["Content-Type"] == "application/problem+json"
    assert response["WWW-Authenticate"] == "Bearer"
    client = client_with(secret)
    assert client.get("/api/v1/people/").status_code == 200
    key = ApiKey.objects.get(user=alice)
    client.delete(f"/api/v1/api-keys/{key.pk}/")
    assert client.get("/api/v1/people/").status_code == 401


def test_a_company_key_needs_the_scope_of_each_area(api_as, alice):
    client = api_as(alice, scopes=["stats:read"])
    assert client.get("/api/v1/call-logs/").status_code == 200
    response = client.get("/api/v1/people/")
    assert response.status_code == 403 and "directory:read" in response.json()["detail"]
    reader = api_as(alice, scopes=["directory:read"])
    assert reader.get("/api/v1/people/").status_code == 200
    assert reader.post("/api/v1/departments/", {"name": "Sälj"}, format="json").status_code == 403


def test_a_company_key_stops_when_its_admin_is_no_admin_any_more(api_as, alice):
    client = api_as(alice, scopes=["directory:read"])
    User.objects.filter(pk=alice.pk).update(is_company_admin=False)
    assert client.get("/api/v1/people/").status_code == 401


def test_only_an_admin_makes_company_keys_and_a_key_makes_no_keys(client, api_as, alice, eva):
    client.force_login(eva)
    response = client.post("/api/v1/api-keys/", {"name": "mine", "kind": "company", "scopes": ["stats:read"]},
                           content_type="application/json")
    assert response.status_code == 403
    response = client.post("/api/v1/api-keys/", {"name": "script", "kind": "personal"},
                           content_type="application/json")
    assert response.status_code == 201 and response.json()["key"].startswith("vxl_")
    listed = client.get("/api/v1/api-keys/").json()["results"]
    assert [k["name"] for k in listed] == ["script"] and "key" not in listed[0]
    assert api_as(alice).post("/api/v1/api-keys/", {"name": "x", "kind": "personal"},
                              format="json").status_code == 403


def test_the_browser_session_needs_csrf_for_writes(alice):
    from django.test import Client

    browser = Client(enforce_csrf_checks=True)
    browser.force_login(alice)
    assert browser.get("/api/v1/departments/").status_code == 200
    response = browser.post("/api/v1/departments/", {"name": "Sälj"}, content_type="application/json")
    assert response.status_code == 403 and "CSRF" in response.json()["detail"]


# ----------------------------------------------------------------------------------------------- scoping and actions


def test_another_companys_row_is_404_for_every_verb(api_as, alice, carol):
    theirs = Department.objects.create(tenant=carol.tenant, name="Globex-IT")
    client = api_as(alice)
    url = f"/api/v1/departments/{theirs.pk}/"
    assert client.get(url).status_code == 404
    assert client.patch(url, {"name": "x"}, format="json", HTTP_IF_MATCH="*").status_code == 404
    assert client.delete(url, HTTP_IF_MATCH="*").status_code == 404
    assert Department.objects.get(pk=theirs.pk).name == "Globex-IT"


def test_a_reference_to_another_companys_row_is_refused(api_as, alice, carol):
    theirs = Department.objects.create(tenant=carol.tenant, name="Globex-IT")
    response = api_as(alice).post("/api/v1/people/", {"email": "new@demo.example", "department": theirs.pk},
                                  format="json")
    assert response.status_code == 400 and "department" in response.json()["errors"]


def test_creating_a_person_goes_through_the_action(api_as, alice):
    response = api_as(alice).post("/api/v1/people/", {"email": "Nils@Demo.example", "first_name": "Nils",
                                                       "extension": "2099"}, format="json")
    assert response.status_code == 201, response.json()
    nils = User.objects.get(email="nils@demo.example")
    assert nils.tenant_id == alice.tenant_id and hasattr(nils, "presence")  # do_create_user made the presence
    assert AuditLog.objects.filter(action="created", object_type="pbx.user", object_id=str(nils.pk),
                                   actor=alice).exists()


def test_a_person_who_is_no_admin_reads_but_cannot_change_the_directory(api_as, eva):
    client = api_as(eva)
    assert client.get("/api/v1/departments/").status_code == 200
    response = client.post("/api/v1/departments/", {"name": "Sälj"}, format="json")
    assert response.status_code == 403 and response["Content-Type"] == "application/problem+json"


def test_hostile_text_gets_a_field_error_and_never_reaches_a_row(api_as, alice):
    response = api_as(alice).post("/api/v1/departments/", {"name": "Sälj\n[globals]\nexten=>_X.,1,System(rm)"},
                                  format="json")
    assert response.status_code == 400 and "name" in response.json()["errors"]
    assert not Department.objects.filter(name__contains="globals").exists()


# ----------------------------------------------------------------------------------------------- ETag / If-Match


def test_an_update_needs_the_etag_and_a_stale_one_is_412(api_as, alice):
    client = api_as(alice)
    created = client.post("/api/v1/departments/", {"name": "Sälj"}, format="json")
    url = f"/api/v1/departments/{created.json()['id']}/"
    etag = client.get(url)["ETag"]
    assert etag == created["ETag"]
    assert client.patch(url, {"name": "Inköp"}, format="json").status_code == 428
    changed = client.patch(url, {"name": "Inköp"}, format="json", HTTP_IF_MATCH=etag)
    assert changed.status_code == 200, changed.json()
    assert changed["ETag"] != etag
    stale = client.patch(url, {"name": "Marknad"}, format="json", HTTP_IF_MATCH=etag)
    assert stale.status_code == 412 and stale.json()["status"] == 412
    assert client.delete(url, HTTP_IF_MATCH=changed["ETag"]).status_code == 204


# ----------------------------------------------------------------------------------------------- problem details


def test_problems_come_in_the_requests_language(api_as, eva):
    english = api_as(eva).post("/api/v1/departments/", {"name": "Sälj"}, format="json").json()
    swedish = api_as(eva, language="sv").post("/api/v1/departments/", {"name": "Sälj"}, format="json").json()
    assert english["detail"] == "Only a company admin may change this."
    assert swedish["detail"] != english["detail"] and swedish["title"] == "Inte tillåtet"
    assert set(english) >= {"type", "title", "status", "detail"}


# ----------------------------------------------------------------------------------------------- throttling


@override_settings(API_THROTTLE_RATE="3/min")
def test_each_key_has_its_own_budget(api_as, alice, olle):
    first, second = api_as(alice), api_as(olle)
    assert [first.get("/api/v1/offices/").status_code for _ in range(4)] == [200, 200, 200, 429]
    assert first.get("/api/v1/offices/").json()["status"] == 429
    assert second.get("/api/v1/offices/").status_code == 200


# ----------------------------------------------------------------------------------------------- idempotency


def test_an_idempotency_key_replays_the_first_answer(api_as, olle, monkeypatch):
    from pbx.actions import calls

    started = []

    def fake_click_to_call(actor, number, *, device=None):
        started.append(number)
        return {"ok": True, "action": "click_to_call", "call_id": f"c{len(started)}", "number": number,
                "device": None}

    monkeypatch.setattr(calls, "do_click_to_call", fake_click_to_call)
    client = api_as(olle)
    first = client.post("/api/v1/calls/live/", {"number": "070-123 45 67"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    again = client.post("/api/v1/calls/live/", {"number": "070-123 45 67"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert len(started) == 1
    other = client.post("/api/v1/calls/live/", {"number": "112"}, format="json", HTTP_IDEMPOTENCY_KEY="k1")
    assert other.status_code == 422
    assert IdempotentRequest.objects.count() == 1


# ----------------------------------------------------------------------------------------------- schema and docs


def test_the_schema_and_the_documentation_pages_load_without_a_cdn(client, alice):
    client.force_login(alice)
    schema = client.get("/api/v1/schema/", HTTP_ACCEPT="application/json")
    assert schema.status_code == 200 and "/api/v1/calls/live/{id}/transfer/" in schema.json()["paths"]
    for page in ("/api/v1/docs/", "/api/v1/redoc/"):
        html = client.get(page).content.decode()
        assert "/static/drf_spectacular_sidecar/" in html
        assert "https://" not in html and "<style" not in html and "<script>" not in html
    script = client.get("/api/v1/docs/?script=")
    assert script["Content-Type"].startswith("application/javascript") and "/api/v1/schema/" in script.content.decode()


def policy_of(response) -> dict[str, list[str]]:
    directives = (part.split() for part in response["Content-Security-Policy"].split(";") if part.strip())
    return {name: sources for name, *sources in directives}


def test_redoc_alone_may_use_inline_styles_and_every_other_page_keeps_the_sites_policy(client, alice):
    """Redoc's styled-components inserts <style> elements at run time: that one page's style-src allows inline
    styles. Nothing else of its policy differs (scripts from the site only), and no other page changes."""
    from django.conf import settings

    client.force_login(alice)
    site = {name: list(sources) for name, sources in settings.CONTENT_SECURITY_POLICY["DIRECTIVES"].items()}
    redoc = policy_of(client.get("/api/v1/redoc/"))
    assert redoc["style-src"] == ["'self'", "'unsafe-inline'"] and redoc["script-src"] == ["'self'"]
    assert {k: v for k, v in redoc.items() if k != "style-src"} == {k: v for k, v in site.items() if k != "style-src"}
    for path in ("/api/v1/docs/", "/api/v1/schema/", "/me/", "/stats/", "/admin/"):
        assert policy_of(client.get(path)) == site, path


def test_a_taken_name_is_said_plainly_on_its_field(api_as, alice):
    response = api_as(alice).post("/api/v1/departments/", {"name": "kundtjänst"}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {"name": ["Another department in the company already has this name."]}


def test_the_command_prints_a_company_key_that_works(alice):
    from io import StringIO

    from django.core.management import call_command

    out = StringIO()
    call_command("create_api_key", alice.email, "--name", "CRM", "--scopes", "stats:read", stdout=out)
    client = client_with(out.getvalue().strip())
    assert client.get("/api/v1/call-logs/").status_code == 200
    assert client.get("/api/v1/people/").status_code == 403
