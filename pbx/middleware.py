"""Times in the company's own time zone: a company's people read every time (admin titles, lists, forms,
the user web) in their company's zone, not the server's. Superusers keep settings.TIME_ZONE."""

from __future__ import annotations

import zoneinfo

from django.utils import timezone


class CompanyTimezoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        zone = None
        if user is not None and user.is_authenticated and user.tenant_id:
            try:
                zone = zoneinfo.ZoneInfo(user.tenant.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = None
        if zone is None:
            timezone.deactivate()
            return self.get_response(request)
        with timezone.override(zone):
            return self.get_response(request)
