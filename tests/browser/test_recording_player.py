"""The recording web in a real browser: Alice (Demo AB's recording super user) opens a recording, plays it,
changes the speed, seeks on the waveform (the audio comes by HTTP Range), evaluates it and shares it; the
shared link then plays in a browser with no account."""

from __future__ import annotations

import threading
import time

import pytest

pytestmark = pytest.mark.browser


def in_thread(func):
    """Database work from the test: sync Playwright runs an event loop in this thread, so do it in another."""
    result, errors = {}, []

    def work():
        from django.db import connection

        try:
            result["value"] = func()
        except Exception as exc:  # re-raised in the test's thread
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=work)
    thread.start()
    thread.join(60)
    if errors:
        raise errors[0]
    return result.get("value")


def wait_js(page, expression: str, timeout: float = 10.0) -> None:
    """Polls an expression with evaluate(): wait_for_function() polls through eval, which the CSP forbids."""
    deadline = time.monotonic() + timeout
    while not page.evaluate(expression):
        if time.monotonic() > deadline:
            raise AssertionError(f"{expression} did not become true within {timeout} s")
        time.sleep(0.05)


@pytest.fixture
def recording(live_console, people):
    def make():
        from pbx.models import Tenant
        from recording.models import EvaluationChoice, EvaluationQuestion
        from tests.recording_fixtures import make_recording

        demo = Tenant.objects.get(slug="demo")
        bob = people["bob"]
        made = make_recording(demo, bob, long=True)
        result = EvaluationChoice.objects.create(tenant=demo, kind="result", name="Bokat möte")
        question = EvaluationQuestion.objects.create(tenant=demo, text="Hälsade agenten?")
        return made, result, question

    made, result, question = in_thread(make)
    yield made, result, question

    def clean():
        made.shares.all().delete()
        made.delete()
        result.delete()
        question.delete()

    in_thread(clean)


@pytest.fixture
def alice_has_a_second_factor(people):
    """Alice set up an e-mailed code (the recording web always asks for one); gone after the test, so the
    other browser tests sign her in with the password alone."""
    def add():
        from portal.models import EmailCodeFactor

        EmailCodeFactor.objects.get_or_create(user_id=people["alice"].pk)

    def remove():
        from portal.models import EmailCodeFactor

        EmailCodeFactor.objects.filter(user_id=people["alice"].pk).delete()

    yield add
    in_thread(remove)


def test_a_super_user_plays_seeks_evaluates_and_shares_a_recording(open_as, people, recording, live_console, browser,
                                                                   alice_has_a_second_factor):
    from django.core import mail

    made, result, question = recording
    page = open_as(people["alice"].email, "/")  # signed in with the password, then she sets up the factor
    in_thread(alice_has_a_second_factor)

    page.goto(f"{live_console.url}/recordings/{made.pk}/")
    wait_js(page, "document.querySelector('audio').readyState >= 1")
    duration = page.evaluate("document.querySelector('audio').duration")
    assert duration == pytest.approx(20, abs=0.5)

    page.click("[data-act=play]")
    wait_js(page, "document.querySelector('audio').currentTime > 0.3")
    page.select_option("[data-speed]", "1.5")
    assert page.evaluate("document.querySelector('audio').playbackRate") == 1.5

    box = page.locator("canvas.player__wave").bounding_box()
    page.mouse.click(box["x"] + box["width"] * 0.75, box["y"] + box["height"] / 2)
    wait_js(page, "Math.abs(document.querySelector('audio').currentTime - 15) < 1.5")
    wait_js(page, "document.querySelector('audio').currentTime > 15.2")  # still playing after the seek
    # The player's source answers byte ranges (a 20 s file is buffered whole, so Chromium may not ask again).
    assert page.evaluate("""fetch(document.querySelector('audio').src, {headers: {Range: 'bytes=10-19'}})
        .then(async r => [r.status, (await r.arrayBuffer()).byteLength])""") == [206, 10]
    page.click("[data-act=play]")  # pause
    assert page.evaluate("document.querySelector('audio').paused")
    page.click("[data-act=forward]")
    assert page.evaluate("document.querySelector('audio').currentTime") > 15

    page.select_option("#id_call_result", str(result.pk))
    page.select_option("#id_flag", "red")
    page.fill("#id_tag", "offert")
    page.select_option(f"#id_q{question.pk}", "yes")
    page.click("#evaluation-form button[type=submit]")
    page.wait_for_selector(".message--success")
    assert page.locator("#score").inner_text() == "Poäng 100 %"
    saved = in_thread(lambda: type(made).objects.values("flag", "tag", "call_result", "score").get(pk=made.pk))
    assert saved == {"flag": "red", "tag": "offert", "call_result": result.pk, "score": 100}

    page.fill("#id_email", "kund@example.org")
    page.fill("#id_subject", "Samtalet om offerten")
    page.click("#share-form button[type=submit]")
    page.wait_for_selector("#shares li")
    message = next(m for m in reversed(mail.outbox) if m.subject == "Samtalet om offerten")
    link = next(word for word in message.body.split() if "/recordings/s/" in word)

    stranger = browser.new_context(locale="sv-SE")
    try:
        shared = stranger.new_page()
        assert shared.goto(link).status == 200
        assert "Samtalet om offerten" in shared.locator("h1").inner_text()
        shared.click("[data-act=play]")
        wait_js(shared, "document.querySelector('audio').currentTime > 0.3")
        assert shared.goto(link.replace("/s/", "/s/x")).status == 404
    finally:
        stranger.close()
