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


REDOC_LOGO = "https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_redoc_renders_the_schema_with_only_its_styles_inline(open_as, live_console, people):
    """Redoc (styled-components) inserts <style> elements: its page alone allows inline styles, and renders the
    schema; its scripts still come from the site only. The one refusal is meant: Redoc's footer asks its CDN for
    a logo, which the site's img-src refuses (no CDN), and Redoc then leaves the logo out."""
    page = open_as(people["alice"].email, "/api/v1/redoc/")
    page.wait_for_selector("h1:has-text('Växel API')", timeout=20_000)
    assert page.locator("[data-section-id^='tag/recordings']").count() >= 1
    page.wait_for_load_state("networkidle")
    assert page.locator(f"img[src='{REDOC_LOGO}']").count() == 0
    policy = page.evaluate("async () => (await fetch('/api/v1/redoc/')).headers.get('content-security-policy')")
    assert "style-src 'self' 'unsafe-inline'" in policy and "script-src 'self';" in policy + ";"
    refused = list(open_as.csp_violations)
    assert all(REDOC_LOGO in text for text in refused), refused
    open_as.csp_violations.clear()
