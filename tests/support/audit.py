"""Reading and writing mamori's audit trail (kept in the ledger) from tests."""

from __future__ import annotations

from collections.abc import Iterable

from mamori.core.audit import AUDIT_PAGE_LIMIT, AuditEntry, AuditQuery, AuditRecord
from mamori.core.db import Database
from mamori.core.scope import TenantScope
from mamori.core.settings import Settings
from mamori.ledger.audit import LedgerAuditTrail
from mamori.ledger.store import LedgerWriter, log_signer


def trail(settings: Settings) -> LedgerAuditTrail:
    """The audit trail the portal writes, signing with the test install's key."""
    return LedgerAuditTrail(LedgerWriter(log_signer(settings)))


def record_all(database: Database, settings: Settings, records: Iterable[AuditRecord]) -> None:
    """Append `records`, oldest first, in one transaction."""
    writer = trail(settings)
    with database.session() as session:
        for record in records:
            writer.record(session, record)


def entries(
    database: Database,
    settings: Settings,
    tenant_id: str | None = None,
    action_prefix: str = "",
) -> list[AuditEntry]:
    """Every audit entry (of one tenant when given), newest first."""
    scope = TenantScope.only(tenant_id) if tenant_id else TenantScope.everything()
    found: list[AuditEntry] = []
    before = None
    with database.session() as session:
        while True:
            query = AuditQuery(action=action_prefix, before=before, limit=AUDIT_PAGE_LIMIT)
            page = trail(settings).read(session, scope, tenant_id is None, query)
            found += page
            if len(page) < AUDIT_PAGE_LIMIT:
                return found
            before = page[-1].id
