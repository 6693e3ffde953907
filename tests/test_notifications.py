"""The notification service: recorded sends, 46elks' API shape, retries with backoff, once per key, the admin.

The worker is huey in immediate mode (tests/settings.py): the first attempt runs when the caller's transaction
commits; a retry lands in huey's schedule, which ``run_retries`` plays as the consumer would when it is due.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import os
import subprocess
import sys
import urllib.parse
from pathlib import Path

import httpx
import pytest
from django.core import mail
from django.core.mail.backends.locmem import EmailBackend
from huey.contrib.djhuey import HUEY

from pbx.notifications import tasks
from pbx.notifications.gateways import ElksGateway, GatewayError, LoggingGateway, use_gateway
from pbx.notifications.models import Notification
from pbx.notifications.send import send_email, send_sms

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def empty_schedule():
    HUEY.storage.flush_schedule()
    yield
    HUEY.storage.flush_schedule()


def run_retries() -> list[float]:
    """Run every scheduled retry in order (as the consumer would once due); returns each one's delay (s)."""
    delays = []
    while True:
        now = dt.datetime.now(dt.UTC).replace(tzinfo=None)  # huey keeps naive UTC
        tasks_due = HUEY.read_schedule(now + dt.timedelta(days=1))
        if not tasks_due:
            return delays
        for task in tasks_due:
            delays.append(round((task.eta - now).total_seconds()))
            HUEY.execute(task, timestamp=task.eta)  # as the consumer runs it once its time has come


def elks(*answers: int):
    """A 46elks that answers each request with the next status code (the last one repeats)."""
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        status = answers[min(len(seen), len(answers)) - 1]
        if status == 200:
            return httpx.Response(200, json={"id": "s70b1", "status": "created", "to": "+46705550101"})
        return httpx.Response(status, text="Service Unavailable" if status >= 500 else "Unauthorized")

    return ElksGateway("u-test", "p-test", transport=httpx.MockTransport(answer)), seen


def test_an_sms_reaches_46elks_as_its_api_wants_it(demo, django_capture_on_commit_callbacks):
    gateway, seen = elks(200)
    with use_gateway(gateway), django_capture_on_commit_callbacks(execute=True):
        notification = send_sms(demo.tenant.pk, "+46705550101", "Ring 0701234567 tillbaka", topic="callback")
    (request,) = seen
    assert request.method == "POST" and str(request.url) == "https://api.46elks.com/a1/sms"
    assert request.headers["authorization"] == "Basic " + base64.b64encode(b"u-test:p-test").decode()
    assert request.headers["content-type"] == "application/x-www-form-urlencoded"
    assert urllib.parse.parse_qs(request.content.decode()) == {
        "from": ["Vaxel"], "to": ["+46705550101"], "message": ["Ring 0701234567 tillbaka"]}
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 1, "")
    assert notification.sent_at is not None and notification.last_attempt_at is not None


def test_a_failing_gateway_is_retried_with_backoff_until_it_takes_the_message(demo,
                                                                              django_capture_on_commit_callbacks):
    gateway, seen = elks(503, 503, 200)
    with use_gateway(gateway):
        with django_capture_on_commit_callbacks(execute=True):
            notification = send_sms(demo.tenant.pk, "+46705550101", "Hej")
        notification.refresh_from_db()
        assert (notification.status, notification.attempts) == ("queued", 1)
        assert "503" in notification.last_error
        due = run_retries()
    notification.refresh_from_db()
    assert (notification.status, notification.attempts, notification.last_error) == ("sent", 3, "")
    assert len(seen) == 3
    # 30 s after the first failure, then twice that: huey's retry_delay with retry_backoff.
    assert due == [30, 60]


def test_after_the_last_retry_the_message_is_failed_with_its_error(demo, django_capture_on_commit_callbacks):
    gateway, seen = elks(503)
    with use_gateway(gateway):
        with django_capture_on_commit_callbacks(execute=True):
            notification = send_sms(demo.tenant.pk, "+46705550101", "Hej")
        run_retries()
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", tasks.RETRIES + 1)
    assert len(seen) == tasks.RETRIES + 1 and "503" in notification.last_error


def test_a_refusal_that_will_not_change_fails_at_once(demo, django_capture_on_commit_callbacks):
    gateway, seen = elks(401)
    with use_gateway(gateway):
        with django_capture_on_commit_callbacks(execute=True):
            notification = send_sms(demo.tenant.pk, "+46705550101", "Hej")
        assert run_retries() == []
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("failed", 1)
    assert "refused" in notification.last_error and len(seen) == 1


def test_a_gateway_that_cannot_be_reached_is_tried_again():
    def unreachable(request):
        raise httpx.ConnectError("connection refused", request=request)

    gateway = ElksGateway("u", "p", transport=httpx.MockTransport(unreachable))
    with pytest.raises(GatewayError) as error:
        gateway.send("Vaxel", "+46705550101", "Hej")
    assert not error.value.permanent and "not reachable" in error.value.message


@pytest.mark.parametrize(("sender", "to", "text"), [
    ("Vaxel", "0701234567", "Hej"), ("Vaxel", "+46705550101\n", "Hej"), ("Vaxel; rm", "+46705550101", "Hej"),
    ("Vaxel", "+46705550101", ""), ("Vaxel", "+46705550101", "x" * 1601),
])
def test_nonsense_never_reaches_the_gateway(sender, to, text):
    gateway, seen = elks(200)
    with pytest.raises(GatewayError) as error:
        gateway.send(sender, to, text)
    assert error.value.permanent and seen == []


