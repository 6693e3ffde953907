"""The operator console and the user web in headless Chromium, against the live embedded product.

Olle (operator, Demo AB) answers a caller the fake Asterisk put in a queue, announces the call to Bob,
cancels, announces again and completes, while Bob's line status changes on Olle's screen; Petra (operator,
Exempel AB) watches her own console the whole time and sees none of it. Eva sets "Lunch until 13:00" on
her status page and Olle's console shows it within a second. A network drop shows "reconnecting" and the
fresh snapshot after it drops a caller who hung up meanwhile. Screenshots go to docs/screenshots/.
"""

from __future__ import annotations

import datetime
import json
import time
import zoneinfo

import pytest

from .conftest import live, screenshot

pytestmark = pytest.mark.browser

STOCKHOLM = zoneinfo.ZoneInfo("Europe/Stockholm")


def person_row(page, user):
    return page.locator(f'#people li[data-uid="{user.pk}"]')


def wait_line(page, user, *states, timeout=10_000):
    """Bob's row on the page shows one of these line states."""
    selector = ", ".join(f'#people li[data-uid="{user.pk}"][data-line="{s}"]' for s in states)
    page.wait_for_selector(selector, timeout=timeout)
    return person_row(page, user).get_attribute("data-line")


def console_state(page) -> dict:
    return page.evaluate("""() => {
        const s = window.vaxelConsole.state;
        return {calls: [...s.calls.keys()], waiting: [...s.waiting.values()].map(w => w.caller && w.caller.number),
                people: [...s.people.values()].map(p => p.user_id)};
    }""")


def test_operator_answers_announces_cancels_and_completes_while_exempel_sees_nothing(open_as, live_console, people):
    olle, bob, petra = people["olle"], people["bob"], people["petra"]
    world = people["world"]
    page = open_as(olle.email)
    live(page)
    theirs = open_as(petra.email)
    live(theirs)
    exempel_people = set(console_state(theirs)["people"])
    assert olle.pk not in exempel_people and petra.pk in exempel_people

    # Two callers arrive in Support; the console lists both with a ticking wait time.
    live_console.queue_caller(world, "Support", "+46701110001", "Greta Gustafsson")
    live_console.queue_caller(world, "Support", "+46701110002", "Hugo Holm")
    first = page.locator("#waiting li", has_text="Greta Gustafsson")
    first.wait_for()
    page.locator("#waiting li", has_text="Hugo Holm").wait_for()
    assert first.locator(".queue-tag").inner_text() == "Support"
    waited = first.locator(".wait").inner_text()
    page.wait_for_function(
        "w => document.querySelector('#waiting li[data-call-id] .wait').textContent !== w", arg=waited, timeout=3000)
    assert wait_line(page, bob, "free", "unknown") in ("free", "unknown")

    # Olle takes the second caller, not the oldest: the call comes to his phone (he answers at once).
    page.locator("#waiting li", has_text="Hugo Holm").locator("[data-do=answer]").click()
    mine = page.locator("#calls li", has_text="Hugo Holm")
    page.wait_for_selector('#calls li[data-state="up"]', timeout=15_000)
    assert mine.count() == 1
    page.locator("#waiting li", has_text="Hugo Holm").wait_for(state="detached")
    assert page.locator("#waiting li", has_text="Greta Gustafsson").count() == 1
    screenshot(page, "console.png")

    # Announce the call to Bob: his phone rings (on Olle's screen), he picks up, Olle cancels: the call is back.
    person_row(page, bob).locator("[data-do=announceTo]").click()
    assert wait_line(page, bob, "ringing", "in_call") in ("ringing", "in_call")
    mine.locator("[data-do=cancelTransfer]").wait_for(state="visible")
    live_console.pick_up(people.phones(bob))
    wait_line(page, bob, "in_call")
    screenshot(page, "console-transfer.png")
    mine.locator("[data-do=cancelTransfer]").click()
    page.wait_for_selector("#toast.toast--ok")
    wait_line(page, bob, "free")
    page.wait_for_selector('#calls li[data-state="up"] [data-do=hold]:visible')
    assert mine.locator("[data-do=complete]").is_hidden()

    # Announce again and complete: the caller is Bob's now; Olle's calls are empty, Bob is in a call.
    mine.locator("[data-do=announce]").click()
    page.fill("#transfer-target", bob.extension)
    page.click("#transfer-form button[value=announced]")
    wait_line(page, bob, "ringing", "in_call")
    live_console.pick_up(people.phones(bob))
    mine.locator("[data-do=complete]").wait_for(state="visible")
    mine.locator("[data-do=complete]").click()
    page.locator("#calls li").first.wait_for(state="detached", timeout=15_000)
    assert wait_line(page, bob, "in_call") == "in_call"

    # Exempel AB's operator saw none of it: no Demo caller, call or person ever reached her console.
    seen = console_state(theirs)
    assert seen["calls"] == [] and seen["waiting"] == []
    assert set(seen["people"]) == exempel_people
    assert theirs.locator("#waiting li").count() == 0 and theirs.locator("#calls li").count() == 0
    assert theirs.locator("#people > li", has_text="Bob").count() == 0
    screenshot(theirs, "console-exempel.png")
    live_console.hang_up_caller("+46701110001")
    live_console.hang_up_caller("+46701110002")


