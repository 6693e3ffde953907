from django import template
from django.utils.translation import gettext

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


# A user agent told as people say it: "Firefox on Windows". Order matters: Edge and Opera say Chrome too,
# Chrome says Safari, Android says Linux, iOS says Mac OS X.
_BROWSERS = (("Edg/", "Edge"), ("OPR/", "Opera"), ("Firefox/", "Firefox"), ("Chrome/", "Chrome"),
             ("Chromium/", "Chromium"), ("Safari/", "Safari"))
_SYSTEMS = (("Android", "Android"), ("iPhone", "iPhone"), ("iPad", "iPad"), ("Windows", "Windows"),
            ("Mac OS X", "macOS"), ("CrOS", "ChromeOS"), ("Linux", "Linux"))


@register.filter
def browser_summary(user_agent: str) -> str:
    """'Chrome on Linux' from a User-Agent header; the header itself (cut) when it names no known browser."""
    user_agent = user_agent or ""
    browser = next((name for mark, name in _BROWSERS if mark in user_agent), "")
    system = next((name for mark, name in _SYSTEMS if mark in user_agent), "")
    if browser and system:
        return gettext("%(browser)s on %(system)s") % {"browser": browser, "system": system}
    return browser or system or user_agent[:60] or gettext("Unknown browser")
