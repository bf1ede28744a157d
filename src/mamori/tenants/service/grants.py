"""Staff access grants: requested with a reason, approved by a second person (and the
tenant when it asks to be), ending by themselves; every read under a grant is recorded.

States: pending → (awaiting_tenant →) active → ended, or pending → denied. An active
grant whose `expires_at` has passed is expired the moment it passes: access checks
compare times, so no job has to run for access to stop.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from mamori.core.audit import AuditRecord
from mamori.core.clock import as_utc
from mamori.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.core.scope import Principal, TenantScope
from mamori.tenants.models import AccessGrant, GrantAccess
from mamori.tenants.permissions import Permission
from mamori.tenants.service.context import Services
from mamori.tenants.service.scopes import metadata_scope

PENDING, AWAITING_TENANT, ACTIVE, DENIED, ENDED, EXPIRED = (
    "pending",
    "awaiting_tenant",
    "active",
    "denied",
    "ended",
    "expired",
)
GRANT_SCOPES = {"tenant_data": N_("Read the tenant's contacts, users and API tokens")}
STATUS_LABELS = {
    PENDING: N_("Waiting for a second approver"),
    AWAITING_TENANT: N_("Waiting for the tenant's approval"),
    ACTIVE: N_("Active"),
    DENIED: N_("Denied"),
    ENDED: N_("Ended"),
    EXPIRED: N_("Expired"),
}
MIN_REASON = 10


@dataclass(frozen=True)
class Transparency:
    """What a tenant sees of provider access to its data."""

    grants: Sequence[AccessGrant]
    accesses: Sequence[GrantAccess]


def effective_status(services: Services, grant: AccessGrant) -> str:
    """The grant's status at this moment (active grants past their end are expired)."""
    if grant.status == ACTIVE and grant.expires_at and as_utc(grant.expires_at) <= services.now():
        return EXPIRED
    return grant.status


def request_grant(
    services: Services,
    principal: Principal,
    *,
    tenant_id: str,
    reason: str,
    minutes: int,
    scope: str = "tenant_data",
) -> AccessGrant:
    """Ask for time-boxed access to one tenant's data."""
    if not principal.is_staff or not principal.can(Permission.REQUEST_GRANT):
        raise ForbiddenError(N_("you may not request access to customer data"))
    if services.repository.tenant(tenant_id, metadata_scope(principal)) is None:
        raise NotFoundError(N_("no such tenant"))
    if len(reason.strip()) < MIN_REASON:
        raise InputError(
            N_("explain the reason in at least %(min)s characters"),
            field="reason",
            params={"min": MIN_REASON},
        )
    if scope not in GRANT_SCOPES:
        raise InputError(N_("unknown access scope"), field="scope")
    if not 5 <= minutes <= services.settings.grant_max_minutes:
        raise InputError(
            N_("the duration must be between 5 and %(max)s minutes"),
            field="minutes",
            params={"max": services.settings.grant_max_minutes},
        )
    grant = AccessGrant(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        requester_id=principal.user_id,
        reason=reason.strip()[:1000],
        scope=scope,
        duration_minutes=minutes,
        status=PENDING,
        requested_at=services.now(),
    )
    services.repository.add(grant)
    services.audit(
        AuditRecord.by(
            principal, "grant.request", "access_grant", grant.id, tenant_id, minutes=minutes
        )
    )
    return grant


def _activate(services: Services, grant: AccessGrant) -> None:
    grant.status = ACTIVE
    grant.starts_at = services.now()
    grant.expires_at = services.now() + timedelta(minutes=grant.duration_minutes)


def _visible(services: Services, principal: Principal, grant_id: str) -> AccessGrant:
    scope = metadata_scope(principal)
    grant = services.repository.grant(grant_id, scope)
    if grant is None:
        raise NotFoundError(N_("no such access grant"))
    return grant


def approve(services: Services, principal: Principal, grant_id: str) -> AccessGrant:
    """The provider's second approval (never the requester's own)."""
    grant = _visible(services, principal, grant_id)
    if not principal.is_staff or not principal.can(Permission.APPROVE_GRANT):
        raise ForbiddenError(N_("you may not approve access grants"))
    if grant.requester_id == principal.user_id:
        raise ForbiddenError(N_("a grant must be approved by someone other than its requester"))
    if grant.status != PENDING:
        raise ConflictError(N_("only a pending grant can be approved"))
    grant.approver_id = principal.user_id
    grant.approved_at = services.now()
    tenant = services.repository.tenant(grant.tenant_id, TenantScope.everything())
    if tenant is not None and tenant.require_tenant_approval and grant.tenant_approved_at is None:
        grant.status = AWAITING_TENANT
    else:
        _activate(services, grant)
    services.audit(
        AuditRecord.by(principal, "grant.approve", "access_grant", grant.id, grant.tenant_id)
    )
    return grant


