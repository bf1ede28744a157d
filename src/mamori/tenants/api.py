"""JSON API of the tenants domain (and commitments read access), under /api/v1.

Callers authenticate with a browser session (state changes then need the
X-CSRF-Token header) or a bearer API token limited to its scopes.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response

from mamori.commitments.service import CommitmentsService
from mamori.core.audit import AUDIT_ID_MAX, AUDIT_PAGE_LIMIT, AuditQuery
from mamori.core.clock import as_utc
from mamori.core.errors import ERROR_RESPONSES, NotFoundError
from mamori.core.i18n import N_, Lang
from mamori.core.scope import Principal
from mamori.tenants.models import AccessGrant, ApiToken, Tenant, User
from mamori.tenants.permissions import Permission
from mamori.tenants.schemas import (
    AuditEventOut,
    ContactOut,
    GrantIn,
    GrantOut,
    MeOut,
    TenantOut,
    TokenOut,
    UserOut,
)
from mamori.tenants.service import TenantsService, grants, tokens
from mamori.tenants.service.audit import audit_events
from mamori.tenants.service.context import Services
from mamori.tenants.service.scopes import customer_data_scope, metadata_scope
from mamori.web.auth import authenticate, check_csrf, require, web_context

router = APIRouter(dependencies=[Depends(check_csrf)], tags=["tenants"], responses=ERROR_RESPONSES)


def _tenant(row: Tenant) -> TenantOut:
    return TenantOut(
        id=row.id,
        name_ja=row.name.ja,
        name_en=row.name.en,
        services=sorted(link.service_id for link in row.subscriptions),
        require_tenant_approval=row.require_tenant_approval,
    )


def _user(services: Services, row: User) -> UserOut:
    locked = row.locked_until is not None and as_utc(row.locked_until) > services.now()
    return UserOut(
        id=row.id,
        email=row.email,
        display_name=row.display_name,
        role=row.role,
        tenant_id=row.tenant_id,
        mfa_enabled=row.totp_enabled,
        locked=locked,
    )


def _grant(services: Services, row: AccessGrant) -> GrantOut:
    out = GrantOut.model_validate(row)
    return out.model_copy(update={"status": grants.effective_status(services, row)})


def _token(row: ApiToken) -> TokenOut:
    return TokenOut(
        id=row.id,
        name=row.name,
        tenant_id=row.tenant_id,
        scopes=list(row.scopes),
        created_at=row.created_at,
        expires_at=row.expires_at,
        revoked=row.revoked_at is not None,
    )


def _visible_tenant(services: Services, principal: Principal, tenant_id: str) -> Tenant:
    tenant = services.repository.tenant(tenant_id, metadata_scope(principal))
    if tenant is None:
        raise NotFoundError(N_("no such tenant"))
    return tenant


@router.get("/me", response_model=MeOut)
def me(request: Request) -> MeOut:
    """Who the caller is and what it may do."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
    return MeOut(
        user_id=principal.user_id,
        email=principal.email,
        display_name=principal.display_name,
        role=principal.role,
        tenant_id=principal.tenant_id,
        permissions=sorted(principal.permissions),
        token_scopes=sorted(principal.token_scopes) if principal.token_scopes is not None else None,
    )


@router.get("/commitments")
def commitments(request: Request, lang: str = "ja") -> dict[str, list[dict[str, object]]]:
    """Commitments with their live status."""
    context = web_context(request)
    with context.services() as services:
        require(authenticate(request, services), Permission.VIEW_DASHBOARD, "commitments:read")
        states = CommitmentsService(services.session, context.registry).states(
            max_age=timedelta(hours=context.settings.evidence_max_age_hours)
        )
        language: Lang = "en" if lang == "en" else "ja"
        return {
            "commitments": [
                {
                    "id": s.commitment.id,
                    "order": s.commitment.position,
                    "title": s.commitment.title.get(language),
                    "clauses": [c.clause_number for c in s.commitment.clauses],
                    "status": s.status.value,
                    "latest_evidence_at": (
                        s.latest_evidence_at.isoformat() if s.latest_evidence_at else None
                    ),
                }
                for s in states
            ]
        }


@router.get("/tenants", response_model=list[TenantOut])
def list_tenants(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> list[TenantOut]:
    """Every tenant (staff), a page at a time by id, or the caller's own."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.VIEW_SERVICES, "tenants:read"
        )
        if not principal.is_staff:
            own = services.repository.tenant(principal.tenant_id or "", metadata_scope(principal))
            return [_tenant(own)] if own is not None and offset == 0 else []
        rows = TenantsService(services.session).tenant_slice(offset, limit)
        return [_tenant(t) for t in rows]


@router.get("/tenants/{tenant_id}", response_model=TenantOut)
def get_tenant(request: Request, tenant_id: str) -> TenantOut:
    """One tenant's metadata."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.VIEW_SERVICES, "tenants:read"
        )
        return _tenant(_visible_tenant(services, principal, tenant_id))


