"""Konfiguration of the recording service, for super users: the policy rules ("Regelverk / Policyregler"),
the kill switch, excluded and approved numbers, evaluation lists and questions ("Samtalsutvärdering") and the
restricted users' departments ("Inloggning / Skapa/redigera inloggningsroll").
"""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.http import Http404
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from pbx.actions.base import record, snapshot
from pbx.actions.errors import ActionRefused
from pbx.actions.licences import do_end_listen_in, licences_now
from pbx.asterisk.errors import AsteriskError
from pbx.asterisk.licences import device_endpoint
from pbx.models import Queue, User
from portal.views.common import add_action_error, me_view

from . import actions
from .forms import (
    ApprovedNumberForm,
    DepartmentRuleForm,
    EvaluationChoiceForm,
    EvaluationQuestionForm,
    ExcludedNumberForm,
    RestrictedUserForm,
)
from .models import (
    ApprovedNumber,
    DepartmentRule,
    EvaluationChoice,
    EvaluationQuestion,
    ExcludedNumber,
    LicenceRefusal,
    QueuePolicy,
    RecordingSettings,
)
from .selectors import is_recording_super, running_recordings

# The rows a config page may delete: URL name → model.
DELETABLE = {"excluded": ExcludedNumber, "approved": ApprovedNumber, "department": DepartmentRule,
             "choice": EvaluationChoice, "question": EvaluationQuestion}


def super_view(view):
    @me_view
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_recording_super(request.user):
            raise PermissionDenied(_("Only a recording super user may change the recording settings."))
        return view(request, *args, **kwargs)

    return wrapper


def _save(request, obj, form=None) -> bool:
    try:
        actions.do_save_recording_config(request.user, obj)
    except ValidationError as error:
        if form is not None:
            add_action_error(form, error)
        else:
            messages.error(request, " ".join(error.messages))
        return False
    return True


@super_view
@require_http_methods(["GET", "POST"])
def policy(request):
    """Policyregler: kill switch, group policy per queue, department policy, excluded and approved numbers."""
    tenant_id = request.user.tenant_id
    settings_row = RecordingSettings.objects.filter(tenant_id=tenant_id).first()
    queues = list(Queue.objects.filter(tenant_id=tenant_id).order_by("name"))
    policies = {p.queue_id: p for p in QueuePolicy.objects.filter(tenant_id=tenant_id)}
    excluded_form = ExcludedNumberForm(prefix="excluded")
    department_form = DepartmentRuleForm(prefix="department", tenant_id=tenant_id)
    approved_form = ApprovedNumberForm(prefix="approved", tenant_id=tenant_id)
    if request.method == "POST":
        what = request.POST.get("what")
        if what == "queues":
            changed = 0
            for queue in queues:
                value = request.POST.get(f"queue-{queue.pk}")
                if value not in QueuePolicy.Policy.values:
                    continue
                row = policies.get(queue.pk) or QueuePolicy(tenant_id=tenant_id, queue=queue)
                if row.pk and row.policy == value:
                    continue
                row.policy = value
                changed += _save(request, row)
            messages.success(request, _("The policy is saved."))
            return redirect("recording:policy")
        if what == "excluded":
            excluded_form = ExcludedNumberForm(request.POST, prefix="excluded",
                                               instance=ExcludedNumber(tenant_id=tenant_id))
            if excluded_form.is_valid() and _save(request, excluded_form.instance, excluded_form):
                messages.success(request, _("The number will not be recorded."))
                return redirect("recording:policy")
        elif what == "department":
            department = request.POST.get("department-department", "")
            existing = DepartmentRule.objects.filter(tenant_id=tenant_id, department_id=department).first() \
                if department.isdigit() else None
            department_form = DepartmentRuleForm(request.POST, prefix="department", tenant_id=tenant_id,
                                                 instance=existing or DepartmentRule(tenant_id=tenant_id))
            if department_form.is_valid() and _save(request, department_form.instance, department_form):
                messages.success(request, _("The policy is saved."))
                return redirect("recording:policy")
        elif what == "approved":
            approved_form = ApprovedNumberForm(request.POST, prefix="approved", tenant_id=tenant_id,
                                               instance=ApprovedNumber(tenant_id=tenant_id))
            if approved_form.is_valid() and _save(request, approved_form.instance, approved_form):
                messages.success(request, _("The policy is saved."))
                return redirect("recording:policy")
        elif what == "approved_toggle":
            row = get_object_or_404(ApprovedNumber, tenant_id=tenant_id, pk=request.POST.get("id", "0"))
            row.active = not row.active
            _save(request, row)
            return redirect("recording:policy")
    return render(request, "recording/config/policy.html", {
        "settings": settings_row,
        "queues": [(q, policies[q.pk].policy if q.pk in policies else QueuePolicy.Policy.NOT_APPLICABLE)
                   for q in queues],
        "queue_choices": QueuePolicy.Policy.choices,
        "departments": DepartmentRule.objects.filter(tenant_id=tenant_id).select_related("department"),
        "excluded": ExcludedNumber.objects.filter(tenant_id=tenant_id),
        "approved": ApprovedNumber.objects.filter(tenant_id=tenant_id).select_related("number"),
        "excluded_form": excluded_form, "department_form": department_form, "approved_form": approved_form,
        "refusals": LicenceRefusal.objects.filter(tenant_id=tenant_id).select_related("user")[:20],
    })


