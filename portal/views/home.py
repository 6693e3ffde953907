from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.text import capfirst
from django.utils.translation import gettext as _

from pbx.apply_status import held_status
from pbx.models import User

# The role flags on User, in the order a person would name them.
ROLE_FLAGS = ("is_company_admin", "is_operator", "is_agent")


def roles_of(user: User) -> list[str]:
    """The person's roles in words, taken from the model's own (translated) field names."""
    roles = [capfirst(User._meta.get_field(flag).verbose_name) for flag in ROLE_FLAGS if getattr(user, flag)]
    if user.is_superuser:
        roles.insert(0, _("Platform administrator"))
    return roles or [capfirst(User._meta.verbose_name)]


@login_required
def home(request):
    """Each role starts where its work is: an admin on the company dashboard, an operator in the console,
    everyone else on My pages. ``?profile`` shows the profile card (roles, numbers) instead."""
    user = request.user
    can_administer = user.is_active and user.is_staff and (user.is_superuser or user.is_company_admin)
    if "profile" not in request.GET:
        if can_administer:
            return redirect("admin:index")
        if user.tenant_id and user.is_operator:
            return redirect("portal:console")
        if user.tenant_id:
            return redirect("portal:me")
    # The company always comes from the signed-in person, never from the request.
    return render(
        request,
        "portal/home.html",
        {
            "company": user.tenant,
            "roles": roles_of(user),
            "can_administer": can_administer,
            "config_held": held_status(user.tenant) if can_administer else None,
        },
    )
