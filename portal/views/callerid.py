"""My caller ID ("nummervisning"): which of the numbers I may show is shown when I call out."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from pbx.actions import do_set_caller_id
from portal.forms import CallerIdForm

from .common import add_action_error, me_view


@me_view
@require_http_methods(["GET", "POST"])
def caller_id(request):
    user = request.user
    if request.method == "POST":
        form = CallerIdForm(request.POST, user=user)
        if form.is_valid():
            number = form.cleaned_data["number"]
            try:
                do_set_caller_id(user, user, number)
            except ValidationError as error:
                add_action_error(form, error)
            else:
                shown = number.e164 if number else _("the company's main number")
                messages.success(request, _("Your calls now show %(number)s.") % {"number": shown})
                return redirect("portal:me_caller_id")
    else:
        form = CallerIdForm(initial={"number": user.caller_id_number_id}, user=user)
    return render(request, "portal/me/caller_id.html", {"form": form, "error_forms": [form] if form.errors else [], "numbers": list(form.fields["number"].queryset)},
                  status=400 if form.errors else 200)