@super_view
@require_POST
def kill_switch(request):
    on = request.POST.get("on") == "1"
    actions.do_set_kill_switch(request.user, request.user.tenant, on)
    messages.success(request, _("All automatic recording is stopped.") if on
                     else _("Automatic recording is on again."))
    return redirect("recording:policy")


@super_view
@require_POST
def delete_config(request, kind: str, object_id: int):
    model = DELETABLE.get(kind)
    if model is None:
        raise PermissionDenied
    obj = get_object_or_404(model, tenant_id=request.user.tenant_id, pk=object_id)
    actions.do_delete_recording_config(request.user, obj)
    messages.success(request, _("Removed."))
    return redirect("recording:evaluation" if kind in ("choice", "question") else "recording:policy")


@super_view
@require_http_methods(["GET", "POST"])
def evaluation(request):
    """Samtalsutvärdering: the call result and customer response lists, and the evaluation questions."""
    tenant_id = request.user.tenant_id
    choice_form = EvaluationChoiceForm(prefix="choice")
    question_form = EvaluationQuestionForm(prefix="question")
    if request.method == "POST":
        what = request.POST.get("what")
        pk = request.POST.get("id", "")
        if what == "choice":
            instance = get_object_or_404(EvaluationChoice, tenant_id=tenant_id, pk=pk) if pk.isdigit() \
                else EvaluationChoice(tenant_id=tenant_id)
            choice_form = EvaluationChoiceForm(request.POST, prefix="choice", instance=instance)
            if choice_form.is_valid() and _save(request, choice_form.instance, choice_form):
                messages.success(request, _("Saved."))
                return redirect("recording:evaluation")
        elif what == "question":
            instance = get_object_or_404(EvaluationQuestion, tenant_id=tenant_id, pk=pk) if pk.isdigit() \
                else EvaluationQuestion(tenant_id=tenant_id)
            question_form = EvaluationQuestionForm(request.POST, prefix="question", instance=instance)
            if question_form.is_valid() and _save(request, question_form.instance, question_form):
                messages.success(request, _("Saved."))
                return redirect("recording:evaluation")
    choices = EvaluationChoice.objects.filter(tenant_id=tenant_id)
    return render(request, "recording/config/evaluation.html", {
        "results": choices.filter(kind=EvaluationChoice.Kind.RESULT),
        "responses": choices.filter(kind=EvaluationChoice.Kind.RESPONSE),
        "questions": EvaluationQuestion.objects.filter(tenant_id=tenant_id),
        "choice_form": choice_form, "question_form": question_form, "kinds": EvaluationChoice.Kind.choices,
    })


@super_view
@require_http_methods(["GET", "POST"])
def roles(request):
    """Inloggningsroller: each person's recording role and, for restricted users, their departments."""
    tenant_id = request.user.tenant_id
    form = RestrictedUserForm(prefix="role", tenant_id=tenant_id)
    if request.method == "POST":
        form = RestrictedUserForm(request.POST, prefix="role", tenant_id=tenant_id)
        if form.is_valid():
            person: User = form.cleaned_data["user"]
            with transaction.atomic():
                before = snapshot(person)
                person.recording_role = form.cleaned_data["role"]
                person.save(update_fields=["recording_role"])
                restricted = person.recording_role == User.RecordingRole.DEPARTMENTS
                person.recording_departments.set(form.cleaned_data["departments"] if restricted else [])
                record(request.user, "recording.role_changed", person, before, snapshot(person))
            messages.success(request, _("The role is saved."))
            return redirect("recording:roles")
    people = User.objects.filter(tenant_id=tenant_id).prefetch_related("recording_departments").order_by(
        "first_name", "last_name")
    return render(request, "recording/config/roles.html", {"form": form, "people": people})


@super_view
@require_GET
def licences(request):
    """Licences in use now: Asterisk's count out of the limit, the recordings running (the database's rows) and
    the live listen-ins (asked of Asterisk now, never pushed)."""
    pool = licences_now(request.user)
    running = list(running_recordings(request.user))
    for row in running:
        row.paused_now = bool(row.paused) and row.paused[-1][1] is None
        # Asterisk answered and has no channel of that recording: it ended, the bridge has not closed it yet.
        row.gone_in_asterisk = pool.reachable and row.uniqueid not in pool.live_channels
    return render(request, "recording/config/licences.html", {"pool": pool, "running": running})


@super_view
@require_POST
def end_listen_in(request):
    channel = request.POST.get("channel", "")
    if not device_endpoint(channel, request.user.tenant_id):
        raise Http404  # not a phone of the company: as if there were no such listen-in
    try:
        do_end_listen_in(request.user, channel)
    except ActionRefused as refusal:
        messages.error(request, str(refusal))
    except AsteriskError:
        messages.error(request, _("Asterisk could not be reached: the listen-in was not ended."))
    else:
        messages.success(request, _("The listen-in is ended."))
    return redirect("recording:licences")
