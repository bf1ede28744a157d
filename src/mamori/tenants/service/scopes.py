"""Which tenants a principal's queries may touch."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.orm import Session

from mamori.core.scope import Principal, TenantScope
from mamori.tenants.identity_repository import IdentityRepository


def metadata_scope(principal: Principal) -> TenantScope:
    """Tenants whose names, subscriptions and settings the principal may read.

    Staff need these to run the service; a customer sees only its own tenant.
    """
    if principal.is_staff:
        return TenantScope.everything()
    return TenantScope.only(principal.tenant_id or "")


def customer_data_scope(session: Session, principal: Principal, now: datetime) -> TenantScope:
    """Tenants whose customer data (contacts, users, tokens) the principal may read.

    Staff hold no standing access: only tenants with a grant active at `now`.
    """
    if not principal.is_staff:
        return TenantScope.only(principal.tenant_id or "")
    grants = IdentityRepository(session).active_grants(principal.user_id, now)
    return TenantScope.only(*(grant.tenant_id for grant in grants))
