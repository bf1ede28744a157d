"""The Bloom filter over the de-duplication index (mamori.ledger.key_filter).

The bits themselves: C and the Python reference agree, an added key is always found, and
few others are. Then the filter in a ledger, on both databases: it never hides a key the
index holds, whether the keys came from this writer's merges, another writer's, a merge
that was rolled back, or a filter too small for the index.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.ledger import key_filter
from mamori.ledger.key_filter import KeyFilter, py_filter_add, py_filter_maybe
from mamori.ledger.models import LedgerDedup
from mamori.ledger.service import LedgerService
from mamori.ledger.store import Prepared, _Driver
from tests.ledger.conftest import sample_event
from tests.support.identities import FakeClock
from tests.support.simd import native

keys_strategy = st.lists(st.binary(min_size=16, max_size=16), max_size=200)
sizes = st.sampled_from([1, 8, 64, 1024])
both_implementations = pytest.mark.parametrize(
    ("add", "maybe"),
    [(native.filter_add, native.filter_maybe), (py_filter_add, py_filter_maybe)],
    ids=["native", "python"],
)


@settings(max_examples=60, deadline=None)
@given(size=sizes, added=keys_strategy, asked=keys_strategy)
def test_native_bits_are_the_reference_bits(
    size: int, added: list[bytes], asked: list[bytes]
) -> None:
    native_bits, reference_bits = bytearray(size), bytearray(size)
    assert native.filter_add(native_bits, added) == py_filter_add(reference_bits, added)
    assert native_bits == reference_bits
    both = asked + added
    assert native.filter_maybe(native_bits, both) == py_filter_maybe(reference_bits, both)
    assert set(added) <= set(native.filter_maybe(native_bits, added))


@both_implementations
def test_a_full_filter_finds_every_key_and_few_others(
    add: Callable[[bytearray, list[bytes]], int],
    maybe: Callable[[bytearray, list[bytes]], list[bytes]],
) -> None:
    rng = random.Random(27017)  # noqa: S311 - reproducible keys, not secrets
    bits = bytearray(1 << 12)  # 32,768 bits: 3,276 keys at the design's 10 bits a key
    added = [rng.randbytes(16) for _ in range(len(bits) * 8 // key_filter.BITS_PER_KEY)]
    # A key whose bits a previous key had all set already is not counted: a few are not.
    assert len(added) - 20 <= add(bits, added) <= len(added)
    assert add(bits, added[:10]) == 0  # every bit already set
    assert maybe(bits, added) == added
    others = [rng.randbytes(16) for _ in range(20_000)]
    rate = len(maybe(bits, others)) / len(others)
    assert rate < 0.02, f"false positives {rate:.3%}, expected about 1%"


@both_implementations
def test_bad_keys_and_sizes_are_refused(
    add: Callable[[bytearray, list[bytes]], int],
    maybe: Callable[[bytearray, list[bytes]], list[bytes]],
) -> None:
    with pytest.raises(ValueError, match="16 bytes"):
        add(bytearray(8), [bytes(16), bytes(15)])
    with pytest.raises(ValueError, match="16 bytes"):
        maybe(bytearray(8), [bytes(17)])
    with pytest.raises(ValueError, match="power of two"):
        add(bytearray(12), [bytes(16)])
    with pytest.raises(ValueError, match="power of two"):
        maybe(bytearray(0), [bytes(16)])


# --- in a ledger -------------------------------------------------------------------


class Spy:
    """Counts what a writer's filter sends on to SQL and the blocks it reads."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, ledger: LedgerService) -> None:
        self.asked: list[int] = []
        self.to_sql: list[int] = []
        self.block_reads: list[tuple[int, int]] = []
        filter_ = ledger.writer.key_filter
        looking = filter_.to_look_up
        reading = filter_._chunk_keys

        def to_look_up(driver: Any, mark: int, keys: Any, **options: Any) -> list[bytes]:
            found = looking(driver, mark, keys, **options)
            self.asked.append(len(keys))
            self.to_sql.append(len(found))
            return found

        def chunk_keys(driver: Any, low: int, high: int) -> Iterable[bytes]:
            self.block_reads.append((low, high))
            return reading(driver, low, high)

        monkeypatch.setattr(filter_, "to_look_up", to_look_up)
        monkeypatch.setattr(filter_, "_chunk_keys", chunk_keys)


def found_ahead(ledger: LedgerService, numbers: Iterable[int]) -> int:
    """How many of the events `numbers` a look-up ahead of the turn finds in the index."""
    prepared = ledger.looked_up(Prepared.of([sample_event(n) for n in numbers]))
    assert prepared.ahead is not None
    return len(prepared.ahead.found)


def other_writer(
    ledger: LedgerService, database: Database, settings: Settings, clock: FakeClock
) -> LedgerService:
    """A second writer (as another process would be), merging at every append."""
    other = LedgerService(database, settings, clock=clock, signer=ledger.signer)
    other.writer.pending.merge_at = 1
    return other


