"""The person's phone codes: what they can dial or press on their own phones, for their queues, their company's
statuses and during a call (the codes the generated dialplan has, pbx/asterisk/confgen; docs/dialplan.md)."""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import render
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_GET

from pbx.actions.calls import is_console_user
from pbx.actions.selfservice import voicemail_boxes_of
from pbx.models import PresenceStatus, Prompt, User, VoicemailBox

from .common import me_view
from .queues import my_memberships


@dataclass(frozen=True)
class Code:
    keys: str
    meaning: str
    note: str = ""


def queue_codes(user: User) -> list[Code]:
    codes = []
    for agent in my_memberships(user):
        ext = agent.queue.extension
        if not ext:
            continue
        name = agent.queue.name
        codes += [Code(f"*45{ext}", _("Log in to %(queue)s") % {"queue": name}),
                  Code(f"*46{ext}", _("Log out of %(queue)s") % {"queue": name}),
                  Code(f"*47{ext}", _("Pause in %(queue)s, or resume") % {"queue": name})]
    if codes:
        codes += [Code("*45", _("Log in to all my queues")), Code("*46", _("Log out of all my queues")),
                  Code("*47", _("Pause in all my queues, or resume"))]
    return codes


def status_codes(user: User) -> list[Code]:
    codes = []
    for status in PresenceStatus.objects.filter(tenant_id=user.tenant_id).order_by("code"):
        if not status.needs_end_time:
            note = _("Until you change it")
        elif status.default_minutes:
            note = ngettext("Ends after %(n)d minute", "Ends after %(n)d minutes",
                            status.default_minutes) % {"n": status.default_minutes}
        else:
            note = _("Ends when the working day ends")
        codes.append(Code(f"*20{status.code}", status.name, note))
    codes.append(Code("*21", _("Clear my status")))
    return codes


def other_codes(user: User) -> list[Code]:
    codes = []
    if voicemail_boxes_of(user).filter(kind=VoicemailBox.Kind.PERSONAL).exists():
        codes.append(Code("*97", _("Listen to my voicemail")))
    codes += [Code("*98", _("Listen to a voicemail box of the company (with its PIN)")),
              Code("*8", _("Answer a call ringing in the company")),
              Code(_("**<extension>"), _("Answer a call ringing for a colleague"))]
    if user.is_company_admin:
        for prompt in Prompt.objects.filter(tenant_id=user.tenant_id).order_by("name"):
            codes.append(Code(f"*99{prompt.pk}", _("Record the prompt “%(name)s”") % {"name": prompt.name}))
    return codes


def in_call_keys(user: User) -> list[Code]:
    keys = [Code("#1", _("Transfer the call (blind)")), Code("*2", _("Transfer the call after talking first"))]
    if is_console_user(user) or user.recording_role != User.RecordingRole.NONE:
        keys += [Code("*9", _("Start or stop recording the call"), _("Within the company's recording licences")),
                 Code("*7", _("Pause or resume the recording"))]
    return keys


@me_view
@require_GET
def phone_codes(request):
    user = request.user
    sections = [
        (_("My queues"), "queues", queue_codes(user)),
        (_("My status"), "status", status_codes(user)),
        (_("Voicemail, pickup and prompts"), "other", other_codes(user)),
        (_("During a call"), "in-call", in_call_keys(user)),
    ]
    return render(request, "portal/me/phone_codes.html", {"sections": sections})
