"""A small OpenID Connect provider for tests: discovery, authorize, token, JWKS.

It signs real RS256 ID tokens, checks PKCE and the client secret, and lets a test
choose the claims (e-mail, amr) or break one (audience) to see mamori refuse them.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from fastapi import FastAPI, Form, Request
from fastapi.responses import JSONResponse, RedirectResponse
from joserfc import jwt
from joserfc.jwk import RSAKey

CLIENT_ID = "mamori-test"
CLIENT_SECRET = "test-client-secret"


@dataclass
class Provider:
    """What the next sign-in will assert."""

    email: str = "sso-officer@provider.example.jp"
    amr: list[str] = field(default_factory=lambda: ["pwd", "mfa"])
    audience: str = CLIENT_ID
    key: RSAKey = field(default_factory=lambda: RSAKey.generate_key(2048, parameters={"kid": "k1"}))
    pending: dict[str, dict[str, str]] = field(default_factory=dict)


def provider_app(provider: Provider) -> FastAPI:
    """The provider as an ASGI app; its issuer is the address it is served at."""
    app = FastAPI()

    def issuer(request: Request) -> str:
        return str(request.base_url).rstrip("/")

    @app.get("/.well-known/openid-configuration")
    def configuration(request: Request) -> dict[str, str]:
        base = issuer(request)
        return {
            "issuer": base,
            "authorization_endpoint": f"{base}/authorize",
            "token_endpoint": f"{base}/token",
            "jwks_uri": f"{base}/jwks",
        }

    @app.get("/authorize")
    def authorize(request: Request) -> RedirectResponse:
        params = dict(request.query_params)
        code = secrets.token_urlsafe(16)
        provider.pending[code] = params
        query = urlencode({"code": code, "state": params["state"]})
        return RedirectResponse(f"{params['redirect_uri']}?{query}", status_code=303)

    @app.post("/token")
    def token(
        request: Request,
        code: str = Form(),
        client_id: str = Form(),
        client_secret: str = Form(),
        code_verifier: str = Form(),
        redirect_uri: str = Form(),
    ) -> JSONResponse:
        asked = provider.pending.pop(code, None)
        digest = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest())
        if (
            asked is None
            or client_id != CLIENT_ID
            or client_secret != CLIENT_SECRET
            or redirect_uri != asked["redirect_uri"]
            or digest.decode().rstrip("=") != asked["code_challenge"]
        ):
            return JSONResponse({"error": "invalid_grant"}, status_code=400)
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": issuer(request),
            "aud": provider.audience,
            "sub": "staff-42",
            "email": provider.email,
            "email_verified": True,
            "nonce": asked["nonce"],
            "iat": now,
            "exp": now + 300,
            "amr": provider.amr,
        }
        id_token = jwt.encode({"alg": "RS256", "kid": "k1"}, claims, provider.key)
        return JSONResponse({"id_token": id_token, "token_type": "Bearer", "access_token": "x"})

    @app.get("/jwks")
    def jwks() -> dict[str, Any]:
        return {"keys": [provider.key.as_dict(private=False)]}

    return app
