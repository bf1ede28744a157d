"""The audit trail kept in the database, and reading it back within a scope."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime

from sqlalchemy.orm import Session

from mamori.core.audit import AuditQuery, AuditRecord, AuditTrail
from mamori.core.clock import utcnow
from mamori.core.errors import ForbiddenError
from mamori.core.i18n import N_
from mamori.core.scope import Principal, TenantScope
from mamori.tenants.identity_repository import IdentityRepository
from mamori.tenants.models import AuditEvent
from mamori.tenants.permissions import Permission


class DatabaseAuditTrail(AuditTrail):
    """Writes audit records to the audit_events table."""

    def __init__(self, clock: Callable[[], datetime] = utcnow) -> None:
        self.clock = clock

    def record(self, session: Session, record: AuditRecord) -> None:
        """Store `record` in the caller's transaction."""
        session.add(
            AuditEvent(
                at=self.clock(),
                actor_id=record.actor_id,
                actor_label=record.actor_label[:254],
                action=record.action,
                target_type=record.target_type,
                target_id=record.target_id[:64],
                tenant_id=record.tenant_id,
                address=record.address[:64],
                details=dict(record.details),
            )
        )


def audit_events(
    session: Session, principal: Principal, query: AuditQuery | None = None
) -> Sequence[AuditEvent]:
    """What `principal` may see of the trail: everything, or what touched their tenant."""
    query = query or AuditQuery()
    repository = IdentityRepository(session)
    if principal.can(Permission.VIEW_AUDIT_ALL):
        return repository.audit_events(
            TenantScope.everything(), include_provider_events=True, query=query
        )
    if principal.can(Permission.VIEW_AUDIT_TENANT) and principal.tenant_id:
        return repository.audit_events(
            TenantScope.only(principal.tenant_id), include_provider_events=False, query=query
        )
    raise ForbiddenError(N_("you may not read the audit trail"))
