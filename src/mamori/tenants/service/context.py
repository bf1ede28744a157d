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

TOTP_KEY_PURPOSE = "mamori totp secrets"


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


def services_for(
    session: Session, settings: Settings, notifier: Notifier, audit_trail: AuditTrail
) -> Services:
    """Services for command-line work: real clock, the given audit trail, keys from settings."""
    from mamori.core.clock import utcnow
    from mamori.core.crypto import derive_key, load_secret_key

    return Services(
        session=session,
        settings=settings,
        clock=utcnow,
        audit_trail=audit_trail,
        notifier=notifier,
        box=SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE)),
    )
