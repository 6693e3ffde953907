"""Two-factor in tests: give a person an authenticator app and type its current code."""

from __future__ import annotations

from allauth.mfa.totp.internal.auth import (
    TOTP,
    format_hotp_value,
    generate_totp_secret,
    hotp_value,
    yield_hotp_counters_from_time,
)


def current_code(secret: str) -> str:
    """What the app shows now."""
    return format_hotp_value(hotp_value(secret, next(yield_hotp_counters_from_time())))


def with_app(user) -> str:
    """Turn on an authenticator app for ``user``; its secret."""
    secret = generate_totp_secret()
    TOTP.activate(user, secret)
    return secret
