"""OpenID Connect single sign-on for provider staff (authorization code flow with PKCE).

Only existing staff accounts are signed in, matched by the verified e-mail claim; the
issuer's MFA counts only when the ID token's `amr` says it happened.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlencode, urlsplit

import httpx
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from mamori.core.errors import AuthenticationError, ConfigurationError
from mamori.core.i18n import N_
from mamori.core.settings import Settings

MFA_METHODS = frozenset({"mfa", "otp", "hwk", "swk"})
TIMEOUT_SECONDS = 10
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})


@dataclass(frozen=True)
class Login:
    """Where to send the browser, and what to remember until it comes back."""

    url: str
    state: str
    nonce: str
    verifier: str


@dataclass(frozen=True)
class Identity:
    """What the issuer vouched for."""

    email: str
    subject: str
    used_mfa: bool


def enabled(settings: Settings) -> bool:
    """Whether SSO is configured."""
    return bool(settings.oidc_issuer and settings.oidc_client_id)


def _check_issuer(issuer: str) -> None:
    parts = urlsplit(issuer)
    if parts.scheme != "https" and not (parts.scheme == "http" and parts.hostname in LOOPBACK):
        raise ConfigurationError(N_("MAMORI_OIDC_ISSUER must be an https:// URL"))


def _get_json(url: str) -> dict[str, Any]:
    try:
        response = httpx.get(url, timeout=TIMEOUT_SECONDS)
        response.raise_for_status()
        body = response.json()
    except (httpx.HTTPError, ValueError) as exc:
        raise ConfigurationError(
            N_("the single sign-on provider cannot be reached: %(problem)s"),
            params={"problem": str(exc)[:200]},
        ) from exc
    if not isinstance(body, dict):
        raise ConfigurationError(N_("the single sign-on provider sent an unexpected answer"))
    return body


def discover(settings: Settings) -> dict[str, Any]:
    """The issuer's OpenID configuration (its issuer must be exactly the configured one)."""
    _check_issuer(settings.oidc_issuer)
    issuer = settings.oidc_issuer.rstrip("/")
    config = _get_json(f"{issuer}/.well-known/openid-configuration")
    if str(config.get("issuer", "")).rstrip("/") != issuer:
        raise ConfigurationError(N_("the single sign-on provider names a different issuer"))
    return config


def redirect_uri(settings: Settings) -> str:
    """Where the issuer sends the browser back."""
    return f"{settings.public_url.rstrip('/')}/login/sso/callback"


def start(settings: Settings) -> Login:
    """The authorization request, with fresh state, nonce and PKCE verifier."""
    config = discover(settings)
    state, nonce, verifier = (secrets.token_urlsafe(32) for _ in range(3))
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = urlencode(
        {
            "response_type": "code",
            "client_id": settings.oidc_client_id,
            "redirect_uri": redirect_uri(settings),
            "scope": "openid email",
            "state": state,
            "nonce": nonce,
            "code_challenge": challenge.decode().rstrip("="),
            "code_challenge_method": "S256",
        }
    )
    return Login(f"{config['authorization_endpoint']}?{query}", state, nonce, verifier)


def finish(settings: Settings, login: Login, code: str, state: str) -> Identity:
    """Exchange the code and validate the ID token; any doubt is an AuthenticationError."""
    if not code or not secrets.compare_digest(state, login.state):
        raise AuthenticationError(N_("the single sign-on answer does not match this sign-in"))
    config = discover(settings)
    secret = settings.oidc_client_secret.get_secret_value() if settings.oidc_client_secret else ""
    try:
        response = httpx.post(
            str(config["token_endpoint"]),
            data={
                "grant_type": "authorization_code",
                "code": code,
                "redirect_uri": redirect_uri(settings),
                "client_id": settings.oidc_client_id,
                "client_secret": secret,
                "code_verifier": login.verifier,
            },
            timeout=TIMEOUT_SECONDS,
        )
        response.raise_for_status()
        raw = str(response.json()["id_token"])
        keys = KeySet.import_key_set(cast(Any, _get_json(str(config["jwks_uri"]))))
        token = jwt.decode(raw, keys, algorithms=["RS256", "ES256", "PS256"])
        jwt.JWTClaimsRegistry(
            iss={"essential": True, "value": settings.oidc_issuer.rstrip("/")},
            aud={"essential": True, "value": settings.oidc_client_id},
            nonce={"essential": True, "value": login.nonce},
            sub={"essential": True},
            exp={"essential": True},
        ).validate(token.claims)
    except (httpx.HTTPError, KeyError, ValueError, JoseError) as exc:
        raise AuthenticationError(N_("single sign-on failed; please try again")) from exc
    claims = token.claims
    if not claims.get("email") or claims.get("email_verified") is not True:
        raise AuthenticationError(
            N_("the single sign-on provider did not confirm an e-mail address")
        )
    methods = claims.get("amr") or []
    return Identity(
        email=str(claims["email"]).lower(),
        subject=str(claims["sub"]),
        used_mfa=bool(MFA_METHODS & {str(m) for m in methods}),
    )