def test_a_status_set_on_the_user_web_shows_on_the_console_within_a_second(open_as, people):
    olle, eva = people["olle"], people["eva"]
    console = open_as(olle.email)
    live(console)
    row = person_row(console, eva)
    status_page = open_as(eva.email, "/me/status/")
    status_page.get_by_label("Lunch", exact=True).check()
    now = datetime.datetime.now(STOCKHOLM)
    lunch = status_page.locator("input[name=ends][value=lunch]")
    if now.hour < 13 and lunch.is_enabled():
        lunch.check()
    else:  # after 13:00: tomorrow's 13:00, chosen by hand
        status_page.check("input[name=ends][value=custom]")
        tomorrow = (now + datetime.timedelta(days=1)).date()
        status_page.fill("input[name=until]", f"{tomorrow:%Y-%m-%d}T13:00")
    started = time.monotonic()
    status_page.click("#status-form button[type=submit]")
    row.locator(".presence-badge[data-status=Lunch]").wait_for(timeout=1000)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    assert "13:00" in row.locator(".presence-text").inner_text()
    status_page.wait_for_selector(".messages")
    screenshot(status_page, "user-status.png")


def test_a_network_drop_shows_reconnecting_and_the_fresh_snapshot_has_no_ghost(open_as, live_console, people):
    olle, world = people["olle"], people["world"]
    page = open_as(olle.email)
    live(page)
    live_console.queue_caller(world, "Sales", "+46701110003", "Ingrid Isaksson")
    page.locator("#waiting li", has_text="Ingrid Isaksson").wait_for()
    page.context.set_offline(True)
    page.wait_for_selector("#conn[data-state=reconnecting]", timeout=3000)
    assert page.locator("#console").get_attribute("aria-busy") == "true"
    screenshot(page, "console-reconnecting.png")
    live_console.hang_up_caller("+46701110003")  # she gives up while the console is away
    time.sleep(0.5)
    page.context.set_offline(False)
    live(page, timeout=15_000)
    assert page.locator("#waiting li", has_text="Ingrid Isaksson").count() == 0
    assert "+46701110003" not in console_state(page)["waiting"]


def test_keyboard_help_search_and_a_changed_shortcut(open_as, live_console, people):
    olle, bob, world = people["olle"], people["bob"], people["world"]
    page = open_as(olle.email, locale="en-GB")
    live(page)
    page.keyboard.press("?")
    page.wait_for_selector("#help[open]")
    screenshot(page, "console-help.png")
    # Answer gets the key "g" instead of "a"; it is kept in this browser for this person.
    page.locator('#shortcut-rows tr[data-action="answer"] .shortcut-change').click()
    page.keyboard.press("g")
    assert page.locator('#shortcut-rows tr[data-action="answer"] kbd').inner_text() == "g"
    page.keyboard.press("Escape")
    stored = page.evaluate(f"() => localStorage.getItem('vaxel.console.shortcuts.{olle.pk}')")
    assert json.loads(stored) == {"answer": "g"}
    page.keyboard.press("/")
    assert page.evaluate("() => document.activeElement.id") == "search"
    page.keyboard.type("berg")
    visible = page.locator("#people > li:visible")
    assert visible.count() == 1 and bob.first_name in visible.inner_text()
    page.fill("#search", "kundtj")
    assert page.locator("#people > li:visible").count() >= 2
    page.keyboard.press("Escape")
    page.locator("#console").click(position={"x": 5, "y": 5})
    # "g" now answers the longest-waiting caller.
    live_console.queue_caller(world, "Sales", "+46701110004", "Jonas Jonsson")
    page.locator("#waiting li", has_text="Jonas Jonsson").wait_for()
    page.keyboard.press("g")
    page.wait_for_selector('#calls li[data-state="up"]', timeout=15_000)
    page.keyboard.press("e")  # hang up (default key)
    page.locator("#calls li").first.wait_for(state="detached", timeout=15_000)


