"""Sign-in: one login page (allauth's) for everyone, and the client address its rate limits count."""

from __future__ import annotations

import ipaddress
from functools import cache
from urllib.parse import urlencode

from allauth.account.adapter import DefaultAccountAdapter
from allauth.account.forms import ResetPasswordForm
from allauth.core.internal.httpkit import clean_client_ip
from django import forms
from django.conf import settings
from django.core.cache import cache as django_cache
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _

from pbx.actions.base import record

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


@cache
def _networks(entries: tuple[str, ...]) -> tuple[Network, ...]:
    return tuple(ipaddress.ip_network(entry, strict=False) for entry in entries)


def trusted_proxies() -> tuple[Network, ...]:
    return _networks(tuple(getattr(settings, "TRUSTED_PROXIES", ()) or ()))


def _is_trusted(ip: str | None, networks: tuple[Network, ...]) -> bool:
    if not ip:
        return False
    address = ipaddress.ip_address(ip)
    return any(address in network for network in networks)


def client_ip(request: HttpRequest) -> str | None:
    """The address of whoever is on the other end.

    X-Forwarded-For is anyone's to write: it counts only when the request itself comes from one of
    settings.TRUSTED_PROXIES. Then the header is read from the right (each proxy appends the address it
    saw), skipping our own proxies; the first other address is the client's. Anything the client put
    in front of that is ignored, so a forged header cannot spread one attacker over many addresses.
    """
    remote = clean_client_ip(request.META.get("REMOTE_ADDR") or "")
    networks = trusted_proxies()
    if not _is_trusted(remote, networks):
        return remote
    hops = [clean_client_ip(part) for part in request.headers.get("x-forwarded-for", "").split(",")]
    for hop in reversed(hops):
        if hop is None:  # garbage in the chain: stop trusting it at that point
            break
        if not _is_trusted(hop, networks):
            return hop
    return remote


def _lockout_key(user_id: int) -> str:
    return f"signin:lockout:{user_id}"


def _person_of(email: str | None):
    """The person whose login address was typed, or None."""
    from pbx.models import User

    return User.objects.filter(email__iexact=email.strip()).first() if email and email.strip() else None


def _lockout_policy(email: str | None):
    """(person, policy) when the person's company locks accounts after failed passwords, else (None, None)."""
    from .passwords import policy_for

    person = _person_of(email)
    policy = policy_for(person) if person is not None else None
    if policy is None or not policy.lockout_attempts:
        return None, None
    return person, policy


def clear_lockout(user) -> None:
    django_cache.delete(_lockout_key(user.pk))


