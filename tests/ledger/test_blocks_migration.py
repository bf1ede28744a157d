"""Migration 0007 moves stored events into blocks and back without changing a byte;
0008 rewrites their de-duplication keys with the hour and back."""

from __future__ import annotations

import hashlib
from collections.abc import Callable

from sqlalchemy import inspect, text

from mamori.core import migrations
from mamori.core.db import Database
from mamori.core.scope import TenantScope
from mamori.core.settings import Settings
from mamori.ledger.blocks import unpack
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


def _stored_keys(url: str) -> tuple[list[bytes], list[bytes], list[bytes]]:
    """(keys in the blocks, keys in the index, old-style keys of the stored contents)."""
    old = Database(url)
    try:
        with old.engine.connect() as connection:
            rows = connection.execute(
                text(
                    "SELECT c.tenant_id, c.event_class, c.size, b.body FROM ledger_chunks c "
                    'JOIN ledger_blocks b ON b.chunk_index = c."index" ORDER BY c."index"'
                )
            ).all()
            indexed = [
                bytes(k) for (k,) in connection.execute(text("SELECT key FROM ledger_dedup"))
            ]
    finally:
        old.dispose()
    in_blocks: list[bytes] = []
    former: list[bytes] = []
    for tenant, event_class, size, body in rows:
        block = unpack(bytes(body), size)
        in_blocks += block.dedups
        scope = f"{tenant or '-'}|{event_class}|".encode()
        former += [hashlib.blake2b(scope + c, digest_size=16).digest() for c in block.contents]
    return in_blocks, indexed, former


def test_dedup_keys_gain_their_hour_and_lose_it_on_downgrade(
    ledger: LedgerService,
    database: Database,
    migrated_url: str,
    settings: Settings,
    ledger_clock: FakeClock,
    fill: Callable[[int, int], None],
) -> None:
    fill(2, 15)
    before = _entries(database)
    database.dispose()
    # At 0008 every key is in the index (0009's downgrade merges the pending ones).
    migrations.downgrade(migrated_url, "0008")
    hourly, indexed, former = _stored_keys(migrated_url)
    assert sorted(indexed) == sorted(hourly) and len(hourly) == 30
    assert hourly != former

    migrations.downgrade(migrated_url, "0007")
    downgraded, indexed, former = _stored_keys(migrated_url)
    assert downgraded == former and sorted(indexed) == sorted(former)

    migrations.upgrade(migrated_url)
    upgraded, indexed, _former = _stored_keys(migrated_url)
    assert upgraded == hourly and sorted(indexed) == sorted(hourly)
    again = Database(migrated_url)
    try:
        moved = LedgerService(again, settings, clock=ledger_clock)
        report = moved.verify()
        assert report.ok, report.problems
        assert _entries(again) == before
        assert moved.append([sample_event(0, "midori-city-boe")]).duplicates == 1
    finally:
        again.dispose()
