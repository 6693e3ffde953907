"""Who may call an endpoint at all: a person of a company, and for a company key, the right scope.

What a person may see and change is decided further in: lists and rows come from the caller's company only
(``get_queryset``: another company's id is 404), and every write goes through a ``pbx.actions`` function, whose
checks (company admin, self or admin, party of the call...) answer 403.
"""

from __future__ import annotations

from django.utils.translation import gettext as _
from rest_framework import permissions

from .models import ApiKey

# An area whose writes have another name.
WRITE_SCOPES = {"calls": "calls:control"}


def required_scope(request, view) -> str | None:
    """``<area>:read`` for GET/HEAD/OPTIONS, ``<area>:write`` otherwise; a view's extra actions may belong to
    another area (``action_areas``: a person's presence is under people but in the presence area)."""
    area = getattr(view, "action_areas", {}).get(getattr(view, "action", None)) or getattr(view, "scope_area", None)
    if area is None:
        return None
    if request.method in permissions.SAFE_METHODS:
        return f"{area}:read"
    return WRITE_SCOPES.get(area, f"{area}:write")


class CompanyMember(permissions.BasePermission):
    """Signed in (key or session), active, and of a company; a company key needs the endpoint's scope."""

    def has_permission(self, request, view) -> bool:
        user = request.user
        if not (user and user.is_authenticated):
            return False
        if not user.tenant_id:
            self.message = _("The API serves the people of a company.")
            return False
        key = request.auth if isinstance(request.auth, ApiKey) else None
        if not hasattr(view, request.method.lower()) or (hasattr(view, "action_map") and view.action is None):
            return True  # a method the endpoint does not have: 405 follows, whatever the scopes
        if key is not None and key.kind == ApiKey.Kind.COMPANY:
            scope = required_scope(request, view)
            if scope is not None and scope not in key.scopes:
                self.message = _("This API key lacks the scope %(scope)s.") % {"scope": scope}
                return False
        return True


def is_admin(user) -> bool:
    return bool(user.is_company_admin or user.is_superuser)


def runs_switchboard(user) -> bool:
    return bool(user.is_company_admin or user.is_operator)
