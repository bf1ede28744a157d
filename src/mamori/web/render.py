"""Rendering pages: language choice, navigation by permission, CSRF token, notices."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, RedirectResponse

from mamori.core.clock import format_local
from mamori.core.i18n import N_, Lang, is_language, negotiate
from mamori.core.scope import Principal
from mamori.core.templating import jinja_env
from mamori.tenants.permissions import ROLE_LABELS, Permission, Role
from mamori.web.auth import CSRF_COOKIE, csrf_token_for, is_https, web_context

TEMPLATES = Path(__file__).resolve().parent / "templates"

# (path, label, permission needed); shown in this order.
NAVIGATION: tuple[tuple[str, str, str], ...] = (
    ("/dashboard", N_("Dashboard"), Permission.VIEW_DASHBOARD),
    ("/services", N_("Services"), Permission.VIEW_SERVICES),
    ("/tenants", N_("Tenants"), Permission.VIEW_ALL_TENANTS),
    ("/my-tenant", N_("Our organisation"), Permission.VIEW_OWN_TENANT),
    ("/users", N_("Users"), Permission.VIEW_DASHBOARD),
    ("/grants", N_("Access grants"), Permission.VIEW_DASHBOARD),
    ("/transparency", N_("Provider access"), Permission.VIEW_TRANSPARENCY),
    ("/audit", N_("Audit trail"), Permission.VIEW_AUDIT_TENANT),
    ("/audit", N_("Audit trail"), Permission.VIEW_AUDIT_ALL),
    ("/alerts", N_("Security alerts"), Permission.VIEW_ALERTS_ALL),
    ("/alerts", N_("Security alerts"), Permission.VIEW_ALERTS_TENANT),
    ("/posture", N_("Cloud posture"), Permission.VIEW_POSTURE_ALL),
    ("/posture", N_("Cloud posture"), Permission.VIEW_POSTURE_TENANT),
    ("/analyses", N_("Log analyses"), Permission.REQUEST_ANALYSIS),
    ("/disclosures", N_("Evidence requests"), Permission.REQUEST_DISCLOSURE),
    ("/disclosures", N_("Evidence requests"), Permission.REVIEW_DISCLOSURE),
    ("/disclosures", N_("Evidence requests"), Permission.APPROVE_DISCLOSURE),
    ("/tokens", N_("API tokens"), Permission.MANAGE_API_TOKENS),
)

NOTICES = {
    "signed_out": N_("You have signed out."),
    "invited": N_("The invitation has been sent."),
    "reset_sent": N_("If the address belongs to an account, a reset link is on its way."),
    "password_set": N_("Your password is set. Please sign in."),
    "mfa_enabled": N_("Multi-factor authentication is on."),
    "grant_requested": N_("Your request is waiting for a second approver."),
    "grant_updated": N_("The access grant has been updated."),
    "token_revoked": N_("The API token has been revoked."),
    "unlocked": N_("The account has been unlocked."),
    "saved": N_("Saved."),
}


LANG_COOKIE = "mamori_lang"


def language(request: Request, principal: Principal | None = None) -> Lang:
    """`?lang=`, the last language picked in the menu, the user's setting, Accept-Language."""
    asked = request.query_params.get("lang")
    if is_language(asked):
        return asked
    picked = request.cookies.get(LANG_COOKIE)
    if is_language(picked):
        return picked
    if principal is not None and is_language(principal.language):
        return principal.language
    default = web_context(request).settings.default_language
    return negotiate(request.headers.get("accept-language"), default)


def navigation(principal: Principal | None) -> list[tuple[str, str]]:
    """Menu entries the principal may open."""
    if principal is None:
        return []
    seen: set[str] = set()
    entries = []
    for path, label, permission in NAVIGATION:
        if principal.can(permission) and path not in seen:
            seen.add(path)
            entries.append((path, label))
    return entries


def page(
    request: Request,
    template: str,
    principal: Principal | None = None,
    *,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render `template` for this request."""
    lang = language(request, principal)
    zone = web_context(request).settings.timezone
    csrf = csrf_token_for(request)
    notice_key = request.query_params.get("done", "")
    html = (
        jinja_env(TEMPLATES, lang)
        .get_template(template)
        .render(
            principal=principal,
            role_label=ROLE_LABELS.get(Role(principal.role)) if principal else None,
            nav=navigation(principal),
            current_path=request.url.path,
            csrf_token=csrf,
            notice=NOTICES.get(notice_key),
            when=lambda moment: format_local(moment, zone, lang),
            **context,
        )
    )
    response = HTMLResponse(html, status_code=status_code)
    if is_language(request.query_params.get("lang")):
        # The menu's choice sticks for the next pages of this browser.
        response.set_cookie(
            LANG_COOKIE,
            lang,
            path="/",
            samesite="lax",
            secure=is_https(request),
            max_age=365 * 24 * 3600,
        )
    fresh = getattr(request.state, "new_csrf_cookie", None)
    if fresh:
        response.set_cookie(
            CSRF_COOKIE, fresh, path="/", httponly=True, samesite="strict", secure=is_https(request)
        )
    return response


def redirect(path: str, notice: str | None = None) -> RedirectResponse:
    """A 303 redirect after a form post, optionally with a notice key."""
    separator = "&" if "?" in path else "?"
    target = f"{path}{separator}done={notice}" if notice else path
    return RedirectResponse(target, status_code=303)
