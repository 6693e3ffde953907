"""The browser-facing pages: login (allauth), language switch, the home page, closed signup.

Eva is a user at Demo AB, Alice admins Demo AB, Carol admins Exempel AB; each must see her own
company and nothing of the other.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client

from pbx.demo import DEMO_PASSWORD
from pbx.models import User

pytestmark = pytest.mark.django_db

LOGIN_URL = "/accounts/login/"
SV_PO = Path(django_settings.BASE_DIR) / "locale" / "sv" / "LC_MESSAGES" / "django.po"


@pytest.fixture(scope="module", autouse=True)
def compiled_swedish():
    """`make test` compiles the catalogue; a bare `pytest` after editing the .po should not fail."""
    mo = SV_PO.with_suffix(".mo")
    if mo.exists() and mo.stat().st_mtime >= SV_PO.stat().st_mtime:
        return
    if shutil.which("msgfmt") is None:
        pytest.skip("gettext's msgfmt is not installed (make install installs it)")
    from django.core.management import call_command
    from django.utils.translation import trans_real

    call_command("compilemessages", locale=["sv"], ignore_patterns=[".*", "var", "node_modules"], verbosity=0)
    trans_real._translations = {}
    trans_real._default = None


@pytest.fixture(autouse=True)
def private_cache(settings):
    # allauth counts failed logins in the cache; with Redis it would carry over between runs.
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "portal"}}
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def swedish_default(settings):
    # The product ships Swedish first (pbx/settings.py); the test settings default to English.
    settings.LANGUAGE_CODE = "sv"


def html_lang(response) -> str:
    return re.search(r'<html lang="([^"]+)"', response.content.decode()).group(1)


def test_the_login_page_is_swedish_by_default(client, swedish_default):
    response = client.get(LOGIN_URL)
    assert response.status_code == 200
    assert html_lang(response) == "sv"
    page = response.content.decode()
    assert "Logga in" in page
    assert "Lösenord" in page  # allauth's own field label, in allauth's Swedish
    assert 'name="login"' in page and 'name="password"' in page
    assert 'name="csrfmiddlewaretoken"' in page


def test_the_language_switch_turns_the_login_page_english_and_back(client, swedish_default):
    response = client.post("/i18n/setlang/", {"language": "en", "next": LOGIN_URL})
    assert response.status_code == 302
    assert response["Location"] == LOGIN_URL

    page = client.get(LOGIN_URL)
    assert html_lang(page) == "en"
    assert "Log in" in page.content.decode()
    assert "Logga in" not in page.content.decode()

    client.post("/i18n/setlang/", {"language": "sv", "next": LOGIN_URL})
    assert html_lang(client.get(LOGIN_URL)) == "sv"


def test_the_language_switch_is_on_every_page(client, eva):
    client.force_login(eva)
    page = client.get("/?profile").content.decode()
    assert 'action="/i18n/setlang/"' in page
    assert '<option value="sv"' in page and '<option value="en"' in page


def test_a_demo_person_logs_in_with_email_and_password(eva):
    client = Client(enforce_csrf_checks=True)
    form = client.get(LOGIN_URL)
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form.content.decode()).group(1)

    response = client.post(LOGIN_URL, {"login": eva.email, "password": DEMO_PASSWORD, "csrfmiddlewaretoken": token})

    assert response.status_code == 302
    assert response["Location"] == "/"
    assert client.session["_auth_user_id"] == str(eva.pk)
    assert eva.tenant.name in client.get("/", follow=True).content.decode()


def test_the_login_e_mail_is_not_case_sensitive(client, eva):
    response = client.post(LOGIN_URL, {"login": eva.email.upper(), "password": DEMO_PASSWORD})
    assert response.status_code == 302
    assert client.session["_auth_user_id"] == str(eva.pk)


def test_a_wrong_password_shows_an_error_and_logs_no_one_in(client, eva):
    response = client.post(LOGIN_URL, {"login": eva.email, "password": "not-the-password"})

    assert response.status_code == 200
    assert "not correct" in response.content.decode()
    assert 'role="alert"' in response.content.decode()
    assert "_auth_user_id" not in client.session


def test_a_wrong_password_is_explained_in_swedish_too(client, eva, swedish_default):
    response = client.post(LOGIN_URL, {"login": eva.email, "password": "not-the-password"})
    assert "lösenordet är felaktigt" in response.content.decode()  # allauth's Swedish


def test_the_home_page_asks_for_a_login_first(client):
    response = client.get("/")
    assert response.status_code == 302
    assert response["Location"] == f"{LOGIN_URL}?next=/"


def test_home_shows_the_persons_own_company_and_not_another(client, eva, carol):
    client.force_login(eva)
    page = client.get("/?profile").content.decode()
    assert "Demo AB" in page
    assert eva.email in page
    assert f'<dd class="extension">{eva.extension}</dd>' in page
    assert "Exempel AB" not in page
    assert carol.email not in page

    client.force_login(carol)
    page = client.get("/?profile").content.decode()
    assert "Exempel AB" in page
    assert "Demo AB" not in page


def test_home_names_the_roles_in_the_persons_language(client, alice, olle, swedish_default):
    client.force_login(alice)
    assert "Företagsadministratör" in client.get("/?profile").content.decode()
    client.force_login(olle)
    assert "Telefonist" in client.get("/?profile").content.decode()


def test_a_company_admin_is_linked_to_the_admin_and_a_user_is_not(client, alice, eva):
    client.force_login(alice)
    assert 'href="/admin/"' in client.get("/?profile").content.decode()

    client.force_login(eva)
    page = client.get("/?profile").content.decode()
    assert 'href="/admin/"' not in page
    assert "User" in page  # a person with no other role is a plain user


def test_logging_out_takes_a_post(client, eva):
    client.force_login(eva)
    assert 'action="/accounts/logout/"' in client.get("/?profile").content.decode()
    client.post("/accounts/logout/")
    assert "_auth_user_id" not in client.session


def test_signup_is_closed(client):
    page = client.get("/accounts/signup/")
    assert page.status_code == 200
    assert "closed" in page.content.decode()

    client.post(
        "/accounts/signup/",
        {"email": "mallory@evil.example", "password1": "Mallory-Password-1!", "password2": "Mallory-Password-1!"},
    )
    assert not User.objects.filter(email="mallory@evil.example").exists()


def test_the_login_page_offers_no_signup(client):
    assert "/accounts/signup/" not in client.get(LOGIN_URL).content.decode()


def test_the_stylesheet_is_a_static_file(client):
    page = client.get(LOGIN_URL).content.decode()
    assert '<link rel="stylesheet" href="/static/portal/site.css">' in page


def test_home_takes_each_role_to_its_work(client, alice, olle, eva, superuser):
    """An admin starts on the company dashboard, an operator in the console, everyone else on My pages."""
    for person, target in ((alice, "/admin/"), (olle, "/console/"), (eva, "/me/"), (superuser, "/admin/")):
        client.force_login(person)
        response = client.get("/")
        assert response.status_code == 302 and response["Location"] == target, person
    client.force_login(alice)
    assert "Demo AB" in client.get("/?profile").content.decode()
