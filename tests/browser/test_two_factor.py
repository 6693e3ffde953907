"""Two-factor sign-in in a browser (CSP enforced): Filip at Demo AB sets up an authenticator app and logs in with
its code; Julia at Exempel AB turns on codes by e-mail and logs in with the mailed code; Carol, Exempel AB's
admin, requires two-factor of operators and admins, after which neither she nor Petra, its operator, reaches
the admin or the console (page or socket) without it.

Each test puts back what it changed (the browser tests share one committed world).
"""

from __future__ import annotations

import re
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from allauth.mfa.totp.internal.auth import format_hotp_value, hotp_value
from django.core import mail

pytestmark = pytest.mark.browser

PERIOD = 30  # seconds of a TOTP code (allauth's default)


def in_thread(fn):
    """Database work from the test: Playwright's loop runs in this thread, so a thread of its own."""
    from django.db import connection

    def job():
        try:
            return fn()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(job).result()


def app_code(secret: str, *, after: int | None = None) -> tuple[str, int]:
    """The code the app shows now; with ``after``, the first one of a later period (a code counts once)."""
    counter = int(time.time()) // PERIOD
    if after is not None and counter <= after:
        time.sleep((after + 1) * PERIOD - time.time() + 0.2)
        counter = int(time.time()) // PERIOD
    return format_hotp_value(hotp_value(secret, counter)), counter


def new_page(browser, live_console):
    context = browser.new_context(locale="en-GB", timezone_id="Europe/Stockholm")
    context.set_default_timeout(10_000)
    violations: list[str] = []
    context.on("console", lambda m: violations.append(m.text) if "Content Security Policy" in m.text else None)
    page = context.new_page()
    page.violations = violations
    page.base = live_console.url
    return context, page


def log_in(page, email: str) -> None:
    from pbx.demo import DEMO_PASSWORD

    page.goto(f"{page.base}/accounts/login/")
    page.fill("input[name=login]", email)
    page.fill("input[name=password]", DEMO_PASSWORD)
    page.click("form.form button[type=submit]")
    page.wait_for_load_state()


def reauthenticate_if_asked(page) -> None:
    from pbx.demo import DEMO_PASSWORD

    if "/accounts/reauthenticate/" in page.url:
        page.fill("input[name=password]", DEMO_PASSWORD)
        page.click("form.form button[type=submit]")
        page.wait_for_load_state()


def log_out(page) -> None:
    page.click("form[action='/accounts/logout/'] button")
    page.wait_for_load_state()


def path_of(page) -> str:
    return "/" + page.url.split("/", 3)[3]


def test_enrol_an_authenticator_app_and_log_in_with_it(browser, live_console, people):
    filip = people["filip"]
    context, page = new_page(browser, live_console)
    try:
        log_in(page, filip.email)
        page.goto(f"{page.base}/me/")
        page.click("nav.me-nav a[href='/accounts/2fa/']")
        page.click("a[href='/accounts/2fa/totp/activate/']")
        reauthenticate_if_asked(page)
        assert path_of(page) == "/accounts/2fa/totp/activate/"
        secret = page.input_value("#authenticator_secret")
        code, used = app_code(secret)
        page.fill("input[name=code]", code)
        page.click("form.form button[type=submit]")
        page.wait_for_load_state()
        assert "/accounts/2fa/recovery-codes/" in page.url or path_of(page) == "/accounts/2fa/"

        log_out(page)
        log_in(page, filip.email)
        assert path_of(page) == "/accounts/2fa/authenticate/"
        page.fill("input[name=code]", app_code(secret, after=used)[0])
        page.click("form.form button[type=submit]")
        page.wait_for_load_state()
        assert path_of(page) in ("/", "/me/")  # home: a user lands on My pages
        assert filip.display_name in page.inner_text(".site-nav__who")
        assert page.violations == []
    finally:
        context.close()
        in_thread(lambda: __import__("allauth.mfa.models").mfa.models.Authenticator.objects.filter(
            user_id=filip.pk).delete())


