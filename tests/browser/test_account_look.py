"""The sign-in and account pages in the product's look, as Chromium draws them: the login page's main button is
the accent-coloured one and offers "Forgot your password?" once; on a laptop-wide screen the account page one is
on is a visible tab of My pages, and its form's main button is accent-coloured, not a secondary white one.

Eva is a user at Demo AB.
"""

from __future__ import annotations

import pytest

from .conftest import CHROMIUM  # noqa: F401 - the browser fixture skips without it

pytestmark = pytest.mark.browser

ACCENT = "rgb(11, 92, 173)"  # --accent in portal/static/portal/site.css (light scheme)
ACCOUNT = ["/accounts/password/change/", "/accounts/email/", "/accounts/sessions/", "/accounts/language/"]


def background(locator) -> str:
    return locator.evaluate("e => getComputedStyle(e).backgroundColor")


def test_the_login_page_has_one_main_button_and_one_reset_link(browser, live_console):
    context = browser.new_context(locale="sv-SE", color_scheme="light")
    try:
        page = context.new_page()
        page.goto(f"{live_console.url}/accounts/login/")
        assert page.locator("a[href='/accounts/password/reset/']").count() == 1
        assert background(page.locator("form.form button[type=submit]")) == ACCENT
        # The passkey button is the second way in, drawn as a secondary button.
        assert background(page.locator("#passkey_login")) != ACCENT
    finally:
        context.close()


@pytest.mark.parametrize("path", ACCOUNT)
def test_an_account_page_shows_its_tab_and_an_accent_main_button(open_as, people, path):
    page = open_as(people["eva"].email, path, width=1280)
    page.wait_for_load_state("networkidle")

    tab = page.locator(".me-nav [aria-current=page]")
    bar = page.locator(".me-nav ul").bounding_box()
    box = tab.bounding_box()
    assert bar["x"] - 1 <= box["x"] and box["x"] + box["width"] <= bar["x"] + bar["width"] + 1, path
    # The page's own form, not a row's (Sessions has a small "Log out" per other browser).
    assert background(page.locator("main form:not(.inline-form) button[type=submit]").first) == ACCENT, path
