"""My status ("hänvisning"): set one of the company's statuses with a message and an end time."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from pbx.actions import do_clear_presence, do_set_presence
from pbx.models import PresenceStatus, UserPresence
from portal.forms import PresenceForm

from .common import add_action_error, me_view


def current_presence(user) -> UserPresence | None:
    """The person's status, or None when available (no row, no status, or its end has passed)."""
    presence = UserPresence.objects.filter(user=user).select_related("status").first()
    if presence is None or presence.status is None:
        return None
    if presence.until is not None and presence.until <= timezone.now():
        return None
    return presence


def _initial(user, presence: UserPresence | None) -> dict:
    if presence is None:
        first = PresenceStatus.objects.filter(tenant_id=user.tenant_id).first()
        # A status that needs an end time starts with the nearest quick choice, not "no end".
        ends = "hour" if first and first.needs_end_time else "none"
        return {"status": first, "message": first.default_message if first else "", "ends": ends}
    initial = {"status": presence.status, "message": presence.message, "ends": "none"}
    if presence.until:
        initial.update(ends="custom", until=timezone.localtime(presence.until))
    return initial


@me_view
@require_http_methods(["GET", "POST"])
def status(request):
    user = request.user
    presence = current_presence(user)
    if request.method == "POST":
        form = PresenceForm(request.POST, user=user)
        if form.is_valid():
            data = form.cleaned_data
            try:
                do_set_presence(user, user, data["status"], message=data["message"], until=data["until"])
            except ValidationError as error:
                add_action_error(form, error)
            else:
                messages.success(request, _("Your status is now %(status)s.") % {"status": data["status"].name})
                return redirect("portal:me_status")
    else:
        form = PresenceForm(initial=_initial(user, presence), user=user)
    statuses = list(form.fields["status"].queryset)
    return render(
        request, "portal/me/status.html",
        {"form": form, "error_forms": [form] if form.errors else [], "presence": presence, "statuses": statuses, "zone": form.zone,
         "status_defaults": {str(s.pk): {"message": s.default_message, "needs_end": s.needs_end_time} for s in statuses}},
        status=400 if form.errors else 200,
    )


@me_view
@require_POST
def clear_status(request):
    do_clear_presence(request.user, request.user)
    messages.success(request, _("Your status is cleared: you are available."))
    return redirect("portal:me_status")
