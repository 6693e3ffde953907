"""The licence agreement: the newest published version for the person's company (its own, else the
deployment's) must be accepted once, at the first login and again after a new version (portal/gate.py holds
every page until then). Who accepted which version, when and from where, is kept and shown to the admins."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_http_methods

from pbx.actions.base import record

from .auth import client_ip
from .models import Licence, LicenceAcceptance


def current_licence(user) -> Licence | None:
    """The version this person must have accepted, or None (no agreement, or a superuser of no company)."""
    if not getattr(user, "tenant_id", None):
        return None
    return (Licence.objects.filter(Q(tenant_id=user.tenant_id) | Q(tenant__isnull=True),
                                   published_at__lte=timezone.now())
            .order_by(F("tenant_id").asc(nulls_last=True), "-published_at", "-id").first())


def has_accepted(user, licence: Licence) -> bool:
    return LicenceAcceptance.objects.filter(user_id=user.pk, licence_id=licence.pk).exists()


def do_accept_licence(user, licence: Licence, *, ip: str | None = None) -> LicenceAcceptance:
    """The person accepts this version (once; accepting again changes nothing), audited."""
    try:
        with transaction.atomic():
            acceptance = LicenceAcceptance.objects.create(user=user, tenant_id=user.tenant_id, licence=licence,
                                                          ip_address=ip)
            record(user, "licence_accepted", acceptance, None,
                   {"licence": licence.pk, "version": licence.version, "title": licence.title, "ip": ip},
                   tenant_id=user.tenant_id)
    except IntegrityError:
        acceptance = LicenceAcceptance.objects.get(user=user, licence=licence)
    return acceptance


def _next(request) -> str:
    target = request.POST.get("next") or request.GET.get("next") or "/"
    if not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()},
                                           require_https=request.is_secure()):
        return "/"
    return target


@login_required
@require_http_methods(["GET", "POST"])
def licence_page(request):
    licence = current_licence(request.user)
    if licence is None:
        return HttpResponseRedirect(_next(request))
    if request.method == "POST":
        # The version the person read: a newer one published meanwhile is shown next, not accepted unread.
        read = get_object_or_404(Licence, pk=request.POST.get("licence") or 0, pk__in=[licence.pk])
        do_accept_licence(request.user, read, ip=client_ip(request))
        request.session["licence_ok"] = read.pk
        return HttpResponseRedirect(_next(request))
    return render(request, "account/licence.html", {"licence": licence, "next": _next(request),
                                                    "accepted_before": LicenceAcceptance.objects.filter(
                                                        user=request.user).exists()})
