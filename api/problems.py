"""Errors as RFC 9457 problem details (``application/problem+json``), in the request's language.

Every refusal reaches the caller the same way whatever raised it: DRF's own exceptions, a ``ValidationError``
of a model or an action, a ``PermissionDenied``/``ActionRefused`` of an action (the text the console shows),
a vanished row. Field errors go in ``errors`` (field → messages), as DRF would put them in the body.
"""

from __future__ import annotations

import logging

from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.core.exceptions import ValidationError as DjangoValidationError
from django.http import Http404
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response
from rest_framework.views import exception_handler as drf_exception_handler

from pbx.actions.errors import CallGone
from pbx.asterisk.errors import AsteriskError

log = logging.getLogger(__name__)

PROBLEM_TYPE = "https://vaxel.example/problems/"  # a name space for types; see docs/api.md for the list
CONTENT_TYPE = "application/problem+json"


class PreconditionFailed(exceptions.APIException):
    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_code = "precondition_failed"

    def __init__(self):
        super().__init__(_("Someone changed this since you read it: read it again (its ETag) and retry."))


class PreconditionRequired(exceptions.APIException):
    status_code = 428
    default_code = "precondition_required"

    def __init__(self):
        super().__init__(_("Send the ETag you read in an If-Match header, so no one else's change is overwritten."))


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_code = "conflict"


class Unprocessable(exceptions.APIException):
    status_code = status.HTTP_422_UNPROCESSABLE_ENTITY
    default_code = "unprocessable"


def _title(code: int) -> str:
    titles = {
        400: _("Bad request"), 401: _("Not signed in"), 403: _("Not allowed"), 404: _("Not found"),
        405: _("Method not allowed"), 406: _("Not acceptable"), 409: _("Conflict"), 412: _("Precondition failed"),
        413: _("Too large"), 415: _("Unsupported media type"), 416: _("Range not satisfiable"),
        422: _("Unprocessable request"), 428: _("Precondition required"), 429: _("Too many requests"),
        502: _("Switchboard error"),
    }
    return titles.get(code, _("Error"))


def _messages(detail) -> list[str]:
    if isinstance(detail, dict):
        return [m for value in detail.values() for m in _messages(value)]
    if isinstance(detail, list):
        return [m for value in detail for m in _messages(value)]
    return [str(detail)]


def problem(status_code: int, detail: str, *, errors=None, code: str = "", headers=None) -> Response:
    body = {"type": PROBLEM_TYPE + (code or str(status_code)), "title": _title(status_code), "status": status_code,
            "detail": detail}
    if errors:
        body["errors"] = errors
    response = Response(body, status=status_code, headers=headers, content_type=CONTENT_TYPE)
    return response


def _django_validation(error: DjangoValidationError):
    if hasattr(error, "error_dict"):
        errors = {("non_field_errors" if field == "__all__" else field): [str(m) for m in messages]
                  for field, messages in error.message_dict.items()}
        return exceptions.ValidationError(errors)
    return exceptions.ValidationError({"non_field_errors": [str(m) for m in error.messages]})


def exception_handler(exc, context):
    if isinstance(exc, DjangoValidationError):
        exc = _django_validation(exc)
    elif isinstance(exc, Http404 | ObjectDoesNotExist):
        exc = exceptions.NotFound(_("There is no such thing here (or it belongs to another company)."))
    elif isinstance(exc, CallGone):
        exc = exceptions.NotFound(str(exc))
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or _("You may not do that."))
    elif isinstance(exc, AsteriskError):
        log.warning("API action not carried out by Asterisk: %s", exc)
        return problem(502, _("The switchboard did not carry that out (%(reason)s). Try again.")
                       % {"reason": exc.message}, code="switchboard")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None  # a bug: Django's 500, logged
    detail = exc.detail if isinstance(exc, exceptions.APIException) else response.data
    errors = None
    if isinstance(exc, exceptions.ValidationError):
        errors = detail if isinstance(detail, dict) else {"non_field_errors": detail}
        text = " ".join(_messages(detail)) or _("The request is not valid.")
    else:
        text = " ".join(_messages(detail))
    code = getattr(exc, "default_code", "") if isinstance(exc, exceptions.APIException) else ""
    headers = {k: v for k, v in response.items() if k in ("WWW-Authenticate", "Retry-After", "Allow")}
    return problem(response.status_code, text, errors=errors, code=code, headers=headers)


def page_not_found(request, exception=None):
    """Django's 404 (no URL matched): a problem for the API's paths, the site's page elsewhere."""
    from django.http import JsonResponse
    from django.views.defaults import page_not_found as site_page_not_found

    if request.path.startswith("/api/"):
        body = {"type": PROBLEM_TYPE + "not_found", "title": _title(404), "status": 404,
                "detail": _("There is no such thing here (or it belongs to another company).")}
        return JsonResponse(body, status=404, content_type=CONTENT_TYPE)
    return site_page_not_found(request, exception)
