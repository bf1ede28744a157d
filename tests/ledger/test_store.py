"""Appending: positions, chunks per tenant, de-duplication, the signed head and checkpoints."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import select

from mamori.core.db import Database
from mamori.ledger.models import LedgerCheckpoint, LedgerChunk, LedgerState
from mamori.ledger.notes import open_checkpoint
from mamori.ledger.service import LedgerService
from mamori.ledger.stored import stored_event_count
from tests.ledger.conftest import sample_event


def test_append_groups_by_tenant_and_verifies(
    ledger: LedgerService, database: Database, fill: Callable[[int, int], None]
) -> None:
    fill(4, 30)
    with database.session() as session:
        chunks = session.scalars(select(LedgerChunk).order_by(LedgerChunk.index)).all()
        assert len(chunks) == 12  # three tenants (one of them the provider) per batch
        assert {c.tenant_id for c in chunks} == {"midori-city-boe", "sakura-town-boe", None}
        assert sum(c.size for c in chunks) == 120
        state = session.get(LedgerState, 1)
        assert state is not None and state.tree_size == 12 and state.next_seq == 120
        head = open_checkpoint(state.note, ledger.vkey)
        assert head.size == 12
        # The clock moved 30 minutes per batch and checkpoints are hourly: 1st and 3rd.
        sizes = session.scalars(select(LedgerCheckpoint.size)).all()
        assert sorted(sizes) == [3, 9]
    report = ledger.verify()
    assert report.ok, report.problems
    assert (report.events, report.chunks, report.checkpoints) == (120, 12, 2)


def test_duplicates_from_retries_are_stored_once(ledger: LedgerService, database: Database) -> None:
    batch = [sample_event(n) for n in range(10)]
    first = ledger.append(batch + batch[:3])
    assert (first.stored, first.duplicates) == (10, 3)
    again = ledger.append([*batch[5:], sample_event(10)])
    assert (again.stored, again.duplicates) == (1, 5)
    with database.session() as session:
        assert stored_event_count(session) == 11
    assert ledger.verify().ok


def test_an_empty_ledger_verifies(ledger: LedgerService) -> None:
    report = ledger.verify()
    assert report.ok and report.events == 0 and report.tree_size == 0
