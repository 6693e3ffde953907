"""Two-factor sign-in: who must have it, who has it, and the pages a person without it may still reach.

The factors are allauth.mfa's (authenticator app with recovery codes, passkeys) and a one-time code mailed to
the login address (``EmailCodeFactor``; allauth's login-by-code stage asks for it, see
portal.auth.NoSignupAccountAdapter.is_login_by_code_required).

A company requires two-factor per role (pbx.Tenant.mfa_required_*); the recording web requires it of everyone.
A person who must have it and has none reaches only the account pages (``ALLOWED_WITHOUT_TWO_FACTOR``) until
they have set one up, which is where they land after their first login; their console socket is refused
(portal/consumers.py: session_refusal).
"""

from __future__ import annotations

from allauth.account.adapter import get_adapter as get_account_adapter
from allauth.account.forms import ConfirmLoginCodeForm
from allauth.core import context, ratelimit
from allauth.mfa.adapter import DefaultMFAAdapter
from allauth.mfa.models import Authenticator
from allauth.usersessions.adapter import DefaultUserSessionsAdapter
from django.conf import settings
from django.contrib import messages
from django.db import transaction
from django.db.models.signals import post_save, pre_save
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from pbx.events import tenant_group

from .models import EmailCodeFactor
from .signals import RECHECK, recheck_consoles_on_commit

# What a person who must set up two-factor may open before they have: allauth's pages (the two-factor
# set-up, re-authentication, logging out, password, sessions), the language switch and static files.
ALLOWED_WITHOUT_TWO_FACTOR = ("/accounts/", "/i18n/")
# Pages that need two-factor of everyone, whatever the company says (the recording web, as the seed's).
ALWAYS_TWO_FACTOR = ("/recordings/",)
STRONG_TYPES = (Authenticator.Type.TOTP, Authenticator.Type.WEBAUTHN)
REQUIREMENT_FIELDS = ("mfa_required_admins", "mfa_required_operators", "mfa_required_recording")


def required_for_role(user) -> bool:
    """Whether the person's company requires two-factor of one of their roles."""
    has_role = user.is_company_admin or user.is_operator or user.recording_role == user.RecordingRole.SUPER
    if not has_role or not getattr(user, "tenant_id", None):
        return False  # most people: no query on their pages
    tenant = user.tenant
    return bool(
        (tenant.mfa_required_admins and user.is_company_admin)
        or (tenant.mfa_required_operators and user.is_operator)
        or (tenant.mfa_required_recording and user.recording_role == user.RecordingRole.SUPER)
    )


def has_strong_factor(user) -> bool:
    """An authenticator app or a passkey: allauth.mfa's own stage asks for it at login."""
    return Authenticator.objects.filter(user=user, type__in=STRONG_TYPES).exists()


def has_email_code(user) -> bool:
    return EmailCodeFactor.objects.filter(user=user).exists()


def has_two_factor(user) -> bool:
    return has_strong_factor(user) or has_email_code(user)


def lacks_required_two_factor(user, path: str = "") -> bool:
    """The person must have two-factor (their role, or the page) and has not set it up."""
    if user is None or not user.is_authenticated:
        return False
    needed = path.startswith(ALWAYS_TWO_FACTOR) or required_for_role(user)
    return needed and not has_two_factor(user)


def _allowed_without(path: str) -> bool:
    return path.startswith(ALLOWED_WITHOUT_TWO_FACTOR) or path.startswith(settings.STATIC_URL)


class RequireTwoFactorMiddleware:
    """Sends a person who must have two-factor and has none to its set-up page, from anywhere but there."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest):
        path = request.path_info
        user = getattr(request, "user", None)
        if not _allowed_without(path) and lacks_required_two_factor(user, path):
            messages.warning(request, _("Set up two-factor sign-in first: it is required for your role."))
            return HttpResponseRedirect(reverse("mfa_index"))
        return self.get_response(request)


class PortalMFAAdapter(DefaultMFAAdapter):
    """allauth.mfa with messages that say what to do. allauth refuses a new login address to a person with two-factor
    (an attacker in an open session could otherwise move the account's mail away) and two-factor to a person whose
    address change waits for its link; its own words name neither way out."""

    error_messages = {
        **DefaultMFAAdapter.error_messages,
        "add_email_blocked": gettext_lazy(
            "With two-factor sign-in on, your login address is changed by your company administrator."),
        "unverified_email": gettext_lazy(
            "Your change of login address waits for its link. Open the link sent to the new address, or cancel "
            "the change on “Login e-mail”, then set up two-factor sign-in."),
    }


class SessionsAdapter(DefaultUserSessionsAdapter):
    """Ending sessions (the person on "Sessions", or the operator in the admin) also closes the consoles that were
    opened with them, at once, and is audited per person whose sessions ended: by themselves, or ``by: admin``
    with the operator as actor."""

    def end_sessions(self, sessions) -> None:
        from .signin_audit import audit

        sessions = list(sessions)
        super().end_sessions(sessions)
        request = context.request
        actor = getattr(request, "user", None) if request is not None else None
        for user_id in {session.user_id for session in sessions}:
            recheck_consoles_on_commit(user_id)
            if actor is None or not actor.is_authenticated:
                continue
            owner = next(session.user for session in sessions if session.user_id == user_id)
            count = sum(session.user_id == user_id for session in sessions)
            if user_id == actor.pk:
                audit(request, owner, "sessions_ended", after={"count": count})
            else:
                audit(request, owner, "sessions_ended", after={"count": count, "by": "admin"}, actor=actor)


class EmailCodeForm(ConfirmLoginCodeForm):
    """allauth's form for the mailed code, with the same per-person limit as an authenticator app's code: wrong
    codes count against the account's failed logins (5 in 5 minutes), from every address together, so
    restarting the login for a fresh code does not give an attacker who knows the password more guesses."""

    def clean_code(self) -> str:
        request = context.request
        stage = getattr(request, "_login_stage", None)
        user = getattr(getattr(stage, "login", None), "user", None)
        key = f"mfa-auth-user-{user.pk}" if user is not None else None
        if key and not ratelimit.consume(request, action="login_failed", key=key):
            raise get_account_adapter().validation_error("too_many_login_attempts")
        code = super().clean_code()
        if key:
            ratelimit.clear(request, action="login_failed", key=key)
        return code


# ------------------------------------------------------------------------------ follow the company's rules


def _remember_requirement(sender, instance, raw=False, **kwargs) -> None:
    if raw or instance.pk is None:
        return
    instance._mfa_before = sender.objects.filter(pk=instance.pk).values(*REQUIREMENT_FIELDS).first()


def _requirement_changed(sender, instance, created=False, raw=False, **kwargs) -> None:
    """A company now requires two-factor of more roles: its open consoles re-check (portal/consumers.py)."""
    before = getattr(instance, "_mfa_before", None)
    if raw or created or before is None:
        return
    if any(before[field] != getattr(instance, field) for field in REQUIREMENT_FIELDS):
        tenant_id = instance.pk
        transaction.on_commit(lambda: recheck_company_consoles(tenant_id))


def recheck_company_consoles(tenant_id: int) -> None:
    from asgiref.sync import async_to_sync
    from channels.layers import get_channel_layer

    layer = get_channel_layer()
    if layer is not None:
        async_to_sync(layer.group_send)(tenant_group(tenant_id), RECHECK)


def connect() -> None:
    from pbx.models import Tenant

    pre_save.connect(_remember_requirement, sender=Tenant, dispatch_uid="portal.mfa_remember_requirement")
    post_save.connect(_requirement_changed, sender=Tenant, dispatch_uid="portal.mfa_requirement_changed")
