"""Which events the ledger already holds: de-duplication keys, indexed in two steps.

Every stored event has a 16-byte key (`records.dedup_key`), and an append stores an
event only when no stored event has its key. The keys are in two places:

- the `ledger_dedup` index (a B-tree of keys) holds those of the chunks below the head's
  `dedup_merged` mark;
- the chunks from the mark on are "pending": their keys are only in their blocks, which
  keep every event's key anyway, and each writer holds them in memory.

Adding each batch's keys to the B-tree straight away cost more than the rest of an
append once the ledger was large and its events occurred in the same hour: a key is the
hour followed by random bytes, so a thousand keys landed on about a thousand different
pages, every one rewritten (to the WAL, then to the file) at each commit. A writer now
looks keys up in the B-tree (reads only) and in its pending set, and merges the pending
keys into the B-tree in key order once there are `merge_at` of them: one pass over the
index pages for many batches. The mark moves in the same transaction as the merge, so a
crash leaves either the old mark with the keys still pending, or both done.

A writer may look a batch's keys up in the index before its turn to append (`LookedUp`),
so that the look-ups of one batch overlap the append of another. What the index held then
still holds under the write lock as long as the mark has not moved (only a merge adds keys,
and it moves the mark); keys found then are looked up again, since a purge may have
deleted them since. When the mark has moved, the look-ups are made again.

Before SQL, look-ups go through each process's Bloom filter of the index
(key_filter.py), which answers "not there" for most new keys without reading the index.

A writer's pending set follows the database, never the other way round: at the first
append of each transaction it reads the keys of the chunks committed since it last
looked (other writers' too), and it starts again from the blocks whenever the mark is
not where it left it (another writer merged, or its own merge was rolled back). Keys
appended in the current transaction are kept apart until it ends, so a rollback cannot
leave keys of events that were never stored.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from mamori.ledger.blocks import HEADER_SIZE, BlockError, dedups_at, split_keys
from mamori.ledger.hashing import NATIVE_MODULE
from mamori.ledger.key_filter import KeyFilter, Witness

MERGE_AT = 100_000  # pending keys that make the next append merge them (about 10 MB)
LOOKUP_SLICE = 500  # keys per lookup statement
LOOKUP = "SELECT key FROM ledger_dedup WHERE key IN ({marks})"
HIGHEST = "SELECT key FROM ledger_dedup ORDER BY key DESC LIMIT 1"  # no max(bytea)
MERGED_TO = "SELECT dedup_merged FROM ledger_state WHERE id = 1"
MERGE = "INSERT INTO ledger_dedup (key) VALUES {rows} ON CONFLICT DO NOTHING"
# On SQLite, the keys of a merge in statements of MERGE_BLOB_SLICE keys each: the keys in
# key order, concatenated in one blob, cut into 16-byte pieces by a recursive query (no
# parameter per key; a third less time than statements of LOOKUP_SLICE keys). One
# statement for all 100,000 keys of a merge was no faster and raised the process's peak
# memory by about 30 MB. "WHERE true" tells the parser that ON CONFLICT belongs to the
# INSERT.
MERGE_BLOB_SLICE = 10_000
MERGE_BLOB = (
    "WITH RECURSIVE at(n) AS"
    " (SELECT 1 UNION ALL SELECT n + 16 FROM at WHERE n + 16 <= length(?1))"
    " INSERT INTO ledger_dedup (key) SELECT substr(?1, n, 16) FROM at WHERE true"
    " ON CONFLICT DO NOTHING"
)
MARK = "UPDATE ledger_state SET dedup_merged = ? WHERE id = 1"
# Where the keys lie in a block of `size` events (blocks.py): after the header, the
# three lengths and the leaf of each event. For databases without incremental blob reads.
KEY_SECTIONS = (  # 8 = HEADER_SIZE + 1 (SQL counts from 1), 44 = 12 + LEAF_SIZE
    "SELECT substring(b.body from 8 + 44 * c.size for 16 * c.size)"
    ' FROM ledger_blocks b JOIN ledger_chunks c ON c."index" = b.chunk_index'
    " WHERE b.chunk_index >= ? AND b.chunk_index < ?"
)


def py_sort_keys(keys: list[bytes]) -> None:
    """Sort 16-byte keys in place, in byte order: the reference of `_native.sort_keys`."""
    for number, key in enumerate(keys):
        if not isinstance(key, bytes) or len(key) != 16:
            raise ValueError(f"key {number} is not 16 bytes")
    keys.sort()


sort_keys: Callable[[list[bytes]], None] = getattr(NATIVE_MODULE, "sort_keys", py_sort_keys)


def in_key_order(keys: Iterable[bytes]) -> list[bytes]:
    """`keys` (16 bytes each) in byte order: the index's order, in which a merge or a
    purge walks its pages once."""
    ordered = list(keys)
    sort_keys(ordered)
    return ordered


class Cursor(Protocol):
    """What this module needs of the writer's driver-level statements (`store._Driver`)."""

    cursor: Any

    def execute(self, statement: str, parameters: Sequence[Any] = ()) -> Any: ...


