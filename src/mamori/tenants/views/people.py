"""Tenants, users and invitations, access grants, provider-access transparency, audit, tokens."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Form, Query, Request
from fastapi.responses import HTMLResponse, Response

from mamori.core.audit import AUDIT_ID_MAX, AuditQuery, AuditRecord
from mamori.core.errors import ForbiddenError, InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.core.scope import Principal, TenantScope
from mamori.tenants.models import ApiToken
from mamori.tenants.permissions import CUSTOMER_ROLES, ROLE_LABELS, STAFF_ROLES, Permission, Role
from mamori.tenants.service import TenantsService, accounts, grants, tokens
from mamori.tenants.service.audit import audit_events
from mamori.tenants.service.context import Services
from mamori.tenants.service.scopes import customer_data_scope, metadata_scope
from mamori.web.auth import authenticate, check_csrf, require, web_context
from mamori.web.render import language, page, redirect

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


def _tenant_view(services: Services, principal: Principal, tenant_id: str) -> dict[str, Any]:
    """A tenant's page data; contacts and users only with customer-data access."""
    tenant = services.repository.tenant(tenant_id, metadata_scope(principal))
    if tenant is None:
        raise NotFoundError(N_("no such tenant"))
    data_scope = customer_data_scope(services.session, principal, services.now())
    readable = data_scope.allows(tenant_id)
    if readable and principal.is_staff:
        grants.record_access(services, principal, tenant_id, f"/tenants/{tenant_id}")
    return {
        "tenant": tenant,
        "subscriptions": [link.service_id for link in tenant.subscriptions],
        "contacts": tenant.contacts if readable else None,
        "users": services.repository.users(data_scope, staff=False) if readable else None,
    }


TENANTS_PER_PAGE = 100
AUDIT_PAGE = 100


@router.get("/tenants", response_class=HTMLResponse)
def tenants_page(
    request: Request, page_number: Annotated[int, Query(alias="page", ge=1)] = 1
) -> Response:
    """All tenants (staff): names and subscriptions, no customer data; 100 a page."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.VIEW_ALL_TENANTS)
        rows, total = TenantsService(services.session).tenant_page(page_number, TENANTS_PER_PAGE)
    pages = max(1, -(-total // TENANTS_PER_PAGE))
    return page(
        request,
        "tenants/list.html",
        principal,
        tenants=rows,
        page_number=page_number,
        pages=pages,
        total=total,
    )


@router.get("/tenants/{tenant_id}", response_class=HTMLResponse)
def tenant_page(request: Request, tenant_id: str) -> Response:
    """One tenant; staff see its customer data only under an active grant."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        if not (principal.can(Permission.VIEW_ALL_TENANTS) or principal.tenant_id == tenant_id):
            raise NotFoundError(N_("no such tenant"))
        values = _tenant_view(services, principal, tenant_id)
    return page(request, "tenants/detail.html", principal, **values)


@router.get("/my-tenant", response_class=HTMLResponse)
def my_tenant(request: Request) -> Response:
    """The customer's own organisation: contacts, services, settings."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.VIEW_OWN_TENANT)
        values = _tenant_view(services, principal, principal.tenant_id or "")
    return page(request, "tenants/detail.html", principal, **values)


@router.post("/my-tenant/settings")
def tenant_settings(
    request: Request, require_tenant_approval: Annotated[str, Form()] = ""
) -> Response:
    """Whether provider access grants also need this tenant's approval."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.MANAGE_TENANT_SETTINGS)
        tenant = services.repository.tenant(principal.tenant_id or "", metadata_scope(principal))
        if tenant is None:
            raise NotFoundError(N_("no such tenant"))
        tenant.require_tenant_approval = require_tenant_approval == "on"
        services.audit(
            AuditRecord.by(
                principal,
                "tenant.settings",
                "tenant",
                tenant.id,
                tenant.id,
                require_tenant_approval=tenant.require_tenant_approval,
            )
        )
    return redirect("/my-tenant", "saved")


