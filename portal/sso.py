"""Single sign-on: a person signs in with their organisation's account (Microsoft Entra ID, Google, any
OpenID Connect provider), through allauth's ``openid_connect`` provider.

The sign-in services (allauth SocialApps) are the deployment's; the login page shows one button per service,
never a company. Which company a sign-in may reach is decided here, after the provider has answered, from the
ID token's signed claims only:

- the token's signature is always checked against the provider's JWKS (RS256), also when it came straight
  from the token endpoint (allauth would skip that; a wrong key must never sign anyone in);
- the address must be verified by the issuer (``email_verified``, or Entra's ``xms_edov``);
- an existing, active person has exactly that login address (never a new account);
- that person's company has an active SsoConnection for this service whose issuer is the token's ``iss``
  (for Entra ID the company's own tenant) and whose e-mail domains hold the address's domain.

Anything else is refused with the same words whatever the reason (nobody learns which addresses or companies
exist) and an audit row that says why.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

import jwt
from allauth.account.internal.decorators import login_not_required
from allauth.core.exceptions import ImmediateHttpResponse
from allauth.socialaccount.adapter import DefaultSocialAccountAdapter
from allauth.socialaccount.internal import jwtkit
from allauth.socialaccount.models import SocialApp
from allauth.socialaccount.providers.base import AuthProcess
from allauth.socialaccount.providers.oauth2.client import OAuth2Error
from allauth.socialaccount.providers.oauth2.views import OAuth2CallbackView, OAuth2LoginView
from allauth.socialaccount.providers.openid_connect.views import OpenIDConnectOAuth2Adapter
from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.translation import gettext as _

from pbx.actions.base import record

from .auth import client_ip

log = logging.getLogger(__name__)

REFUSED = "sso_refused"
SIGNED_IN = "sso_signed_in"
# Microsoft's multi-tenant discovery document names its issuer with this placeholder for the tenant id.
TENANT_PLACEHOLDER = "{tenantid}"


class VerifyingOIDCAdapter(OpenIDConnectOAuth2Adapter):
    """allauth's OpenID Connect adapter, with the ID token's signature checked every time."""

    def _decode_id_token(self, app: SocialApp, id_token: str) -> dict:
        header = jwt.get_unverified_header(id_token)
        if header.get("alg") != "RS256":
            raise OAuth2Error(f"ID token signed with {header.get('alg')!r}, not RS256")
        issuer = self.openid_config["issuer"]
        if TENANT_PLACEHOLDER in issuer:
            # Entra ID's "organizations" endpoint: the issuer is the signing tenant's (the tid claim); which
            # tenant may sign in whom is the company's SsoConnection's business.
            claims = jwt.decode(id_token, options={"verify_signature": False})
            issuer = issuer.replace(TENANT_PLACEHOLDER, str(claims.get("tid", "")))
        _alg, key = jwtkit.fetch_key(id_token, self.openid_config["jwks_uri"], jwtkit.lookup_kid_jwk)
        try:
            data = jwt.decode(id_token, key=key, algorithms=["RS256"], issuer=issuer, audience=app.client_id,
                              options={"verify_signature": True, "verify_iss": True, "verify_aud": True,
                                       "verify_exp": True, "require": ["iss", "aud", "exp", "sub"]})
        except jwt.PyJWTError as e:
            raise OAuth2Error("Invalid ID token") from e
        jwtkit.verify_jti(data)
        return data


@login_not_required
def oidc_login(request: HttpRequest, provider_id: str):
    try:
        return OAuth2LoginView.adapter_view(VerifyingOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist as e:
        raise Http404 from e


@login_not_required
def oidc_callback(request: HttpRequest, provider_id: str):
    try:
        return OAuth2CallbackView.adapter_view(VerifyingOIDCAdapter(request, provider_id))(request)
    except SocialApp.DoesNotExist as e:
        raise Http404 from e


# Ahead of allauth's own (pbx/urls.py): the same paths and names, served by the verifying adapter.
urlpatterns = [
    path("oidc/<str:provider_id>/login/", oidc_login, name="openid_connect_login"),
    path("oidc/<str:provider_id>/login/callback/", oidc_callback, name="openid_connect_callback"),
]


def sso_connection_for(app: SocialApp, claims: dict):
    """(person, connection, None) when this verified token may sign someone in, else (person, None, why)."""
    from pbx.models import User

    from .models import SsoConnection

    email = str(claims.get("email") or "").strip().lower()
    if not email or "@" not in email:
        return None, None, "no e-mail address in the token"
    if not (claims.get("email_verified") is True or claims.get("xms_edov") is True):
        return None, None, "e-mail address not verified by the issuer"
    person = User.objects.filter(email__iexact=email).select_related("tenant").first()
    if person is None:
        return None, None, "no such person"
    if not person.is_active or person.tenant_id is None or not person.tenant.is_active:
        return person, None, "person or company not active"
    domain = email.rpartition("@")[2]
    issuer = str(claims.get("iss") or "").rstrip("/")
    for connection in SsoConnection.objects.filter(tenant_id=person.tenant_id, app_id=app.pk, is_active=True):
        if connection.issuer == issuer and domain in connection.domains:
            return person, connection, None
    return person, None, "the company does not accept this issuer for this address"


class CompanySsoAdapter(DefaultSocialAccountAdapter):
    """Existing people only, each only through their own company's issuer."""

    def is_open_for_signup(self, request, sociallogin) -> bool:
        return False

    def is_auto_signup_allowed(self, request, sociallogin) -> bool:
        return False

    def pre_social_login(self, request: HttpRequest, sociallogin) -> None:
        app = sociallogin.account.get_provider().app
        claims = (sociallogin.account.extra_data or {}).get("id_token") or {}
        person, connection, why = sso_connection_for(app, claims)
        if connection is not None and sociallogin.is_existing and sociallogin.user.pk != person.pk:
            connection, why = None, "this provider account is linked to another person"
        if connection is not None and sociallogin.state.get("process") == AuthProcess.CONNECT:
            # Linking happens at the first sign-in, to the person the issuer vouched for; "connect another
            # account" to whoever is signed in now is not offered.
            connection, why = None, "connecting an account by hand is not offered"
        details = {"service": app.name, "issuer": str(claims.get("iss", ""))[:300],
                   "email": str(claims.get("email", ""))[:254], "subject": str(claims.get("sub", ""))[:255],
                   "ip": client_ip(request)}
        if connection is None:
            target = person if person is not None else app
            record(None, REFUSED, target, None, {**details, "reason": why},
                   tenant_id=getattr(person, "tenant_id", None))
            log.info("SSO refused through %s: %s", app.name, why)
            messages.error(request, _("This account cannot sign in here. Sign in with your e-mail address and "
                                      "password, or ask your company's administrator."))
            raise ImmediateHttpResponse(HttpResponseRedirect(reverse("account_login")))
        if not sociallogin.is_existing:
            sociallogin.connect(request, person)
        record(person, SIGNED_IN, person, None, {**details, "connection": connection.pk})


def service_origins() -> list[str]:
    """The origins of every sign-in service: the login page's form goes there (CSP form-action)."""
    origins: set[str] = set()
    for app in SocialApp.objects.filter(provider="openid_connect"):
        parts = urlsplit(str(app.settings.get("server_url", "")))
        if parts.scheme in {"http", "https"} and parts.netloc:
            origins.add(f"{parts.scheme}://{parts.netloc}")
    return sorted(origins)


class SsoFormActionMiddleware:
    """The account pages post to allauth, which answers with a redirect to the provider: the browser checks
    that redirect against form-action too, so the services' origins join it there (and only there)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if request.path.startswith("/accounts/") and response.get("Content-Type", "").startswith("text/html"):
            origins = service_origins()
            if origins:
                update = dict(getattr(response, "_csp_update", None) or {})
                update["form-action"] = [*update.get("form-action", []), *origins]
                response._csp_update = update
        return response


def login_services(request: HttpRequest) -> list[dict]:
    """The buttons of the login page: one per sign-in service of the deployment."""
    return [{"name": app.name, "url": reverse("openid_connect_login", kwargs={"provider_id": app.provider_id})}
            for app in SocialApp.objects.on_site(request).filter(provider="openid_connect").order_by("name")]
