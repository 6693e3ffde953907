"""Each company's password rules, on every path that sets a password, and what they ask at login.

Demo AB takes the recording service's rules (8+ characters with a–z, A–Z, 0–9 and a special character; a new
one every 100 days; none of the last 10). Exempel AB has no policy: the service's defaults (10 characters).
Alice admins Demo AB, Eva is a user there; Carol admins Exempel AB, Ivar is a user there.
"""

from __future__ import annotations

import datetime
import re

import pytest
from django.contrib.auth.hashers import check_password
from django.core import mail
from django.test import Client
from django.utils import timezone, translation

from pbx.demo import DEMO_PASSWORD
from pbx.models import AuditLog
from portal.models import PasswordHistory, PasswordPolicy
from portal.passwords import password_expired

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_cache(settings):
    # allauth's limits and the company lockout count in the cache: nothing carries over between tests.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "policy"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def demo_rules(demo):
    return PasswordPolicy.objects.create(tenant=demo.tenant, **PasswordPolicy.RECORDING_SERVICE)


def change_password(client, old: str, new: str):
    return client.post("/accounts/password/change/", {"oldpassword": old, "password1": new, "password2": new})


def changed(client, user, old: str, new: str) -> bool:
    """The change went through: the person's password is the new one now."""
    response = change_password(client, old, new)
    user.refresh_from_db()
    return response.status_code == 302 and user.check_password(new)


def errors(response) -> str:
    return " ".join(str(e) for field in response.context["form"].errors.values() for e in field)


def test_the_recording_services_rules_are_checked_on_change(client, demo_rules, eva):
    client.force_login(eva)

    assert "at least 8 characters" in errors(change_password(client, DEMO_PASSWORD, "Kx7#mP"))
    assert "an upper-case letter" in errors(change_password(client, DEMO_PASSWORD, "kx7#mpqrtw"))
    assert "a digit, a special character" in errors(change_password(client, DEMO_PASSWORD, "KxamPqrtw"))
    assert changed(client, eva, DEMO_PASSWORD, "Kx7#mPqr")


def test_without_a_policy_the_services_default_length_holds(client, demo_rules, exempel):
    ivar = exempel.users[0]
    client.force_login(ivar)

    assert "at least 10 characters" in errors(change_password(client, DEMO_PASSWORD, "Kx7#mPqr"))
    assert changed(client, ivar, DEMO_PASSWORD, "kxamp7qrtwz")  # no classes asked


def test_the_swedish_weak_password_check_still_holds_under_a_policy(client, demo_rules, eva):
    client.force_login(eva)

    assert "common word" in errors(change_password(client, DEMO_PASSWORD, "Sommar2026!"))


def test_none_of_the_last_ten_may_come_back_and_only_hashes_are_kept(client, demo_rules, eva):
    passwords = [f"Tr{n}#Kvadrat-x" for n in range(11)]
    for new in passwords[:10]:  # set by the admin or a reset: the same history
        eva.set_password(new)
        eva.save()
    client.force_login(eva)

    # The first is the 10th last: still refused. One more change and it may come back.
    assert "used this password before" in errors(change_password(client, passwords[9], passwords[0]))
    assert changed(client, eva, passwords[9], passwords[10])
    assert changed(client, eva, passwords[10], passwords[0])
    stored = list(PasswordHistory.objects.filter(user=eva).values_list("password", flat=True))
    assert not any(p in stored for p in passwords)
    assert check_password(passwords[0], stored[0])


def test_an_older_password_than_the_policy_counts_may_come_back(client, demo, eva):
    PasswordPolicy.objects.create(tenant=demo.tenant, history_count=1)
    client.force_login(eva)
    assert changed(client, eva, DEMO_PASSWORD, "Tr1#Kvadrat-x")
    assert changed(client, eva, "Tr1#Kvadrat-x", "Tr2#Kvadrat-x")

    assert changed(client, eva, "Tr2#Kvadrat-x", "Tr1#Kvadrat-x")


