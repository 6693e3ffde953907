"""The wallboard pages: ``/wallboard/`` (the company's default layout), ``/wallboard/<id>/`` (a saved layout)
and ``/wallboard/tv/<token>/`` (a TV's link, no sign-in). Each page is a frame; the tiles and their figures
come over the websocket (wallboard/consumers.py). ``?kiosk=1`` hides everything but the tiles (a TV link
always is), ``?theme=light|dark|contrast`` overrides the layout's theme on this screen."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from .access import can_see_wallboard, default_layout, layout_view, layouts_of
from .models import Layout, WallboardLink


def ui_strings() -> dict[str, str]:
    """Every word wallboard.js shows."""
    return {
        "connecting": _("Connecting…"),
        "live": _("Live"),
        "reconnecting": _("Connection lost. Reconnecting…"),
        "loggedOut": _("Your session has ended. Sign in again to see the wallboard."),
        "forbidden": _("This wallboard is not available (the link was revoked, or you may not see it)."),
        "notFound": _("This wallboard layout no longer exists."),
        "loggedIn": _("Logged in"),
        "free": _("Free"),
        "busy": _("Busy"),
        "paused": _("Paused"),
        "waiting": _("Waiting"),
        "longestWait": _("Longest wait"),
        "avgWait": _("Average wait"),
        "answered": _("Answered"),
        "missed": _("Missed"),
        "serviceLevel": _("Service level"),
        "today": _("today"),
        "amber": _("Warning"),
        "red": _("Alarm"),
        "noTiles": _("This layout has no tiles yet."),
    }


def _themes() -> list[tuple[str, str]]:
    return [(value, str(label)) for value, label in Layout.Theme.choices]


def _page(request, *, tenant_id: int, layout: dict, ws: str, kiosk: bool, layouts=(), link: bool = False):
    theme = request.GET.get("theme")
    if theme not in Layout.Theme.values:
        theme = layout["theme"]
    return render(request, "wallboard/wallboard.html", {
        "layout": layout,
        "layouts": layouts,
        "kiosk": kiosk,
        "link": link,
        "theme": theme,
        "themes": _themes(),
        "config": {"ws": ws, "strings": ui_strings(), "layout": layout, "theme": theme, "kiosk": kiosk},
    })


def _kiosk(request) -> bool:
    return request.GET.get("kiosk") in ("1", "true", "yes")


@login_required
@require_GET
def wallboard(request, layout_id: int | None = None):
    user = request.user
    if not can_see_wallboard(user):
        raise PermissionDenied(_("The wallboard is for the company's operators and admins."))
    if layout_id is None:
        layout = default_layout(user.tenant_id)
    else:
        layout = Layout.objects.filter(pk=layout_id, tenant_id=user.tenant_id).first()
        if layout is None:
            raise Http404(_("No such wallboard layout."))
    view = layout_view(user.tenant_id, layout)
    return _page(request, tenant_id=user.tenant_id, layout=view, ws=f"/ws/wallboard/{view['id']}/",
                 kiosk=_kiosk(request), layouts=layouts_of(user.tenant_id))


@never_cache
@require_GET
def wallboard_tv(request, token: str):
    link = WallboardLink.for_token(token)
    if link is None:
        raise Http404(_("This wallboard link does not exist or has been revoked."))
    view = layout_view(link.tenant_id, link.layout)
    return _page(request, tenant_id=link.tenant_id, layout=view, ws=f"/ws/wallboard/tv/{token}/", kiosk=True,
                 link=True)
