"""Login e-mail addresses: the company admin sets them; a person changes their own only by verifying.

allauth keeps a person's addresses in EmailAddress rows; the login itself is User.email. The company admin's
address (set in the admin or by an action) counts as verified: the admin vouches for it. A person may ask
for a new address on /accounts/email/ (ACCOUNT_CHANGE_EMAIL: one address, the new one waits for its
verification link); it becomes their login only when the link sent to it is opened. Every change is in the
audit log.
"""

from __future__ import annotations

import logging

from allauth.account import signals as allauth_signals
from allauth.account.forms import AddEmailForm
from allauth.account.models import EmailAddress
from allauth.account.views import EmailView
from django import forms
from django.contrib import messages
from django.db import IntegrityError, transaction
from django.db.models.signals import post_save, pre_save
from django.utils.translation import gettext as _

from pbx.actions.base import record

log = logging.getLogger(__name__)


def domain_of(email: str) -> str:
    return email.rpartition("@")[2].lower()


def belongs_elsewhere(email: str, user) -> str | None:
    """Why this address may not be added to this person, or None."""
    from pbx.models import User

    email = email.strip().lower()
    others = User.objects.exclude(pk=user.pk)
    if (others.filter(email__iexact=email).exists()
            or EmailAddress.objects.filter(email__iexact=email).exclude(user_id=user.pk).exists()):
        return _("That address belongs to another account.")
    # A domain only another company's people use is that company's, and so are its sub-domains
    # (x@sales.exempel.example): mail for them would reach that company.
    company = User.objects.filter(tenant_id=user.tenant_id) if user.tenant_id else User.objects.filter(pk=user.pk)
    for domain in domain_and_parents(domain_of(email)):
        if (others.exclude(tenant_id=user.tenant_id).filter(email__iendswith="@" + domain).exists()
                and not company.filter(email__iendswith="@" + domain).exists()):
            return _("That address is another company's. Ask your company administrator.")
    return None


def domain_and_parents(domain: str) -> list[str]:
    """sales.exempel.example → [sales.exempel.example, exempel.example]: never a bare top-level label."""
    labels = domain.strip(".").split(".")
    return [".".join(labels[i:]) for i in range(len(labels) - 1)]


class CompanyAddEmailForm(AddEmailForm):
    def clean_email(self) -> str:
        value = super().clean_email()
        reason = belongs_elsewhere(value, self.user)
        if reason:
            raise forms.ValidationError(reason)
        return value


class CompanyEmailView(EmailView):
    """allauth's e-mail page, with "make primary" only for a verified address and never half-done."""

    def _action_primary(self, request, *args, **kwargs):
        address = self._get_email_address(request)
        if address is None:
            return None
        reason = belongs_elsewhere(address.email, request.user)
        if reason:
            messages.error(request, reason)
            return None
        if not address.verified:
            messages.error(request, _("Open the link we sent to %(email)s first; then it becomes your login.")
                           % {"email": address.email})
            return None
        try:
            with transaction.atomic():
                return super()._action_primary(request, *args, **kwargs)
        except IntegrityError:  # taken by another account meanwhile: nothing was changed
            messages.error(request, _("That address belongs to another account."))
            return None


# ------------------------------------------------------------------------------------------ audit


def _audit(user, action: str, before: dict | None, after: dict | None) -> None:
    record(user, action, user, before, after)


def _added(sender, request=None, user=None, email_address=None, **kwargs):
    _audit(user or email_address.user, "email_added", None, {"email": email_address.email})


def _removed(sender, request=None, user=None, email_address=None, **kwargs):
    _audit(user or email_address.user, "email_removed", {"email": email_address.email}, None)


def _confirmed(sender, request=None, email_address=None, **kwargs):
    _audit(email_address.user, "email_verified", None, {"email": email_address.email})


def _changed(sender, request=None, user=None, from_email_address=None, to_email_address=None, **kwargs):
    before = {"email": from_email_address.email} if from_email_address else None
    _audit(user, "login_email_changed", before, {"email": to_email_address.email})


# ------------------------------------------------------------------------------ the admin's address


def _remember_email(sender, instance, raw=False, **kwargs):
    if raw:
        return
    instance._email_before = (sender.objects.filter(pk=instance.pk).values_list("email", flat=True).first()
                              if instance.pk else None)


def _vouch_for_admin_set_email(sender, instance, created=False, raw=False, **kwargs):
    """The address a company admin set (on creation or later) is the person's one verified login address."""
    if raw or not instance.email:
        return
    if not created and (getattr(instance, "_email_before", None) or "").lower() == instance.email.lower():
        return
    email = instance.email.lower()
    current = EmailAddress.objects.filter(user=instance, email__iexact=email).first()
    if current is not None and current.verified and current.primary:
        return  # a person's own verified change: allauth has done it already
    EmailAddress.objects.filter(user=instance).exclude(email__iexact=email).delete()
    EmailAddress.objects.update_or_create(user=instance, email=email, defaults={"verified": True, "primary": True})


def connect() -> None:
    from django.contrib.auth import get_user_model

    user_model = get_user_model()
    allauth_signals.email_added.connect(_added, dispatch_uid="portal.audit_email_added")
    allauth_signals.email_removed.connect(_removed, dispatch_uid="portal.audit_email_removed")
    allauth_signals.email_confirmed.connect(_confirmed, dispatch_uid="portal.audit_email_confirmed")
    allauth_signals.email_changed.connect(_changed, dispatch_uid="portal.audit_email_changed")
    pre_save.connect(_remember_email, sender=user_model, dispatch_uid="portal.remember_email")
    post_save.connect(_vouch_for_admin_set_email, sender=user_model, dispatch_uid="portal.vouch_email")