def test_a_number_or_address_that_is_none_is_recorded_as_failed_without_trying(demo, mailoutbox,
                                                                               django_capture_on_commit_callbacks):
    logging_gateway = LoggingGateway()
    with use_gateway(logging_gateway), django_capture_on_commit_callbacks(execute=True):
        sms = send_sms(demo.tenant.pk, "070-123", "Hej")
        email = send_email(demo.tenant.pk, '"x"@', "Ämne", "Text")
    assert (sms.status, sms.attempts, sms.last_error) == ("failed", 0, "not an international mobile number")
    assert (email.status, email.attempts, email.last_error) == ("failed", 0, "not an e-mail address")
    assert mailoutbox == [] and logging_gateway.sent == []


def test_the_same_key_is_sent_once(demo, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        first = send_email(demo.tenant.pk, "a@demo.example", "Ämne", "Text", key="voicemail:1001:m1")
        again = send_email(demo.tenant.pk, "a@demo.example", "Ämne", "Text", key="voicemail:1001:m1")
    assert first is not None and again is None
    assert len(mailoutbox) == 1 and Notification.objects.filter(key="voicemail:1001:m1").count() == 1


def test_a_subject_with_line_breaks_stays_one_header_line(demo, mailoutbox, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        notification = send_email(demo.tenant.pk, "a@demo.example", "New voicemail from Evil\r\nBcc: all@x.example",
                                  "Text")
    (mail,) = mailoutbox
    assert mail.subject == notification.subject == "New voicemail from Evil Bcc: all@x.example"
    assert mail.message()["Bcc"] is None and mail.recipients() == ["a@demo.example"]


def test_nothing_is_sent_for_a_change_that_was_rolled_back(demo, mailoutbox, django_capture_on_commit_callbacks):
    from django.db import transaction

    with django_capture_on_commit_callbacks(execute=True), pytest.raises(RuntimeError), transaction.atomic():
        send_email(demo.tenant.pk, "a@demo.example", "Ämne", "Text")
        raise RuntimeError("the caller's change failed")
    assert mailoutbox == [] and not Notification.objects.filter(recipient="a@demo.example").exists()


class FlakyBackend(EmailBackend):
    """The mail server is away for the first two attempts."""

    calls = 0

    def send_messages(self, messages):
        FlakyBackend.calls += 1
        if FlakyBackend.calls <= 2:
            raise ConnectionRefusedError(111, "Connection refused")
        return super().send_messages(messages)


def test_a_mail_server_that_is_away_gets_the_mail_later(demo, settings, mailoutbox,
                                                        django_capture_on_commit_callbacks):
    settings.EMAIL_BACKEND = "tests.test_notifications.FlakyBackend"
    FlakyBackend.calls = 0
    with django_capture_on_commit_callbacks(execute=True):
        notification = send_email(demo.tenant.pk, "a@demo.example", "Ämne", "Text")
    notification.refresh_from_db()
    assert notification.status == "queued" and "Connection refused" in notification.last_error
    run_retries()
    notification.refresh_from_db()
    assert (notification.status, notification.attempts) == ("sent", 3)
    assert [m.subject for m in mail.outbox] == ["Ämne"]


# --------------------------------------------------------------------------------------------- the admin


@pytest.fixture
def both_companies_notified(demo, exempel, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        ours = send_email(demo.tenant.pk, "ours@demo.example", "Demo-ämne", "Text")
        theirs = send_email(exempel.tenant.pk, "theirs@exempel.example", "Exempel-ämne", "Text")
    return ours, theirs


def test_a_company_admin_reads_the_companys_notifications_and_nothing_else(client, alice, both_companies_notified):
    ours, theirs = both_companies_notified
    client.force_login(alice)
    listing = client.get("/admin/notifications/notification/")
    assert listing.status_code == 200
    assert b"ours@demo.example" in listing.content and b"theirs@exempel.example" not in listing.content
    assert client.get(f"/admin/notifications/notification/{ours.pk}/change/").status_code == 200
    assert client.get(f"/admin/notifications/notification/{theirs.pk}/change/").status_code == 302  # "doesn't exist"
    assert client.get("/admin/notifications/notification/add/").status_code == 403
    response = client.post(f"/admin/notifications/notification/{ours.pk}/change/", {"recipient": "evil@x.example"})
    assert response.status_code == 403
    ours.refresh_from_db()
    assert ours.recipient == "ours@demo.example"


def test_an_agent_sees_no_notifications(client, bob, both_companies_notified):
    client.force_login(bob)
    assert client.get("/admin/notifications/notification/").status_code in (302, 403)


# --------------------------------------------------------------------------------------------- settings


def email_backend(**env: str) -> dict:
    environment = {k: v for k, v in os.environ.items() if not k.startswith(("EMAIL_", "SMS_", "DJANGO_"))}
    environment.update(DJANGO_SETTINGS_MODULE="pbx.settings", PBX_EMBEDDED="1", **env)
    code = ("import json; from django.conf import settings as s; print(json.dumps({'backend': s.EMAIL_BACKEND, "
            "'host': s.EMAIL_HOST, 'port': s.EMAIL_PORT, 'sms': s.SMS_BACKEND, 'sender': s.SMS_SENDER}))")
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=environment, capture_output=True, text=True,
                            timeout=60, check=True)
    return json.loads(result.stdout)


def test_mail_goes_through_smtp_when_a_server_is_named_and_to_the_console_when_embedded():
    assert email_backend()["backend"] == "django.core.mail.backends.console.EmailBackend"
    assert email_backend()["sms"] == "log"
    configured = email_backend(EMAIL_HOST="smtp.example.se", EMAIL_PORT="587", SMS_BACKEND="46elks")
    assert configured == {"backend": "django.core.mail.backends.smtp.EmailBackend", "host": "smtp.example.se",
                          "port": 587, "sms": "46elks", "sender": "Vaxel"}
