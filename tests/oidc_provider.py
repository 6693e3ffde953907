"""A small OpenID Connect provider on a real HTTP server, standing in for Microsoft Entra ID and Google.

It speaks the protocol the product's sign-in speaks to them: the discovery document, the authorization code
flow with PKCE (S256 only, the verifier checked at the token endpoint), client authentication
(client_secret_post or client_secret_basic), an ID token signed with RS256 whose public key is in the JWKS,
and the userinfo endpoint. Like Entra ID's "organizations" endpoint it can serve many directories
(``multi_tenant``): its discovery document then names its issuer ``<url>/{tenantid}/v2.0`` and each token
carries its directory's ``tid`` and issuer.

Nobody types a password here: the test says who signs in next (``sign_in_as``), and the authorization
endpoint approves that identity at once, redirecting back with a one-time code.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlencode, urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def s256(verifier: str) -> str:
    return _b64(hashlib.sha256(verifier.encode()).digest())


class OidcProvider:
    def __init__(self, client_id: str = "vaxel", client_secret: str = "s3cret-of-the-client",  # noqa: S107 - a test client
                 *, multi_tenant: bool = False):
        self.client_id = client_id
        self.client_secret = client_secret
        self.multi_tenant = multi_tenant
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.kid = secrets.token_hex(4)
        # A key the JWKS does not publish: a token signed with it must be refused.
        self.forged_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.sign_with_forged_key = False
        self.next_identity: dict | None = None
        self.codes: dict[str, dict] = {}
        self.requests: list[tuple[str, str]] = []  # (method, path) as they came
        self.token_requests: list[dict] = []
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True, name="oidc-provider")

    # ---- the test's side

    def start(self) -> OidcProvider:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def issuer(self, tenant: str | None = None) -> str:
        return f"{self.url}/{tenant}/v2.0" if self.multi_tenant else self.url

    def sign_in_as(self, email: str, *, verified: bool = True, tenant: str | None = None, **claims) -> None:
        """Who the next authorization request signs in (its ID token's claims)."""
        identity = {"sub": claims.pop("sub", hashlib.sha256(f"{tenant}:{email}".encode()).hexdigest()[:24]),
                    "email": email, "email_verified": verified, "name": email.split("@")[0].title(), **claims}
        if self.multi_tenant:
            identity["tid"] = tenant or "00000000-0000-0000-0000-000000000000"
        self.next_identity = identity

    # ---- the protocol

    def discovery(self) -> dict:
        return {
            "issuer": f"{self.url}/{{tenantid}}/v2.0" if self.multi_tenant else self.url,
            "authorization_endpoint": f"{self.url}/authorize",
            "token_endpoint": f"{self.url}/token",
            "userinfo_endpoint": f"{self.url}/userinfo",
            "jwks_uri": f"{self.url}/jwks",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "scopes_supported": ["openid", "profile", "email"],
        }

    def jwks(self) -> dict:
        numbers = self.key.public_key().public_numbers()
        return {"keys": [{"kty": "RSA", "use": "sig", "alg": "RS256", "kid": self.kid,
                          "n": _b64(numbers.n.to_bytes((numbers.n.bit_length() + 7) // 8, "big")),
                          "e": _b64(numbers.e.to_bytes(3, "big"))}]}

    def authorize(self, query: dict[str, str]) -> tuple[int, dict]:
        if query.get("client_id") != self.client_id:
            return 400, {"error": "unauthorized_client"}
        if query.get("response_type") != "code" or "openid" not in query.get("scope", "").split():
            return 400, {"error": "invalid_request"}
        if query.get("code_challenge_method") != "S256" or not query.get("code_challenge"):
            return 400, {"error": "invalid_request", "error_description": "PKCE (S256) is required"}
        if self.next_identity is None:
            return 400, {"error": "access_denied"}
        code = secrets.token_urlsafe(24)
        self.codes[code] = {"redirect_uri": query["redirect_uri"], "challenge": query["code_challenge"],
                            "identity": self.next_identity, "scope": query.get("scope", "")}
        params = {"code": code, "state": query.get("state", "")}
        return 302, {"location": f"{query['redirect_uri']}?{urlencode(params)}"}

    def token(self, form: dict[str, str], authorization: str | None) -> tuple[int, dict]:
        self.token_requests.append(dict(form))
        client_id, secret = form.get("client_id"), form.get("client_secret")
        if authorization and authorization.startswith("Basic "):
            client_id, _, secret = base64.b64decode(authorization[6:]).decode().partition(":")
        if client_id != self.client_id or secret != self.client_secret:
            return 401, {"error": "invalid_client"}
        grant = self.codes.pop(form.get("code", ""), None)  # a code is good once
        if form.get("grant_type") != "authorization_code" or grant is None:
            return 400, {"error": "invalid_grant"}
        if form.get("redirect_uri") != grant["redirect_uri"]:
            return 400, {"error": "invalid_grant", "error_description": "redirect_uri differs"}
        if s256(form.get("code_verifier", "")) != grant["challenge"]:
            return 400, {"error": "invalid_grant", "error_description": "PKCE verifier does not match"}
        identity = grant["identity"]
        now = int(time.time())
        claims = {"iss": self.issuer(identity.get("tid")), "aud": self.client_id, "iat": now, "exp": now + 300,
                  "jti": secrets.token_hex(8), **identity}
        key = self.forged_key if self.sign_with_forged_key else self.key
        id_token = jwt.encode(claims, key, algorithm="RS256", headers={"kid": self.kid})
        access_token = secrets.token_urlsafe(24)
        self.codes[f"access:{access_token}"] = identity
        return 200, {"access_token": access_token, "token_type": "Bearer", "expires_in": 300, "id_token": id_token}

    def userinfo(self, authorization: str | None) -> tuple[int, dict]:
        token = (authorization or "").removeprefix("Bearer ")
        identity = self.codes.get(f"access:{token}")
        if identity is None:
            return 401, {"error": "invalid_token"}
        return 200, identity

    def _handler(self):
        provider = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # quiet
                pass

            def _send(self, status: int, body: dict) -> None:
                if status == 302:
                    self.send_response(302)
                    self.send_header("Location", body["location"])
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                parts = urlsplit(self.path)
                provider.requests.append(("GET", parts.path))
                query = {k: v[0] for k, v in parse_qs(parts.query).items()}
                if parts.path == "/.well-known/openid-configuration":
                    self._send(200, provider.discovery())
                elif parts.path == "/jwks":
                    self._send(200, provider.jwks())
                elif parts.path == "/authorize":
                    self._send(*provider.authorize(query))
                elif parts.path == "/userinfo":
                    self._send(*provider.userinfo(self.headers.get("Authorization")))
                else:
                    self._send(404, {"error": "not_found"})

            def do_POST(self):
                parts = urlsplit(self.path)
                provider.requests.append(("POST", parts.path))
                length = int(self.headers.get("Content-Length") or 0)
                form = {k: v[0] for k, v in parse_qs(self.rfile.read(length).decode()).items()}
                if parts.path == "/token":
                    self._send(*provider.token(form, self.headers.get("Authorization")))
                else:
                    self._send(404, {"error": "not_found"})

        return Handler