def test_my_queues_log_in_pause_with_reason_and_log_out(open_as, people):
    olle = people["olle"]
    page = open_as(olle.email, locale="en-GB")
    live(page)
    row = page.locator("#my-queues li", has_text="Sales")
    assert row.get_attribute("data-state") == "out"
    row.locator("[data-do=queueToggle]").click()
    page.wait_for_selector('#my-queues li[data-state="in"]')
    row.locator("[data-do=pauseToggle]").click()
    page.fill("#pause-reason", "Fika")
    page.click("#pause-form button[value=pause]")
    page.wait_for_selector('#my-queues li[data-state="paused"]')
    assert "Fika" in row.locator(".qstate").inner_text()
    page.keyboard.press("l")  # all my queues: out
    page.wait_for_selector('#my-queues li[data-state="out"]')


def test_the_console_on_a_phone(open_as, live_console, people):
    olle, world = people["olle"], people["world"]
    page = open_as(olle.email, width=390, height=844, mobile=True)
    live(page)
    live_console.queue_caller(world, "Support", "+46701110005", "Klara Karlsson")
    page.locator("#waiting li", has_text="Klara Karlsson").wait_for()
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 390, width  # nothing sideways
    screenshot(page, "console-phone.png")
    live_console.hang_up_caller("+46701110005")


def test_the_console_refuses_others(open_as, live_console, people):
    eva = people["eva"]
    page = open_as(eva.email, "/me/")
    response = page.goto(f"{live_console.url}/console/")
    assert response.status == 403


def test_hold_record_drag_to_a_colleague_external_and_my_own_status(open_as, live_console, people):
    olle, filip, world = people["olle"], people["filip"], people["world"]
    page = open_as(olle.email, locale="en-GB")
    live(page)
    live_console.queue_caller(world, "Support", "+46701110006", "Lisa Lund")
    page.locator("#waiting li", has_text="Lisa Lund").locator("[data-do=answer]").click()
    call = page.locator("#calls li", has_text="Lisa Lund")
    page.wait_for_selector('#calls li[data-state="up"]', timeout=15_000)
    # Hold and take back; record and stop.
    call.locator("[data-do=hold]").click()
    call.locator('[data-do=hold][aria-pressed="true"]').wait_for()
    call.locator("[data-do=hold]").click()
    call.locator('[data-do=hold][aria-pressed="false"]').wait_for()
    call.locator("[data-do=record]").click()
    call.locator(".rec").wait_for(state="visible")
    call.locator("[data-do=record]").click()
    call.locator(".rec").wait_for(state="hidden")
    call.drag_to(person_row(page, filip))  # a blind transfer to Filip
    wait_line(page, filip, "ringing", "in_call")
    call.wait_for(state="detached", timeout=15_000)
    live_console.pick_up(people.phones(filip))
    wait_line(page, filip, "in_call")
    live_console.hang_up_caller("+46701110006")

    # To an outside number, through the transfer dialog.
    live_console.queue_caller(world, "Support", "+46701110007", "Mats Mattsson")
    page.locator("#waiting li", has_text="Mats Mattsson").locator("[data-do=answer]").click()
    call = page.locator("#calls li", has_text="Mats Mattsson")
    page.wait_for_selector('#calls li[data-state="up"]', timeout=15_000)
    call.locator("[data-do=external]").click()
    page.fill("#transfer-target", "08-123 456 78")
    page.click("#transfer-form button[value=blind]")
    call.wait_for(state="detached", timeout=15_000)
    live_console.hang_up_caller("+46701110007")

    # My own status from the console: Möte until a time; my row shows it.
    page.click("#status-button")
    page.select_option("#status-choice", label="Möte")
    page.fill("#status-until", "23:59")
    page.click("#status-form button[value=set]")
    mine = person_row(page, olle)
    mine.locator(".presence-badge[data-status='Möte']").wait_for()
    assert "I möte" in mine.locator(".presence-text").inner_text()
    page.click("#status-button")
    page.select_option("#status-choice", value="")
    page.click("#status-form button[value=set]")
    mine.locator(".presence-badge:not([data-status])").wait_for()


