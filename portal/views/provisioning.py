"""The provisioning files of a device, at its secret URL (pbx/provisioning.py says what and why)."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pbx import provisioning
from pbx.models import Device


@never_cache
@require_GET
def provision(request, token: str, filename: str):
    # The file holds the SIP password: never over plain HTTP outside development.
    if not request.is_secure() and not (settings.DEBUG or settings.EMBEDDED):
        return HttpResponse("HTTPS only.\n", status=403, content_type="text/plain; charset=utf-8")
    device = (Device.objects.select_related("user", "tenant")
              .filter(provisioning_token=token, is_enabled=True, tenant__is_active=True).first())
    if device is None or len(token) < 20:
        raise Http404
    rendered = provisioning.render_file(device, filename)
    if rendered is None:
        raise Http404
    content, content_type = rendered
    response = HttpResponse(content, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    return response