@router.get("/tenants/{tenant_id}/contacts", response_model=list[ContactOut])
def tenant_contacts(request: Request, tenant_id: str) -> list[ContactOut]:
    """A tenant's contacts: customer data, so staff need an active grant; reads are recorded."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.VIEW_SERVICES, "tenants:read"
        )
        tenant = _visible_tenant(services, principal, tenant_id)
        if not customer_data_scope(services.session, principal, services.now()).allows(tenant_id):
            raise NotFoundError(N_("no such tenant"))
        grants.record_access(
            services, principal, tenant_id, f"/api/v1/tenants/{tenant_id}/contacts"
        )
        return [
            ContactOut(
                role=c.role,
                name_ja=c.name.ja,
                name_en=c.name.en,
                email=c.email,
                phone=c.phone,
                language=c.language,
            )
            for c in tenant.contacts
        ]


@router.get("/users", response_model=list[UserOut])
def list_users(request: Request) -> list[UserOut]:
    """Staff accounts (staff) or the caller's tenant's accounts."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.VIEW_DASHBOARD, "users:read"
        )
        if principal.is_staff:
            rows = services.repository.users(metadata_scope(principal), staff=True)
        else:
            scope = customer_data_scope(services.session, principal, services.now())
            rows = services.repository.users(scope, staff=False)
        return [_user(services, u) for u in rows]


@router.get("/users/{user_id}", response_model=UserOut)
def get_user(request: Request, user_id: str) -> UserOut:
    """One account the caller may see."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.VIEW_DASHBOARD, "users:read"
        )
        scope = (
            metadata_scope(principal)
            if principal.is_staff
            else customer_data_scope(services.session, principal, services.now())
        )
        row = services.repository.user(user_id, scope)
        if row is None or (principal.is_staff and row.tenant_id is not None):
            raise NotFoundError(N_("no such user"))
        return _user(services, row)


@router.get("/grants", response_model=list[GrantOut])
def list_grants(request: Request) -> list[GrantOut]:
    """Access grants the caller may see."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.VIEW_DASHBOARD, "grants:read"
        )
        return [_grant(services, g) for g in grants.grants_for(services, principal)]


@router.get("/grants/{grant_id}", response_model=GrantOut)
def get_grant(request: Request, grant_id: str) -> GrantOut:
    """One access grant."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.VIEW_DASHBOARD, "grants:read"
        )
        visible = {g.id: g for g in grants.grants_for(services, principal)}
        if grant_id not in visible:
            raise NotFoundError(N_("no such access grant"))
        return _grant(services, visible[grant_id])


@router.post("/grants", response_model=GrantOut, status_code=201)
def create_grant(request: Request, body: GrantIn) -> GrantOut:
    """Request access to a tenant's data (staff, browser session)."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.REQUEST_GRANT, "grants:write"
        )
        row = grants.request_grant(
            services, principal, tenant_id=body.tenant_id, reason=body.reason, minutes=body.minutes
        )
        return _grant(services, row)


@router.get("/audit", response_model=list[AuditEventOut])
def audit(
    request: Request,
    action: Annotated[str, Query(max_length=64, description="Action prefix, e.g. grant.")] = "",
    tenant_id: Annotated[str, Query(max_length=64)] = "",
    before: Annotated[
        int | None,
        Query(ge=1, le=AUDIT_ID_MAX, description="Id of the last entry of the previous page"),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=AUDIT_PAGE_LIMIT)] = 100,
) -> list[AuditEventOut]:
    """The audit trail within the caller's view, newest first, one page at a time."""
    query = AuditQuery(action=action, tenant_id=tenant_id, before=before, limit=limit)
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        if principal.token_scopes is not None and "audit:read" not in principal.token_scopes:
            require(principal, Permission.VIEW_AUDIT_ALL, "audit:read")
        events = audit_events(services, principal, query)
        return [AuditEventOut.model_validate(e) for e in events]


@router.get("/tokens", response_model=list[TokenOut])
def list_tokens(request: Request) -> list[TokenOut]:
    """The caller's API tokens (browser session only)."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.MANAGE_API_TOKENS, "tokens:manage"
        )
        return [_token(t) for t in tokens.list_tokens(services, principal)]


@router.delete("/tokens/{token_id}", status_code=204)
def delete_token(request: Request, token_id: str) -> Response:
    """Revoke an API token."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.MANAGE_API_TOKENS, "tokens:manage"
        )
        tokens.revoke_token(services, principal, token_id)
    web_context(request).recent_tokens.forget(token_id)  # after the commit
    return Response(status_code=204)
