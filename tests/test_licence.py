"""The licence agreement: accepted at the first login and again after a new version, recorded, shown to admins.

The deployment publishes its agreement; Exempel AB has one of its own. Alice admins Demo AB, Eva is a user
there; Carol admins Exempel AB.
"""

from __future__ import annotations

import datetime

import pytest
from django.utils import timezone

from pbx.models import AuditLog
from portal.models import Licence, LicenceAcceptance

pytestmark = pytest.mark.django_db


def publish(version: str, *, tenant=None, days_ago: int = 0, title="Licensavtal") -> Licence:
    return Licence.objects.create(tenant=tenant, version=version, title=title, text=f"Villkor version {version}.",
                                  published_at=timezone.now() - datetime.timedelta(days=days_ago))


def accept(client, licence: Licence, next_url: str = "/me/"):
    return client.post("/accounts/licence/", {"licence": licence.pk, "next": next_url})


def test_without_an_agreement_nothing_is_asked(client, eva):
    client.force_login(eva)

    assert client.get("/me/").status_code == 200


def test_the_agreement_is_asked_once_then_recorded(client, eva):
    v1 = publish("1.0")
    client.force_login(eva)

    held = client.get("/me/")
    assert held.status_code == 302 and held.url == "/accounts/licence/?next=%2Fme%2F"
    page = client.get(held.url).content.decode()
    assert "Villkor version 1.0." in page and "version 1.0" in page

    done = accept(client, v1)
    assert done.status_code == 302 and done.url == "/me/"
    assert client.get("/me/").status_code == 200
    acceptance = LicenceAcceptance.objects.get(user=eva)
    assert (acceptance.licence, acceptance.tenant_id, acceptance.ip_address) == (v1, eva.tenant_id, "127.0.0.1")
    row = AuditLog.objects.get(action="licence_accepted")
    assert row.actor == eva and row.tenant_id == eva.tenant_id and row.after["version"] == "1.0"
    # A new session of the same person: already accepted, not asked again.
    client.logout()
    client.force_login(eva)
    assert client.get("/me/").status_code == 200


def test_a_new_version_is_asked_again_even_during_a_session(client, eva):
    v1 = publish("1.0", days_ago=30)
    client.force_login(eva)
    accept(client, v1)
    assert client.get("/me/").status_code == 200

    v2 = publish("2.0")
    held = client.get("/me/")
    assert held.status_code == 302 and held.url.startswith("/accounts/licence/")
    assert "new version (2.0)" in client.get(held.url).content.decode()
    accept(client, v2)

    assert client.get("/me/").status_code == 200
    assert list(LicenceAcceptance.objects.filter(user=eva).values_list("licence__version", flat=True)
                .order_by("accepted_at")) == ["1.0", "2.0"]


def test_a_version_not_yet_published_is_not_asked(client, eva):
    Licence.objects.create(version="3.0", title="Licensavtal", text="Kommande.",
                           published_at=timezone.now() + datetime.timedelta(days=1))
    client.force_login(eva)

    assert client.get("/me/").status_code == 200


def test_only_the_version_shown_can_be_accepted(client, eva):
    old = publish("1.0", days_ago=30)
    publish("2.0")
    client.force_login(eva)

    assert accept(client, old).status_code == 404
    assert not LicenceAcceptance.objects.exists()


def test_a_company_agreement_replaces_the_deployments(client, exempel, eva):
    publish("1.0")
    theirs = publish("E-1", tenant=exempel.tenant, days_ago=5, title="Exempels avtal")
    ivar = exempel.users[0]
    client.force_login(ivar)

    assert "Exempels avtal" in client.get("/accounts/licence/").content.decode()
    accept(client, theirs)
    assert client.get("/me/").status_code == 200
    # Demo AB's people see the deployment's, never Exempel AB's.
    client.force_login(eva)
    assert "Exempels avtal" not in client.get("/accounts/licence/").content.decode()


def test_the_next_address_stays_on_this_site(client, eva):
    v1 = publish("1.0")
    client.force_login(eva)

    assert accept(client, v1, "https://evil.example/").url == "/"


def test_the_admin_and_the_console_wait_too(client, alice):
    publish("1.0")
    client.force_login(alice)

    for path in ("/admin/", "/console/", "/"):
        assert client.get(path).url.startswith("/accounts/licence/"), path


def test_admins_see_who_accepted_in_their_company_only(client, alice, eva, carol, exempel):
    v1 = publish("1.0")
    for person in (eva, exempel.users[0]):
        client.force_login(person)
        accept(client, v1)
    theirs = LicenceAcceptance.objects.get(user=exempel.users[0])
    client.force_login(alice)
    accept(client, v1)

    listing = client.get("/admin/portal/licenceacceptance/").content.decode()
    assert str(eva) in listing and str(exempel.users[0]) not in listing
    assert client.get(f"/admin/portal/licenceacceptance/{theirs.pk}/change/").status_code == 302
    # The text is the operator's: a company admin cannot edit the deployment's agreement.
    assert client.get(f"/admin/portal/licence/{v1.pk}/change/").status_code == 403


def test_the_operator_publishes_a_version_in_the_admin(client, superuser):
    client.force_login(superuser)

    response = client.post("/admin/portal/licence/add/", {
        "version": "1.0", "title": "Licensavtal", "text": "Villkoren.", "tenant": "",
        "published_at_0": "2026-12-01", "published_at_1": "08:00:00"})

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Licence.objects.get(version="1.0").tenant is None
