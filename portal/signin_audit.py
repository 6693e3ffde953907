"""Sign-in in the audit log (pbx.AuditLog), from allauth's signals: every sign-in, failed password or second
step, two-factor set up or removed, password changed, set or reset, and sessions ended.

Each row names the person (object and company) and carries the client's address as the rate limits count it
(portal.auth.client_ip: the connection's, or the trusted proxy's X-Forwarded-For) in ``after["ip"]``. The
actor is the person themselves, except for a failed attempt: whoever typed a wrong password is not known to
be the account's owner, so it has no actor.
"""

from __future__ import annotations

from allauth.account import signals as account_signals
from allauth.account.internal.flows.login import get_authentication_records
from allauth.mfa import signals as mfa_signals
from django.contrib.auth import get_user_model
from django.http import HttpRequest

from pbx.actions.base import record
from pbx.models import AuditLog

from .auth import client_ip
from .signals import recheck_consoles_on_commit

MAX_TYPED = 120  # of a typed login address kept in the log


def _ip(request: HttpRequest | None) -> str | None:
    return client_ip(request) if request is not None else None


def audit(request: HttpRequest | None, user, action: str, *, before=None, after=None, actor="self") -> AuditLog:
    after = {**(after or {}), "ip": _ip(request)}
    return record(user if actor == "self" else actor, action, user, before, after)


def audit_failed_password(request: HttpRequest | None, typed: str, held: str | None = None) -> None:
    """A wrong password (or an unknown address) on the login or re-authentication page; ``held``: refused
    before the password was checked, by a limit (``too_many_login_attempts``, ``company_lockout``)."""
    typed = str(typed or "")[:MAX_TYPED]
    after = {"factor": "password", **({"held": held} if held else {})}
    user = get_user_model().objects.filter(email__iexact=typed).first() if typed else None
    if user is not None:
        audit(request, user, "sign_in_failed", after=after, actor=None)
        return
    # Nobody's address: a row of no company (the platform's admins see it), the address as typed.
    AuditLog.objects.create(action="sign_in_failed", object_type="pbx.user", object_repr=typed,
                            after={**after, "email": typed, "ip": _ip(request)})


def _methods(request, user) -> list[str]:
    return [entry.get("method", "") for entry in get_authentication_records(request, user)]


def _logged_in(sender, request=None, user=None, **kwargs):
    audit(request, user, "signed_in", after={"methods": _methods(request, user)})


def _mfa_failed(sender, request=None, user=None, authenticator=None, **kwargs):
    audit(request, user, "sign_in_failed", after={"factor": getattr(authenticator, "type", "")}, actor=None)


def _code_rejected(sender, request=None, user=None, **kwargs):
    audit(request, user, "sign_in_failed", after={"factor": "email_code"}, actor=None)


def _authenticator_added(sender, request=None, user=None, authenticator=None, **kwargs):
    audit(request, user, "two_factor_added", after={"factor": authenticator.type})


def _authenticator_removed(sender, request=None, user=None, authenticator=None, **kwargs):
    audit(request, user, "two_factor_removed", before={"factor": authenticator.type})
    # A console opened while the person had two-factor re-checks whether its role still may go on without.
    recheck_consoles_on_commit(user.pk)


def _authenticator_reset(sender, request=None, user=None, authenticator=None, **kwargs):
    audit(request, user, "recovery_codes_renewed", after={"factor": authenticator.type})


def _password_changed(sender, request=None, user=None, **kwargs):
    audit(request, user, "password_changed")


def _password_set(sender, request=None, user=None, **kwargs):
    audit(request, user, "password_set")


def _password_reset(sender, request=None, user=None, **kwargs):
    audit(request, user, "password_reset")


def connect() -> None:
    connections = [
        (account_signals.user_logged_in, _logged_in),
        (account_signals.login_code_rejected, _code_rejected),
        (account_signals.password_changed, _password_changed),
        (account_signals.password_set, _password_set),
        (account_signals.password_reset, _password_reset),
        (mfa_signals.authentication_failed, _mfa_failed),
        (mfa_signals.authenticator_added, _authenticator_added),
        (mfa_signals.authenticator_removed, _authenticator_removed),
        (mfa_signals.authenticator_reset, _authenticator_reset),
    ]
    for signal, receiver in connections:
        signal.connect(receiver, dispatch_uid=f"portal.signin_audit.{receiver.__name__}")