def test_the_rules_hold_on_a_password_reset(client, demo_rules, eva):
    mail.outbox.clear()
    client.post("/accounts/password/reset/", {"email": eva.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    form_url = client.get(link).url

    refused = client.post(form_url, {"password1": "kx7#mpqrtw", "password2": "kx7#mpqrtw"})
    assert "an upper-case letter" in errors(refused)
    reused = client.post(form_url, {"password1": DEMO_PASSWORD, "password2": DEMO_PASSWORD})
    assert "used this password before" in errors(reused)
    assert client.post(form_url, {"password1": "Kx7#mPqr", "password2": "Kx7#mPqr"}).status_code == 302


def test_the_rules_hold_when_the_company_admin_sets_a_password(client, demo_rules, alice, eva):
    client.force_login(alice)

    response = client.post(f"/admin/pbx/user/{eva.pk}/password/",
                           {"password1": "kx7#mpqrtw", "password2": "kx7#mpqrtw", "usable_password": "true"})

    assert response.status_code == 200 and "an upper-case letter" in response.content.decode()


def test_the_messages_are_in_swedish_too(client, demo_rules, eva):
    client.force_login(eva)
    with translation.override("sv"):
        response = client.post("/accounts/password/change/",
                               {"oldpassword": DEMO_PASSWORD, "password1": "kx7#mpqrtw", "password2": "kx7#mpqrtw"},
                               HTTP_ACCEPT_LANGUAGE="sv")
        assert "en stor bokstav" in errors(response)


def expire(user, days: int = 101) -> None:
    PasswordHistory.objects.filter(user=user).update(created_at=timezone.now() - datetime.timedelta(days=days))


def log_in(client, email: str, password: str):
    return client.post("/accounts/login/", {"login": email, "password": password})


def test_an_expired_password_must_be_changed_before_anything_else(client, demo_rules, eva, alice):
    expire(eva)
    assert password_expired(eva)

    assert log_in(client, eva.email, DEMO_PASSWORD).status_code == 302
    for path in ("/", "/me/", "/console/", "/admin/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url == "/accounts/password/change/", path
    assert client.get("/accounts/password/change/").status_code == 200
    assert "used this password before" in errors(change_password(client, DEMO_PASSWORD, DEMO_PASSWORD))

    assert changed(client, eva, DEMO_PASSWORD, "Kx7#mPqr-ny")
    assert client.get("/me/").status_code == 200
    # Alice's password is not expired: her sign-in goes straight through.
    other = Client()
    log_in(other, alice.email, DEMO_PASSWORD)
    assert other.get("/me/").status_code == 200


def test_a_password_within_its_days_or_without_renewal_is_not_expired(demo, demo_rules, eva, exempel):
    expire(eva, days=99)
    assert not password_expired(eva)
    ivar = exempel.users[0]
    expire(ivar, days=1000)
    assert not password_expired(ivar)  # Exempel AB renews never


def test_a_company_lockout_stops_the_right_password_until_a_reset(client, demo, eva):
    PasswordPolicy.objects.create(tenant=demo.tenant, lockout_attempts=3, lockout_minutes=30)
    attacker = Client(REMOTE_ADDR="203.0.113.9")
    for n in range(3):
        log_in(attacker, eva.email, f"wrong-{n}")

    locked = log_in(client, eva.email, DEMO_PASSWORD)
    assert "locked for 30 minutes" in locked.content.decode()
    assert "_auth_user_id" not in client.session
    assert AuditLog.objects.filter(action="account_locked", tenant=demo.tenant).count() == 1

    mail.outbox.clear()
    client.post("/accounts/password/reset/", {"email": eva.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+/)", mail.outbox[-1].body).group(1)
    form_url = client.get(link).url
    assert client.post(form_url, {"password1": "Kx7#mPqr-ny", "password2": "Kx7#mPqr-ny"}).status_code == 302
    assert log_in(client, eva.email, "Kx7#mPqr-ny").status_code == 302


def test_another_companys_lockout_does_not_touch_mine(client, demo, exempel):
    PasswordPolicy.objects.create(tenant=demo.tenant, lockout_attempts=2)
    ivar = exempel.users[0]
    for n in range(3):
        log_in(Client(), ivar.email, f"wrong-{n}")

    assert log_in(client, ivar.email, DEMO_PASSWORD).status_code == 302


def test_the_preset_is_one_action_and_policy_changes_are_audited(client, demo, alice):
    policy = PasswordPolicy.objects.create(tenant=demo.tenant)
    client.force_login(alice)

    response = client.post("/admin/portal/passwordpolicy/", {"action": "use_recording_service_rules",
                                                             "_selected_action": [policy.pk]})

    assert response.status_code == 302
    policy.refresh_from_db()
    assert (policy.min_length, policy.max_age_days, policy.history_count) == (8, 100, 10)
    assert policy.require_lower and policy.require_upper and policy.require_digit and policy.require_special
    row = AuditLog.objects.get(action="changed", object_type="portal.passwordpolicy")
    assert row.actor == alice and row.tenant_id == demo.tenant.pk
    assert row.before["max_age_days"] == 0 and row.after["max_age_days"] == 100


def test_a_new_policy_starts_from_the_preset_and_stays_in_the_company(client, demo, exempel, alice, carol):
    client.force_login(alice)
    form = client.get("/admin/portal/passwordpolicy/add/").content.decode()
    assert 'name="min_length" value="8"' in form and 'name="max_age_days" value="100"' in form

    theirs = PasswordPolicy.objects.create(tenant=exempel.tenant)
    assert client.get(f"/admin/portal/passwordpolicy/{theirs.pk}/change/").status_code == 302
    assert str(exempel.tenant) not in client.get("/admin/portal/passwordpolicy/").content.decode()
