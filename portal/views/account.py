"""Account pages of our own beside allauth's: the e-mail code as a second factor, and the person's language."""

from __future__ import annotations

from allauth.account.decorators import reauthentication_required
from allauth.account.models import EmailAddress
from allauth.usersessions.internal.flows.sessions import end_sessions
from allauth.usersessions.models import UserSession
from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_http_methods, require_POST

from pbx.actions import do_set_language
from portal.mfa import has_two_factor, lacks_required_two_factor, required_for_role
from portal.models import EmailCodeFactor
from portal.signals import recheck_consoles_on_commit
from portal.signin_audit import audit


@login_required
@reauthentication_required(allow_get=True)
@require_http_methods(["GET", "POST"])
def email_code(request):
    """Turn the one-time code by e-mail on or off (after re-entering the password, as for allauth's factors)."""
    user = request.user
    factor = EmailCodeFactor.objects.filter(user=user).first()
    address_ok = EmailAddress.objects.filter(user=user, email__iexact=user.email, verified=True).exists()
    if request.method == "POST":
        action = request.POST.get("action")
        if action == "on" and factor is None:
            if not address_ok:
                messages.error(request, _("Your login e-mail address is not verified: codes cannot be sent to it."))
                return redirect("portal_mfa_email")
            EmailCodeFactor.objects.create(user=user)
            audit(request, user, "two_factor_added", after={"factor": "email_code"})
            messages.success(request, _("From your next login, a code is mailed to %(email)s after your password.")
                             % {"email": user.email})
            return redirect("mfa_index")
        if action == "off" and factor is not None:
            factor.delete()
            audit(request, user, "two_factor_removed", before={"factor": "email_code"})
            recheck_consoles_on_commit(user.pk)
            messages.success(request, _("Codes by e-mail are turned off."))
            if lacks_required_two_factor(user):
                messages.warning(request, _("Your role requires two-factor sign-in: set up another way."))
            return redirect("mfa_index")
        return redirect("portal_mfa_email")
    return render(request, "mfa/email_code.html", {
        "factor": factor, "address_ok": address_ok, "required": required_for_role(user),
        "has_two_factor": has_two_factor(user),
    })


class LanguageForm(forms.Form):
    language = forms.ChoiceField(label=gettext_lazy("Language"), choices=settings.LANGUAGES)


@login_required
@require_http_methods(["GET", "POST"])
def language(request):
    """The person's language: kept on their account (so every login and every mail-free page speaks it)."""
    user = request.user
    if request.method == "POST":
        form = LanguageForm(request.POST)
        if form.is_valid():
            code = form.cleaned_data["language"]
            do_set_language(user, user, code)
            translation.activate(code)
            messages.success(request, _("The web now speaks %(language)s to you.")
                             % {"language": translation.get_language_info(code)["name_local"]})
            response = redirect("portal_language")
            set_language_cookie(response, code)
            return response
    else:
        form = LanguageForm(initial={"language": user.language or translation.get_language()})
    return render(request, "account/language.html", {"form": form}, status=400 if form.errors else 200)


def set_language_cookie(response, code: str) -> None:
    response.set_cookie(
        settings.LANGUAGE_COOKIE_NAME, code, max_age=settings.LANGUAGE_COOKIE_AGE, path=settings.LANGUAGE_COOKIE_PATH,
        domain=settings.LANGUAGE_COOKIE_DOMAIN, secure=settings.LANGUAGE_COOKIE_SECURE,
        httponly=settings.LANGUAGE_COOKIE_HTTPONLY, samesite=settings.LANGUAGE_COOKIE_SAMESITE,
    )


@login_required
@require_POST
def end_session(request, session_id: int):
    """Log out one of the person's other browsers (from "Sessions"); only their own, never this one (that is
    "Log out"). Audited and its consoles closed, as "Log out the other sessions" does (portal.mfa.SessionsAdapter)."""
    session = get_object_or_404(UserSession, pk=session_id, user_id=request.user.pk)
    if session.is_current():
        return redirect("usersessions_list")
    end_sessions(request, [session])
    messages.success(request, _("That browser is logged out."))
    return redirect("usersessions_list")
