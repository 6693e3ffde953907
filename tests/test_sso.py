"""Single sign-on through a real OpenID Connect provider (tests/oidc_provider.py) on a real HTTP server.

The provider stands in for Microsoft Entra ID's multi-tenant endpoint: one sign-in service ("Microsoft") of the
deployment, many directories. Demo AB trusts its directory ``tenant-demo`` for demo.example; Exempel AB trusts
``tenant-exempel`` for exempel.example. Alice admins Demo AB, Carol admins Exempel AB, Ivar is a user there.
Each sign-in goes the whole way: our login view, the provider's authorization endpoint, our callback, the
provider's token endpoint (code + PKCE verifier), its JWKS, the signature check, the company check.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from allauth.socialaccount.models import SocialAccount, SocialApp
from django.contrib.sites.models import Site

from pbx.models import AuditLog, User
from portal.models import SsoConnection
from tests.oidc_provider import OidcProvider, s256

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def entra():
    provider = OidcProvider(client_id="vaxel-entra", multi_tenant=True).start()
    yield provider
    provider.stop()


@pytest.fixture
def microsoft(entra) -> SocialApp:
    app = SocialApp.objects.create(provider="openid_connect", provider_id="microsoft", name="Microsoft",
                                   client_id=entra.client_id, secret=entra.client_secret,
                                   settings={"server_url": entra.url})
    app.sites.add(Site.objects.get_current())
    return app


@pytest.fixture
def connections(microsoft, entra, demo, exempel):
    return {
        "demo": SsoConnection.objects.create(tenant=demo.tenant, app=microsoft, issuer=entra.issuer("tenant-demo"),
                                             email_domains="demo.example"),
        "exempel": SsoConnection.objects.create(tenant=exempel.tenant, app=microsoft,
                                                issuer=entra.issuer("tenant-exempel"),
                                                email_domains="exempel.example"),
    }


def sign_in(client, provider: OidcProvider, app: SocialApp):
    """Press the button, let the browser follow the provider's redirect, come back: the callback's response."""
    started = client.post(f"/accounts/oidc/{app.provider_id}/login/", {"process": "login"})
    assert started.status_code == 302, started
    assert started.url.startswith(f"{provider.url}/authorize?")
    approved = requests.get(started.url, allow_redirects=False, timeout=5)
    assert approved.status_code == 302, approved.text
    back = urlsplit(approved.headers["Location"])
    return client.get(f"{back.path}?{back.query}")


def signed_in_as(client):
    user_id = client.session.get("_auth_user_id")
    return User.objects.get(pk=user_id) if user_id else None


def test_alice_signs_in_through_her_companys_directory(client, entra, microsoft, connections, alice):
    entra.sign_in_as(alice.email, tenant="tenant-demo")

    response = sign_in(client, entra, microsoft)

    assert response.status_code == 302 and response.url == "/"
    assert signed_in_as(client) == alice
    assert SocialAccount.objects.get(user=alice, provider="microsoft").extra_data["id_token"]["tid"] == "tenant-demo"
    row = AuditLog.objects.get(action="sso_signed_in")
    assert row.tenant_id == alice.tenant_id and row.actor == alice
    assert row.after["issuer"] == entra.issuer("tenant-demo") and row.after["service"] == "Microsoft"


def test_an_sso_sign_in_and_a_refusal_are_in_the_audit_log_with_the_client_address(
        client, entra, microsoft, connections, alice, carol, settings):
    # Behind the compose stack's proxy: the address counted is the client's, never the proxy's.
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    client.defaults.update(REMOTE_ADDR="10.0.0.2", HTTP_X_FORWARDED_FOR="198.51.100.7")
    entra.sign_in_as(alice.email, tenant="tenant-demo")
    sign_in(client, entra, microsoft)

    vouched = AuditLog.objects.get(action="sso_signed_in")
    signed_in = AuditLog.objects.get(action="signed_in", object_id=str(alice.pk))
    assert vouched.after["ip"] == signed_in.after["ip"] == "198.51.100.7"
    assert signed_in.tenant_id == alice.tenant_id and signed_in.actor == alice
    assert "socialaccount" in signed_in.after["methods"] and "password" not in signed_in.after["methods"]

    client.post("/accounts/logout/")
    entra.sign_in_as(carol.email, tenant="tenant-demo")  # Exempel AB's person through Demo AB's directory
    sign_in(client, entra, microsoft)
    refused = AuditLog.objects.get(action="sso_refused")
    assert refused.tenant_id == carol.tenant_id and refused.after["ip"] == "198.51.100.7"
    assert not AuditLog.objects.filter(action="signed_in", object_id=str(carol.pk)).exists()


def test_the_code_flow_uses_pkce_and_the_signed_id_token(client, entra, microsoft, connections, alice):
    entra.sign_in_as(alice.email, tenant="tenant-demo")
    entra.requests.clear()

    started = client.post(f"/accounts/oidc/{microsoft.provider_id}/login/", {"process": "login"})
    query = parse_qs(urlsplit(started.url).query)
    assert query["code_challenge_method"] == ["S256"] and query["response_type"] == ["code"]
    back = urlsplit(requests.get(started.url, allow_redirects=False, timeout=5).headers["Location"])
    client.get(f"{back.path}?{back.query}")

    token_request = entra.token_requests[-1]
    assert s256(token_request["code_verifier"]) == query["code_challenge"][0]
    # Discovery, the code, the token and the keys the signature was checked with.
    assert {("GET", "/.well-known/openid-configuration"), ("POST", "/token"), ("GET", "/jwks")} <= set(entra.requests)
    assert signed_in_as(client) == alice


def test_a_second_sign_in_uses_the_same_link(client, entra, microsoft, connections, alice):
    for _attempt in range(2):
        entra.sign_in_as(alice.email, tenant="tenant-demo")
        sign_in(client, entra, microsoft)
        assert signed_in_as(client) == alice
        client.logout()

    assert SocialAccount.objects.filter(user=alice).count() == 1


def test_connecting_an_account_by_hand_is_refused(client, entra, microsoft, connections, alice, eva):
    # Eva, signed in, tries to link Alice's directory account to herself (or to anyone): refused.
    client.force_login(eva)
    entra.sign_in_as(alice.email, tenant="tenant-demo")
    started = client.post(f"/accounts/oidc/{microsoft.provider_id}/login/", {"process": "connect"})
    back = urlsplit(requests.get(started.url, allow_redirects=False, timeout=5).headers["Location"])

    client.get(f"{back.path}?{back.query}")

    assert not SocialAccount.objects.exists()
    assert AuditLog.objects.get(action="sso_refused").after["reason"] == "connecting an account by hand is not offered"


def test_an_unknown_address_is_refused_and_nobody_is_created(client, entra, microsoft, connections):
    people = User.objects.count()
    entra.sign_in_as("stranger@demo.example", tenant="tenant-demo")

    response = sign_in(client, entra, microsoft)

    assert response.status_code == 302 and urlsplit(response.url).path == "/accounts/login/"
    assert signed_in_as(client) is None
    assert User.objects.count() == people and not SocialAccount.objects.exists()
    row = AuditLog.objects.get(action="sso_refused")
    assert row.tenant_id is None and row.after["reason"] == "no such person"
    page = client.get(response.url)
    assert "This account cannot sign in here" in page.content.decode()


def test_another_companys_directory_cannot_sign_in_a_person(client, entra, microsoft, connections, carol):
    # Demo AB's directory vouches for Carol's address: she is Exempel AB's, whose directory is another.
    entra.sign_in_as(carol.email, tenant="tenant-demo")

    sign_in(client, entra, microsoft)

    assert signed_in_as(client) is None
    row = AuditLog.objects.get(action="sso_refused")
    assert row.tenant_id == carol.tenant_id and row.after["issuer"] == entra.issuer("tenant-demo")


def test_the_same_domain_in_two_companies_does_not_cross(client, entra, microsoft, connections, exempel):
    ivar = exempel.users[0]
    User.objects.filter(pk=ivar.pk).update(email="ivar@shared.example")
    for connection in connections.values():
        connection.email_domains += ", shared.example"
        connection.save()

    entra.sign_in_as("ivar@shared.example", tenant="tenant-demo")
    sign_in(client, entra, microsoft)
    assert signed_in_as(client) is None

    entra.sign_in_as("ivar@shared.example", tenant="tenant-exempel")
    sign_in(client, entra, microsoft)
    assert signed_in_as(client) == ivar


def test_an_address_the_directory_has_not_verified_is_refused(client, entra, microsoft, connections, alice):
    entra.sign_in_as(alice.email, tenant="tenant-demo", verified=False)

    sign_in(client, entra, microsoft)

    assert signed_in_as(client) is None
    assert AuditLog.objects.get(action="sso_refused").after["reason"] == "e-mail address not verified by the issuer"


def test_entras_domain_owner_claim_counts_as_verified(client, entra, microsoft, connections, alice):
    entra.sign_in_as(alice.email, tenant="tenant-demo", verified=False, xms_edov=True)

    sign_in(client, entra, microsoft)

    assert signed_in_as(client) == alice


def test_a_domain_the_company_did_not_name_is_refused(client, entra, microsoft, connections, alice):
    connections["demo"].email_domains = "demo-ab.se"
    connections["demo"].save()
    entra.sign_in_as(alice.email, tenant="tenant-demo")

    sign_in(client, entra, microsoft)

    assert signed_in_as(client) is None


def test_a_disabled_person_or_connection_is_refused(client, entra, microsoft, connections, alice, eva):
    User.objects.filter(pk=eva.pk).update(is_active=False)
    entra.sign_in_as(eva.email, tenant="tenant-demo")
    sign_in(client, entra, microsoft)
    assert signed_in_as(client) is None

    SsoConnection.objects.filter(pk=connections["demo"].pk).update(is_active=False)
    entra.sign_in_as(alice.email, tenant="tenant-demo")
    sign_in(client, entra, microsoft)
    assert signed_in_as(client) is None


def test_a_token_signed_with_a_key_not_in_the_jwks_signs_nobody_in(client, entra, microsoft, connections, alice):
    entra.sign_with_forged_key = True
    try:
        entra.sign_in_as(alice.email, tenant="tenant-demo")
        response = sign_in(client, entra, microsoft)
    finally:
        entra.sign_with_forged_key = False

    assert signed_in_as(client) is None
    assert "socialaccount/authentication_error.html" in [t.name for t in response.templates]
    assert not AuditLog.objects.filter(action="sso_signed_in").exists()


def test_the_login_page_offers_the_service_and_names_no_company(client, entra, microsoft, connections):
    page = client.get("/accounts/login/")

    html = page.content.decode()
    assert "Sign in with Microsoft" in html
    assert "Demo AB" not in html and "Exempel AB" not in html and "tenant-demo" not in html
    # The button's form is answered with a redirect to the provider: the policy lets the form go there.
    assert f"form-action 'self' {entra.url}" in page["Content-Security-Policy"]


def test_company_admins_keep_only_their_own_connections(client, connections, alice):
    client.force_login(alice)

    assert client.get(f"/admin/portal/ssoconnection/{connections['demo'].pk}/change/").status_code == 200
    other = client.get(f"/admin/portal/ssoconnection/{connections['exempel'].pk}/change/")
    assert other.status_code == 302 and "/admin/" in other.url  # "doesn't exist", as for a deleted row
    listing = client.get("/admin/portal/ssoconnection/").content.decode()
    assert "tenant-demo" in listing and "tenant-exempel" not in listing
