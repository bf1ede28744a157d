"""Sign-in, two-step verification, sign-out, invitations and password resets."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from mamori.core.errors import AuthenticationError, InputError, NotFoundError, RateLimitedError
from mamori.core.i18n import N_, is_language
from mamori.tenants.service import accounts, auth, sso
from mamori.web.auth import (
    authenticate,
    browser_session,
    check_csrf,
    client_address,
    is_https,
    set_session_cookie,
    web_context,
)
from mamori.web.render import language, page, redirect

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


def _safe_next(target: str) -> str:
    # Only same-site paths: an open redirect would make phishing links look like ours.
    return target if target.startswith("/") and not target.startswith("//") else "/dashboard"


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, next: str = "/dashboard") -> Response:
    """The sign-in form."""
    return page(
        request,
        "auth/login.html",
        next=_safe_next(next),
        email="",
        error=None,
        sso=sso.enabled(web_context(request).settings),
    )


@router.post("/login")
def login(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    password: Annotated[str, Form(max_length=1024)],
    next: Annotated[str, Form(max_length=500)] = "/dashboard",
) -> Response:
    """Check the password; continue to two-step verification or the page asked for."""
    context = web_context(request)
    address = client_address(request)
    wait = context.login_limiter.hit(address)
    if wait:
        raise RateLimitedError(N_("too many sign-in attempts; try again later"), retry_after=wait)
    try:
        with context.services() as services:
            signed = auth.sign_in(services, email, password, address)
    except AuthenticationError as error:
        lang = language(request)
        return page(
            request,
            "auth/login.html",
            sso=sso.enabled(context.settings),
            status_code=401,
            next=_safe_next(next),
            email=email,
            error=error.render(lang),
        )
    target = "/login/mfa" if signed.needs_mfa or signed.must_enrol_mfa else _safe_next(next)
    response = RedirectResponse(target, status_code=303)
    set_session_cookie(request, response, context.sign_cookie(signed.session_id))
    return response


def _mfa_page(request: Request, error: str | None = None, status_code: int = 200) -> Response:
    context = web_context(request)
    with context.services() as services:
        found = browser_session(request, services)
        if found is None:
            return redirect("/login")
        row, user = found
        request.state.csrf_token = row.csrf_token
        if row.mfa_passed:
            return redirect("/dashboard")
        if user.totp_enabled:
            return page(request, "auth/mfa.html", enrol=False, error=error, status_code=status_code)
        uri = accounts.begin_totp(services, user) if not user.totp_secret else None
        secret = accounts.totp_secret(services, user)
        if uri is None:
            import pyotp

            uri = pyotp.TOTP(secret).provisioning_uri(
                name=user.email, issuer_name=accounts.TOTP_ISSUER
            )
    return page(
        request,
        "auth/mfa.html",
        enrol=True,
        secret=secret,
        uri=uri,
        error=error,
        status_code=status_code,
    )


@router.get("/login/mfa", response_class=HTMLResponse)
def mfa_form(request: Request) -> Response:
    """Enter a code, or enrol an authenticator first (required for staff)."""
    return _mfa_page(request)


@router.post("/login/mfa")
def mfa(request: Request, code: Annotated[str, Form(max_length=12)]) -> Response:
    """Check the code and finish signing in."""
    context = web_context(request)
    try:
        with context.services() as services:
            found = browser_session(request, services)
            if found is None:
                return redirect("/login")
            row, user = found
            if user.totp_enabled:
                auth.complete_mfa(services, row, user, code, client_address(request))
                notice = None
            else:
                accounts.confirm_totp(services, user, code)
                row.mfa_passed = True
                notice = "mfa_enabled"
    except (AuthenticationError, InputError) as error:
        return _mfa_page(request, error.render(language(request)), status_code=401)
    return redirect("/dashboard", notice)


@router.post("/logout")
def logout(request: Request) -> Response:
    """End the session."""
    context = web_context(request)
    with context.services() as services:
        found = browser_session(request, services)
        if found is not None:
            auth.sign_out(services, found[0])
    response = redirect("/login", "signed_out")
    set_session_cookie(request, response, None)
    return response


def _set_password_page(
    request: Request, token: str, purpose: str, error: str | None = None, status_code: int = 200
) -> Response:
    context = web_context(request)
    with context.services() as services:
        user = accounts.check_link(services, token, purpose)
        email, name = user.email, user.display_name
    invite = purpose == accounts.INVITE
    return page(
        request,
        "auth/set_password.html",
        title=_title(request, invite),
        email=email,
        display_name=name,
        ask_name=invite,
        action=f"/{'invitation' if invite else 'reset'}/{token}",
        error=error,
        status_code=status_code,
    )


def _title(request: Request, invite: bool) -> str:
    from mamori.core.i18n import translate

    lang = language(request)
    return translate(lang, N_("Create your account") if invite else N_("Choose a new password"))


@router.get("/invitation/{token}", response_class=HTMLResponse)
def invitation_form(request: Request, token: str) -> Response:
    """Accept an invitation: choose a password."""
    return _set_password_page(request, token, accounts.INVITE)


@router.post("/invitation/{token}")
def accept_invitation(
    request: Request,
    token: str,
    password: Annotated[str, Form(max_length=1024)],
    display_name: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Set the password of an invited account."""
    try:
        with web_context(request).services() as services:
            accounts.accept_invitation(services, token, password, display_name)
    except InputError as error:
        return _set_password_page(
            request, token, accounts.INVITE, error.render(language(request)), 400
        )
    return redirect("/login", "password_set")


