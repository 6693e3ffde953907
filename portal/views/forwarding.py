"""My forwarding profiles ("profiler"): the fixed and mobile rules, activation now or by schedule."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from pbx.actions import (
    do_activate_profile,
    do_create_forwarding_profile,
    do_delete_forwarding_profile,
    do_save_forwarding_profile,
)
from pbx.models import ForwardingProfile, ForwardingRule
from pbx.selectors import forwarding_in_force
from portal.forms import NewProfileForm, ProfileForm, RuleForm

from .common import add_action_error, me_view, messages_of


def my_profile(request, profile_id: int) -> ForwardingProfile:
    """One of the signed-in person's profiles; anyone else's is a 404, not a 403."""
    return get_object_or_404(ForwardingProfile.objects.select_related("schedule"), pk=profile_id, user=request.user)


def _list(request, new_form: NewProfileForm, status: int = 200):
    profiles = list(
        ForwardingProfile.objects.filter(user=request.user).select_related("schedule").prefetch_related("rules")
    )
    for profile in profiles:
        by_line = {rule.line: rule for rule in profile.rules.all()}
        profile.line_rules = [(label, by_line.get(line)) for line, label in ForwardingRule.Line.choices]
    return render(request, "portal/me/profiles.html", {
        "profiles": profiles,
        "active": next((p for p in profiles if p.is_active), None),
        "has_scheduled": any(p.activation == ForwardingProfile.Activation.SCHEDULED and p.schedule_id for p in profiles),
        "in_force": forwarding_in_force(request.user),
        "company_tz": request.user.tenant.time_zone,
        "new_form": new_form,
        "error_forms": [new_form] if new_form.errors else [],
    }, status=status)


@me_view
@require_http_methods(["GET", "POST"])
def profiles(request):
    if request.method == "POST":
        form = NewProfileForm(request.POST)
        if form.is_valid():
            try:
                profile = do_create_forwarding_profile(request.user, request.user, form.cleaned_data["name"])
            except ValidationError as error:
                add_action_error(form, error)
            else:
                messages.success(request, _("Profile %(name)s created. Choose what happens to your calls.")
                                 % {"name": profile.name})
                return redirect("portal:me_profile", profile_id=profile.pk)
        return _list(request, form, status=400)
    return _list(request, NewProfileForm())


def _rule_forms(request, profile: ForwardingProfile, data=None) -> list[tuple[str, RuleForm]]:
    existing = {rule.line: rule for rule in profile.rules.all()}
    country = request.user.tenant.country_code
    headings = {ForwardingRule.Line.FIXED: _("Calls to my fixed number"),
                ForwardingRule.Line.MOBILE: _("Calls to my mobile number")}
    forms = []
    for line, label in ForwardingRule.Line.choices:
        rule = existing.get(line) or ForwardingRule(tenant_id=profile.tenant_id, profile=profile, line=line)
        form = RuleForm(data, instance=rule, prefix=line, country_code=country)
        form.line_label = label
        forms.append((headings[line], form))
    return forms


@me_view
@require_http_methods(["GET", "POST"])
def profile_edit(request, profile_id: int):
    profile = my_profile(request, profile_id)
    saved_name = profile.name  # the form changes the instance; the heading keeps the saved name
    if request.method == "POST":
        form = ProfileForm(request.POST, instance=profile)
        rule_forms = _rule_forms(request, profile, request.POST)
        if form.is_valid() and all(rf.is_valid() for _label, rf in rule_forms):
            try:
                do_save_forwarding_profile(request.user, form.instance, [rf.instance for _label, rf in rule_forms])
            except ValidationError as error:
                add_action_error(form, error)
            else:
                messages.success(request, _("Profile %(name)s saved.") % {"name": form.instance.name})
                return redirect("portal:me_profile", profile_id=profile.pk)
        status = 400
    else:
        form = ProfileForm(instance=profile)
        rule_forms = _rule_forms(request, profile)
        status = 200
    return render(request, "portal/me/profile_edit.html", {
        "profile": profile, "profile_name": saved_name, "form": form, "rule_forms": rule_forms,
        "in_force": forwarding_in_force(request.user), "company_tz": request.user.tenant.time_zone,
        "error_forms": [f for f in (form, *(rf for _label, rf in rule_forms)) if f.errors],
    }, status=status)


@me_view
@require_POST
def profile_activate(request, profile_id: int):
    profile = my_profile(request, profile_id)
    do_activate_profile(request.user, profile)
    messages.success(request, _("Profile %(name)s is now in use.") % {"name": profile.name})
    return redirect("portal:me_profiles")


@me_view
@require_POST
def profile_deactivate(request):
    do_activate_profile(request.user, None, user=request.user)
    messages.success(request, _("No profile is in use: your calls ring your phones."))
    return redirect("portal:me_profiles")


@me_view
@require_POST
def profile_delete(request, profile_id: int):
    profile = my_profile(request, profile_id)
    name = profile.name
    try:
        do_delete_forwarding_profile(request.user, profile)
    except ValidationError as error:
        messages.error(request, messages_of(error))
        return redirect("portal:me_profile", profile_id=profile.pk)
    messages.success(request, _("Profile %(name)s deleted.") % {"name": name})
    return redirect("portal:me_profiles")
