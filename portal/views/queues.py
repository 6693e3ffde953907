"""My queues ("svarsgrupper"): log in, log out, pause with a reason, resume."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from pbx.actions import do_queue_login, do_queue_logout, do_queue_pause
from pbx.models import QueueAgent
from portal.forms import QueueAgentForm

from .common import add_action_error, me_view

PAUSE_REASONS = (gettext_lazy("Lunch"), gettext_lazy("Break"), gettext_lazy("Meeting"), gettext_lazy("Admin work"))


def my_memberships(user):
    return QueueAgent.objects.filter(user=user, tenant_id=user.tenant_id).select_related("queue").order_by("queue__name")


def _page(request, failed: QueueAgent | None = None, form: QueueAgentForm | None = None):
    return render(request, "portal/me/queues.html", {
        "memberships": my_memberships(request.user),
        "reasons": PAUSE_REASONS,
        "failed_id": failed.pk if failed else None,
        "form": form,
        "error_forms": [form] if form is not None and form.errors else [],
    }, status=400 if failed else 200)


@me_view
def queues(request):
    return _page(request)


def _apply(user, agent: QueueAgent, op: str, reason: str) -> str:
    if op == "login":
        do_queue_login(user, agent)
        return _("You are logged in to %(queue)s.")
    if op == "logout":
        do_queue_logout(user, agent)
        return _("You are logged out of %(queue)s.")
    if op == "pause":
        if not agent.logged_in:
            raise ValidationError(_("Log in to %(queue)s before pausing.") % {"queue": agent.queue.name})
        do_queue_pause(user, agent, paused=True, reason=reason)
        return _("You are paused in %(queue)s.")
    do_queue_pause(user, agent, paused=False)
    return _("You are back in %(queue)s.")


@me_view
@require_POST
def queue_agent(request, agent_id: int):
    agent = get_object_or_404(my_memberships(request.user), pk=agent_id)
    form = QueueAgentForm(request.POST)
    if form.is_valid():
        try:
            text = _apply(request.user, agent, form.cleaned_data["op"], form.cleaned_data["reason"].strip())
        except ValidationError as error:
            add_action_error(form, error)
        else:
            messages.success(request, text % {"queue": agent.queue.name})
            return redirect("portal:me_queues")
    return _page(request, agent, form)