def test_pause_and_resume_recording_and_listen_in_on_a_colleagues_call(open_as, live_console, people):
    olle, filip, world = people["olle"], people["filip"], people["world"]
    page = open_as(olle.email, locale="en-GB")
    live(page)
    live_console.queue_caller(world, "Support", "+46701110008", "Nils Nilsson")
    page.locator("#waiting li", has_text="Nils Nilsson").locator("[data-do=answer]").click()
    call = page.locator("#calls li", has_text="Nils Nilsson")
    page.wait_for_selector('#calls li[data-state="up"]', timeout=15_000)
    assert call.locator("[data-do=recordPause]").is_hidden()  # nothing to pause before recording starts
    call.locator("[data-do=record]").click()
    call.locator(".rec").wait_for(state="visible")
    # Pause with the button (MixMonitorMute reaches the fake; its event comes back through the bridge) ...
    call.locator("[data-do=recordPause]").click()
    call.locator('[data-do=recordPause][aria-pressed="true"]').wait_for()
    assert call.locator(".rec").inner_text() == "● Recording paused"
    assert call.locator("[data-do=recordPause]").inner_text() == "Resume recording"
    # ... and resume with its shortcut.
    page.locator("#console").click(position={"x": 5, "y": 5})
    page.keyboard.press("u")
    call.locator('[data-do=recordPause][aria-pressed="false"]').wait_for()
    assert call.locator(".rec").inner_text() == "● Recording"
    call.locator("[data-do=record]").click()
    call.locator(".rec").wait_for(state="hidden")

    # Filip takes the caller; Olle is no longer on the call: Filip's row offers to listen in.
    row = person_row(page, filip)
    assert row.locator(".person__listen").is_hidden()
    call.drag_to(row)
    live_console.pick_up(people.phones(filip))
    wait_line(page, filip, "in_call")
    row.locator("[data-do=listenMenu]").wait_for(state="visible")
    row.focus()
    page.keyboard.press("i")  # the listen-in shortcut opens the menu for the chosen colleague
    page.wait_for_selector("#listen-dialog[open]")
    assert "Nils Nilsson" in page.locator("#listen-what").inner_text()
    screenshot(page, "console-listen-in.png")
    page.click("#listen-form button[value=cancel]")
    page.wait_for_selector("#listen-dialog[open]", state="detached")
    row.locator("[data-do=listenMenu]").click()
    page.wait_for_selector("#listen-dialog[open]")
    page.click("#listen-form button[value=whisper]")
    page.wait_for_selector("#toast.toast--ok")
    live_console.pick_up(people.phones(olle))  # Olle's phone rings for the whisper; he answers
    live_console.hang_up_caller("+46701110008")
    row.locator(".person__listen").wait_for(state="hidden", timeout=15_000)


def test_exempels_operator_is_never_offered_a_listen_in_on_demo_calls(open_as, live_console, people):
    petra, world = people["petra"], people["world"]
    theirs = open_as(petra.email, locale="en-GB")
    live(theirs)
    live_console.queue_caller(world, "Support", "+46701110009", "Olga Olsson")
    time.sleep(1.0)
    assert theirs.locator("#people .person__listen:visible").count() == 0
    assert console_state(theirs)["calls"] == []
    live_console.hang_up_caller("+46701110009")


def test_waiting_positions_move_up_when_a_caller_ahead_leaves(open_as, live_console, people):
    olle, world = people["olle"], people["world"]
    page = open_as(olle.email, locale="en-GB")
    live(page)
    for number, name in (("+46701110011", "Petter Persson"), ("+46701110012", "Rut Rask"),
                         ("+46701110013", "Sara Svensson")):
        live_console.queue_caller(world, "Sales", number, name)
        page.locator("#waiting li", has_text=name).wait_for()
    second = page.locator("#waiting li", has_text="Rut Rask").locator(".position")
    third = page.locator("#waiting li", has_text="Sara Svensson").locator(".position")
    assert (second.inner_text(), third.inner_text()) == ("No. 2 in line", "No. 3 in line")
    live_console.hang_up_caller("+46701110011")  # No. 1 gives up: the others move up, as Asterisk numbers them
    page.locator("#waiting li", has_text="Petter Persson").wait_for(state="detached")
    page.wait_for_function("() => [...document.querySelectorAll('#waiting li .position')].map(e => e.textContent)"
                           ".join('|') === 'No. 1 in line|No. 2 in line'", timeout=5000)
    live_console.hang_up_caller("+46701110012")
    live_console.hang_up_caller("+46701110013")
