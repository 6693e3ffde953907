"""What a signed-in person must do before anything else: change an expired password (their company's policy),
then accept the current licence agreement. Until then every page sends them there (the admin too); the way
out is to log out."""

from __future__ import annotations

from urllib.parse import urlencode

from django.contrib import messages
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext as _

from .licence import current_licence, has_accepted
from .passwords import password_expired

GATE = "signin_gate"
# The account pages stay open: the password change and the licence page themselves, logout, and whatever
# else allauth asks on the way (re-authentication, two-factor enrolment): another gate that sends there
# never loops with this one.
ALWAYS_OPEN = ("/static/", "/i18n/", "/accounts/", "/favicon.ico")


def _first_method(request) -> str | None:
    methods = request.session.get("account_authentication_methods") or []
    return methods[0].get("method") if methods else None


class SignInGateMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated or request.path.startswith(ALWAYS_OPEN):
            return self.get_response(request)
        response = self._hold(request, user)
        return response or self.get_response(request)

    def _hold(self, request, user):
        state = request.session.get(GATE)
        if not state or state.get("user") != user.pk:
            # Checked once per sign-in: a password that expires while signed in is changed at the next login.
            # A sign-in with the organisation's account (SSO) used no password.
            state = {"user": user.pk, "expired": _first_method(request) == "password" and password_expired(user)}
            request.session[GATE] = state
        if state["expired"]:
            if not password_expired(user):  # changed just now
                request.session[GATE] = {**state, "expired": False}
            else:
                messages.warning(request, _("Your password has expired. Choose a new one to continue."))
                return HttpResponseRedirect(reverse("account_change_password"))
        licence = current_licence(user)
        if licence is None or request.session.get("licence_ok") == licence.pk:
            return None
        if has_accepted(user, licence):
            request.session["licence_ok"] = licence.pk
            return None
        page = reverse("account_licence")
        target = request.get_full_path() if request.method == "GET" else "/"
        return HttpResponseRedirect(f"{page}?{urlencode({'next': target})}")