@router.get("/reset", response_class=HTMLResponse)
def reset_request_form(request: Request) -> Response:
    """Ask for a password reset link."""
    return page(request, "auth/reset_request.html")


@router.post("/reset")
def reset_request(request: Request, email: Annotated[str, Form(max_length=254)]) -> Response:
    """Send a reset link if the account exists; answer the same either way."""
    context = web_context(request)
    wait = context.login_limiter.hit(client_address(request))
    if wait:
        raise RateLimitedError(N_("too many attempts; try again later"), retry_after=wait)
    with context.services() as services:
        accounts.request_password_reset(services, email, client_address(request))
    return redirect("/login", "reset_sent")


@router.get("/reset/{token}", response_class=HTMLResponse)
def reset_form(request: Request, token: str) -> Response:
    """Choose a new password from a reset link."""
    return _set_password_page(request, token, accounts.RESET)


@router.post("/reset/{token}")
def reset(
    request: Request, token: str, password: Annotated[str, Form(max_length=1024)]
) -> Response:
    """Set the new password."""
    try:
        with web_context(request).services() as services:
            accounts.reset_password(services, token, password)
    except InputError as error:
        return _set_password_page(
            request, token, accounts.RESET, error.render(language(request)), 400
        )
    return redirect("/login", "password_set")


__all__ = ["router"]


@router.get("/account", response_class=HTMLResponse)
def account_page(request: Request) -> Response:
    """The signed-in user's own settings."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        user = services.repository.user_by_id_unscoped(principal.user_id)
        enabled = bool(user and user.totp_enabled)
    return page(request, "auth/account.html", principal, mfa_enabled=enabled)


@router.post("/account/language")
def set_language(
    request: Request, language_pref: Annotated[str, Form(alias="language")]
) -> Response:
    """Save the language the portal and mail use for this user."""
    if not is_language(language_pref):
        raise InputError(N_("unknown language"), field="language")
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        accounts.set_language(services, principal.user_id, language_pref)
    return redirect(f"/account?lang={language_pref}", "saved")


@router.get("/account/mfa", response_class=HTMLResponse)
def account_mfa_form(request: Request) -> Response:
    """Turn on two-step verification (optional for customers, done at sign-in for staff)."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        user = services.repository.user_by_id_unscoped(principal.user_id)
        if user is None or user.totp_enabled:
            return redirect("/account")
        uri = accounts.begin_totp(services, user)
        secret = accounts.totp_secret(services, user)
    return page(request, "auth/account_mfa.html", principal, secret=secret, uri=uri, error=None)


@router.post("/account/mfa")
def account_mfa(request: Request, code: Annotated[str, Form(max_length=12)]) -> Response:
    """Confirm the authenticator with a first code."""
    try:
        with web_context(request).services() as services:
            principal = authenticate(request, services)
            user = services.repository.user_by_id_unscoped(principal.user_id)
            if user is None:
                return redirect("/login")
            accounts.confirm_totp(services, user, code)
    except InputError as error:
        with web_context(request).services() as services:
            principal = authenticate(request, services)
            user = services.repository.user_by_id_unscoped(principal.user_id)
            secret = accounts.totp_secret(services, user) if user else ""
        return page(
            request,
            "auth/account_mfa.html",
            principal,
            secret=secret,
            uri=None,
            error=error.render(language(request, principal)),
            status_code=400,
        )
    return redirect("/account", "mfa_enabled")


SSO_COOKIE = "mamori_sso"
SSO_MAX_AGE_SECONDS = 600


@router.get("/login/sso")
def sso_start(request: Request) -> Response:
    """Send a staff member to the single sign-on provider."""
    context = web_context(request)
    if not sso.enabled(context.settings):
        raise NotFoundError(N_("This page does not exist."))
    login = sso.start(context.settings)
    response = RedirectResponse(login.url, status_code=303)
    value = context.sign_value("sso", [login.state, login.nonce, login.verifier])
    response.set_cookie(
        SSO_COOKIE,
        value,
        max_age=SSO_MAX_AGE_SECONDS,
        path="/login/sso",
        httponly=True,
        samesite="lax",
        secure=is_https(request),
    )
    return response


@router.get("/login/sso/callback")
def sso_callback(request: Request, code: str = "", state: str = "") -> Response:
    """Come back from the provider: validate, then sign in (TOTP still asked without IdP MFA)."""
    context = web_context(request)
    if not sso.enabled(context.settings):
        raise NotFoundError(N_("This page does not exist."))
    saved = context.read_value("sso", request.cookies.get(SSO_COOKIE, ""), SSO_MAX_AGE_SECONDS)
    if not isinstance(saved, list) or len(saved) != 3:
        raise AuthenticationError(N_("the single sign-on answer does not match this sign-in"))
    login = sso.Login(url="", state=str(saved[0]), nonce=str(saved[1]), verifier=str(saved[2]))
    identity = sso.finish(context.settings, login, code, state)
    with context.services() as services:
        signed = auth.sign_in_sso(
            services, identity.email, identity.used_mfa, client_address(request)
        )
    target = "/login/mfa" if signed.needs_mfa or signed.must_enrol_mfa else "/dashboard"
    response = RedirectResponse(target, status_code=303)
    response.delete_cookie(SSO_COOKIE, path="/login/sso")
    set_session_cookie(request, response, context.sign_cookie(signed.session_id))
    return response
