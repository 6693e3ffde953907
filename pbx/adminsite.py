"""The admin site, organised by the company admin's tasks instead of by Django app.

Django lists every registered model of an app alphabetically under the app's name ("Switchboard": 21
models). Here the same models (each still shown only when its admin's permissions allow it, so the
tenant scoping of ``pbx.admin.base`` decides as before) are grouped the way the seeds' admin web is:
Directory, Numbers & call flows, Queues, Presence & forwarding, Recording, Statistics, Audit, Company.
Pages that are not model admins (the dashboard's reserved numbers, the recordings and statistics
pages) sit in the same groups as links.

The index is the company dashboard (``pbx.admin.dashboard``).
"""

from __future__ import annotations

from dataclasses import dataclass

from django.contrib import admin
from django.urls import NoReverseMatch, path, reverse
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy


@dataclass(frozen=True)
class Link:
    """A page in a group that is not a model admin: by URL name when it exists, else by path."""

    name: str
    title: str
    path: str = ""
    admin_only: bool = False  # company admins and superusers (the admin's own views check again)

    def url(self) -> str | None:
        try:
            return reverse(self.name)
        except NoReverseMatch:
            return self.path or None


# (key, title, entries): an entry is a model label ("pbx.user") or a Link. The order is the reading order.
GROUPS: list[tuple[str, object, list]] = [
    ("directory", _("Directory"), ["pbx.user", "pbx.device", "pbx.department", "pbx.office", "pbx.costcentre"]),
    ("numbers", _("Numbers & call flows"), [
        "pbx.number", Link("admin:pbx_reserved_numbers", _("Reserved numbers")), "pbx.destination", "pbx.ivrmenu",
        "pbx.schedule", "pbx.prompt", "pbx.conference", "pbx.voicemailbox", "pbx.numberassignment", "pbx.siptrunk",
    ]),
    ("queues", _("Queues"), ["pbx.queue", "pbx.queueagent", "pbx.callbackrequest"]),
    ("presence", _("Presence & forwarding"), ["pbx.presencestatus", "pbx.userpresence", "pbx.forwardingprofile"]),
    # "Recording" alone is also a call's state ("Spelar in"): the group is the subject ("Inspelning").
    ("recording", pgettext_lazy("admin task group", "Recording"), [
        Link("recording:index", _("Search and play recordings"), "/recordings/"), "recording.recordingsettings",
        "recording.queuepolicy", "recording.departmentrule", "recording.recordedperson", "recording.approvednumber",
        "recording.excludednumber", "recording.recording", "recording.licencerefusal",
    ]),
    ("statistics", _("Statistics"), [
        Link("stats:index", _("Statistics"), "/stats/"), Link("stats:wallboard", _("Wallboard"), "/wallboard/"),
        "stats.calllog", "stats.queueevent", "wallboard.layout", "wallboard.wallboardlink",
    ]),
    ("audit", _("Audit"), ["pbx.auditlog"]),
    ("company", _("Company settings"), [
        "pbx.tenant", "portal.passwordpolicy", "portal.ssoconnection", "socialaccount.socialapp", "portal.licence",
        "portal.licenceacceptance", "api.apikey", "webhooks.webhookendpoint", "webhooks.webhookdelivery", "pbx.asterisknode",
        "notifications.notification",
    ]),
]


class CompanyAdminSite(admin.AdminSite):
    site_header = _("Växel admin")
    site_title = _("Växel admin")
    index_title = _("Company dashboard")

    def get_urls(self):
        from pbx.admin import dashboard, holidays, reserved

        extra = [
            path("dashboard/override/<int:schedule_id>/", self.admin_view(dashboard.set_override),
                 name="pbx_dashboard_override"),
            path("reserved-numbers/", self.admin_view(reserved.reserved_numbers), name="pbx_reserved_numbers"),
            path("reserved-numbers/<int:number_id>/", self.admin_view(reserved.forward_reserved),
                 name="pbx_reserved_forward"),
            path("pbx/schedule/<int:schedule_id>/holidays/", self.admin_view(holidays.add_holidays),
                 name="pbx_schedule_holidays"),
        ]
        return extra + super().get_urls()

    def index(self, request, extra_context=None):
        from pbx.admin import dashboard

        return dashboard.index(self, request, extra_context)

    def get_app_list(self, request, app_label=None):
        if app_label is not None:  # one app's page (/admin/pbx/): Django's own list
            return super().get_app_list(request, app_label)
        models = {}
        for app in self._build_app_dict(request).values():
            for entry in app["models"]:
                models[entry["model"]._meta.label_lower] = entry
        groups = []
        for key, title, entries in GROUPS:
            rows = []
            for entry in entries:
                if isinstance(entry, Link):
                    url = entry.url()
                    if url and (request.user.is_superuser or request.user.is_company_admin):
                        rows.append({"name": entry.title, "object_name": entry.name.replace(":", "-"),
                                     "admin_url": url, "add_url": None, "view_only": True, "link": True})
                elif entry in models:
                    rows.append(models.pop(entry))
            if rows:
                groups.append({"name": title, "app_label": key, "app_url": rows[0]["admin_url"], "models": rows,
                               "has_module_perms": True})
        if models:  # whatever no group names (allauth's, sites...): the platform operator's
            groups.append({"name": _("Other"), "app_label": "other", "app_url": "", "has_module_perms": True,
                           "models": sorted(models.values(), key=lambda row: str(row["name"]))})
        return groups
