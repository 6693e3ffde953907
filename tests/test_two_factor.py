"""Two-factor sign-in (portal/mfa.py on allauth.mfa): an authenticator app, a code by e-mail, and the company's
requirement per role.

Demo AB: Alice admins it, Olle operates its console, Eva is a user. Exempel AB: Carol admins it, Petra operates
its console. Every login goes through allauth's real pages, every code is the one the app would show or the mail
carried.
"""

from __future__ import annotations

import re

import pytest
from allauth.mfa.models import Authenticator
from allauth.mfa.recovery_codes.internal.auth import RecoveryCodes
from django.core import mail
from django.test import Client

from pbx.audit_text import sentence
from pbx.demo import DEMO_PASSWORD
from pbx.models import AuditLog
from portal.models import EmailCodeFactor

from .mfa_helpers import current_code, with_app

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_cache(settings):
    # allauth counts attempts and used TOTP codes in the cache: every test starts afresh.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "mfa"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def petra(exempel):
    return exempel.operator


def password_step(client, user, password=DEMO_PASSWORD):
    return client.post("/accounts/login/", {"login": user.email, "password": password})


def mailed_code(to: str) -> str:
    message = [m for m in mail.outbox if m.to == [to]][-1]
    return re.search(r"^\s*([A-Z0-9-]{6,})\s*$", message.body, re.MULTILINE).group(1)


def signed_in_as(client) -> int | None:
    user_id = client.session.get("_auth_user_id")
    return int(user_id) if user_id else None


def require(company, **roles):
    for field, value in roles.items():
        setattr(company.tenant, field, value)
    company.tenant.save()


# ------------------------------------------------------------------------------ authenticator app


def test_a_person_with_an_authenticator_app_needs_its_code_after_the_password(client, alice):
    secret = with_app(alice)

    response = password_step(client, alice)
    assert response.status_code == 302 and response.url == "/accounts/2fa/authenticate/"
    assert signed_in_as(client) is None

    response = client.post("/accounts/2fa/authenticate/", {"code": current_code(secret)})
    assert response.status_code == 302
    assert signed_in_as(client) == alice.pk


def test_a_wrong_app_code_signs_nobody_in_and_is_in_the_audit_log(client, alice):
    secret = with_app(alice)
    password_step(client, alice)
    wrong = f"{(int(current_code(secret)) + 1) % 1000000:06d}"

    response = client.post("/accounts/2fa/authenticate/", {"code": wrong}, REMOTE_ADDR="198.51.100.7")

    assert response.status_code == 200 and signed_in_as(client) is None
    row = AuditLog.objects.filter(action="sign_in_failed", object_id=str(alice.pk)).latest("id")
    assert row.after == {"factor": "totp", "ip": "198.51.100.7"} and row.actor is None
    assert row.tenant_id == alice.tenant_id


# ------------------------------------------------------------------------------ code by e-mail


def test_a_person_with_codes_by_e_mail_gets_one_after_the_password_and_is_signed_in_with_it(client, eva):
    EmailCodeFactor.objects.create(user=eva)
    mail.outbox.clear()

    response = password_step(client, eva)
    assert response.status_code == 302 and response.url == "/accounts/login/code/confirm/"
    assert signed_in_as(client) is None

    response = client.post("/accounts/login/code/confirm/", {"code": mailed_code(eva.email)})
    assert response.status_code == 302
    assert signed_in_as(client) == eva.pk
    row = AuditLog.objects.filter(action="signed_in", object_id=str(eva.pk)).latest("id")
    assert row.after["methods"] == ["password", "code"]


def test_three_wrong_e_mail_codes_start_the_login_over(client, eva):
    EmailCodeFactor.objects.create(user=eva)
    password_step(client, eva)

    for _attempt in range(3):
        response = client.post("/accounts/login/code/confirm/", {"code": "BCDFGH"})

    assert response.status_code == 302 and response.url == "/accounts/login/"
    assert signed_in_as(client) is None
    assert client.get("/accounts/login/code/confirm/").status_code == 302  # that code is gone
    assert AuditLog.objects.filter(action="sign_in_failed", object_id=str(eva.pk),
                                   after__factor="email_code").count() == 3


