"""Callbacks to make, in headless Chromium: a caller leaves a callback request in a menu (the fake Asterisk runs
the generated dialplan's callback context and raises its UserEvent), Olle's console lists it at once, Petra's
(Exempel AB) never does, and "Called back" takes it off the list for good."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import live, screenshot

pytestmark = pytest.mark.browser


def off_the_loop(func, *args):
    """Database work from a thread without an event loop (Playwright runs one in the test's thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(func, *args).result(60)


def callback_choice():
    from django.db import connection

    from pbx.asterisk.confgen import render_from_db
    from pbx.asterisk.confgen.parse import parse_dialplan_text
    from pbx.models import Destination, Queue, Tenant

    try:
        demo = Tenant.objects.get(slug="demo")
        support = Queue.objects.get(tenant=demo, name="Support")
        destination = Destination.objects.create(tenant=demo, kind="callback", queue=support, label="Ring upp mig")
        dialplan = parse_dialplan_text(render_from_db(tenant_ids=[demo.pk])["extensions.conf"])
        return dialplan, f"t{demo.pk}-cbreq-{destination.pk}"
    finally:
        connection.close()


def test_a_callback_request_appears_on_the_console_and_leaves_when_called_back(open_as, live_console, people):
    from tests.fake_asterisk.demo_traffic import TRUNK
    from tests.fake_asterisk.dialplan_apps import run_context

    olle, petra = people["olle"], people["petra"]
    dialplan, context = off_the_loop(callback_choice)
    page = open_as(olle.email, locale="en-GB")
    live(page)
    theirs = open_as(petra.email, locale="en-GB")
    live(theirs)

    def caller_asks():
        fake = live_console.fake
        endpoint = fake.state.endpoints[TRUNK]
        ch = fake.new_channel(fake.state.new_pjsip_name(endpoint.name), caller_num="+46851112233",
                              context=context, exten="s", state=4, endpoint=endpoint.device)
        return run_context(fake, ch, dialplan, context, captured="0733445566")

    assert "UserEvent" in live_console.run(caller_asks)
    row = page.locator("#callbacks li", has_text="0733445566")
    row.wait_for()
    assert "Support" in row.inner_text() and "08-511 122 33" in row.inner_text()  # the caller, the Swedish way
    assert page.locator("#callbacks-count").inner_text() != "0"
    screenshot(page, "console-callbacks.png")
    assert theirs.locator("#callbacks li", has_text="0733445566").count() == 0

    row.locator("[data-do=calledBack]").click()
    page.locator("#toast", has_text="0733445566 is marked as called back.").wait_for()
    row.wait_for(state="detached")
    page.reload()
    live(page)
    assert page.locator("#callbacks li", has_text="0733445566").count() == 0
