"""What every endpoint shares: pagination, throttling, ETags and idempotency keys."""

from __future__ import annotations

import functools
import hashlib
import json
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, filters, pagination, throttling
from rest_framework.response import Response

from pbx.actions.base import snapshot

from .models import ApiKey, IdempotentRequest
from .problems import Conflict, PreconditionFailed, PreconditionRequired, Unprocessable

IDEMPOTENCY_TTL = timedelta(hours=24)


class CursorPagination(pagination.CursorPagination):
    """Keyset pagination everywhere: no count(*), so a list of a million calls is as quick as one of ten.
    ``?page_size=`` up to 500; ``?ordering=`` among the view's ``ordering_fields``."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500
    ordering = "-id"

    def get_page_size(self, request):
        value = request.query_params.get(self.page_size_query_param)
        if value is None:
            return self.page_size
        if not value.isdigit() or not 1 <= int(value) <= self.max_page_size:
            raise exceptions.ValidationError({self.page_size_query_param: [
                _("A whole number from 1 to %(max)d.") % {"max": self.max_page_size}]})
        return int(value)


class StrictOrderingFilter(filters.OrderingFilter):
    """``?ordering=`` with a field the list does not offer is a 400, not silently ignored."""

    def get_ordering(self, request, queryset, view):
        params = request.query_params.get(self.ordering_param)
        if params:
            fields = [param.strip() for param in params.split(",")]
            valid = {name for name, _label in self.get_valid_fields(queryset, view, {"request": request})}
            wrong = [f for f in fields if f.lstrip("-") not in valid]
            if wrong:
                raise exceptions.ValidationError({self.ordering_param: [
                    _("Order by one of: %(fields)s.") % {"fields": ", ".join(sorted(valid))}]})
        return super().get_ordering(request, queryset, view)


class PerCredentialThrottle(throttling.SimpleRateThrottle):
    """One budget per API key, per person for the session (``API_THROTTLE_RATE``, default 1200/min)."""

    scope = "api"

    def get_rate(self):
        return getattr(settings, "API_THROTTLE_RATE", "1200/min")

    def get_cache_key(self, request, view):
        if isinstance(request.auth, ApiKey):
            ident = f"k{request.auth.pk}"
        elif request.user and request.user.is_authenticated:
            ident = f"u{request.user.pk}"
        else:
            ident = self.get_ident(request)
        return f"api-throttle:{ident}"


# ------------------------------------------------------------------------------------------ ETag / If-Match


def etag_of_data(data) -> str:
    """A strong ETag of some JSON-able state (a resource that is not one row: a recording's evaluation)."""
    digest = hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:32]
    return f'"{digest}"'


def etag_of(obj) -> str:
    """A strong ETag of the row's stored state (the audit snapshot: every concrete field, secrets masked, and
    many-to-many ids), so any change through any door (admin, console, API) changes it."""
    return etag_of_data(snapshot(obj))


def check_if_match(request, obj) -> None:
    """Updates and deletes need the ETag the caller read (If-Match): 428 without it, 412 when stale."""
    require_if_match(request, lambda: etag_of(type(obj)._default_manager.get(pk=obj.pk)))


def require_if_match(request, current) -> None:
    """``current()`` is the ETag of the resource as it is now (only computed when If-Match is there)."""
    header = request.headers.get("If-Match")
    if not header:
        raise PreconditionRequired()
    offered = [tag.strip().removeprefix("W/") for tag in header.split(",")]
    if "*" not in offered and current() not in offered:
        raise PreconditionFailed()


class ETagMixin:
    """GET of one row sends its ETag; PUT, PATCH and DELETE check If-Match first."""

    def retrieve(self, request, *args, **kwargs):
        response = super().retrieve(request, *args, **kwargs)
        response["ETag"] = etag_of(self.get_object())
        return response

    def with_etag(self, response, obj):
        obj = type(obj)._default_manager.filter(pk=obj.pk).first()
        if obj is not None:
            response["ETag"] = etag_of(obj)
        return response


# ------------------------------------------------------------------------------------------ idempotency


def _owner(request) -> str:
    return f"k{request.auth.pk}" if isinstance(request.auth, ApiKey) else f"u{request.user.pk}"


def idempotent(run):
    """Wrap a view method that starts or changes a call: with an ``Idempotency-Key`` header the first answer
    is stored for this credential and replayed for a repeat (with ``Idempotent-Replayed: true``) instead of
    acting twice. The same key with another request is 422; a repeat while the first still runs is 409."""

    @functools.wraps(run)
    def view(self, request, *args, **kwargs):
        key = request.headers.get("Idempotency-Key", "").strip()
        if not key:
            return run(self, request, *args, **kwargs)
        if len(key) > 200:
            raise Unprocessable(_("An Idempotency-Key has at most 200 characters."))
        owner = _owner(request)
        body = json.dumps(request.data, sort_keys=True, default=str) if request.data else ""
        fingerprint = hashlib.sha256(f"{request.method} {request.path}\n{body}".encode()).hexdigest()
        IdempotentRequest.objects.filter(created_at__lt=timezone.now() - IDEMPOTENCY_TTL).delete()
        try:
            with transaction.atomic():
                entry = IdempotentRequest.objects.create(owner=owner, key=key, fingerprint=fingerprint)
        except IntegrityError:
            entry = IdempotentRequest.objects.get(owner=owner, key=key)
            if entry.fingerprint != fingerprint:
                raise Unprocessable(_("That Idempotency-Key was used for another request.")) from None
            if entry.status is None:
                raise Conflict(_("The first request with that Idempotency-Key is still running.")) from None
            return Response(entry.body, status=entry.status, headers={"Idempotent-Replayed": "true"})
        try:
            response = run(self, request, *args, **kwargs)
        except Exception:
            entry.delete()  # nothing happened (a refusal, Asterisk said no): the key may be used again
            raise
        entry.status, entry.body = response.status_code, response.data
        entry.save(update_fields=["status", "body"])
        return response

    view.idempotent = True
    return view
