"""Reserved numbers ("reserverade nummer"): the company's numbers that are not in service, and where they forward.

As the seed's admin portal does it (Telefonnummer > Befintliga nummer > Konfigurera vidarekoppling): find the
reserved number, enter the number its calls go to, save. Saving goes through ``do_save_object``, so the
number's own checks (the company's own number, a dialable target, not another company's) apply, it is
audited and the dialplan is applied. Only fixed numbers are reserved this way (a mobile number needs a SIM).
"""

from __future__ import annotations

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import Http404, HttpResponseNotAllowed
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.safestring import mark_safe
from django.utils.translation import gettext as _

from pbx.actions import do_save_object
from pbx.models import Number
from pbx.phone_format import format_number, number_html
from pbx.validators import normalize_number

from .base import clean_phone_number, scope_queryset


def _may(request) -> None:
    if not (request.user.is_superuser or request.user.is_company_admin):
        raise PermissionDenied


def reserved_numbers(request):
    _may(request)
    numbers = scope_queryset(Number.objects.filter(kind=Number.Kind.RESERVED), request.user).select_related("tenant")
    query = request.GET.get("q", "").strip()[:40]
    if query:
        digits = normalize_number(query, request.user.tenant.country_code if request.user.tenant_id else "46")
        numbers = numbers.filter(Q(e164__contains=digits.lstrip("+0")) | Q(label__icontains=query)
                                 | Q(forward_to__contains=digits.lstrip("+0")))
    context = {
        **admin.site.each_context(request),
        "title": _("Reserved numbers"),
        "numbers": numbers.order_by("e164"),
        "query": query,
        "opts": Number._meta,
    }
    return TemplateResponse(request, "admin/pbx/reserved_numbers.html", context)


def forward_reserved(request, number_id: int):
    """Set or clear a reserved number's forward: POST only; another company's number is 404."""
    if request.method != "POST":
        return HttpResponseNotAllowed(["POST"])
    _may(request)
    number = (scope_queryset(Number.objects.filter(kind=Number.Kind.RESERVED), request.user)
              .select_related("tenant").filter(pk=number_id).first())
    if number is None:
        raise Http404
    raw = request.POST.get("forward_to", "").strip()[:40]
    try:
        number.forward_to = clean_phone_number(raw, number.tenant)
        do_save_object(request.user, number)
    except ValidationError as error:
        messages.error(request, _("%(number)s: %(problem)s") % {
            "number": format_number(number.e164), "problem": " ".join(error.messages)})
    else:
        if number.forward_to:
            # The numbers in nowrap spans (escaped by number_html): "070-" / "123 45 67" never splits on a phone.
            messages.success(request, mark_safe(_("Calls to %(number)s are now forwarded to %(target)s.") % {  # noqa: S308
                "number": number_html(number.e164), "target": number_html(number.forward_to)}))
        else:
            messages.success(request, _("%(number)s is no longer forwarded.") % {"number": format_number(number.e164)})
    return redirect("admin:pbx_reserved_numbers")