def test_turn_on_codes_by_e_mail_and_log_in_with_the_mailed_code(browser, live_console, people):
    julia = people["julia"]
    context, page = new_page(browser, live_console)
    try:
        log_in(page, julia.email)
        page.goto(f"{page.base}/accounts/2fa/")
        page.click("a[href='/accounts/2fa/email/']")
        page.click("form.form button[type=submit]")  # Turn on codes by e-mail
        page.wait_for_load_state()
        reauthenticate_if_asked(page)
        assert path_of(page) == "/accounts/2fa/"
        assert julia.email in page.inner_text("main")

        log_out(page)
        mail.outbox.clear()
        log_in(page, julia.email)
        assert path_of(page) == "/accounts/login/code/confirm/"
        message = [m for m in mail.outbox if m.to == [julia.email]][-1]
        code = re.search(r"^\s*([A-Z0-9-]{6,})\s*$", message.body, re.MULTILINE).group(1)
        page.fill("input[name=code]", code)
        page.click("form.form button[type=submit]")
        page.wait_for_load_state()
        assert path_of(page) in ("/", "/me/")  # home: a user lands on My pages
        assert julia.display_name in page.inner_text(".site-nav__who")
        assert page.violations == []
    finally:
        context.close()
        in_thread(lambda: __import__("portal.models").models.EmailCodeFactor.objects.filter(user_id=julia.pk).delete())


CLOSE_CODE = """async () => await new Promise(resolve => {
  const socket = new WebSocket(location.origin.replace('http', 'ws') + '/ws/console/');
  socket.onclose = event => resolve(event.code);
  setTimeout(() => resolve('still open'), 5000);
})"""


def test_a_role_that_requires_two_factor_reaches_neither_console_nor_admin_without_it(browser, live_console, people):
    carol, petra = people["carol"], people["petra"]
    company = carol.tenant_id
    admin_context, admin = new_page(browser, live_console)
    operator_context, operator = new_page(browser, live_console)
    try:
        log_in(admin, carol.email)
        admin.goto(f"{admin.base}/admin/pbx/tenant/{company}/change/")
        admin.check("input[name=mfa_required_operators]")
        admin.check("input[name=mfa_required_admins]")
        admin.click("input[name=_save]")
        admin.wait_for_load_state()
        # Her own rule holds at once: the admin now sends her to set up two-factor.
        assert path_of(admin) == "/accounts/2fa/"
        assert admin.goto(f"{admin.base}/admin/pbx/user/").url.endswith("/accounts/2fa/")
        assert "required for your role" in admin.inner_text("main")

        log_in(operator, petra.email)
        operator.goto(f"{operator.base}/console/")
        assert path_of(operator) == "/accounts/2fa/"
        assert operator.evaluate(CLOSE_CODE) == 4403
        assert admin.violations == [] and operator.violations == []
    finally:
        admin_context.close()
        operator_context.close()

        def lift():
            from pbx.models import Tenant

            Tenant.objects.filter(pk=company).update(mfa_required_operators=False, mfa_required_admins=False)

        in_thread(lift)


def test_add_a_passkey_and_log_in_with_it_alone(browser, live_console, people):
    """Chromium's virtual authenticator (DevTools' WebAuthn domain) stands in for a phone or security key.
    WebAuthn wants a domain, not an address, as the site: the page is opened as localhost (a secure context)."""
    ivar = people["ivar"]
    context, page = new_page(browser, live_console)
    page.base = live_console.url.replace("127.0.0.1", "localhost")
    devtools = context.new_cdp_session(page)
    devtools.send("WebAuthn.enable")
    devtools.send("WebAuthn.addVirtualAuthenticator", {"options": {
        "protocol": "ctap2", "transport": "internal", "hasResidentKey": True, "hasUserVerification": True,
        "isUserVerified": True, "automaticPresenceSimulation": True}})
    try:
        log_in(page, ivar.email)
        page.goto(f"{page.base}/accounts/2fa/webauthn/add/")
        reauthenticate_if_asked(page)
        assert path_of(page) == "/accounts/2fa/webauthn/add/"
        page.fill("input[name=name]", "Ivars telefon")
        page.check("input[name=passwordless]")
        page.click("#mfa_webauthn_add")
        page.wait_for_url(lambda url: "/webauthn/add/" not in url)
        assert "Ivars telefon" in page.goto(f"{page.base}/accounts/2fa/webauthn/").text()

        log_out(page)
        page.goto(f"{page.base}/accounts/login/")
        page.click("#passkey_login")
        page.wait_for_url(lambda url: "/accounts/login/" not in url)
        assert path_of(page) in ("/", "/me/")  # home: a user lands on My pages
        assert ivar.display_name in page.inner_text(".site-nav__who")
        assert page.violations == []
    finally:
        context.close()
        in_thread(lambda: __import__("allauth.mfa.models").mfa.models.Authenticator.objects.filter(
            user_id=ivar.pk).delete())
