"""The Content-Security-Policy (django-csp, pbx/settings.py) holds on every kind of page: the console, the user
web, the account pages and Django admin load with no refusal reported on the browser's console (the open_as
fixture fails any test during which Chromium reports one)."""

from __future__ import annotations

import pytest

from .conftest import live

pytestmark = pytest.mark.browser

USER_WEB = ["/me/", "/me/status/", "/me/profiles/", "/me/caller-id/", "/me/voicemail/", "/me/queues/", "/me/calls/",
            "/me/phone-codes/"]
ACCOUNT = ["/accounts/email/", "/accounts/password/change/", "/accounts/2fa/", "/accounts/2fa/email/",
           "/accounts/sessions/", "/accounts/language/"]
ADMIN = ["/admin/", "/admin/pbx/user/", "/admin/pbx/queue/"]


def visit(page, base: str, path: str) -> None:
    response = page.goto(f"{base}{path}")
    assert response.status == 200, path
    page.wait_for_load_state("networkidle")


def test_the_console_user_web_account_pages_and_admin_pass_the_csp(open_as, live_console, people):
    page = open_as(people["alice"].email, "/console/")
    live(page)
    policy = page.evaluate("async () => (await fetch('/me/')).headers.get('content-security-policy')")
    assert "script-src 'self'" in policy and "unsafe-inline" not in policy
    change_forms = [f"/admin/pbx/user/{people['eva'].pk}/change/", "/admin/pbx/user/add/"]
    for path in USER_WEB + ACCOUNT + ADMIN + change_forms:
        visit(page, live_console.url, path)
    # A status with its colour: the swatch is coloured by the script, not by a style attribute.
    assert page.goto(f"{live_console.url}/me/status/").status == 200
    colours = page.locator(".swatch[data-color]").evaluate_all("els => els.map(e => e.style.background)")
    assert colours and all(colours)
    assert open_as.csp_violations == []
