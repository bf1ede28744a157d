"""Migration 0007 moves stored events into blocks and back without changing a byte."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import inspect, text

from mamori.core import migrations
from mamori.core.db import Database
from mamori.core.scope import TenantScope
from mamori.core.settings import Settings
from mamori.ledger.reading import Entry, Selection, entries
from mamori.ledger.service import LedgerService
from tests.ledger.conftest import sample_event
from tests.support.identities import FakeClock


def _entries(database: Database) -> list[Entry]:
    with database.session() as session:
        return list(
            entries(session, Selection(scope=TenantScope.everything(), include_provider=True))
        )


def test_events_move_into_blocks_and_back_unchanged(
    ledger: LedgerService,
    database: Database,
    migrated_url: str,
    settings: Settings,
    ledger_clock: FakeClock,
    fill: Callable[[int, int], None],
) -> None:
    fill(3, 20)
    before = _entries(database)
    assert len(before) == 60 and ledger.verify().ok
    database.dispose()

    migrations.downgrade(migrated_url, "0006")
    old = Database(migrated_url)
    try:
        tables = set(inspect(old.engine).get_table_names())
        assert "ledger_events" in tables and "ledger_blocks" not in tables
        with old.engine.connect() as connection:
            stored = connection.execute(text("SELECT count(*) FROM ledger_events")).scalar()
        assert stored == 60
    finally:
        old.dispose()

    migrations.upgrade(migrated_url)
    again = Database(migrated_url)
    try:
        moved = LedgerService(again, settings, clock=ledger_clock)
        report = moved.verify()
        assert report.ok, report.problems
        assert report.events == 60
        assert _entries(again) == before
        # De-duplication still recognises what was stored before the move.
        assert moved.append([sample_event(0, "midori-city-boe")]).duplicates == 1
    finally:
        again.dispose()
