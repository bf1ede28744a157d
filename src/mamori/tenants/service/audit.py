"""Reading the audit trail within what a principal may see."""

from __future__ import annotations

from collections.abc import Sequence

from mamori.core.audit import AuditEntry, AuditQuery
from mamori.core.errors import ForbiddenError
from mamori.core.i18n import N_
from mamori.core.scope import Principal, TenantScope
from mamori.tenants.permissions import Permission
from mamori.tenants.service.context import Services


def audit_events(
    services: Services, principal: Principal, query: AuditQuery | None = None
) -> Sequence[AuditEntry]:
    """What `principal` may see of the trail: everything, or what touched their tenant."""
    query = query or AuditQuery()
    trail, session = services.audit_trail, services.session
    if principal.can(Permission.VIEW_AUDIT_ALL):
        return trail.read(session, TenantScope.everything(), True, query)
    if principal.can(Permission.VIEW_AUDIT_TENANT) and principal.tenant_id:
        return trail.read(session, TenantScope.only(principal.tenant_id), False, query)
    raise ForbiddenError(N_("you may not read the audit trail"))
