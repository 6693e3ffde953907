"""The start of the user web: my status, profile, caller ID, voicemail and queues at a glance."""

from __future__ import annotations

from django.shortcuts import render
from django.views.decorators.http import require_GET

from pbx import voicemail_store as store
from pbx.actions.selfservice import voicemail_boxes_of
from pbx.selectors import forwarding_in_force
from portal.forms import CallForm

from .common import me_view
from .queues import my_memberships
from .status import current_presence


@me_view
@require_GET
def overview(request):
    return render(request, "portal/me/overview.html", overview_context(request.user))


def overview_context(user, call_form: CallForm | None = None) -> dict:
    """What the overview shows; ``call_form`` is a refused "Call a number" form to show again."""
    new_messages = 0
    for box in voicemail_boxes_of(user):
        try:
            new_messages += store.count_messages(box.tenant_id, box.number)[0]
        except ValueError:
            continue
    return {
        "call_form": call_form if call_form is not None else CallForm(),
        "presence": current_presence(user),
        "in_force": forwarding_in_force(user),
        "company_tz": user.tenant.time_zone,
        "caller_id": user.caller_id_number,
        "new_messages": new_messages,
        "memberships": my_memberships(user),
    }
