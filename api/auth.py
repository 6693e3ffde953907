"""Who is calling: a personal access token, a company API key (``Authorization: Bearer vxl_…``) or the browser's
session (with CSRF, DRF's SessionAuthentication).

Both kinds of key act as a person (``request.user``) so every ``pbx.actions`` check applies unchanged: a personal
token as its owner, a company key as the company admin who created it, narrowed by its scopes
(``request.auth`` is the ``ApiKey``; ``ScopePermission`` checks them).
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import authentication, exceptions

from pbx.actions.base import record, require_company_admin, require_same_tenant, snapshot

from .models import SCOPES, ApiKey

KEY_PREFIX = "vxl_"
LAST_USED_EVERY = timedelta(minutes=1)  # last-used time is written at most this often per key


def hash_secret(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def split_key(key: str) -> tuple[str, str] | None:
    """``vxl_<prefix>_<secret>`` → (prefix, key); None for anything else."""
    if not key.startswith(KEY_PREFIX) or len(key) > 200:
        return None
    prefix, sep, secret = key[len(KEY_PREFIX):].partition("_")
    if not sep or not prefix or not secret or len(prefix) > 16:
        return None
    return prefix, key


def do_create_api_key(actor, user, *, name: str, kind: str, scopes=(), expires_at=None) -> tuple[ApiKey, str]:
    """A new key; returns it with its secret, which is shown this once and never stored.

    A personal token is for oneself only (it carries its owner's rights: an admin making one for a colleague
    could then read their voicemail); a company key is made by a company admin and acts in their name.
    """
    name = (name or "").strip()
    if kind == ApiKey.Kind.PERSONAL:
        require_same_tenant(actor, user)
        if actor is not None and actor.pk != user.pk:
            raise exceptions.PermissionDenied(_("A personal access token is for yourself only."))
        scopes = []
    elif kind == ApiKey.Kind.COMPANY:
        require_company_admin(actor, user)
        unknown = sorted(set(scopes) - set(SCOPES))
        if unknown or not scopes:
            raise exceptions.ValidationError({"scopes": [_("Choose scopes among: %(scopes)s.")
                                                         % {"scopes": ", ".join(SCOPES)}]})
        scopes = sorted(set(scopes))
    else:
        raise exceptions.ValidationError({"kind": [_("Choose one of: %(choices)s.")
                                                   % {"choices": ", ".join(ApiKey.Kind.values)}]})
    prefix = secrets.token_hex(6)
    secret = f"{KEY_PREFIX}{prefix}_{secrets.token_urlsafe(32)}"
    key = ApiKey(tenant_id=user.tenant_id, user=user, kind=kind, name=name, scopes=scopes, prefix=prefix,
                 secret_hash=hash_secret(secret), expires_at=expires_at)
    key.full_clean()
    with transaction.atomic():
        key.save()
        after = snapshot(key)
        after.pop("secret_hash", None)
        record(actor, "api_key_created", key, None, after)
    return key, secret


def do_revoke_api_key(actor, key: ApiKey) -> ApiKey:
    """Revoke a key: at once, for good. Its owner may revoke it, and so may a company admin."""
    require_same_tenant(actor, key)
    if actor is not None and not (actor.is_superuser or actor.is_company_admin or actor.pk == key.user_id):
        raise exceptions.PermissionDenied(_("Only its owner or a company admin may revoke that key."))
    if key.revoked_at is not None:
        return key
    with transaction.atomic():
        key.revoked_at = timezone.now()
        key.save(update_fields=["revoked_at"])
        record(actor, "api_key_revoked", key, None, {"revoked_at": key.revoked_at.isoformat()})
    return key


class ApiKeyAuthentication(authentication.BaseAuthentication):
    keyword = "Bearer"

    def authenticate_header(self, request) -> str:
        return self.keyword

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1")
        scheme, _sep, value = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        parts = split_key(value.strip())
        invalid = exceptions.AuthenticationFailed(_("That API key is not valid (or no longer)."))
        if parts is None:
            raise invalid
        prefix, presented = parts
        key = ApiKey.objects.select_related("user", "user__tenant").filter(prefix=prefix).first()
        if key is None or not hmac.compare_digest(key.secret_hash, hash_secret(presented)) or not key.is_usable:
            raise invalid
        user = key.user
        if not user.is_active or user.tenant_id != key.tenant_id or not user.tenant.is_active:
            raise invalid
        if key.kind == ApiKey.Kind.COMPANY and not user.is_company_admin:
            raise invalid  # its creator is no longer an admin: the key does not outlive their rights
        now = timezone.now()
        if key.last_used_at is None or now - key.last_used_at > LAST_USED_EVERY:
            ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
            key.last_used_at = now
        return user, key