def block_keys(raw: Any, indexes: Iterable[int]) -> list[bytes]:
    """The keys in the blocks of chunks `indexes` of a sqlite3 connection `raw`.

    Only each block's key section is read (incremental blob I/O), not its events. A
    missing (purged) or damaged block is skipped: `verify` names a damaged one.
    """
    keys: list[bytes] = []
    for index in indexes:  # a block's chunk_index is its rowid
        try:
            with raw.blobopen("ledger_blocks", "body", index, readonly=True) as blob:
                start, size = dedups_at(blob.read(HEADER_SIZE))
                if start + size > len(blob):
                    continue
                blob.seek(start)
                keys += split_keys(blob.read(size))
        except (sqlite3.OperationalError, BlockError):
            continue
    return keys


def keys_of_chunks(driver: Cursor, low: int, high: int) -> Iterator[bytes]:
    """The keys stored in the blocks of chunks [low, high)."""
    raw = driver.cursor.connection
    if isinstance(raw, sqlite3.Connection):
        yield from block_keys(raw, range(low, high))
        return
    for (section,) in driver.execute(KEY_SECTIONS, (low, high)).fetchall():
        yield from split_keys(bytes(section or b""))


def indexed(driver: Cursor, keys: Iterable[bytes], screen: Screen | None = None) -> set[bytes]:
    """Those of `keys` that the index holds: reads only.

    Keys above the highest one in the index are not looked up: keys start with the hour
    their event occurred, so when events arrive in time order most are above it. With a
    `screen` (a key filter and the mark of the caller's transaction), only the keys the
    filter may hold are looked up in SQL, in key order.
    """
    found: set[bytes] = set()
    row = driver.execute(HIGHEST).fetchone()
    if row is None:
        return found
    highest = bytes(row[0])
    candidates = [key for key in keys if key <= highest]
    if screen is not None:
        candidates = screen.key_filter.to_look_up(
            driver, screen.mark, candidates, catch_up=screen.catch_up
        )
    candidates = in_key_order(candidates)
    for start in range(0, len(candidates), LOOKUP_SLICE):
        part = candidates[start : start + LOOKUP_SLICE]
        cursor = driver.execute(LOOKUP.format(marks=", ".join(["?"] * len(part))), part)
        found.update(bytes(key) for (key,) in cursor.fetchall())
    return found


@dataclass(frozen=True)
class LookedUp:
    """Which keys of a batch the index held when they were looked up before the write
    lock, and the mark it was read at (read first, so no later merge goes unnoticed)."""

    mark: int
    found: frozenset[bytes]


@dataclass(frozen=True)
class Screen:
    """A key filter, and the merge mark of the transaction that asks it (key_filter.py)."""

    key_filter: KeyFilter
    mark: int
    catch_up: bool = True  # whether to build it or bring it up to `mark` if it must be


def look_up(driver: Cursor, keys: Iterable[bytes], key_filter: KeyFilter | None = None) -> LookedUp:
    """Look `keys` up in the index outside the write lock (the caller's read transaction)."""
    row = driver.execute(MERGED_TO).fetchone()
    if row is None:
        raise RuntimeError("the ledger has no head row: run `mamori db upgrade`")
    mark = int(row[0])
    screen = None if key_filter is None else Screen(key_filter, mark)
    return LookedUp(mark, frozenset(indexed(driver, keys, screen)))