def test_wrong_e_mail_codes_count_against_the_account_over_fresh_logins(client, eva):
    # Knowing the password gives no more guesses by starting over: five wrong codes in five minutes lock codes.
    EmailCodeFactor.objects.create(user=eva)
    for _round in range(2):
        password_step(client, eva)
        for _attempt in range(3):
            client.post("/accounts/login/code/confirm/", {"code": "BCDFGH"})
    mail.outbox.clear()
    password_step(client, eva)

    response = client.post("/accounts/login/code/confirm/", {"code": mailed_code(eva.email)})
    assert signed_in_as(client) is None
    assert "Too many failed login attempts" in response.content.decode()


def test_a_person_without_two_factor_signs_in_with_the_password_alone(client, eva):
    mail.outbox.clear()
    response = password_step(client, eva)
    assert response.status_code == 302 and signed_in_as(client) == eva.pk
    assert mail.outbox == []


def test_an_app_or_passkey_is_asked_instead_of_the_e_mail_code(client, alice):
    EmailCodeFactor.objects.create(user=alice)
    with_app(alice)
    mail.outbox.clear()

    response = password_step(client, alice)

    assert response.url == "/accounts/2fa/authenticate/" and mail.outbox == []


def test_a_code_cannot_be_asked_for_without_the_password(client, eva):
    # Codes by e-mail are a second factor, never the only one: no passwordless "send me a code".
    EmailCodeFactor.objects.create(user=eva)
    assert client.get("/accounts/login/code/").status_code == 404
    assert client.get("/accounts/login/code/confirm/").status_code == 302


def test_turning_codes_on_asks_for_the_password_again_and_is_audited(client, eva):
    client.force_login(eva)
    client.session.flush()
    client.force_login(eva)  # a session with no recent authentication

    response = client.post("/accounts/2fa/email/", {"action": "on"}, REMOTE_ADDR="192.0.2.40")
    assert response.status_code == 302 and response.url.startswith("/accounts/reauthenticate/")
    assert not EmailCodeFactor.objects.filter(user=eva).exists()

    # allauth carries the asked-for change out once the password is given again.
    client.post(response.url, {"password": DEMO_PASSWORD}, REMOTE_ADDR="192.0.2.40")
    assert EmailCodeFactor.objects.filter(user=eva).exists()
    row = AuditLog.objects.filter(action="two_factor_added", object_id=str(eva.pk)).latest("id")
    assert row.after == {"factor": "email_code", "ip": "192.0.2.40"} and row.actor_id == eva.pk


# ------------------------------------------------------------------------------ required per role


def test_an_operator_of_a_company_that_requires_it_is_sent_to_set_it_up_and_nowhere_else(client, olle, petra,
                                                                                           demo, exempel):
    require(demo, mfa_required_operators=True)
    password_step(client, olle)
    assert signed_in_as(client) == olle.pk

    for path in ("/", "/console/", "/admin/", "/me/", "/recordings/"):
        response = client.get(path)
        assert response.status_code == 302 and response.url == "/accounts/2fa/", path
    assert client.get("/accounts/2fa/").status_code == 200
    assert client.get("/accounts/2fa/email/").status_code == 200
    # allauth asks for the password again before a factor is set up; that page is open to Olle too.
    assert client.get("/accounts/2fa/totp/activate/").url.startswith("/accounts/reauthenticate/")
    client.post("/accounts/reauthenticate/", {"password": DEMO_PASSWORD})
    assert client.get("/accounts/2fa/totp/activate/").status_code == 200

    # Exempel AB requires nothing: Petra's console opens.
    other = Client()
    other.force_login(petra)
    assert other.get("/console/").status_code == 200


def test_once_set_up_the_required_person_goes_on(client, olle, demo):
    require(demo, mfa_required_operators=True)
    client.force_login(olle)
    EmailCodeFactor.objects.create(user=olle)
    assert client.get("/console/").status_code == 200


