"""Sign-in rules in headless Chromium: single sign-on through a local OpenID Connect provider (a real HTTP
server, tests/oidc_provider.py) lands in the right company and is refused for an unknown address; an expired
password forces a change that the company's policy checks; the licence agreement appears once per version.

Demo AB's directory is ``tenant-demo``, Exempel AB's ``tenant-exempel`` (one multi-tenant "Microsoft" service,
as Entra ID's). Ivar is a user of Exempel AB, Eva of Demo AB, Julia of Exempel AB. Each test undoes what it set
up: the browser tests share one committed world.
"""

from __future__ import annotations

import contextlib
import datetime
from concurrent.futures import ThreadPoolExecutor

import pytest

from tests.oidc_provider import OidcProvider

from .conftest import CHROMIUM  # noqa: F401 - the browser fixture skips without it

pytestmark = pytest.mark.browser

NEW_PASSWORD = "Kx7#mPqr-Blåbär"


def off_the_loop(func, *args):
    """Database work from a thread without an event loop (Playwright runs one in the test's thread)."""

    def run():
        from django.db import connection

        try:
            return func(*args)
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result(60)


@contextlib.contextmanager
def fresh_page(browser, violations: list[str]):
    context = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    context.set_default_timeout(10_000)
    context.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    try:
        yield context.new_page()
    finally:
        context.close()


def password_login(page, base: str, email: str, password: str) -> None:
    page.goto(f"{base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", password)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()


# ------------------------------------------------------------------------------------------------ SSO


def connect_directories(provider: OidcProvider):
    from allauth.socialaccount.models import SocialApp
    from django.contrib.sites.models import Site

    from pbx.models import Tenant
    from portal.models import SsoConnection

    app = SocialApp.objects.create(provider="openid_connect", provider_id="microsoft", name="Microsoft",
                                   client_id=provider.client_id, secret=provider.client_secret,
                                   settings={"server_url": provider.url})
    app.sites.add(Site.objects.get_current())
    for slug in ("demo", "exempel"):
        SsoConnection.objects.create(tenant=Tenant.objects.get(slug=slug), app=app,
                                     issuer=provider.issuer(f"tenant-{slug}"), email_domains=f"{slug}.example")
    return app.pk


def disconnect(app_pk: int) -> None:
    from allauth.socialaccount.models import SocialAccount, SocialApp

    SocialAccount.objects.filter(provider="microsoft").delete()
    SocialApp.objects.filter(pk=app_pk).delete()


def test_sso_lands_in_the_right_company_and_refuses_an_unknown_address(browser, live_console, people):
    provider = OidcProvider(client_id="vaxel-entra", multi_tenant=True).start()
    app_pk = off_the_loop(connect_directories, provider)
    violations: list[str] = []
    try:
        ivar = people["ivar"]
        provider.sign_in_as(ivar.email, tenant="tenant-exempel")
        with fresh_page(browser, violations) as page:
            page.goto(f"{live_console.url}/accounts/login/")
            assert "Demo AB" not in page.content() and "Exempel AB" not in page.content()
            page.click("form.sso__form button:has-text('Logga in med Microsoft')")
            page.wait_for_url(f"{live_console.url}/**")
            page.wait_for_load_state()
            assert "/accounts/login/" not in page.url
            # The header's company name is hidden below 1500 px (the links need the room): read the DOM.
            assert "Exempel AB" in (page.locator(".site-nav__who").text_content() or "")
            assert ivar.get_full_name() in page.locator(".site-nav__who").inner_text()
            assert page.goto(f"{live_console.url}/me/").status == 200
            assert "Exempel AB" in page.content() and "Demo AB" not in page.content()

        provider.sign_in_as("okand@exempel.example", tenant="tenant-exempel")
        with fresh_page(browser, violations) as page:
            page.goto(f"{live_console.url}/accounts/login/")
            page.click("form.sso__form button")
            page.wait_for_selector(".message--error")
            assert page.url.startswith(f"{live_console.url}/accounts/login/")
            assert "Det här kontot kan inte logga in här" in page.locator(".messages").inner_text()
            assert page.locator(".site-nav__who").count() == 0
    finally:
        off_the_loop(disconnect, app_pk)
        provider.stop()
    assert violations == [], "the sign-in broke the Content-Security-Policy"


# ----------------------------------------------------------------------------------- expired password


def expire_evas_password() -> None:
    from django.utils import timezone

    from pbx.models import Tenant, User
    from portal.models import PasswordHistory, PasswordPolicy

    demo = Tenant.objects.get(slug="demo")
    PasswordPolicy.objects.update_or_create(tenant=demo, defaults=PasswordPolicy.RECORDING_SERVICE)
    eva = User.objects.get(tenant=demo, email__startswith="eva@")
    PasswordHistory.objects.filter(user=eva).update(created_at=timezone.now() - datetime.timedelta(days=120))