def approve_for_tenant(services: Services, principal: Principal, grant_id: str) -> AccessGrant:
    """The tenant administrator's approval, for tenants that require it."""
    grant = _visible(services, principal, grant_id)
    if principal.tenant_id != grant.tenant_id or not principal.can(
        Permission.APPROVE_GRANT_FOR_TENANT
    ):
        raise ForbiddenError(N_("you may not approve access to this tenant"))
    if grant.status != AWAITING_TENANT:
        raise ConflictError(N_("this grant is not waiting for your approval"))
    grant.tenant_approver_id = principal.user_id
    grant.tenant_approved_at = services.now()
    _activate(services, grant)
    services.audit(
        AuditRecord.by(principal, "grant.tenant_approve", "access_grant", grant.id, grant.tenant_id)
    )
    return grant


def deny(services: Services, principal: Principal, grant_id: str) -> AccessGrant:
    """Refuse a grant that is not active yet (a provider approver or the tenant)."""
    grant = _visible(services, principal, grant_id)
    provider_side = principal.is_staff and principal.can(Permission.APPROVE_GRANT)
    tenant_side = principal.tenant_id == grant.tenant_id and principal.can(
        Permission.APPROVE_GRANT_FOR_TENANT
    )
    if not (provider_side or tenant_side):
        raise ForbiddenError(N_("you may not decide on this grant"))
    if grant.status not in {PENDING, AWAITING_TENANT}:
        raise ConflictError(N_("only a grant that is not yet active can be denied"))
    grant.status = DENIED
    grant.ended_at = services.now()
    grant.ended_by = principal.user_id
    services.audit(
        AuditRecord.by(principal, "grant.deny", "access_grant", grant.id, grant.tenant_id)
    )
    return grant


def end(services: Services, principal: Principal, grant_id: str) -> AccessGrant:
    """Stop an active grant early (its requester, a provider approver or the tenant)."""
    grant = _visible(services, principal, grant_id)
    allowed = (
        grant.requester_id == principal.user_id
        or (principal.is_staff and principal.can(Permission.APPROVE_GRANT))
        or (
            principal.tenant_id == grant.tenant_id
            and principal.can(Permission.APPROVE_GRANT_FOR_TENANT)
        )
    )
    if not allowed:
        raise ForbiddenError(N_("you may not end this grant"))
    if effective_status(services, grant) != ACTIVE:
        raise ConflictError(N_("only an active grant can be ended"))
    grant.status = ENDED
    grant.ended_at = services.now()
    grant.ended_by = principal.user_id
    services.audit(
        AuditRecord.by(principal, "grant.end", "access_grant", grant.id, grant.tenant_id)
    )
    return grant


def grants_for(services: Services, principal: Principal) -> Sequence[AccessGrant]:
    """Grants the principal may see: all (approvers, auditors), their own, or their tenant's."""
    if principal.is_staff:
        mine = None if principal.can(Permission.VIEW_ALL_GRANTS) else principal.user_id
        return services.repository.grants(TenantScope.everything(), mine)
    return services.repository.grants(TenantScope.only(principal.tenant_id or ""))


def record_access(services: Services, principal: Principal, tenant_id: str, resource: str) -> None:
    """Note that staff read `resource` of `tenant_id` under their active grant."""
    if not principal.is_staff:
        return
    grants = services.repository.active_grants(principal.user_id, services.now())
    grant = next((g for g in grants if g.tenant_id == tenant_id), None)
    if grant is None:
        raise NotFoundError(N_("no such tenant"))
    services.repository.add(
        GrantAccess(
            grant_id=grant.id,
            tenant_id=tenant_id,
            user_id=principal.user_id,
            at=services.now(),
            resource=resource[:255],
        )
    )


def transparency(services: Services, principal: Principal) -> Transparency:
    """Every provider access to the principal's own tenant."""
    if principal.is_staff or not principal.can(Permission.VIEW_TRANSPARENCY):
        raise ForbiddenError(N_("this page is for customers"))
    scope = TenantScope.only(principal.tenant_id or "")
    return Transparency(
        services.repository.grants(scope), services.repository.grant_accesses(scope)
    )