def test_the_requirement_follows_the_roles_the_company_chose(demo, alice, olle, eva):
    from pbx.models import User
    from portal.mfa import required_for_role

    def fresh(*people):
        return [User.objects.get(pk=person.pk) for person in people]

    require(demo, mfa_required_admins=True)
    alice, olle, eva = fresh(alice, olle, eva)
    assert required_for_role(alice) and not required_for_role(olle) and not required_for_role(eva)
    User.objects.filter(pk=eva.pk).update(recording_role=User.RecordingRole.SUPER)
    assert not required_for_role(*fresh(eva))
    require(demo, mfa_required_admins=False, mfa_required_recording=True)
    olle, eva = fresh(olle, eva)
    assert required_for_role(eva) and not required_for_role(olle)


def test_the_recording_web_requires_two_factor_of_everyone(client, eva):
    client.force_login(eva)
    assert client.get("/recordings/").url == "/accounts/2fa/"
    assert client.get("/me/").status_code == 200  # elsewhere Eva's company asks nothing of her


def test_a_company_admin_sets_the_requirement_for_her_own_company_only(client, alice, demo, exempel):
    client.force_login(alice)
    page = client.get(f"/admin/pbx/tenant/{demo.tenant.pk}/change/").content.decode()
    assert 'name="mfa_required_operators"' in page
    assert client.get(f"/admin/pbx/tenant/{exempel.tenant.pk}/change/").status_code in (302, 404)


# ------------------------------------------------------------------------------ audit


def test_sign_ins_and_failures_are_in_the_audit_log_with_the_real_client_address(client, eva, settings):
    settings.TRUSTED_PROXIES = ["10.0.0.2"]
    proxied = {"REMOTE_ADDR": "10.0.0.2", "HTTP_X_FORWARDED_FOR": "6.6.6.6, 203.0.113.9"}

    client.post("/accounts/login/", {"login": eva.email, "password": "Fel-lösenord-1"}, **proxied)
    client.post("/accounts/login/", {"login": "nobody@nowhere.example", "password": "x"}, **proxied)
    client.post("/accounts/login/", {"login": eva.email, "password": DEMO_PASSWORD}, **proxied)

    failed = AuditLog.objects.get(action="sign_in_failed", object_id=str(eva.pk))
    assert failed.tenant_id == eva.tenant_id and failed.actor is None
    assert failed.after == {"factor": "password", "ip": "203.0.113.9"}
    unknown = AuditLog.objects.get(action="sign_in_failed", object_repr="nobody@nowhere.example")
    assert unknown.tenant_id is None
    signed_in = AuditLog.objects.get(action="signed_in", object_id=str(eva.pk))
    assert signed_in.actor_id == eva.pk and signed_in.after == {"methods": ["password"], "ip": "203.0.113.9"}


def test_password_change_and_reset_are_in_the_audit_log(client, eva):
    client.force_login(eva)
    client.post("/accounts/password/change/", {
        "oldpassword": DEMO_PASSWORD, "password1": "Kanelbulle-på-fredag-77", "password2": "Kanelbulle-på-fredag-77"})
    assert AuditLog.objects.filter(action="password_changed", object_id=str(eva.pk), actor=eva).exists()

    anonymous = Client()
    mail.outbox.clear()
    anonymous.post("/accounts/password/reset/", {"email": eva.email})
    link = re.search(r"https?://[^/\s]+(/accounts/password/reset/key/\S+)", mail.outbox[-1].body).group(1)
    form_url = anonymous.get(link).url
    anonymous.post(form_url, {"password1": "Mörk-choklad-och-te-9", "password2": "Mörk-choklad-och-te-9"})
    assert AuditLog.objects.filter(action="password_reset", object_id=str(eva.pk)).exists()


