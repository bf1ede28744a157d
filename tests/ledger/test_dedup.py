"""De-duplication keys, pending in blocks or merged into the index (mamori.ledger.dedup)."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select

from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.ledger import dedup
from mamori.ledger.blocks import HEADER_SIZE, LEAF_SIZE, unpack
from mamori.ledger.dedup import KEY_SECTIONS
from mamori.ledger.models import LedgerBlock, LedgerDedup, LedgerState
from mamori.ledger.retention import RetentionPolicy, purge
from mamori.ledger.service import LedgerService
from mamori.ledger.store import Prepared
from mamori.ledger.stored import stored_event_count
from tests.ledger.conftest import sample_event
from tests.support.identities import FakeClock


def index_size(database: Database) -> int:
    with database.session() as session:
        return int(session.scalar(select(func.count()).select_from(LedgerDedup)) or 0)


def mark(database: Database) -> int:
    with database.session() as session:
        state = session.get(LedgerState, 1)
        assert state is not None
        return int(state.dedup_merged)


def test_key_sections_are_found_where_blocks_keep_them() -> None:
    # KEY_SECTIONS spells the block layout out in numbers (SQL counts from 1).
    assert f"from {HEADER_SIZE + 1} + {12 + LEAF_SIZE} * c.size for 16 * c.size" in KEY_SECTIONS


def test_pending_keys_catch_duplicates_then_merge_into_the_index(
    ledger: LedgerService, database: Database
) -> None:
    ledger.writer.pending.merge_at = 25
    first = ledger.append([sample_event(n) for n in range(10)])
    assert (first.stored, first.duplicates) == (10, 0)
    assert index_size(database) == 0 and mark(database) == 0  # pending, in the block only
    again = ledger.append([sample_event(n) for n in range(5, 20)])
    assert (again.stored, again.duplicates) == (10, 5)
    assert ledger.verify().ok
    # 20 pending keys and 10 more reach 25: all 30 go into the index, the mark moves on.
    third = ledger.append([sample_event(n) for n in range(15, 30)] + [sample_event(2)])
    assert (third.stored, third.duplicates) == (10, 6)
    assert index_size(database) == 30
    with database.session() as session:
        state = session.get(LedgerState, 1)
        assert state is not None and state.dedup_merged == state.tree_size == 3
    # Merged keys are found in the index, by this writer and a new one.
    assert ledger.append([sample_event(0), sample_event(29)]).duplicates == 2
    report = ledger.verify()
    assert report.ok, report.problems


def test_another_writer_sees_the_keys_this_one_left_pending(
    ledger: LedgerService, database: Database, settings: Settings, ledger_clock: FakeClock
) -> None:
    other = LedgerService(database, settings, clock=ledger_clock, signer=ledger.signer)
    ledger.append([sample_event(n) for n in range(8)])
    assert other.append([sample_event(n) for n in range(4, 12)]).stored == 4
    assert ledger.append([sample_event(n) for n in range(10, 14)]).stored == 2
    # The other writer merges; this one must then look in the index, not its old set.
    other.writer.pending.merge_at = 1
    assert other.append([sample_event(20)]).stored == 1
    assert index_size(database) == 15 and mark(database) > 0
    assert ledger.append([sample_event(n) for n in range(0, 22)]).stored == 7
    assert stored_event_count_of(database) == 22
    assert ledger.verify().ok


def stored_event_count_of(database: Database) -> int:
    with database.session() as session:
        return stored_event_count(session)


def test_appends_in_one_transaction_see_each_others_keys(
    ledger: LedgerService, database: Database
) -> None:
    with ledger.transaction() as connection:
        assert ledger.append_in(connection, [sample_event(n) for n in range(6)]).stored == 6
        second = ledger.append_in(connection, [sample_event(n) for n in range(3, 9)])
        assert (second.stored, second.duplicates) == (3, 3)
    assert stored_event_count_of(database) == 9
    assert ledger.verify().ok


@pytest.mark.parametrize("merge_at", [1, 1000], ids=["merging", "pending"])
def test_a_rolled_back_append_leaves_no_keys_behind(
    ledger: LedgerService, database: Database, merge_at: int
) -> None:
    ledger.writer.pending.merge_at = merge_at
    ledger.append([sample_event(n) for n in range(3)])
    with pytest.raises(RuntimeError, match="abandoned"), ledger.transaction() as connection:
        ledger.append_in(connection, [sample_event(n) for n in range(3, 8)])
        raise RuntimeError("abandoned")
    # Nothing of the abandoned batch was stored, so none of it is a duplicate now; what
    # was committed before still is.
    result = ledger.append([sample_event(n) for n in range(8)])
    assert (result.stored, result.duplicates) == (5, 3)
    assert stored_event_count_of(database) == 8
    report = ledger.verify()
    assert report.ok, report.problems


def test_a_purge_merges_the_pending_keys_before_erasing_them(
    ledger: LedgerService, database: Database, ledger_clock: FakeClock
) -> None:
    start = ledger_clock.now
    ledger.append([sample_event(n) for n in range(4)])
    ledger_clock.advance(days=40)
    ledger.append([sample_event(n) for n in range(4, 7)])
    assert index_size(database) == 0
    with database.session() as session:
        result = purge(session, ledger.writer, RetentionPolicy(1), start + timedelta(days=40))
    assert result.events == 4
    # The survivors' keys are in the index and the purged ones are not: an event
    # erased by retention may be sent again, one still kept may not.
    assert index_size(database) == 3
    again = ledger.append([sample_event(n) for n in range(7)])
    assert (again.stored, again.duplicates) == (4, 3)
    report = ledger.verify()
    assert report.ok, report.problems


def test_verify_counts_pending_keys_from_the_blocks(
    ledger: LedgerService, database: Database
) -> None:
    ledger.writer.pending.merge_at = 5
    ledger.append([sample_event(n) for n in range(6)])  # merged
    ledger.append([sample_event(n) for n in range(6, 9)])  # pending
    with database.session() as session:
        bodies = session.scalars(select(LedgerBlock.body).order_by(LedgerBlock.chunk_index))
        keys = [key for body in bodies for key in unpack(bytes(body)).dedups]
        state = session.get(LedgerState, 1)
        assert state is not None and state.dedup_merged == 1 and state.tree_size == 2
    assert len(keys) == 9 and index_size(database) == 6
    with database.engine.begin() as connection:
        connection.execute(delete(LedgerDedup).where(LedgerDedup.key == keys[0]))
    report = ledger.verify()
    assert not report.ok and report.problems[0].where == "dedup index"


def test_keys_looked_up_ahead_of_the_turn_are_trusted_only_while_the_mark_stands(
    ledger: LedgerService, database: Database, settings: Settings, ledger_clock: FakeClock
) -> None:
    ledger.writer.pending.merge_at = 1  # every append merges: keys go straight to the index
    ledger.append([sample_event(n) for n in range(10)])
    ahead = ledger.looked_up(Prepared.of([sample_event(n) for n in range(5, 15)]))
    assert ahead.ahead is not None and ahead.ahead.mark == mark(database)
    assert len(ahead.ahead.found) == 5  # events 5-9
    # Another writer stores 10-12 and merges them before this one's turn: what was looked
    # up ahead no longer tells which keys the index holds, so they are looked up again.
    other = LedgerService(database, settings, clock=ledger_clock, signer=ledger.signer)
    other.writer.pending.merge_at = 1
    assert other.append([sample_event(n) for n in range(10, 13)]).stored == 3
    assert mark(database) != ahead.ahead.mark
    result = ledger.append(ahead)
    assert (result.stored, result.duplicates) == (2, 8)
    assert stored_event_count_of(database) == 15
    report = ledger.verify()
    assert report.ok, report.problems


def test_a_key_found_ahead_but_gone_since_is_stored(
    ledger: LedgerService, database: Database
) -> None:
    ledger.writer.pending.merge_at = 1
    ledger.append([sample_event(n) for n in range(4)])
    ahead = ledger.looked_up(Prepared.of([sample_event(n) for n in range(6)]))
    assert ahead.ahead is not None and len(ahead.ahead.found) == 4
    gone = Prepared.of([sample_event(0)]).encoded[0].dedup
    with database.engine.begin() as connection:  # as a purge erases an expired key
        connection.execute(delete(LedgerDedup).where(LedgerDedup.key == gone))
    result = ledger.append(ahead)
    assert (result.stored, result.duplicates) == (3, 3)  # event 0 again, 4 and 5


def test_keys_not_found_ahead_are_not_looked_up_again(
    ledger: LedgerService, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.writer.pending.merge_at = 1
    ledger.append([sample_event(n) for n in range(4)])
    ahead = ledger.looked_up(Prepared.of([sample_event(n) for n in range(2, 8)]))
    looked: list[int] = []
    looking = dedup.indexed

    def counted(driver: dedup.Cursor, keys: Sequence[bytes]) -> set[bytes]:
        looked.append(len(keys))
        return looking(driver, keys)

    monkeypatch.setattr(dedup, "indexed", counted)
    result = ledger.append(ahead)
    assert (result.stored, result.duplicates) == (4, 2)
    assert looked == [2]  # only the two found ahead (events 2 and 3), to be sure of them


def test_a_writer_keeps_its_own_committed_keys_without_reading_its_blocks(
    ledger: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    reads: list[tuple[int, int]] = []
    reading = dedup.keys_of_chunks

    def counted(driver: dedup.Cursor, low: int, high: int) -> Iterator[bytes]:
        reads.append((low, high))
        return reading(driver, low, high)

    monkeypatch.setattr(dedup, "keys_of_chunks", counted)
    ledger.append([sample_event(n) for n in range(10)])
    assert ledger.append([sample_event(n) for n in range(5, 15)]).stored == 5
    assert ledger.append([sample_event(n) for n in range(12, 20)]).stored == 5
    assert reads == []


def test_a_rolled_back_append_does_not_stand_for_the_one_that_committed(
    ledger: LedgerService, database: Database, settings: Settings, ledger_clock: FakeClock
) -> None:
    ledger.append([sample_event(n) for n in range(3)])
    with pytest.raises(RuntimeError, match="abandoned"), ledger.transaction() as connection:
        ledger.append_in(connection, [sample_event(n) for n in range(10, 13)])
        raise RuntimeError("abandoned")
    # Another writer stores other events as chunk 1, where the abandoned one was: this
    # writer must read them from the block, not take its abandoned keys for them.
    other = LedgerService(database, settings, clock=ledger_clock, signer=ledger.signer)
    assert other.append([sample_event(n) for n in range(20, 23)]).stored == 3
    result = ledger.append([sample_event(n) for n in (10, 20, 21, 22)])
    assert (result.stored, result.duplicates) == (1, 3)
    assert stored_event_count_of(database) == 7
    report = ledger.verify()
    assert report.ok, report.problems
