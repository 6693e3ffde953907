"""The account pages (allauth) belong to the product: mails name it, the pages wear its look inside "My pages".

Eva is a user at Demo AB; Carol admins Exempel AB.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.test import Client

from pbx.demo import DEMO_PASSWORD

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def private_cache(settings):
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "acct"}}
    from django.core.cache import cache

    cache.clear()


def test_the_password_reset_mail_names_the_product_not_example_com(client, eva, settings):
    mail.outbox.clear()
    client.post("/accounts/password/reset/", {"email": eva.email})

    message = mail.outbox[-1]
    assert message.to == [eva.email]
    assert "example.com" not in message.subject + message.body
    assert settings.SITE_NAME in message.subject and settings.SITE_NAME in message.body


def test_the_site_row_follows_the_settings_after_migrate(settings):
    from django.contrib.sites.models import Site

    from portal.apps import name_the_site

    settings.SITE_NAME, settings.SITE_DOMAIN = "Växel Test", "pbx.example.se"
    name_the_site()
    assert Site.objects.get_current().name == "Växel Test"
    assert Site.objects.get_current().domain == "pbx.example.se"


@pytest.mark.parametrize("path", ["/accounts/password/change/", "/accounts/email/"])
def test_the_account_pages_wear_my_pages_look_and_navigation(client, eva, path):
    client.force_login(eva)
    page = client.get(path).content.decode()

    assert 'class="me-nav"' in page and 'aria-current="page"' in page
    assert 'class="form"' in page and 'class="button button--primary"' in page
    assert 'class="field' in page


def test_my_pages_link_to_the_password_and_login_e_mail_pages(client, eva):
    client.force_login(eva)
    page = client.get("/me/").content.decode()
    assert 'href="/accounts/password/change/"' in page and 'href="/accounts/email/"' in page


@pytest.mark.parametrize("path", ["/accounts/password/change/", "/accounts/email/"])
def test_the_account_pages_ask_for_a_login_first(client, path):
    response = client.get(path)
    assert response.status_code == 302 and response.url.startswith("/accounts/login/")


def test_the_email_page_shows_only_the_persons_own_address(client, eva, carol):
    client.force_login(eva)
    page = client.get("/accounts/email/").content.decode()
    assert eva.email in page and carol.email not in page


def test_the_sessions_page_tells_each_browser_by_name_and_marks_this_one(client, eva, alice):
    from allauth.usersessions.models import UserSession

    chrome = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"
    firefox = "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0"
    for browser, agent in ((client, chrome), (Client(), firefox)):
        browser.post("/accounts/login/", {"login": eva.email, "password": DEMO_PASSWORD}, HTTP_USER_AGENT=agent)
    Client().post("/accounts/login/", {"login": alice.email, "password": DEMO_PASSWORD})

    page = client.get("/accounts/sessions/").content.decode()

    assert UserSession.objects.filter(user=eva).count() == 2
    assert "Chrome on Linux" in page and "Firefox on Windows" in page
    assert page.count('<span class="badge">This browser</span>') == 1
    assert "Log out the other sessions" in page
    assert UserSession.objects.filter(user=alice).count() == 1 and alice.email not in page


def test_one_other_browser_is_logged_out_from_the_sessions_page_and_no_one_elses(client, eva, alice):
    from allauth.usersessions.models import UserSession

    from pbx.models import AuditLog

    other = Client()
    for browser in (client, other):
        browser.post("/accounts/login/", {"login": eva.email, "password": DEMO_PASSWORD})
    alices = Client()
    alices.post("/accounts/login/", {"login": alice.email, "password": DEMO_PASSWORD})
    mine = {s.session_key: s for s in UserSession.objects.filter(user=eva)}
    this_one = mine[client.session.session_key]
    (that_one,) = [s for key, s in mine.items() if key != client.session.session_key]

    # Alice's session is not Eva's to end, and this browser is ended by "Log out", not here.
    assert client.post(f"/accounts/sessions/{UserSession.objects.get(user=alice).pk}/end/").status_code == 404
    client.post(f"/accounts/sessions/{this_one.pk}/end/")
    assert alices.get("/me/").status_code == 200 and client.get("/me/").status_code == 200

    page = client.post(f"/accounts/sessions/{that_one.pk}/end/", follow=True).content.decode()

    assert "That browser is logged out." in page
    assert other.get("/me/").status_code == 302  # signed out: to the login page
    assert client.get("/me/").status_code == 200
    assert list(UserSession.objects.filter(user=eva)) == [this_one]
    entry = AuditLog.objects.get(object_id=str(eva.pk), action="sessions_ended")
    assert (entry.actor_id, entry.after["count"]) == (eva.pk, 1)
    assert client.get(f"/accounts/sessions/{that_one.pk}/end/").status_code == 405
