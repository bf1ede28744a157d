"""The audit trail interface: every administrative action is recorded through it.

The implementation is the ledger (mamori.ledger.audit): each record is an event of the
audit class in its tenant's chunk of the tamper-evident log.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mamori.core.scope import Principal, TenantScope


@dataclass(frozen=True)
class AuditRecord:
    """One administrative action."""

    action: str  # e.g. "user.invite", "grant.approve", "auth.lockout"
    target_type: str
    target_id: str
    tenant_id: str | None
    actor_id: str | None
    actor_label: str
    address: str = ""
    details: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def by(
        cls,
        principal: Principal | None,
        action: str,
        target_type: str,
        target_id: str,
        tenant_id: str | None,
        **details: Any,
    ) -> AuditRecord:
        """A record of `principal` doing `action` (None for the system itself)."""
        return cls(
            action=action,
            target_type=target_type,
            target_id=target_id,
            tenant_id=tenant_id,
            actor_id=principal.user_id if principal else None,
            actor_label=principal.label if principal else "system",
            address=principal.address if principal else "",
            details=details,
        )


AUDIT_PAGE_LIMIT = 500
AUDIT_ID_MAX = 2**31 - 1  # the id column is a 32-bit integer on PostgreSQL


@dataclass(frozen=True)
class AuditQuery:
    """Which part of the trail to read: newest first, one page, optionally filtered."""

    action: str = ""  # prefix, e.g. "grant." for every grant action
    tenant_id: str = ""  # only actions that touched this tenant
    before: int | None = None  # the id of the last entry of the previous page
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= AUDIT_PAGE_LIMIT:
            raise ValueError(f"limit must be between 1 and {AUDIT_PAGE_LIMIT}")


@dataclass(frozen=True)
class AuditEntry:
    """An audit record as read back: `id` orders entries (newest has the largest)."""

    id: int
    at: datetime
    action: str
    target_type: str
    target_id: str
    tenant_id: str | None
    actor_label: str
    address: str
    details: Mapping[str, Any]


class AuditTrail(ABC):
    """Where audit records go (written in the caller's transaction) and are read back."""

    @abstractmethod
    def record(self, session: Session, record: AuditRecord) -> None:
        """Store `record` as part of `session`'s transaction."""

    @abstractmethod
    def read(
        self, session: Session, scope: TenantScope, include_provider: bool, query: AuditQuery
    ) -> Sequence[AuditEntry]:
        """Entries in `scope` (and the provider's own, if asked) matching `query`, newest first."""
