"""A new company admin's first session, in headless Chromium (issue #16), in Swedish and English, on a 1366×768
laptop and on a phone: Alice lands on the company dashboard, creates a person with a phone, opens the phone's
provisioning data (and its file at the secret URL), forwards a reserved number, forces the office hours closed
from the dashboard and reads the audit sentence for it. Screenshots go to docs/screenshots/admin-*.png.

The browser tests share one committed world (tests/browser/conftest.py): each run makes its own person and
puts the schedule back to following its hours.
"""

from __future__ import annotations

import re
import secrets
import threading

import pytest

from tests.test_admin_web import SWEDISH_NUMBERS as NUMBERS

from .conftest import screenshot

pytestmark = pytest.mark.browser

WORDS = {
    "sv": {"locale": "sv-SE", "dashboard": "Företagsöversikt", "save": "Spara", "add_device": "Lägg till ytterligare",
           "forced": "tvingade schemat ”Kontorstid” stängt.", "closed_button": "Tvinga stängt",
           "follow_button": "Följ schemat", "forwarded": "vidarekopplas nu till", "server": "SIP-server",
           "change": "Ändra", "call_back": "Ring upp"},
    "en": {"locale": "en-GB", "dashboard": "Company dashboard", "save": "Save", "add_device": "Add another",
           "forced": "forced the schedule “Kontorstid” closed.", "closed_button": "Force closed",
           "follow_button": "Follow the schedule", "forwarded": "are now forwarded to", "server": "SIP server",
           "change": "Change", "call_back": "Call back"},
}
SCREENS = {"laptop": {"width": 1366, "height": 768}, "phone": {"width": 390, "height": 844, "mobile": True}}


def in_a_thread(func):
    """Database work while sync Playwright's loop runs in this thread (Django refuses it here): in another."""
    from django.db import connections

    done: dict = {}

    def work():
        try:
            done["value"] = func()
        finally:
            connections.close_all()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(30)
    return done.get("value")


@pytest.fixture
def alices_calls(live_console, people):
    """Alice's call history has calls to call back (the table's last column is its "Ring upp" buttons), one
    forwarded: without them the history's sideways check would pass on an empty page."""
    from django.utils import timezone

    from pbx.models import AsteriskNode
    from stats.models import CallLog

    alice = people["alice"]

    def make():
        now = timezone.now()
        node = AsteriskNode.objects.filter(is_default=True).first() or AsteriskNode.objects.first()
        made = []
        for n, caller in enumerate(["+46701234567", "+46812345678", "+4631123456"]):
            call = CallLog.objects.create(
                tenant_id=alice.tenant_id, node=node, linkedid=f"admin-web-{secrets.token_hex(4)}", started_at=now,
                ended_at=now, direction="in", from_number=caller, from_name="Greta Gustafsson Långnamn",
                to_number=alice.direct_number, dialled_number=alice.direct_number, answered_by=alice,
                result="voicemail" if n == 2 else "answered", talk_s=65.0, wait_s=4.0,
                forwarded_from=alice if n == 2 else None, forward_reason="no_answer" if n == 2 else "",
                forwarded_to="+46709876543" if n == 2 else "")
            call.users.set([alice])
            made.append(call.pk)
        return made

    made = in_a_thread(make)
    yield made
    in_a_thread(lambda: CallLog.objects.filter(pk__in=made).delete())


def no_sideways_scroll(page) -> None:
    """The page itself never scrolls sideways (wide tables scroll in their own box)."""
    overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
    assert overflow <= 1, f"{page.url} is {overflow}px wider than the screen"