def _invitable_roles(principal: Principal) -> list[tuple[str, str]]:
    if principal.can(Permission.MANAGE_STAFF):
        roles = sorted(STAFF_ROLES)
    elif principal.can(Permission.MANAGE_TENANT_USERS):
        roles = sorted(CUSTOMER_ROLES)
    else:
        roles = []
    return [(role.value, ROLE_LABELS[role]) for role in roles]


@router.get("/users", response_class=HTMLResponse)
def users_page(request: Request) -> Response:
    """Staff or the tenant's users; locked accounts for security officers."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.VIEW_DASHBOARD)
        if principal.is_staff:
            users = services.repository.users(metadata_scope(principal), staff=True)
        else:
            users = services.repository.users(
                customer_data_scope(services.session, principal, services.now()), staff=False
            )
        locked = (
            services.repository.locked_users(services.now())
            if principal.can(Permission.VIEW_LOCKOUTS)
            else []
        )
    return page(
        request,
        "tenants/users.html",
        principal,
        users=users,
        locked=locked,
        roles=_invitable_roles(principal),
        role_labels=ROLE_LABELS,
    )


@router.post("/users/invite")
def invite_user(
    request: Request,
    email: Annotated[str, Form(max_length=254)],
    display_name: Annotated[str, Form(max_length=200)],
    role: Annotated[str, Form(max_length=32)],
    language_pref: Annotated[str, Form(alias="language")] = "ja",
) -> Response:
    """Invite a user by e-mail."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        try:
            chosen = Role(role)
        except ValueError as exc:
            raise InputError(N_("unknown role"), field="role") from exc
        tenant = (
            services.repository.tenant(principal.tenant_id, metadata_scope(principal))
            if principal.tenant_id
            else None
        )
        accounts.invite(
            services,
            principal,
            email=email,
            display_name=display_name,
            role=chosen,
            tenant_id=principal.tenant_id,
            language="en" if language_pref == "en" else "ja",
            organisation=tenant.name.get(language(request, principal)) if tenant else "",
        )
    return redirect("/users", "invited")


@router.post("/users/{user_id}/unlock")
def unlock_user(request: Request, user_id: str) -> Response:
    """Lift a lockout (security officers)."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        if not principal.is_staff:
            raise NotFoundError(N_("no such user"))
        accounts.unlock(services, principal, user_id)
    return redirect("/users", "unlocked")


@router.get("/grants", response_class=HTMLResponse)
def grants_page(request: Request) -> Response:
    """Access grants the user may see, and the form to request one."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.VIEW_DASHBOARD)
        rows = [
            {"grant": g, "status": grants.effective_status(services, g)}
            for g in grants.grants_for(services, principal)
        ]
    return page(
        request,
        "tenants/grants.html",
        principal,
        grants=rows,
        can_request=principal.can(Permission.REQUEST_GRANT),
        tenant_id=request.query_params.get("tenant", "")[:64],
        labels=grants.STATUS_LABELS,
        max_minutes=web_context(request).settings.grant_max_minutes,
    )


@router.post("/grants")
def request_grant(
    request: Request,
    tenant_id: Annotated[str, Form(max_length=64)],
    reason: Annotated[str, Form(max_length=1000)],
    minutes: Annotated[int, Form()],
) -> Response:
    """Ask for time-boxed access to one tenant's data."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        grants.request_grant(
            services, principal, tenant_id=tenant_id, reason=reason, minutes=minutes
        )
    return redirect("/grants", "grant_requested")


GRANT_ACTIONS = {
    "approve": grants.approve,
    "tenant-approve": grants.approve_for_tenant,
    "deny": grants.deny,
    "end": grants.end,
}


@router.post("/grants/{grant_id}/{action}")
def decide_grant(request: Request, grant_id: str, action: str) -> Response:
    """Approve, deny or end a grant."""
    handler = GRANT_ACTIONS.get(action)
    if handler is None:
        raise NotFoundError(N_("This page does not exist."))
    with web_context(request).services() as services:
        handler(services, authenticate(request, services), grant_id)
    target = "/transparency" if action == "tenant-approve" else "/grants"
    return redirect(target, "grant_updated")


@router.get("/transparency", response_class=HTMLResponse)
def transparency_page(request: Request) -> Response:
    """Every provider access to this tenant: who, when, why, what was viewed."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.VIEW_TRANSPARENCY)
        seen = grants.transparency(services, principal)
        rows = [{"grant": g, "status": grants.effective_status(services, g)} for g in seen.grants]
        people = _staff_names(services)
    return page(
        request,
        "tenants/transparency.html",
        principal,
        grants=rows,
        accesses=seen.accesses,
        labels=grants.STATUS_LABELS,
        names=people,
    )


