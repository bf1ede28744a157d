"""The worker: due jobs run, a failing job is retried and never stops the others."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from mamori.commitments.registry import CheckRegistry
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.ledger.models import LedgerChunk, LedgerCursor
from mamori.ledger.service import LedgerService
from mamori.ledger.tasks import Job, Worker, ledger_jobs
from tests.support.identities import FakeClock


def test_jobs_run_when_due_and_failures_are_retried() -> None:
    clock = FakeClock(datetime(2026, 11, 27, tzinfo=UTC))
    ran: list[str] = []

    def broken(now: datetime) -> None:
        ran.append("broken")
        raise RuntimeError("the disk is full")

    worker = Worker(
        [
            Job("broken", timedelta(minutes=1), broken),
            Job("hourly", timedelta(hours=1), lambda now: ran.append("hourly")),
        ],
        clock=clock,
    )
    assert worker.tick() == ["broken", "hourly"]
    assert worker.tick() == []
    clock.advance(minutes=2)
    assert worker.tick() == ["broken"]
    clock.advance(hours=1)
    assert worker.tick() == ["broken", "hourly"]
    assert ran == ["broken", "hourly", "broken", "broken", "hourly"]
    assert worker.failures == {"broken": 3}


def test_the_ledger_jobs_run_over_a_real_database(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> None:
    ledger = LedgerService(demo_database, settings)
    worker = Worker(ledger_jobs(demo_database, settings, registry, MemoryNotifier(), ledger))
    assert worker.tick() == ["detection", "retention", "packages", "evaluation"]
    assert worker.failures == {}
    with demo_database.session() as session:
        assert session.get(LedgerCursor, "detection") is not None
        classes = set(session.scalars(select(LedgerChunk.event_class)).all())
    assert {"evidence", "ledger"} <= classes  # the evaluation's evidence, the purge's record
    assert ledger.verify().ok
