"""Ledger fixtures: a ledger over the test database, and events to put in it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.records import Attributed, EventClass
from mamori.ledger.service import LedgerService
from tests.support.identities import FakeClock
from tests.web.conftest import people, portal  # noqa: F401  (the portal fixtures, shared)

TENANTS = ("midori-city-boe", "sakura-town-boe", None)


@pytest.fixture
def ledger_clock() -> FakeClock:
    """The ledger's clock, starting on a fixed day."""
    return FakeClock(datetime(2026, 4, 1, 9, 0, tzinfo=UTC))


@pytest.fixture
def ledger(database: Database, settings: Settings, ledger_clock: FakeClock) -> LedgerService:
    """The ledger over the test database."""
    return LedgerService(database, settings, clock=ledger_clock)


def sample_event(number: int, tenant: str | None = "midori-city-boe") -> Attributed:
    """A distinct, realistic log event."""
    at = datetime(2026, 4, 1, 8, 0, tzinfo=UTC) + timedelta(seconds=number)
    failed = number % 7 == 0
    return Attributed(
        IncomingEvent(
            original={"ts": at.isoformat(), "msg": f"sign-in {number}", "user": f"u{number % 13}"},
            occurred_at=at,
            severity=Severity.WARNING if failed else Severity.INFO,
            actor=f"u{number % 13}@example.jp",
            action="login",
            source_address=f"203.0.113.{number % 250}",
            outcome=Outcome.FAILURE if failed else Outcome.SUCCESS,
            message=f"sign-in {number}",
            labels={"host": f"web-{number % 3}"},
        ),
        tenant_id=tenant,
        service_id="manabi-portal",
        event_class=EventClass.LOG,
    )


@pytest.fixture
def fill(ledger: LedgerService, ledger_clock: FakeClock) -> Callable[[int, int], None]:
    """Append `batches` batches of `size` events spread over the sample tenants."""

    def run(batches: int, size: int) -> None:
        number = 0
        for _ in range(batches):
            items = []
            for _ in range(size):
                items.append(sample_event(number, TENANTS[number % len(TENANTS)]))
                number += 1
            ledger.append(items)
            ledger_clock.advance(minutes=30)

    return run