def restore_eva() -> None:
    from pbx.demo import DEMO_PASSWORD
    from pbx.models import User
    from portal.models import PasswordHistory, PasswordPolicy

    PasswordPolicy.objects.filter(tenant__slug="demo").delete()
    eva = User.objects.get(tenant__slug="demo", email__startswith="eva@")
    eva.set_password(DEMO_PASSWORD)
    eva.save()
    PasswordHistory.objects.filter(user=eva).exclude(password=eva.password).delete()


def test_an_expired_password_forces_a_change_that_the_policy_checks(browser, live_console, people):
    from pbx.demo import DEMO_PASSWORD

    off_the_loop(expire_evas_password)
    violations: list[str] = []
    try:
        with fresh_page(browser, violations) as page:
            password_login(page, live_console.url, people["eva"].email, DEMO_PASSWORD)
            assert page.url == f"{live_console.url}/accounts/password/change/"
            assert "Ditt lösenord har gått ut" in page.locator(".messages").inner_text()
            assert "Minst 8 tecken" in page.locator(".password-rules").inner_text()
            page.goto(f"{live_console.url}/me/")
            assert page.url == f"{live_console.url}/accounts/password/change/"

            page.fill("input[name=oldpassword]", DEMO_PASSWORD)
            page.fill("input[name=password1]", "kx7#mpqrtw-blabar")
            page.fill("input[name=password2]", "kx7#mpqrtw-blabar")
            page.click("main form button[type=submit]")
            page.wait_for_load_state()
            assert "en stor bokstav" in page.content()
            assert page.url == f"{live_console.url}/accounts/password/change/"

            page.fill("input[name=oldpassword]", DEMO_PASSWORD)
            page.fill("input[name=password1]", NEW_PASSWORD)
            page.fill("input[name=password2]", NEW_PASSWORD)
            page.click("main form button[type=submit]")
            page.wait_for_load_state()
            assert page.goto(f"{live_console.url}/me/").status == 200
            assert page.url == f"{live_console.url}/me/"
    finally:
        off_the_loop(restore_eva)
    assert violations == []


# ----------------------------------------------------------------------------------------- licence


def publish(version: str) -> int:
    from django.utils import timezone

    from portal.models import Licence

    return Licence.objects.create(version=version, title="Licensavtal", text=f"Villkor, version {version}.",
                                  published_at=timezone.now()).pk


def withdraw_licences() -> None:
    from portal.models import Licence, LicenceAcceptance

    LicenceAcceptance.objects.all().delete()
    Licence.objects.all().delete()


def acceptances_of(email: str) -> list[str]:
    from portal.models import LicenceAcceptance

    return list(LicenceAcceptance.objects.filter(user__email=email).order_by("accepted_at")
                .values_list("licence__version", flat=True))


def test_the_licence_appears_once_per_version(browser, live_console, people):
    from pbx.demo import DEMO_PASSWORD

    julia = people["julia"]
    off_the_loop(publish, "1.0")
    violations: list[str] = []
    try:
        with fresh_page(browser, violations) as page:
            password_login(page, live_console.url, julia.email, DEMO_PASSWORD)
            assert page.url.startswith(f"{live_console.url}/accounts/licence/")
            assert "Villkor, version 1.0." in page.locator(".licence__text").inner_text()
            page.click("button[name=accept]")
            page.wait_for_load_state()
            assert "/accounts/licence/" not in page.url
            assert page.goto(f"{live_console.url}/me/").url == f"{live_console.url}/me/"

        with fresh_page(browser, violations) as page:  # the next sign-in: accepted already
            password_login(page, live_console.url, julia.email, DEMO_PASSWORD)
            assert "/accounts/licence/" not in page.url
            page.goto(f"{live_console.url}/me/")
            assert page.url == f"{live_console.url}/me/"

            off_the_loop(publish, "2.0")
            page.goto(f"{live_console.url}/me/")
            assert page.url.startswith(f"{live_console.url}/accounts/licence/")
            assert "ny version (2.0)" in page.content()
            page.click("button[name=accept]")
            page.wait_for_load_state()
            assert page.url == f"{live_console.url}/me/"
            page.goto(f"{live_console.url}/me/queues/")
            assert page.url == f"{live_console.url}/me/queues/"
        assert off_the_loop(acceptances_of, julia.email) == ["1.0", "2.0"]
    finally:
        off_the_loop(withdraw_licences)
    assert violations == []
