"""Who is making a request: session cookie or bearer token, CSRF, and permission checks."""

from __future__ import annotations

import secrets

from fastapi import Request, Response

from mamori.core.crypto import same, token_hash
from mamori.core.errors import ForbiddenError, MamoriError
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.tenants.models import User, UserSession
from mamori.tenants.service import auth, tokens
from mamori.tenants.service.context import Services
from mamori.web.context import WebContext

SESSION_COOKIE = "mamori_session"
CSRF_COOKIE = "mamori_csrf"
CSRF_FIELD = "csrf_token"
CSRF_HEADER = "x-csrf-token"
UNSAFE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class LoginRequiredError(MamoriError):
    """No valid session or token: pages redirect to sign-in, the API answers 401."""


class MfaRequiredError(MamoriError):
    """Signed in with a password, but the second factor is still missing."""

    def __init__(self, enrol: bool) -> None:
        self.enrol = enrol
        super().__init__(N_("multi-factor authentication is required"))


class CsrfError(ForbiddenError):
    """A state-changing request without the right CSRF token."""


def web_context(request: Request) -> WebContext:
    """The app's long-lived context."""
    context: WebContext = request.app.state.mamori
    return context


def client_address(request: Request) -> str:
    """The client's address as the server saw it."""
    return request.client.host if request.client else ""


def is_https(request: Request) -> bool:
    """Whether the request arrived over TLS (cookies then get the Secure flag)."""
    return request.url.scheme == "https"


def set_session_cookie(request: Request, response: Response, value: str | None) -> None:
    """Set (or clear, with None) the session cookie with safe flags."""
    if value is None:
        response.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="lax")
        return
    response.set_cookie(
        SESSION_COOKIE,
        value,
        path="/",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )


def browser_session(request: Request, services: Services) -> tuple[UserSession, User] | None:
    """The live session named by the cookie, if any."""
    context = web_context(request)
    cookie = request.cookies.get(SESSION_COOKIE)
    session_id = context.read_cookie(cookie) if cookie else None
    return auth.resolve_session(services, session_id) if session_id else None


def _bearer(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def authenticate(
    request: Request, services: Services, *, allow_pending_mfa: bool = False
) -> Principal:
    """The principal behind the request, or LoginRequiredError / MfaRequiredError."""
    address = client_address(request)
    bearer = _bearer(request)
    if bearer is not None:
        principal = tokens.authenticate(services, bearer, address)
        if principal is None:
            raise LoginRequiredError(N_("the API token is invalid, expired or revoked"))
        return principal
    found = browser_session(request, services)
    if found is None:
        raise LoginRequiredError(N_("please sign in"))
    row, user = found
    if not row.mfa_passed and not allow_pending_mfa:
        raise MfaRequiredError(enrol=not user.totp_enabled)
    request.state.csrf_token = row.csrf_token
    return auth.principal_for(user, address=address, session_id_hash=row.id_hash)


def require(principal: Principal, permission: str, scope: str | None = None) -> Principal:
    """`principal` if it holds `permission` (and, for tokens, the API `scope`)."""
    if not principal.can(permission):
        raise ForbiddenError(N_("you do not have permission for this page"))
    if principal.token_scopes is not None and (
        scope is None or scope not in principal.token_scopes
    ):
        raise ForbiddenError(N_("this API token does not have the scope for this request"))
    return principal


def csrf_token_for(request: Request) -> str:
    """The token forms on this page must send back."""
    token = getattr(request.state, "csrf_token", None)
    if token:
        return str(token)
    existing = request.cookies.get(CSRF_COOKIE)
    if existing:
        return existing
    fresh: str = getattr(request.state, "new_csrf_cookie", None) or secrets.token_urlsafe(24)
    request.state.new_csrf_cookie = fresh
    return fresh


async def check_csrf(request: Request) -> None:
    """Refuse a state-changing request whose CSRF token does not match.

    Signed-in browsers send the session's token; anonymous forms (sign-in, reset) the
    double-submit cookie. Bearer-token API calls carry no cookies and need none.
    """
    if request.method not in UNSAFE_METHODS or _bearer(request) is not None:
        return
    sent = request.headers.get(CSRF_HEADER)
    if sent is None and "form" in request.headers.get("content-type", ""):
        form = await request.form()
        value = form.get(CSRF_FIELD)
        sent = value if isinstance(value, str) else None
    context = web_context(request)
    expected = request.cookies.get(CSRF_COOKIE)
    with context.services() as services:
        found = browser_session(request, services)
        if found is not None:
            expected = found[0].csrf_token
    if not sent or not expected or not same(sent, expected):
        raise CsrfError(N_("the form has expired or did not come from this site; please try again"))


def session_hash(request: Request) -> str | None:
    """The stored hash of this request's session id (for signing out)."""
    cookie = request.cookies.get(SESSION_COOKIE)
    session_id = web_context(request).read_cookie(cookie) if cookie else None
    return token_hash(session_id) if session_id else None


def optional_principal(request: Request) -> Principal | None:
    """The signed-in principal if there is one (error pages keep their menu)."""
    try:
        with web_context(request).services() as services:
            return authenticate(request, services)
    except MamoriError:
        return None
