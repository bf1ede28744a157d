"""A process's Bloom filter over the de-duplication index, so most look-ups skip SQL.

Nearly every key an append looks up is new, and a B-tree look-up in SQL costs a few
microseconds a key (binding it, then descending the index, whose pages SQLite reads
again whenever another connection has written). A Bloom filter answers "certainly
absent" for most of them in tens of nanoseconds; only the keys it may hold go to SQL.

What keeps it right: the filter holds every key the index held from `bound` up as of the
head's merge mark `mark` (dedup.py). Only a merge adds keys to the index, and a merge
moves the mark in the same transaction; so a writer that sees a later mark adds the keys
of the chunks between the two marks, read from their blocks in its own snapshot, before
asking. Purges delete keys, and deleted keys left in the filter only cost a look-up. A
filter ahead of the snapshot asking is a superset of what that snapshot holds, which is
as good. The filter is built from the index itself on first use (the highest keys, up to
half its capacity, with `bound` the lowest of them), and built again once it holds more
keys than it was sized for or has fallen far behind. Keys below `bound` are looked up in
SQL as before.

The bits (`filter_add`, `filter_maybe`) are set and tested in C (native/key_filter.h);
`py_filter_add` and `py_filter_maybe` compute the same bits and serve as reference and
fallback.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mamori.ledger.hashing import NATIVE_MODULE

FILTER_BYTES = 1 << 23  # 8 MiB a process: 2**26 bits
BITS_PER_KEY = 10  # with PROBES probes, about 1% false positives when full
PROBES = 7
KEY_SIZE = 16
BUILD_SLICE = 10_000  # keys read at a time when the filter is built
REBUILD_BEHIND = 20_000  # chunks: further behind, the index is read again instead
HIGHEST_KEYS = "SELECT key FROM ledger_dedup ORDER BY key DESC LIMIT ?"
KEYS_BELOW = "SELECT key FROM ledger_dedup WHERE key < ? ORDER BY key DESC LIMIT ?"
CHUNK_LEAF = 'SELECT leaf FROM ledger_chunks WHERE "index" = ?'


def _probes(key: bytes, mask: int) -> Iterable[int]:
    if len(key) != KEY_SIZE:
        raise ValueError(f"a de-duplication key is {KEY_SIZE} bytes, not {len(key)}")
    h1 = int.from_bytes(key[4:8], "little")
    h2 = int.from_bytes(key[8:12], "little") | 1
    return (((h1 + i * h2) & 0xFFFFFFFF) & mask for i in range(PROBES))


def _mask(bits: bytes | bytearray) -> int:
    size = len(bits)
    if size == 0 or size & (size - 1) or size > 1 << 29:
        raise ValueError("a key filter's size must be a power of two of at most 2**29 bytes")
    return size * 8 - 1


def py_filter_add(bits: bytearray, keys: list[bytes]) -> int:
    """Set each key's bits; the number of keys not all of whose bits were set before."""
    mask, added = _mask(bits), 0
    for key in keys:
        present = True
        for bit in _probes(key, mask):
            flag = 1 << (bit & 7)
            if not bits[bit >> 3] & flag:
                present = False
                bits[bit >> 3] |= flag
        added += not present
    return added


def py_filter_maybe(bits: bytes | bytearray, keys: list[bytes]) -> list[bytes]:
    """Those of `keys` whose bits are all set: the keys the filter may hold."""
    mask = _mask(bits)
    return [
        key for key in keys if all(bits[bit >> 3] & (1 << (bit & 7)) for bit in _probes(key, mask))
    ]


filter_add: Callable[[bytearray, list[bytes]], int] = getattr(
    NATIVE_MODULE, "filter_add", py_filter_add
)
filter_maybe: Callable[[bytearray, list[bytes]], list[bytes]] = getattr(
    NATIVE_MODULE, "filter_maybe", py_filter_maybe
)


class Cursor(Protocol):
    """What the filter needs of a transaction's driver-level statements (`store._Driver`)."""

    cursor: Any

    def execute(self, statement: str, parameters: Sequence[Any] = ()) -> Any: ...


@dataclass(frozen=True)
class _Covered:
    bits: bytearray
    bound: bytes  # keys from here up are covered
    mark: int  # the index's keys as of this merge mark are in `bits`
    count: int  # keys added (a key whose bits were all set already is not counted)


ChunkKeys = Callable[[Cursor, int, int], Iterable[bytes]]


@dataclass(frozen=True)
class Witness:
    """A chunk a transaction appended, and its leaf: if the database holds that leaf at
    that index, the transaction committed (the leaf covers a random per-chunk secret)."""

    index: int
    leaf: bytes

    def committed(self, driver: Cursor) -> bool:
        """Whether the chunk is in `driver`'s view of the database, with this leaf."""
        row = driver.execute(CHUNK_LEAF, (self.index,)).fetchone()
        return row is not None and bytes(row[0]) == self.leaf


@dataclass(frozen=True)
class _OwnMerge:
    """A merge this process made, in a transaction that may not have committed yet."""

    low: int  # the mark it merged from
    high: int  # the mark it moved to
    witness: Witness  # the chunk high - 1, appended by the merging transaction
    added: int