def test_look_ups_skip_sql_for_keys_the_filter_does_not_hold(
    ledger: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.writer.pending.merge_at = 1  # every append merges
    ledger.append([sample_event(n) for n in range(200)])
    spy = Spy(monkeypatch, ledger)
    assert found_ahead(ledger, range(100, 300)) == 100
    # The keys at or below the index's highest were screened: the 100 stored ones went on
    # to SQL, of the new ones only the odd false positive.
    assert spy.asked and spy.asked[0] > 150
    assert 100 <= spy.to_sql[0] <= 105
    result = ledger.append(Prepared.of([sample_event(n) for n in range(100, 300)]))
    assert (result.stored, result.duplicates) == (100, 100)


def test_another_writers_merge_is_read_from_its_blocks(
    ledger: LedgerService,
    database: Database,
    settings: Settings,
    ledger_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger.writer.pending.merge_at = 1
    ledger.append([sample_event(n) for n in range(50)])
    assert found_ahead(ledger, range(50)) == 50  # the filter is built
    spy = Spy(monkeypatch, ledger)
    other = other_writer(ledger, database, settings, ledger_clock)
    assert other.append([sample_event(n) for n in range(50, 120)]).stored == 70
    assert found_ahead(ledger, range(40, 130)) == 80  # 40-119, the other's 70 among them
    assert spy.block_reads == [(1, 2)]  # the other's chunk, before asking
    assert ledger.append([sample_event(n) for n in range(40, 130)]).stored == 10
    assert ledger.verify().ok


def test_this_writers_committed_merge_needs_no_block_read(
    ledger: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.writer.pending.merge_at = 1
    ledger.append([sample_event(n) for n in range(50)])
    assert found_ahead(ledger, range(10)) == 10
    spy = Spy(monkeypatch, ledger)
    ledger.append([sample_event(n) for n in range(50, 100)])  # merged, and committed
    assert found_ahead(ledger, range(40, 110)) == 60
    assert spy.block_reads == []


def test_a_rolled_back_merge_does_not_stand_for_the_one_that_committed(
    ledger: LedgerService,
    database: Database,
    settings: Settings,
    ledger_clock: FakeClock,
) -> None:
    ledger.writer.pending.merge_at = 1
    ledger.append([sample_event(n) for n in range(5)])
    assert found_ahead(ledger, range(5)) == 5  # the filter is built at mark 1
    # This writer merges chunk 1 and rolls back; the other then stores other events as
    # chunk 1 and merges them, moving the mark to 2 as the rolled-back merge would have.
    with pytest.raises(RuntimeError, match="abandoned"), ledger.transaction() as connection:
        ledger.append_in(connection, [sample_event(n) for n in range(10, 15)])
        raise RuntimeError("abandoned")
    other = other_writer(ledger, database, settings, ledger_clock)
    assert other.append([sample_event(n) for n in range(20, 25)]).stored == 5
    assert found_ahead(ledger, range(20, 25)) == 5
    assert ledger.append([sample_event(n) for n in range(10, 25)]).stored == 10
    report = ledger.verify()
    assert report.ok, report.problems


def test_a_filter_too_small_for_the_index_still_finds_every_key(
    ledger: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 64 bytes: room for 51 keys, built from the highest 25 of the index, 7 at a time.
    monkeypatch.setattr(key_filter, "BUILD_SLICE", 7)
    small = KeyFilter(ledger.writer.key_filter._chunk_keys, size=64)
    monkeypatch.setattr(ledger.writer, "key_filter", small)
    monkeypatch.setattr(ledger.writer.pending, "key_filter", small)
    ledger.writer.pending.merge_at = 1
    for start in range(0, 300, 30):
        ledger.append([sample_event(n) for n in range(start, start + 30)])
        assert found_ahead(ledger, range(start + 30)) == start + 30
    covered = small._covered
    assert covered is not None and covered.bound > b""  # keys below it go to SQL
    assert ledger.append([sample_event(n) for n in range(310)]).stored == 10


def test_a_filter_is_built_from_the_highest_keys_a_slice_at_a_time(
    ledger: LedgerService, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    ledger.writer.pending.merge_at = 1
    ledger.append([sample_event(n) for n in range(100)])
    monkeypatch.setattr(key_filter, "BUILD_SLICE", 7)
    small = KeyFilter(ledger.writer.key_filter._chunk_keys, size=64)  # 25 keys at a build
    with database.engine.begin() as connection:
        index = sorted(bytes(key) for (key,) in connection.execute(select(LedgerDedup.key)))
        driver = _Driver(connection)
        assert small.to_look_up(driver, 1, []) == []
        asked = small.to_look_up(driver, 1, index)
    covered = small._covered
    assert covered is not None and covered.bound == index[-25]
    assert asked[:75] == index[:75]  # below the bound: all to SQL
    assert set(index[75:]) <= set(asked)  # the highest 25: in the filter, never missed


def test_keys_a_writer_read_before_another_merged_them_spare_reading_their_blocks(
    ledger: LedgerService,
    database: Database,
    settings: Settings,
    ledger_clock: FakeClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    ledger.writer.pending.merge_at = 1
    ledger.append([sample_event(n) for n in range(50)])  # chunk 0, merged: mark 1
    assert found_ahead(ledger, range(10)) == 10  # the filter is built at mark 1
    ledger.writer.pending.merge_at = 1000
    ledger.append([sample_event(n) for n in range(50, 80)])  # chunk 1, pending
    ledger.append([sample_event(n) for n in range(80, 100)])  # chunk 2, pending
    other = other_writer(ledger, database, settings, ledger_clock)
    assert other.append([sample_event(n) for n in range(100, 110)]).stored == 10  # mark 4
    spy = Spy(monkeypatch, ledger)
    # This writer held chunk 1's keys when the other merged: the filter takes them and
    # reads only chunks 2 and 3 from their blocks.
    assert ledger.append([sample_event(n) for n in range(100, 120)]).stored == 10
    assert spy.block_reads == [(2, 4)]
    assert found_ahead(ledger, range(120)) == 110
    report = ledger.verify()
    assert report.ok, report.problems