@pytest.mark.parametrize("screen", ["laptop", "phone"])
@pytest.mark.parametrize("lang", ["sv", "en"])
def test_a_new_company_admin_sets_up_a_phone_forwards_a_number_and_closes_the_office(
        alices_calls, open_as, live_console, people, lang, screen):
    words, size = WORDS[lang], SCREENS[screen]
    base = live_console.url
    shot = f"admin-{lang}-{screen}"
    page = open_as(people["alice"].email, "/", locale=words["locale"], **size)

    # The home page of an admin is the company dashboard.
    assert page.url.rstrip("/").endswith("/admin")
    assert words["dashboard"] in page.locator("h1").inner_text()
    no_sideways_scroll(page)
    if screen == "laptop":  # the header is one line at 1366 px
        header = page.locator("#header").bounding_box()
        assert header["height"] < 80, header
    screenshot(page, f"{shot}-dashboard.png")

    # A person with a phone.
    tag = secrets.token_hex(3)
    extension = str(7000 + secrets.randbelow(2999))
    page.goto(f"{base}/admin/pbx/user/add/")
    page.fill("#id_email", f"nina-{tag}@demo.example")
    page.fill("#id_first_name", "Nina")
    page.fill("#id_last_name", f"Nilsson {tag}")
    page.fill("#id_extension", extension)
    if page.locator("#id_usable_password_0").count():  # "password-based authentication: enabled"
        page.check("#id_usable_password_0")
    page.fill("#id_password1", "Ett-långt-lösen-2026!")
    page.fill("#id_password2", "Ett-långt-lösen-2026!")
    page.click("input[name=_save]")
    page.wait_for_load_state()
    assert "/change/" in page.url, page.locator(".errornote, .errorlist").all_inner_texts()
    page.locator(".add-row a").first.click()
    page.select_option("select[name=devices-0-kind]", "soft")
    page.fill("input[name=devices-0-label]", "Mobil")
    page.click("input[name=_continue]")
    page.wait_for_load_state()
    device_link = page.locator("#devices-group a.inlinechangelink").first
    device_link.click()
    page.wait_for_load_state()

    # The provisioning data: server, transport, QR code and the file at the secret URL.
    setup = page.locator(".provisioning")
    assert words["server"] in setup.inner_text()
    assert setup.locator("img.qr").evaluate("img => img.complete && img.naturalWidth > 0")
    yealink = setup.locator("a.prov-file").first.get_attribute("href")
    token_path = re.sub(r"^https?://[^/]+", "", yealink)
    file = page.request.get(f"{base}{token_path}")
    assert file.status == 200 and "account.1.user_name = t" in file.text()
    setup.scroll_into_view_if_needed()
    no_sideways_scroll(page)
    screenshot(page, f"{shot}-provisioning.png")

    # A reserved number forwarded, typed the Swedish way.
    page.goto(f"{base}/admin/reserved-numbers/")
    row = page.locator("table.reserved-table tbody tr[data-number]").first
    row.locator("input[name=forward_to]").fill("070-123 45 67")
    row.locator("button[type=submit]").click()
    page.wait_for_load_state()
    assert words["forwarded"] in page.locator(".messagelist").inner_text()
    assert "070-123 45 67" in page.locator("table.reserved-table").inner_text()
    no_sideways_scroll(page)
    screenshot(page, f"{shot}-reserved.png")

    # The office closed from the dashboard, then its audit sentence.
    page.goto(f"{base}/admin/")
    schedule = page.locator(".dash-schedule", has_text="Kontorstid")
    schedule.locator("button", has_text=words["closed_button"]).click()
    page.wait_for_load_state()
    schedule = page.locator(".dash-schedule", has_text="Kontorstid")
    assert schedule.locator(".state--closed").count() == 1
    assert schedule.locator(".state--override").count() == 1
    screenshot(page, f"{shot}-override.png")

    page.goto(f"{base}/admin/pbx/auditlog/")
    first = page.locator("#result_list tbody tr").first.inner_text()
    assert f"Alice Andersson {words['forced']}" in first
    no_sideways_scroll(page)
    screenshot(page, f"{shot}-audit.png")

    # A forwarding profile's rules (a ten-column inline) scroll in their own box, not the page.
    page.goto(f"{base}/admin/pbx/forwardingprofile/")
    page.locator("#result_list tbody a").first.click()
    page.wait_for_load_state()
    no_sideways_scroll(page)

    # The user web's pages fit too: the call history's "Call back" buttons stay inside their table's box, and
    # its numbers read the Swedish way.
    for path in ("/me/", "/me/calls/"):
        page.goto(f"{base}{path}")
        no_sideways_scroll(page)
        if screen == "laptop":  # one line each: the header and My pages' tabs, none of them cut
            assert page.locator(".site-header").bounding_box()["height"] < 80
            assert page.locator(".me-nav").bounding_box()["height"] < 60
            assert page.locator(".me-nav ul").evaluate("ul => ul.scrollWidth <= ul.clientWidth")
    history = page.locator(".table-scroll").inner_text()
    assert "070-123 45 67" in history and "08-123 456 78" in history and "+4670" not in history
    assert page.locator("button", has_text=words["call_back"]).count() >= 3
    if screen == "laptop":  # on a laptop the whole row is in view: "Ring upp" is not scrolled out of its box
        box = page.locator(".table-scroll").bounding_box()
        button = page.locator("button", has_text=words["call_back"]).first.bounding_box()
        assert button["x"] + button["width"] <= box["x"] + box["width"], (button, box)
    screenshot(page, f"{shot}-calls.png")

    page.goto(f"{base}/admin/")
    page.locator(".dash-schedule", has_text="Kontorstid").locator("button", has_text=words["follow_button"]).click()
    page.wait_for_load_state()
    assert page.locator(".dash-schedule", has_text="Kontorstid").locator(".state--override").count() == 0


def test_the_console_writes_numbers_as_the_admin_web_does(open_as, people):
    """portal/phone.js (the console's numbers) and pbx/phone_format.py agree on every case of the table."""
    page = open_as(people["olle"].email, "/console/")
    page.wait_for_function("() => window.vaxelPhone !== undefined")
    shown = page.evaluate("numbers => numbers.map(n => window.vaxelPhone.format(n))", [e164 for e164, _ in NUMBERS])
    assert shown == [expected for _, expected in NUMBERS]