class PendingKeys:
    """One writer's view of the keys not yet merged into the index.

    Used only while its writer holds the ledger's write lock (the head row), so appends
    of different transactions never interleave here.
    """

    def __init__(self, merge_at: int = MERGE_AT, key_filter: KeyFilter | None = None) -> None:
        self.merge_at = merge_at
        self.key_filter = key_filter
        self.mark = -1  # the head's dedup_merged these keys were read from (-1: never)
        self.read_to = -1  # chunks below this one are read into `committed`
        self.committed: set[bytes] = set()
        self._transaction: object | None = None
        self._added: set[bytes] = set()  # keys stored by the current transaction
        self._merged = False  # whether the current transaction merged
        self._last: Witness | None = None  # the last chunk the current transaction appended

    def begin(self, transaction: object, driver: Cursor, tree_size: int, mark: int) -> None:
        """Bring the set up to date at the first append of `transaction`.

        `tree_size` and `mark` are the head's, read under the write lock: every chunk
        below `tree_size` is then committed, unless this transaction appended it. The
        keys the previous transaction added are kept without reading its blocks again
        when its last chunk is in the database (it committed).
        """
        if transaction is self._transaction:
            return
        previous, last = self._added, self._last
        self._transaction = transaction
        self._added = set()
        self._merged = False
        self._last = None
        if mark != self.mark or tree_size < self.read_to:
            if self.key_filter is not None and mark > self.mark >= 0:
                # A merge moved the mark: the keys read so far are in the index now.
                self.key_filter.offer(self.mark, self.read_to, self.committed)
            self.committed = set()
            self.mark = self.read_to = mark
        elif last is not None and tree_size > last.index and last.committed(driver):
            self.committed.update(previous)  # its chunks were read_to up to last.index
            self.read_to = last.index + 1
        if tree_size > self.read_to:
            self.committed.update(keys_of_chunks(driver, self.read_to, tree_size))
            self.read_to = tree_size

    def fresh(
        self, driver: Cursor, keys: Iterable[bytes], ahead: LookedUp | None = None
    ) -> set[bytes]:
        """Those of `keys` (distinct) that no stored event has; they are then taken.

        `ahead`, when its mark is still the head's, spares the look-ups of the keys it
        did not find (see the module's notes).
        """
        # Set differences run in C, over the batch's keys (the pending sets are larger).
        new = set(keys) - self.committed - self._added
        if ahead is not None and ahead.mark == self.mark:
            again = new.intersection(ahead.found)  # usually none
            if again:
                new.difference_update(indexed(driver, again))
        else:
            # The mark read at `begin`: what this transaction's index holds, its own merge
            # (uncommitted) aside, whose keys are still in `committed` and `added`. A
            # caller that looked up ahead has brought the filter up to date then; under
            # the write lock it is not brought up to date again, while other writers wait.
            screen = (
                None
                if self.key_filter is None
                else Screen(self.key_filter, self.mark, catch_up=ahead is None)
            )
            if new:
                new.difference_update(indexed(driver, new, screen))
        self._added.update(new)
        return new

    def appended(self, last: Witness) -> None:
        """The current transaction appended chunks up to `last` (`begin` may keep their
        keys if it commits)."""
        self._last = last

    def merge_due(self) -> bool:
        """Whether enough keys are pending to merge them now."""
        return not self._merged and len(self.committed) + len(self._added) >= self.merge_at

    def merge(self, driver: Cursor) -> list[bytes]:
        """Add every pending key to the index, in key order (the caller moves the mark);
        the keys added, none when this transaction merged already."""
        if self._merged:
            return []
        keys = in_key_order(self.committed | self._added)
        if isinstance(driver.cursor, sqlite3.Cursor):
            for start in range(0, len(keys), MERGE_BLOB_SLICE):
                driver.execute(MERGE_BLOB, (b"".join(keys[start : start + MERGE_BLOB_SLICE]),))
        else:
            for start in range(0, len(keys), LOOKUP_SLICE):  # no tuple per key to collect
                part = keys[start : start + LOOKUP_SLICE]
                driver.execute(MERGE.format(rows=", ".join(["(?)"] * len(part))), part)
        self._merged = True
        return keys
