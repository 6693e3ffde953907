"""What the API tests share: keys for the demo people and a client that speaks Bearer."""

from __future__ import annotations

from rest_framework.test import APIClient

from api.auth import do_create_api_key
from api.models import SCOPES, ApiKey


def token_for(user, *, kind=ApiKey.Kind.PERSONAL, scopes=()) -> str:
    _key, secret = do_create_api_key(user, user, name=f"test {kind}", kind=kind, scopes=list(scopes))
    return secret


def client_with(secret: str | None, language: str = "en") -> APIClient:
    client = APIClient(HTTP_ACCEPT_LANGUAGE=language)
    if secret:
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def api_client_for(user, scopes=None, language="en") -> APIClient:
    """A client with the person's personal token; with ``scopes``, with a company key of theirs."""
    if scopes is None:
        return client_with(token_for(user), language)
    return client_with(token_for(user, kind=ApiKey.Kind.COMPANY, scopes=scopes), language)


ALL_SCOPES = tuple(SCOPES)