def _staff_names(services: Services) -> dict[str, str]:
    """Who the provider's staff are, to name them on the customer's transparency page."""
    return {
        u.id: u.display_name
        for u in services.repository.users(TenantScope.everything(), staff=True)
    }


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    action: Annotated[str, Query(max_length=64)] = "",
    tenant: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[int | None, Query(ge=1, le=AUDIT_ID_MAX)] = None,
) -> Response:
    """The audit trail: everything for officers and auditors, own tenant for its admins.

    Paged newest first by keyset; htmx asks for just the next rows (HX-Request), a
    browser without script follows the same link to a whole page.
    """
    query = AuditQuery(action=action, tenant_id=tenant, before=before, limit=AUDIT_PAGE + 1)
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        events = list(audit_events(services, principal, query))
    more = len(events) > AUDIT_PAGE
    events = events[:AUDIT_PAGE]
    context: dict[str, Any] = {
        "events": events,
        "filters": {"action": action, "tenant": tenant},
        "next_page": _audit_link(action, tenant, events[-1].id) if more else None,
        "all_tenants": principal.can(Permission.VIEW_AUDIT_ALL),
    }
    partial = request.headers.get("hx-request") and not request.headers.get(
        "hx-history-restore-request"
    )
    template = "tenants/_audit_rows.html" if partial else "tenants/audit.html"
    response = page(request, template, principal, **context)
    response.headers["Vary"] = "HX-Request"
    return response


def _audit_link(action: str, tenant: str, before: int) -> str:
    """The address of the page after the entry `before`, keeping the filters."""
    params = {"action": action, "tenant": tenant, "before": str(before)}
    return "/audit?" + urlencode({k: v for k, v in params.items() if v})


@router.get("/tokens", response_class=HTMLResponse)
def tokens_page(request: Request) -> Response:
    """API tokens: create, list, revoke."""
    with web_context(request).services() as services:
        principal = require(authenticate(request, services), Permission.MANAGE_API_TOKENS)
        rows = tokens.list_tokens(services, principal)
    return _tokens_page(request, principal, rows, None)


def _tokens_page(
    request: Request, principal: Principal, rows: Sequence[ApiToken], secret: str | None
) -> Response:
    return page(
        request,
        "tenants/tokens.html",
        principal,
        tokens=rows,
        scopes=tokens.SCOPES,
        secret=secret,
        max_days=web_context(request).settings.api_token_max_days,
    )


@router.post("/tokens", response_class=HTMLResponse)
def create_token(
    request: Request,
    name: Annotated[str, Form(max_length=100)],
    days: Annotated[int, Form()],
    scopes: Annotated[list[str] | None, Form()] = None,
) -> Response:
    """Create a token and show its secret this once."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        new = tokens.create_token(services, principal, name=name, scopes=scopes or [], days=days)
        rows = tokens.list_tokens(services, principal)
    return _tokens_page(request, principal, rows, new.secret)


@router.post("/tokens/{token_id}/revoke")
def revoke_token(request: Request, token_id: str) -> Response:
    """Revoke a token."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        if not principal.can(Permission.MANAGE_API_TOKENS):
            raise ForbiddenError(N_("you may not manage API tokens"))
        tokens.revoke_token(services, principal, token_id)
    web_context(request).recent_tokens.forget(token_id)  # after the commit
    return redirect("/tokens", "token_revoked")
