"""The wallboard in headless Chromium, against the live embedded product (bridge + fake Asterisk).

Olle (operator, Demo AB) opens the "Kundtjänst" layout: its Support tile turns amber when a caller the fake
Asterisk puts in Support is waiting (threshold: more than 0 waiting) and red once the longest wait passes 3 s
(counted up on the page from when the caller joined), with no reload and no polling. A TV opened with the
layout's wallboard link (no sign-in) shows the same red tile; Petra (operator, Exempel AB) sees her own
company's wallboard and no Demo tile. Every page runs under the enforced Content-Security-Policy.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

pytestmark = pytest.mark.browser


def make_layout() -> tuple[int, int, str]:
    """Demo's layout and TV link, made in a thread of its own (Playwright's loop runs in the test's thread,
    where Django refuses database work); committed, like everything the browser tests see."""
    from django.db import connection

    from pbx.models import Queue, Tenant, User
    from wallboard.actions import do_create_wallboard_link
    from wallboard.models import Layout, Tile, WallboardLink

    try:
        demo = Tenant.objects.get(slug="demo")
        support = Queue.objects.get(tenant=demo, name="Support")
        layout, _ = Layout.objects.update_or_create(tenant=demo, name="Kundtjänst (test)",
                                                    defaults={"theme": Layout.Theme.CONTRAST})
        layout.tiles.all().delete()
        Tile.objects.create(tenant=demo, layout=layout, position=1, size=Tile.Size.WIDE)
        Tile.objects.create(tenant=demo, layout=layout, position=2, queue=support, waiting_amber=0,
                            longest_wait_red=3)
        admin = User.objects.get(tenant=demo, is_company_admin=True)
        token = do_create_wallboard_link(admin, WallboardLink(tenant=demo, name="TV", layout=layout))
        return layout.pk, support.pk, token
    finally:
        connection.close()


def test_a_tile_turns_red_when_a_waiting_caller_crosses_the_threshold(open_as, browser, live_console, people):
    with ThreadPoolExecutor(1) as pool:
        layout_id, support_id, token = pool.submit(make_layout).result()
    olle, petra, world = people["olle"], people["petra"], people["world"]
    tile = f'.tile[data-key="q{support_id}"]'

    page = open_as(olle.email, f"/wallboard/{layout_id}/")
    page.wait_for_selector("#wb-conn[data-state=live]")
    page.wait_for_selector("body[data-ready='1']")
    assert page.locator("body").get_attribute("data-theme") == "contrast"
    assert page.locator(".tile").count() == 2
    assert page.locator(f"{tile} .tile__name").inner_text() == "Support"
    waiting_before = int(page.locator(f'{tile} [data-field="waiting"]').inner_text())

    live_console.queue_caller(world, "Support", "+46701119999", "Wilma Wallboard")
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel + ' [data-field=waiting]').textContent) > n",
        arg=[tile, waiting_before], timeout=10_000)
    page.wait_for_selector(f'{tile}[data-level="amber"], {tile}[data-level="red"]', timeout=5_000)
    page.wait_for_selector(f'{tile}[data-level="red"]', timeout=10_000)
    page.wait_for_timeout(2_500)  # it stays red while the caller waits (the page re-evaluates every second)
    assert page.locator(f'{tile}[data-level="red"]').count() == 1
    assert page.locator(f'{tile} .fig--longest[data-level="red"]').count() == 1
    assert page.locator(f'{tile} .fig--waiting[data-level="amber"]').count() == 1
    assert page.locator(f"{tile} .tile__level").inner_text().strip() != ""

    # The TV: no sign-in, the secret link, kiosk mode; the same red tile, nothing of the tools.
    context = browser.new_context(locale="sv-SE", timezone_id="Europe/Stockholm")
    try:
        tv = context.new_page()
        tv.goto(f"{live_console.url}/wallboard/tv/{token}/")
        tv.wait_for_selector(f'{tile}[data-level="red"]', timeout=10_000)
        assert tv.locator(".wb-tools").count() == 0 and "wb--kiosk" in tv.locator("body").get_attribute("class")
        assert "Wilma" not in tv.content() and "+46701119999" not in tv.content()
    finally:
        context.close()

    # Exempel's operator: her company's wallboard (no saved layout: every Exempel queue), no Demo tile.
    theirs = open_as(petra.email, "/wallboard/")
    theirs.wait_for_selector("body[data-ready='1']")
    assert theirs.locator(tile).count() == 0
    assert theirs.locator(".tile").count() >= 1 and "Kundtjänst (test)" not in theirs.content()

    live_console.hang_up_caller("+46701119999")
    page.wait_for_function(
        "([sel, n]) => Number(document.querySelector(sel + ' [data-field=waiting]').textContent) <= n",
        arg=[tile, waiting_before], timeout=10_000)
    if waiting_before == 0:  # nobody else waits in Support: the tile is calm again
        page.wait_for_selector(f'{tile}[data-level="ok"]', timeout=5_000)