class NoSignupAccountAdapter(DefaultAccountAdapter):
    """People are created by their company admin, never by signing up themselves.

    A company's password policy may lock an account after a number of wrong passwords (on top of the
    deployment's rate limits); the owner opens it again at once with a password reset link. An account held by
    either (wrong passwords from anyone) does not keep out an owner with a second factor: their right password
    leads on to that step (the per-address limits still count).
    """

    def pre_authenticate(self, request, **credentials) -> None:
        held = None
        try:
            super().pre_authenticate(request, **credentials)
        except forms.ValidationError as error:  # the deployment's limits (per address, per account)
            held = error
        person, policy = _lockout_policy(credentials.get("email"))
        if held is None and person is not None and django_cache.get(_lockout_key(person.pk), 0) >= policy.lockout_attempts:
            # Counted like a wrong password by allauth's limits (its usage is not given back).
            held = forms.ValidationError(
                _("Too many wrong passwords: this account is locked for %(minutes)d minutes. "
                  "The link of “Forgot your password?” opens it at once.") % {"minutes": policy.lockout_minutes},
                code="company_lockout")
        if held is None:
            return
        if not self._second_factor_overrides(request, credentials.get("email")):
            from .signin_audit import audit_failed_password

            # Refused unchecked, still a failed sign-in for the audit log (why: the limit's code).
            audit_failed_password(request, credentials.get("email") or "", held=held.code)
            raise held
        # The account is held by wrong passwords (from anyone, anywhere), but its owner has a second factor: the
        # right password leads on to that step, which decides. A wrong one reads as before (authentication_failed).
        request._signin_held = held

    @staticmethod
    def _second_factor_overrides(request, email: str | None) -> bool:
        """Whether a held account may still try its password: its person has a second factor and this address
        is within the per-address limits (checked, not counted again: allauth counted this attempt)."""
        from allauth.core.internal import ratelimit as allauth_ratelimit

        from .mfa import has_two_factor

        person = _person_of(email)
        if person is None or not person.is_active or not has_two_factor(person):
            return False
        per_address = ",".join(rate for rate in settings.ACCOUNT_RATE_LIMITS.get("login_failed", "").split(",")
                               if rate.strip().endswith("/ip"))
        return bool(allauth_ratelimit.consume(request, app="allauth.account", action="login_failed", dry_run=True,
                                              config={"login_failed": per_address}))

    def authentication_failed(self, request, **credentials) -> None:
        from .signin_audit import audit_failed_password

        super().authentication_failed(request, **credentials)
        audit_failed_password(request, credentials.get("email") or credentials.get("username") or "")
        person, policy = _lockout_policy(credentials.get("email"))
        if person is not None:
            key = _lockout_key(person.pk)
            timeout = policy.lockout_minutes * 60
            django_cache.add(key, 0, timeout)
            count = django_cache.incr(key)
            django_cache.touch(key, timeout)
            if count == policy.lockout_attempts:
                record(None, "account_locked", person, None,
                       {"attempts": count, "minutes": policy.lockout_minutes, "ip": client_ip(request)})
        held = getattr(request, "_signin_held", None)
        if held is not None:
            raise held  # a held account answers a wrong password as it did before

    def _delete_login_attempts_cached_email(self, request, **credentials) -> None:
        # A successful password reset: the owner is back, whatever an attacker tried.
        super()._delete_login_attempts_cached_email(request, **credentials)
        from pbx.models import User

        for person in User.objects.filter(email__iexact=credentials.get("email") or ""):
            clear_lockout(person)

    def is_open_for_signup(self, request) -> bool:
        return False

    def get_client_ip(self, request: HttpRequest) -> str:
        # allauth's own rate limits (ACCOUNT_RATE_LIMITS, "/ip") key on this.
        ip = client_ip(request)
        if not ip:
            raise PermissionDenied("Unable to determine client IP address")
        return ip

    def is_login_by_code_required(self, login) -> bool:
        """The one-time code by e-mail as the second step (portal/mfa.py): after the password of a person who
        chose it, unless they have an authenticator app or a passkey (allauth.mfa's own stage asks for those)."""
        from .mfa import has_email_code, has_strong_factor

        user = login.user
        if user is not None and user.pk and has_email_code(user) and not has_strong_factor(user):
            return True
        return super().is_login_by_code_required(login)

    def post_login(self, request: HttpRequest, user, **kwargs):
        """The person's own language (account page "Language") from their first page on."""
        response = super().post_login(request, user, **kwargs)
        if getattr(user, "language", "") in dict(settings.LANGUAGES):
            from .views.account import set_language_cookie

            set_language_cookie(response, user.language)
        return response


class LoginAddressResetPasswordForm(ResetPasswordForm):
    """A reset link goes only to a person's login address (User.email: set by the company admin, or verified
    through its own link), never to an address still waiting for its verification: allauth would mail it there
    too, so whoever asked for that address with a borrowed session would get the password (without the old one)."""

    def clean_email(self) -> str:
        email = super().clean_email()
        self.users = [user for user in self.users if (user.email or "").lower() == email.strip().lower()]
        return email


def admin_login(request: HttpRequest, extra_context=None):
    """Django admin's login page, replaced: everyone signs in through allauth's login (its rate limits,
    later its second factor), then comes back to the admin page they asked for. Nothing posted here is
    ever checked as a password."""
    next_url = request.GET.get("next") or reverse("admin:index")
    if not url_has_allowed_host_and_scheme(next_url, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        next_url = reverse("admin:index")
    if request.user.is_authenticated:
        if request.user.is_active and request.user.is_staff:
            return HttpResponseRedirect(next_url)
        # Signed in but not for the admin: sending them to the login page again would loop.
        raise PermissionDenied(_("Your account has no access to the admin."))
    return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': next_url})}")
