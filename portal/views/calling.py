"""Click-to-call from the user web: my phone rings first; when I answer, the number is called."""

from __future__ import annotations

import logging

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from pbx.actions import do_click_to_call
from pbx.actions.errors import ActionRefused
from pbx.asterisk.errors import AsteriskError
from portal.forms import CallForm

from .common import me_view, messages_of
from .overview import overview_context

log = logging.getLogger(__name__)


def _back_to(request) -> str | None:
    """The call history page the "Call back" button was on (with its filter and page), if any."""
    target = request.POST.get("next", "")
    calls = reverse("portal:me_calls")
    safe = url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure())
    return target if safe and target.startswith(calls) else None


@me_view
@require_POST
def call(request):
    user = request.user
    back = _back_to(request)
    form = CallForm(request.POST)
    if form.is_valid():
        try:
            do_click_to_call(user, form.cleaned_data["number"])
        except ActionRefused as refusal:  # also CallGone
            form.add_error(None, str(refusal))
        except ValidationError as invalid:
            form.add_error(None, messages_of(invalid))
        except AsteriskError:
            log.warning("click-to-call for user %s failed", user.pk, exc_info=True)
            form.add_error(None, _("Your phone could not be rung: the switchboard did not answer. "
                                   "Please try again in a moment."))
        else:
            messages.success(request, _("Your phone rings first; answer it to be connected."))
            return redirect(back or "portal:me")
    if back:
        # From the call history: say why there, where the number is still in its row.
        messages.error(request, " ".join(str(e) for errors in form.errors.values() for e in errors))
        return redirect(back)
    # From the overview: the form again, with the number as typed and why it was not called.
    return render(request, "portal/me/overview.html", overview_context(user, form), status=400)