class KeyFilter:
    """One process's filter, shared by its threads (see the module's notes)."""

    def __init__(self, chunk_keys: ChunkKeys, size: int = FILTER_BYTES) -> None:
        self._chunk_keys = chunk_keys  # the keys stored in the blocks of chunks [low, high)
        self.size = size
        self.capacity = size * 8 // BITS_PER_KEY
        self._covered: _Covered | None = None
        self._own: _OwnMerge | None = None
        self._offered: tuple[int, int, set[bytes]] | None = None  # see `offer`
        self._lock = threading.Lock()

    def to_look_up(
        self, driver: Cursor, mark: int, keys: list[bytes], *, catch_up: bool = True
    ) -> list[bytes]:
        """Those of `keys` the index may hold, for a transaction whose head has
        merge mark `mark`: the keys below the filter's bound and those it may hold.

        Without `catch_up` the filter is neither built nor brought up to `mark` from the
        blocks (a writer holding the write lock should not wait for that): if it is
        behind, every key is to be looked up.
        """
        if not keys:
            return []
        covered = self._at(driver, mark, catch_up)
        if covered is None:
            return keys
        bound = covered.bound
        if not bound:
            return filter_maybe(covered.bits, keys)
        below = [key for key in keys if key < bound]
        return [*below, *filter_maybe(covered.bits, [key for key in keys if key >= bound])]

    def merging(self, low: int, high: int, keys: list[bytes], witness: Witness) -> None:
        """A writer is merging the keys of chunks [low, high) into the index, `witness`
        (the chunk `high - 1` and its leaf) among the chunks its transaction appended.

        Their bits are set now: if the transaction rolls back, they only cost look-ups.
        The filter moves to `high` without reading the blocks once the mark is there and
        the witness's leaf is in the database, which proves the merge committed.
        """
        with self._lock:
            covered = self._covered
            if covered is None or covered.mark != low:
                return
            added = filter_add(covered.bits, [key for key in keys if key >= covered.bound])
            self._own = _OwnMerge(low, high, witness, added)

    def _at(self, driver: Cursor, mark: int, catch_up: bool) -> _Covered | None:
        covered = self._covered
        if covered is not None and covered.mark >= mark and covered.count <= self.capacity:
            return covered
        with self._lock:
            covered = self._covered
            if covered is not None and covered.mark < mark:
                covered = self._covered = self._after_own_merge(driver, covered, mark)
            if covered is not None and covered.mark >= mark and covered.count <= self.capacity:
                return covered
            if not catch_up:
                return None
            if (
                covered is None
                or covered.count > self.capacity
                or mark - covered.mark > REBUILD_BEHIND
            ):
                covered = self._build(driver, mark)
            else:
                covered = self._with_offered(covered, mark)
                if covered.mark < mark:
                    chunk_keys = self._chunk_keys(driver, covered.mark, mark)
                    covered = self._adding(covered, chunk_keys, mark)
            self._covered = covered
            return covered

    def offer(self, low: int, high: int, keys: set[bytes]) -> None:
        """The keys of the committed chunks [low, high), which a writer no longer needs
        (a merge moved the mark past them): the filter may take them instead of reading
        those blocks when it next catches up. `keys` must not change afterwards."""
        if self._covered is not None:
            self._offered = (low, high, keys)

    def _with_offered(self, covered: _Covered, mark: int) -> _Covered:
        """`covered` with the offered keys added, if they take it on from its mark."""
        offered, self._offered = self._offered, None
        if offered is None or offered[0] != covered.mark:
            return covered
        _, high, keys = offered
        # Chunks from `mark` on, if any were offered, are not in the index yet: their
        # keys are extra bits, which cost look-ups only.
        return self._adding(covered, keys, max(min(high, mark), covered.mark))

    @staticmethod
    def _adding(covered: _Covered, keys: Iterable[bytes], mark: int) -> _Covered:
        bound = covered.bound
        added = filter_add(covered.bits, [key for key in keys if key >= bound])
        # More bits only: safe to share with threads reading the filter meanwhile.
        return _Covered(covered.bits, bound, mark, covered.count + added)

    def _after_own_merge(self, driver: Cursor, covered: _Covered, mark: int) -> _Covered:
        """`covered` moved past this process's last merge if it committed (under the lock)."""
        own = self._own
        if own is None:
            return covered
        if own.low != covered.mark:  # the filter moved on without it
            self._own = None
            return covered
        if own.high > mark:  # not in this transaction's view (perhaps not committed yet)
            return covered
        self._own = None
        if not own.witness.committed(driver):  # rolled back: read the blocks instead
            return covered
        return _Covered(covered.bits, covered.bound, own.high, covered.count + own.added)

    def _build(self, driver: Cursor, mark: int) -> _Covered:
        """A filter of the highest keys of the index as it stands at `mark` (up to half
        the capacity, so that merges have room before the next build), read a slice at a
        time (in key order from the top) so that memory stays flat whatever it holds."""
        self._own = None
        limit = self.capacity // 2
        bits = bytearray(self.size)
        count = read = 0
        lowest: bytes | None = None
        while read < limit:
            size = min(BUILD_SLICE, limit - read)
            if lowest is None:
                rows = driver.execute(HIGHEST_KEYS, (size,)).fetchall()
            else:
                rows = driver.execute(KEYS_BELOW, (lowest, size)).fetchall()
            if not rows:
                break
            keys = [key if type(key) is bytes else bytes(key) for (key,) in rows]
            count += filter_add(bits, keys)
            read += len(keys)
            lowest = keys[-1]
            if len(keys) < size:
                break
        bound = lowest if lowest is not None and read >= limit else b""
        return _Covered(bits, bound, mark, count)