def test_setting_up_and_removing_an_app_is_in_the_audit_log(client, alice, django_capture_on_commit_callbacks):
    client.force_login(alice)
    client.post("/accounts/reauthenticate/", {"password": DEMO_PASSWORD})
    client.get("/accounts/2fa/totp/activate/")
    secret = client.session["mfa.totp.secret"]
    with django_capture_on_commit_callbacks(execute=True):  # allauth signals a new factor after commit
        client.post("/accounts/2fa/totp/activate/", {"code": current_code(secret)}, REMOTE_ADDR="192.0.2.8")
    assert Authenticator.objects.filter(user=alice, type="totp").exists()

    client.post("/accounts/2fa/totp/deactivate/")
    assert not Authenticator.objects.filter(user=alice, type="totp").exists()
    rows = list(AuditLog.objects.filter(object_id=str(alice.pk), action__startswith="two_factor")
                .order_by("id").values_list("action", "before", "after"))
    assert rows == [
        ("two_factor_added", None, {"factor": "totp", "ip": "192.0.2.8"}),
        ("two_factor_added", None, {"factor": "recovery_codes", "ip": "192.0.2.8"}),
        ("two_factor_removed", {"factor": "totp"}, {"ip": "127.0.0.1"}),
        ("two_factor_removed", {"factor": "recovery_codes"}, {"ip": "127.0.0.1"}),
    ]


def test_the_operator_removes_a_lost_factor_in_the_admin_audited_and_makes_none(
        client, alice, carol, superuser, django_capture_on_commit_callbacks):
    """A person who lost their phone: the operator (a superuser) removes the app in the admin; the row says who."""
    with_app(alice)
    RecoveryCodes.activate(alice)
    factors = list(Authenticator.objects.filter(user=alice).order_by("type").values_list("pk", flat=True))
    assert len(factors) == 2  # the app and its recovery codes

    client.force_login(carol)  # another company's admin sees nothing of it
    assert client.get("/admin/mfa/authenticator/").status_code == 403
    assert client.post("/admin/mfa/authenticator/", {"action": "delete_selected", "_selected_action": factors,
                                                     "post": "yes"}).status_code == 403

    client.force_login(superuser)
    assert client.get("/admin/mfa/authenticator/add/").status_code == 403  # set up by its owner only
    page = client.get(f"/admin/mfa/authenticator/{factors[0]}/change/").content.decode()
    assert 'name="_save"' not in page  # read-only
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/admin/mfa/authenticator/", {"action": "delete_selected", "_selected_action": factors,
                                                  "post": "yes"}, REMOTE_ADDR="192.0.2.9")

    assert not Authenticator.objects.filter(user=alice).exists()
    rows = AuditLog.objects.filter(object_id=str(alice.pk), action="two_factor_removed")
    assert sorted((r.before["factor"], r.actor_id, r.tenant_id, r.after["by"], r.after["ip"]) for r in rows) == [
        ("recovery_codes", superuser.pk, alice.tenant_id, "admin", "192.0.2.9"),
        ("totp", superuser.pk, alice.tenant_id, "admin", "192.0.2.9")]

    entry = rows.latest("pk")
    assert sentence(entry) == f"{superuser.display_name} removed a two-factor method of {entry.object_repr}."


def test_login_addresses_are_read_only_in_the_admin(client, eva, carol, superuser):
    """A login address is set on the person (audited) or verified by its owner, never edited as a bare row."""
    from allauth.account.models import EmailAddress

    address = EmailAddress.objects.get(user=eva)
    client.force_login(carol)
    assert client.get("/admin/account/emailaddress/").status_code == 403
    client.force_login(superuser)
    assert client.get("/admin/account/emailaddress/").status_code == 200
    assert client.get("/admin/account/emailaddress/add/").status_code == 403
    page = client.get(f"/admin/account/emailaddress/{address.pk}/change/").content.decode()
    assert 'name="_save"' not in page
    assert client.post(f"/admin/account/emailaddress/{address.pk}/delete/", {"post": "yes"}).status_code == 403
    assert EmailAddress.objects.filter(pk=address.pk, verified=True, primary=True).exists()


