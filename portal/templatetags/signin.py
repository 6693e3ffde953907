from django import template

from portal.passwords import describe, policy_for
from portal.sso import login_services

register = template.Library()


@register.inclusion_tag("account/_sso_buttons.html", takes_context=True)
def sso_buttons(context):
    request = context["request"]
    return {"services": login_services(request), "redirect_field": context.get("redirect_field"),
            "csrf_token": context.get("csrf_token")}


@register.inclusion_tag("account/_password_rules.html", takes_context=True)
def password_rules(context, user=None):
    user = user or context["request"].user
    return {"rules": describe(policy_for(user) if getattr(user, "is_authenticated", False) else None)}
