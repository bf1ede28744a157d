"""Identity fixtures: a controllable clock, services bound to a test database, users."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mamori.core.crypto import SecretBox
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.scope import Principal
from mamori.core.settings import Settings
from mamori.ledger.audit import LedgerAuditTrail
from mamori.ledger.store import LedgerWriter, log_signer
from mamori.tenants.models import User
from mamori.tenants.permissions import Role
from mamori.tenants.service.accounts import create_user
from mamori.tenants.service.auth import principal_for
from mamori.tenants.service.context import Services

PASSWORD = "correct horse battery staple"


@dataclass
class FakeClock:
    """A clock that moves only when told to."""

    now: datetime = field(default_factory=lambda: datetime(2026, 11, 27, 1, 0, tzinfo=UTC))

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        """Move forward by a timedelta given as keywords (minutes=5, hours=1…)."""
        self.now += timedelta(**delta)


@dataclass
class Identities:
    """Opens units of work on a test database with a fake clock and an in-memory outbox."""

    database: Database
    settings: Settings
    clock: FakeClock
    outbox: MemoryNotifier
    box: SecretBox = field(default_factory=lambda: SecretBox(b"k" * 32))

    @contextmanager
    def work(self) -> Iterator[Services]:
        """Services in one committed transaction."""
        with self.database.session() as session:
            yield Services(
                session=session,
                settings=self.settings,
                clock=self.clock,
                audit_trail=LedgerAuditTrail(
                    LedgerWriter(log_signer(self.settings), clock=self.clock), self.clock
                ),
                notifier=self.outbox,
                box=self.box,
            )

    def user(self, email: str, role: Role, tenant_id: str | None = None) -> Principal:
        """Create a user with the test password and return its principal."""
        with self.work() as services:
            user = create_user(
                services,
                email=email,
                display_name=email.split("@")[0],
                role=role,
                tenant_id=tenant_id,
                password=PASSWORD,
            )
            return principal_for(user, address="127.0.0.1")

    def load(self, email: str) -> User:
        """The stored user (detached, for assertions)."""
        with self.work() as services:
            user = services.repository.user_by_email(email)
            assert user is not None
            services.session.expunge(user)
            return user
