"""What identity services share: the transaction, settings, clock, audit trail, mail, keys."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from mamori.core.audit import AuditRecord, AuditTrail
from mamori.core.crypto import SecretBox
from mamori.core.mail.base import Notifier
from mamori.core.settings import Settings
from mamori.tenants.identity_repository import IdentityRepository


@dataclass(frozen=True)
class Services:
    """Dependencies of the identity services for one unit of work."""

    session: Session
    settings: Settings
    clock: Callable[[], datetime]
    audit_trail: AuditTrail
    notifier: Notifier
    box: SecretBox

    @property
    def repository(self) -> IdentityRepository:
        """Queries within this unit of work."""
        return IdentityRepository(self.session)

    def now(self) -> datetime:
        """The current time from the configured clock."""
        return self.clock()

    def audit(self, record: AuditRecord) -> None:
        """Record an administrative action in this transaction."""
        self.audit_trail.record(self.session, record)
