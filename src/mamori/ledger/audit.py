"""mamori's own audit trail, kept in the ledger as events of the audit class.

Each administrative action is appended in the caller's transaction, so the action and
its record commit together or not at all, and the record is tamper-evident like any
other event. Reading back scans the audit chunks in scope, newest first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import ColumnElement, or_
from sqlalchemy.orm import Session

from mamori.core.audit import AuditEntry, AuditQuery, AuditRecord, AuditTrail
from mamori.core.clock import utcnow
from mamori.core.scope import TenantScope
from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.models import LedgerChunk
from mamori.ledger.reading import decode
from mamori.ledger.records import Attributed, EventClass
from mamori.ledger.store import LedgerWriter
from mamori.ledger.stored import events_in_order, unindexed

AUDIT_SERVICE = "mamori"


def audit_event(record: AuditRecord, at: datetime) -> Attributed:
    """The ledger event that records `record`."""
    # Who and from where go in the subject only, so a disclosure can withhold them.
    original = {
        "action": record.action,
        "actor_id": record.actor_id,
        "at": at.isoformat(),
        "details": dict(record.details),
        "target_id": record.target_id,
        "target_type": record.target_type,
        "tenant_id": record.tenant_id,
    }
    event = IncomingEvent(
        original=original,
        occurred_at=at,
        severity=Severity.NOTICE,
        actor=record.actor_label,
        action=record.action,
        source_address=record.address,
        outcome=Outcome.SUCCESS,
        message=f"{record.action} {record.target_type} {record.target_id}",
        labels={"target_type": record.target_type, "actor_id": record.actor_id or ""},
    )
    # mamori itself is the service, so rules grouping by service see its own actions too.
    return Attributed(event, record.tenant_id, AUDIT_SERVICE, EventClass.AUDIT)


class LedgerAuditTrail(AuditTrail):
    """The audit trail in the ledger."""

    def __init__(self, writer: LedgerWriter, clock: Callable[[], datetime] = utcnow) -> None:
        self.writer = writer
        self.clock = clock

    def record(self, session: Session, record: AuditRecord) -> None:
        """Append `record` in `session`'s transaction."""
        self.writer.append(session.connection(), [audit_event(record, self.clock())])

    def read(
        self, session: Session, scope: TenantScope, include_provider: bool, query: AuditQuery
    ) -> Sequence[AuditEntry]:
        """Entries in scope matching `query`, newest first, at most `query.limit`."""
        found: list[AuditEntry] = []
        for entry in self._newest_first(session, scope, include_provider, query.before):
            if query.action and not entry.action.startswith(query.action):
                continue
            if query.tenant_id and entry.tenant_id != query.tenant_id:
                continue
            found.append(entry)
            if len(found) == query.limit:
                break
        return found

    def _newest_first(
        self, session: Session, scope: TenantScope, include_provider: bool, before: int | None
    ) -> Iterator[AuditEntry]:
        where: list[ColumnElement[bool]] = [
            LedgerChunk.event_class == EventClass.AUDIT.value,
            LedgerChunk.purged_at.is_(None),
        ]
        if scope.tenant_ids is not None:
            # Checked chunk by chunk: the audit chunks are found through the class index,
            # not through a tenant's (mostly log) chunks.
            tenant = unindexed(LedgerChunk.tenant_id)
            visible: ColumnElement[bool] = tenant.in_(sorted(scope.tenant_ids))
            if include_provider:
                visible = or_(visible, LedgerChunk.tenant_id.is_(None))
            where.append(visible)
        # Newest first by position, a few dozen chunks' blocks at a time.
        for event in events_in_order(session, 0, before, descending=True, where=where):
            yield _entry(event.seq, event.chunk_index, event.head, event.subject, event.content)


def _entry(seq: int, chunk_index: int, head: str, subject: str, content: str) -> AuditEntry:
    decoded = decode(chunk_index, head, subject, content)
    original = decoded.original
    return AuditEntry(
        id=seq,
        at=decoded.received_at,
        action=decoded.action,
        target_type=str(original.get("target_type", "")),
        target_id=str(original.get("target_id", "")),
        tenant_id=decoded.tenant_id,
        actor_label=decoded.actor,
        address=decoded.source_address,
        details=dict(original.get("details") or {}),
    )