def test_the_operator_ends_a_session_in_the_admin_and_the_browser_is_signed_out(
        client, eva, carol, superuser, django_capture_on_commit_callbacks):
    """Deleting allauth's row alone would leave the browser signed in; the admin ends the session itself."""
    from allauth.usersessions.models import UserSession

    browser = Client()
    browser.post("/accounts/login/", {"login": eva.email, "password": DEMO_PASSWORD})
    assert browser.get("/me/").status_code == 200
    session = UserSession.objects.get(user=eva)

    client.force_login(carol)  # another company's admin cannot
    assert client.post(f"/admin/usersessions/usersession/{session.pk}/delete/", {"post": "yes"}).status_code == 403
    client.force_login(superuser)
    with django_capture_on_commit_callbacks(execute=True):
        client.post(f"/admin/usersessions/usersession/{session.pk}/delete/", {"post": "yes"}, REMOTE_ADDR="192.0.2.7")

    assert not UserSession.objects.filter(user=eva).exists()
    assert browser.get("/me/").status_code == 302  # signed out: to the login page
    entry = AuditLog.objects.get(object_id=str(eva.pk), action="sessions_ended")
    assert (entry.actor_id, entry.tenant_id, entry.after) == (superuser.pk, eva.tenant_id,
                                                            {"count": 1, "by": "admin", "ip": "192.0.2.7"})
    assert sentence(entry) == f"{superuser.display_name} ended a signed-in session of {entry.object_repr}."


# ------------------------------------------------------------------------------ account pages


@pytest.mark.parametrize("path", ["/accounts/2fa/", "/accounts/2fa/email/", "/accounts/sessions/",
                                  "/accounts/language/"])
def test_the_security_pages_wear_my_pages_look_and_are_linked_from_it(client, eva, path):
    client.force_login(eva)
    page = client.get(path).content.decode()
    assert 'class="me-nav"' in page and 'aria-current="page"' in page
    nav = client.get("/me/").content.decode()
    assert all(f'href="{link}"' in nav for link in ("/accounts/2fa/", "/accounts/sessions/", "/accounts/language/"))


def test_the_sessions_page_lists_only_my_own_sessions(eva, carol):
    mine, theirs = Client(), Client()
    password_step(mine, eva)
    password_step(theirs, carol)

    page = mine.get("/accounts/sessions/").content.decode()

    from allauth.usersessions.models import UserSession

    assert UserSession.objects.filter(user=carol).exists()
    assert list(UserSession.objects.filter(user=eva).values_list("user_id", flat=True)) == [eva.pk]
    assert page.count("<tr") == 2  # the heading row and Eva's one session


def test_my_language_is_kept_and_set_at_every_login(client, eva):
    client.force_login(eva)
    response = client.post("/accounts/language/", {"language": "sv"})
    assert response.status_code == 302 and response.cookies["django_language"].value == "sv"
    eva.refresh_from_db()
    assert eva.language == "sv"
    assert AuditLog.objects.filter(action="language_set", object_id=str(eva.pk)).exists()

    fresh = Client()
    response = password_step(fresh, eva)
    assert response.cookies["django_language"].value == "sv"


def test_a_language_the_web_does_not_speak_is_refused(client, eva):
    client.force_login(eva)
    response = client.post("/accounts/language/", {"language": "xx"})
    assert response.status_code == 400
    eva.refresh_from_db()
    assert eva.language == ""


def test_the_two_factor_pages_speak_swedish(client, eva):
    from tests.test_portal_pages import compiled_swedish

    compiled_swedish.__wrapped__()  # the catalogue compiled, as `make test` does
    client.force_login(eva)
    page = client.get("/accounts/2fa/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "Tvåfaktorsautentisering" in page and "Säkerhetskod via e-post" in page
    assert "Autentiseringsapp" in page  # allauth's own words, from its Swedish catalogue
    page = client.get("/accounts/2fa/email/", HTTP_ACCEPT_LANGUAGE="sv").content.decode()
    assert "engångslösenord" in page and "Slå på säkerhetskod via e-post" in page
