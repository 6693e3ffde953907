"""What every page of the user web shares: sign-in, the company's time zone, form errors."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404
from django.utils import timezone
from django.utils.translation import gettext as _

from portal.forms import tenant_zone


def me_view(view: Callable) -> Callable:
    """A page of the user web: signed in, in a company, times shown in the company's zone.

    The company is always the signed-in person's; no page takes it from the request.
    """

    @login_required
    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.tenant_id:
            raise Http404(_("These pages are for people in a company."))
        with timezone.override(tenant_zone(request.user)):
            return view(request, *args, **kwargs)

    return wrapper


def add_action_error(form, error: ValidationError) -> None:
    """Show an action's refusal on the form: on its field when the form has one, else on top."""
    if hasattr(error, "error_dict"):
        for field, errors in error.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, error)


def messages_of(error: ValidationError) -> str:
    return " ".join(str(m) for m in error.messages)

