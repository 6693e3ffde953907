"""One login for everyone, and limits that slow an attacker rather than lock out the owner.

Alice admins Demo AB (she reaches Django admin), Eva is a user there, Carol admins Exempel AB. Every
attempt goes through the real views: Django admin's login URL, allauth's login and password reset.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core import mail
from django.test import RequestFactory

from pbx.demo import DEMO_PASSWORD
from portal.auth import client_ip

from .mfa_helpers import current_code, with_app

pytestmark = pytest.mark.django_db

THROTTLED = "Too many failed login attempts"


@pytest.fixture(autouse=True)
def private_cache(settings):
    # allauth counts attempts in the cache; with Redis it would carry over between tests and runs.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "signin"}}
    from django.core.cache import cache

    cache.clear()


def login(client, url, email, password, **extra):
    return client.post(url, {"login": email, "password": password}, **extra)


def admin_login_target(client) -> str:
    response = client.get("/admin/login/?next=/admin/pbx/user/")
    assert response.status_code == 302
    return response.url


def test_the_admin_login_page_sends_to_allauths_login_keeping_next(client):
    target = admin_login_target(client)

    assert urlsplit(target).path == "/accounts/login/"
    assert parse_qs(urlsplit(target).query)["next"] == ["/admin/pbx/user/"]


def test_the_admin_login_page_never_checks_a_posted_password(client, alice):
    response = client.post("/admin/login/", {"username": alice.email, "password": DEMO_PASSWORD})

    assert response.status_code == 302
    assert urlsplit(response.url).path == "/accounts/login/"
    assert "_auth_user_id" not in client.session


def test_the_admin_login_page_refuses_a_foreign_next(client):
    target = admin_login_target_for(client, "https://evil.example/")
    assert parse_qs(urlsplit(target).query)["next"] == ["/admin/"]


def admin_login_target_for(client, next_url):
    return client.get("/admin/login/", {"next": next_url}).url


def test_a_signed_in_person_without_admin_access_gets_403_not_a_redirect_loop(client, eva):
    client.force_login(eva)
    assert client.get("/admin/login/?next=/admin/").status_code == 403


def test_an_admin_signed_in_through_allauth_lands_on_the_admin_page_asked_for(client, alice):
    target = admin_login_target(client)
    response = login(client, target, alice.email, DEMO_PASSWORD)

    assert response.status_code == 302 and response.url == "/admin/pbx/user/"
    assert client.get("/admin/pbx/user/").status_code == 200


def test_thirty_wrong_passwords_on_the_admin_path_are_throttled_and_the_right_one_then_waits(client, alice):
    target = admin_login_target(client)
    answers = [login(client, target, alice.email, f"wrong-{n}").content.decode() for n in range(30)]

    throttled = [THROTTLED in answer for answer in answers]
    assert throttled[:5] == [False] * 5
    assert all(throttled[5:])
    # Unlike the old admin login (30 wrong in 13 s, then the right one worked): the 31st login from one
    # address in a minute is answered 429, and from elsewhere the account limit still holds.
    assert login(client, target, alice.email, DEMO_PASSWORD).status_code == 429
    response = login(client, target, alice.email, DEMO_PASSWORD, REMOTE_ADDR="198.51.100.4")
    assert response.status_code == 200 and THROTTLED in response.content.decode()
    assert "_auth_user_id" not in client.session


def reset_password(client, email: str, new_password: str) -> None:
    mail.outbox.clear()
    client.post("/accounts/password/reset/", {"email": email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    form_url = client.get(link).url  # allauth moves the key into the session and redirects
    response = client.post(form_url, {"password1": new_password, "password2": new_password})
    assert response.status_code == 302, response.content.decode()[:2000]


def test_a_successful_password_reset_lifts_the_account_limit_an_attacker_set_off(client, alice):
    from django.test import Client

    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(6):
        login(attacker, "/accounts/login/", alice.email, f"wrong-{n}")
    assert THROTTLED in login(client, "/accounts/login/", alice.email, DEMO_PASSWORD).content.decode()

    reset_password(client, alice.email, "Blåbärssylt-i-oktober-91")
    client.logout()
    response = login(client, "/accounts/login/", alice.email, "Blåbärssylt-i-oktober-91")

    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(alice.pk)


@pytest.mark.parametrize("held_by", ["deployment", "company"])
def test_an_owner_with_a_second_factor_gets_through_an_account_an_attacker_held(client, alice, demo, held_by):
    from django.test import Client

    from pbx.models import AuditLog
    from portal.models import PasswordPolicy

    if held_by == "company":
        PasswordPolicy.objects.create(tenant=demo.tenant, lockout_attempts=3, lockout_minutes=30)
    secret = with_app(alice)
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(5 if held_by == "deployment" else 3):  # the deployment's 5 a person, or the company's 3
        login(attacker, "/accounts/login/", alice.email, f"wrong-{n}")
    held = THROTTLED if held_by == "deployment" else "locked for 30 minutes"
    # The attacker's next guesses read as before, and are still in the audit log.
    failed = AuditLog.objects.filter(action="sign_in_failed", object_id=str(alice.pk)).count()
    assert held in login(attacker, "/accounts/login/", alice.email, "wrong-again").content.decode()
    assert AuditLog.objects.filter(action="sign_in_failed", object_id=str(alice.pk)).count() == failed + 1

    # Alice, elsewhere: her password leads to her app's code, which signs her in.
    step = login(client, "/accounts/login/", alice.email, DEMO_PASSWORD, REMOTE_ADDR="198.51.100.30")
    assert step.status_code == 302 and step.url == "/accounts/2fa/authenticate/"
    assert "_auth_user_id" not in client.session
    done = client.post(step.url, {"code": current_code(secret)}, REMOTE_ADDR="198.51.100.30")
    assert done.status_code == 302 and client.session["_auth_user_id"] == str(alice.pk)
    assert AuditLog.objects.filter(action="signed_in", object_id=str(alice.pk),
                                   after__methods=["password", "mfa"]).exists()


def test_an_account_held_without_a_second_factor_waits_for_its_reset_link(client, eva):
    from django.test import Client

    from pbx.models import AuditLog

    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(6):
        login(attacker, "/accounts/login/", eva.email, f"wrong-{n}")
    answer = login(client, "/accounts/login/", eva.email, DEMO_PASSWORD, REMOTE_ADDR="198.51.100.31")
    assert answer.status_code == 200 and THROTTLED in answer.content.decode()
    assert "_auth_user_id" not in client.session
    # Every attempt is in the audit log: five wrong passwords, then two refused unchecked by the limit.
    rows = [(row.after.get("held"), row.after["ip"]) for row in
            AuditLog.objects.filter(action="sign_in_failed", object_id=str(eva.pk)).order_by("id")]
    assert rows == [(None, "203.0.113.9")] * 5 + [("too_many_login_attempts", "203.0.113.9"),
                                                   ("too_many_login_attempts", "198.51.100.31")]


def test_the_second_factor_does_not_lift_the_per_address_limit(client, alice):
    with_app(alice)
    for n in range(10):
        login(client, "/accounts/login/", f"person{n}@demo.example", "Sommar2026!", REMOTE_ADDR="203.0.113.10")
    for n in range(6):
        login(client, "/accounts/login/", alice.email, f"wrong-{n}", REMOTE_ADDR="203.0.113.11")
    # From the address that sprayed, even Alice's right password waits: the address is held, not only the account.
    answer = login(client, "/accounts/login/", alice.email, DEMO_PASSWORD, REMOTE_ADDR="203.0.113.10")
    assert answer.status_code == 200 and THROTTLED in answer.content.decode()


def test_spraying_one_password_over_many_accounts_from_one_address_is_slowed(client, eva):
    from django.test import Client

    attacker = Client(REMOTE_ADDR="203.0.113.7")
    answers = [login(attacker, "/accounts/login/", f"person{n}@demo.example", "Sommar2026!").content.decode()
               for n in range(12)]

    assert [THROTTLED in a for a in answers] == [False] * 10 + [True] * 2
    # Someone at another address is not affected.
    assert login(client, "/accounts/login/", eva.email, DEMO_PASSWORD, REMOTE_ADDR="198.51.100.20").status_code == 302


def test_a_forged_x_forwarded_for_from_an_untrusted_peer_does_not_spread_the_attacker(settings):
    from django.test import Client

    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    attacker = Client(REMOTE_ADDR="203.0.113.8")
    answers = [login(attacker, "/accounts/login/", f"person{n}@demo.example", "x-Wrong-1",
                     HTTP_X_FORWARDED_FOR=f"192.0.2.{n}").content.decode() for n in range(11)]

    assert THROTTLED in answers[-1]


def test_behind_the_trusted_proxy_each_client_is_counted_apart(settings, eva):
    from django.test import Client

    settings.TRUSTED_PROXIES = ["10.0.0.0/24"]
    proxy = Client(REMOTE_ADDR="10.0.0.2")
    for n in range(11):
        answer = login(proxy, "/accounts/login/", f"person{n}@demo.example", "x-Wrong-1",
                       HTTP_X_FORWARDED_FOR="203.0.113.50").content.decode()
    assert THROTTLED in answer
    # Another client behind the same proxy still signs in: the proxy's address is not the one counted.
    response = login(proxy, "/accounts/login/", eva.email, DEMO_PASSWORD, HTTP_X_FORWARDED_FOR="198.51.100.3")
    assert response.status_code == 302


def request_from(remote: str, xff: str | None = None):
    extra = {"REMOTE_ADDR": remote}
    if xff is not None:
        extra["HTTP_X_FORWARDED_FOR"] = xff
    return RequestFactory().get("/", **extra)


@pytest.mark.parametrize(("trusted", "remote", "xff", "expected"), [
    ([], "203.0.113.1", "192.0.2.1", "203.0.113.1"),  # no proxy configured: the header is ignored
    (["10.0.0.0/8"], "203.0.113.1", "192.0.2.1", "203.0.113.1"),  # not from the proxy: ignored
    (["10.0.0.0/8"], "10.0.0.2", "192.0.2.1", "192.0.2.1"),
    (["10.0.0.0/8"], "10.0.0.2", "6.6.6.6, 192.0.2.1", "192.0.2.1"),  # the client's own prefix is not believed
    (["10.0.0.0/8"], "10.0.0.2", "192.0.2.1, 10.0.0.7", "192.0.2.1"),  # two of our proxies in a row
    (["10.0.0.0/8"], "10.0.0.2", "not-an-address", "10.0.0.2"),
    (["10.0.0.0/8"], "10.0.0.2", None, "10.0.0.2"),
    (["fd00::/8"], "fd00::2", "2001:db8::1", "2001:db8::1"),
])
def test_the_client_address_trusts_x_forwarded_for_only_from_a_configured_proxy(settings, trusted, remote, xff,
                                                                                  expected):
    settings.TRUSTED_PROXIES = trusted
    assert client_ip(request_from(remote, xff)) == expected
