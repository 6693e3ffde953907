"""SMS gateways: one small class per provider, one error type, one place that picks the configured one.

``SMS_BACKEND`` chooses: ``46elks`` (https://46elks.se/docs/send-sms: ``POST /a1/sms`` with Basic auth and
the form fields ``from``, ``to``, ``message``) or ``log`` (development: the message goes to the log).
Tests hand a gateway of their own to :func:`use_gateway` (e.g. ``ElksGateway`` over ``httpx.MockTransport``).
"""

from __future__ import annotations

import contextlib
import logging
import re
from collections.abc import Iterator

import httpx
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured

log = logging.getLogger(__name__)

E164_RE = re.compile(r"\A\+[1-9][0-9]{6,14}\Z")  # \Z: "$" would let a trailing newline through
# 46elks: an alphanumeric sender is 3-11 letters/digits starting with a letter, else an E.164 number.
SENDER_RE = re.compile(r"\A(?:[A-Za-z][A-Za-z0-9]{2,10}|\+[1-9][0-9]{6,14})\Z")
MAX_LENGTH = 1600  # 46elks splits long texts into up to 10 parts; longer is refused


class GatewayError(Exception):
    """The gateway did not take the message. ``permanent``: trying again will not help (bad number,
    wrong credentials); otherwise the worker retries later."""

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.message = message
        self.permanent = permanent


class SmsGateway:
    name = "base"

    def send(self, sender: str, to: str, message: str) -> str:
        """Send one text; returns the gateway's id for it. Raises GatewayError."""
        raise NotImplementedError


def check_message(sender: str, to: str, message: str) -> None:
    if not E164_RE.match(to or ""):
        raise GatewayError(f"not an international mobile number: {to!r}", permanent=True)
    if not SENDER_RE.match(sender or ""):
        raise GatewayError(f"not a valid SMS sender: {sender!r}", permanent=True)
    if not message or len(message) > MAX_LENGTH:
        raise GatewayError("the text is empty or too long", permanent=True)


class LoggingGateway(SmsGateway):
    """Development: the text is written to the log and counts as sent."""

    name = "log"

    def __init__(self):
        self.sent: list[tuple[str, str, str]] = []

    def send(self, sender: str, to: str, message: str) -> str:
        check_message(sender, to, message)
        self.sent.append((sender, to, message))
        log.info("SMS from %s to %s: %s", sender, to, message)
        return f"log-{len(self.sent)}"


class ElksGateway(SmsGateway):
    name = "46elks"

    def __init__(self, username: str, password: str, *, url: str = "https://api.46elks.com/a1/sms",
                 timeout: float = 10.0, transport: httpx.BaseTransport | None = None):
        if not username or not password:
            raise ImproperlyConfigured("SMS_46ELKS_USERNAME and SMS_46ELKS_PASSWORD must be set for SMS_BACKEND=46elks")
        self.url = url
        self.auth = httpx.BasicAuth(username, password)
        self.timeout = timeout
        self.transport = transport

    def send(self, sender: str, to: str, message: str) -> str:
        check_message(sender, to, message)
        try:
            with httpx.Client(auth=self.auth, timeout=self.timeout, transport=self.transport) as client:
                response = client.post(self.url, data={"from": sender, "to": to, "message": message})
        except httpx.HTTPError as exc:
            raise GatewayError(f"46elks not reachable: {exc.__class__.__name__}: {exc}") from exc
        if response.status_code >= 500 or response.status_code == 429:
            raise GatewayError(f"46elks answered {response.status_code}: {response.text[:200]}")
        if response.status_code >= 400:
            # A wrong password, a refused number or sender: sending it again gives the same answer.
            raise GatewayError(f"46elks refused the message ({response.status_code}): {response.text[:200]}",
                               permanent=True)
        try:
            body = response.json()
        except ValueError:
            raise GatewayError(f"46elks answered something that is not JSON: {response.text[:200]}") from None
        if body.get("status") == "failed":
            raise GatewayError("46elks could not deliver the message", permanent=True)
        return str(body.get("id", ""))


_override: SmsGateway | None = None


def configured_gateway() -> SmsGateway:
    if _override is not None:
        return _override
    backend = getattr(settings, "SMS_BACKEND", "log")
    if backend == "46elks":
        return ElksGateway(settings.SMS_46ELKS_USERNAME, settings.SMS_46ELKS_PASSWORD, url=settings.SMS_46ELKS_URL)
    if backend == "log":
        return LoggingGateway()
    raise ImproperlyConfigured(f"SMS_BACKEND must be '46elks' or 'log', not {backend!r}")


@contextlib.contextmanager
def use_gateway(gateway: SmsGateway) -> Iterator[SmsGateway]:
    """Send every SMS through ``gateway`` for a while (tests)."""
    global _override
    previous, _override = _override, gateway
    try:
        yield gateway
    finally:
        _override = previous
