"""Appending to the ledger: one transaction per batch, serialised on the log head.

Each append bumps the head row first, which takes the write lock on both databases
(SQLite's writer lock, a row lock on PostgreSQL), so positions and the frontier are
assigned by one writer at a time. Events of a batch are grouped by (tenant, class) into
chunks; the head is re-signed in the same transaction, and a checkpoint is published
when the interval has passed. Nothing is acknowledged before the commit returns.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection

from mamori.core.clock import utcnow
from mamori.core.crypto import derive_key, load_secret_key
from mamori.core.settings import Settings
from mamori.ledger import merkle
from mamori.ledger.blocks import compress
from mamori.ledger.dedup import MARK, MERGE_AT, LookedUp, PendingKeys, keys_of_chunks, look_up
from mamori.ledger.hashing import encode_events, pack_events
from mamori.ledger.key_filter import KeyFilter, Witness
from mamori.ledger.models import LedgerChunk
from mamori.ledger.notes import Checkpoint, NoteSigner
from mamori.ledger.records import (
    Attributed,
    Encoded,
    chunk_leaf_data,
    timestamp,
)


def aware_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive time is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the ledger needs timezone-aware times")
    return moment.astimezone(UTC)


SIGNING_KEY_PURPOSE = "mamori-ledger-log-signing-v1"
CHECKPOINT_COUNT = "mamori-checkpoints"  # extension line of the signed head


@dataclass(frozen=True)
class AppendResult:
    """What an append stored."""

    stored: int
    duplicates: int
    tree_size: int
    first_seq: int | None  # of the events stored, None when all were duplicates
    last_seq: int | None


def log_signer(settings: Settings) -> NoteSigner:
    """The log's checkpoint signer, its key derived from mamori's secret key."""
    seed = derive_key(load_secret_key(settings), SIGNING_KEY_PURPOSE)
    return NoteSigner(settings.resolved_ledger_origin, seed)


# The statements of an append, run on the driver's own cursor: through SQLAlchemy, each
# cost 0.2-0.4 ms to build and execute on a small machine, several per batch. Written with
# qmark parameters (sqlite3) and turned into format parameters for psycopg.
LOCK_HEAD = (
    "UPDATE ledger_state SET version = version + 1 WHERE id = 1"
    " RETURNING tree_size, next_seq, frontier, dedup_merged"
)
BLOCK_INSERT = "INSERT INTO ledger_blocks (chunk_index, body) VALUES (?, ?)"
CHUNK_INSERT = (
    'INSERT INTO ledger_chunks ("index", tenant_id, event_class, first_seq, size,'
    " received_at, root, leaf, secret) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
CHECKPOINTS = (  # how many there are, and whether one is more recent than the interval
    "SELECT count(*), EXISTS (SELECT 1 FROM ledger_checkpoints WHERE created_at > ?)"
    " FROM ledger_checkpoints"
)
SIGN_HEAD = (
    "UPDATE ledger_state SET tree_size = ?, next_seq = ?, frontier = ?, note = ?,"
    " updated_at = ?, dedup_merged = ? WHERE id = 1"
)
CHECKPOINT_INSERT = (
    "INSERT INTO ledger_checkpoints (size, root, note, created_at) VALUES (?, ?, ?, ?)"
)


class _Driver:
    """The driver's cursor of a connection in a transaction, and how it binds a time."""

    def __init__(self, connection: Connection) -> None:
        self.qmark = connection.dialect.paramstyle == "qmark"
        raw: Any = connection.connection.driver_connection
        self.cursor = raw.cursor()
        # SQLite keeps times as text in SQLAlchemy's format; psycopg binds them itself.
        time_type = LedgerChunk.__table__.c.received_at.type
        self.time: Callable[[datetime], Any] = time_type.dialect_impl(
            connection.dialect
        ).bind_processor(connection.dialect) or (lambda value: value)

    def sql(self, statement: str) -> str:
        return statement if self.qmark else statement.replace("?", "%s")

    def execute(self, statement: str, parameters: Sequence[Any] = ()) -> Any:
        self.cursor.execute(self.sql(statement), parameters)
        return self.cursor

    def executemany(self, statement: str, rows: Sequence[Sequence[Any]]) -> None:
        self.cursor.executemany(self.sql(statement), rows)


@dataclass
class _Head:
    tree_size: int
    next_seq: int
    frontier: merkle.Frontier
    dedup_merged: int  # chunks below it have their keys in the index (dedup.py)


def _lock_head(driver: _Driver) -> _Head:
    row = driver.execute(LOCK_HEAD).fetchone()
    if row is None:
        raise RuntimeError("the ledger has no head row: run `mamori db upgrade`")
    size, next_seq, blob = int(row[0]), int(row[1]), bytes(row[2] or b"")
    return _Head(size, next_seq, merkle.Frontier.load(size, blob), int(row[3]))


def _claim(
    driver: _Driver, pending: PendingKeys, batch: Sequence[Encoded], ahead: LookedUp | None
) -> dict[bytes, Encoded]:
    """The events of `batch` not stored before nor repeated within it, by key; their keys
    are taken on the way (in the caller's transaction)."""
    unique = {item.dedup: item for item in reversed(batch)}  # the first of each key wins
    fresh = pending.fresh(driver, unique, ahead)
    if len(fresh) == len(unique):  # nothing was stored before: the usual case
        return unique
    return {key: item for key, item in unique.items() if key in fresh}


def _grouped(items: Iterable[Encoded]) -> list[list[Encoded]]:
    """Items grouped by (tenant, class), groups in order of first appearance."""
    groups: dict[tuple[str | None, str], list[Encoded]] = {}
    for item in items:
        groups.setdefault((item.tenant_id, item.event_class), []).append(item)
    return list(groups.values())


@dataclass(frozen=True)
class Prepared:
    """A batch encoded before its transaction begins, grouped into its future chunks.

    Encoding needs nothing from the database, so a busy writer encodes the next batch
    while the previous one holds the write lock.
    """

    encoded: list[Encoded]
    groups: list[list[Encoded]]
    ahead: LookedUp | None = None  # the keys looked up before the write lock, if they were

    @classmethod
    def of(cls, items: Sequence[Attributed]) -> Prepared:
        """`items` encoded and grouped by (tenant, class)."""
        encoded = encode_events(items)
        return cls(encoded, _grouped(encoded))


class LedgerWriter:
    """Appends attributed events and keeps the signed head and checkpoints current."""

    def __init__(
        self,
        signer: NoteSigner,
        *,
        checkpoint_every: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = utcnow,
        dedup_merge_at: int = MERGE_AT,
    ) -> None:
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.clock = clock
        self.key_filter = KeyFilter(keys_of_chunks)
        self.pending = PendingKeys(dedup_merge_at, self.key_filter)

    def append(
        self, connection: Connection, items: Sequence[Attributed] | Prepared
    ) -> AppendResult:
        """Store `items` in `connection`'s transaction (the caller commits)."""
        prepared = items if isinstance(items, Prepared) else Prepared.of(items)
        driver = _Driver(connection)
        try:
            head = _lock_head(driver)
            self.pending.begin(
                connection.get_transaction(), driver, head.tree_size, head.dedup_merged
            )
            return self._append(driver, head, prepared)
        finally:
            driver.cursor.close()

    def look_up(self, connection: Connection, prepared: Prepared) -> Prepared:
        """`prepared` with its keys looked up in the index in `connection`'s read
        transaction, before the write lock: the append then looks up only those found
        (unless a merge came in between), so its turn is shorter."""
        driver = _Driver(connection)
        try:
            ahead = look_up(driver, (item.dedup for item in prepared.encoded), self.key_filter)
        finally:
            driver.cursor.close()
        return replace(prepared, ahead=ahead)

    def merge_keys(self, connection: Connection) -> None:
        """Merge every pending de-duplication key into the index, in `connection`'s
        transaction (a purge does, before it deletes keys from the index)."""
        driver = _Driver(connection)
        try:
            head = _lock_head(driver)
            self.pending.begin(
                connection.get_transaction(), driver, head.tree_size, head.dedup_merged
            )
            if head.dedup_merged != head.tree_size:
                self.pending.merge(driver)
                driver.execute(MARK, (head.tree_size,))
        finally:
            driver.cursor.close()

    def _append(self, driver: _Driver, head: _Head, prepared: Prepared) -> AppendResult:
        encoded = prepared.encoded
        fresh = _claim(driver, self.pending, encoded, prepared.ahead)
        if not fresh:
            return AppendResult(0, len(encoded), head.tree_size, None, None)
        # Stored in UTC whatever zone the clock answers in (SQLite keeps wall-clock fields).
        now = aware_utc(self.clock())
        first_seq = head.next_seq
        chunk_rows: list[tuple[Any, ...]] = []
        block_rows: list[tuple[int, bytes]] = []
        every = len(fresh) == len(encoded)  # no duplicates: the usual case
        for group in prepared.groups:
            kept = group if every else [item for item in group if fresh.get(item.dedup) is item]
            if not kept:
                continue
            chunk_row, body = self._chunk(head, kept, now, driver.time(now))
            chunk_rows.append(chunk_row)
            block_rows.append((chunk_row[0], body))
        driver.executemany(BLOCK_INSERT, block_rows)
        driver.executemany(CHUNK_INSERT, chunk_rows)
        last = chunk_rows[-1]  # (index, ..., leaf, secret): the chunk tree_size - 1
        witness = Witness(int(last[0]), bytes(last[7]))
        self.pending.appended(witness)
        if self.pending.merge_due():
            merged = self.pending.merge(driver)
            self.key_filter.merging(self.pending.mark, head.tree_size, merged, witness)
            head.dedup_merged = head.tree_size
        self._sign_head(driver, head, now)
        return AppendResult(
            len(fresh), len(encoded) - len(fresh), head.tree_size, first_seq, head.next_seq - 1
        )

    def _chunk(
        self, head: _Head, group: list[Encoded], now: datetime, stored_now: Any
    ) -> tuple[tuple[Any, ...], bytes]:
        """The chunk row of `group` (CHUNK_INSERT's columns) and the block of its events."""
        secret = os.urandom(32)
        index, first = head.tree_size, head.next_seq
        received = (timestamp(now) or "").encode()
        body, root = pack_events(secret, first, received, group)
        body = compress(body)  # the leaves and root are of the parts as they were
        tenant, event_class = group[0].tenant_id, group[0].event_class
        data = chunk_leaf_data(index, tenant, event_class, first, len(group), now, root)
        chunk_leaf = merkle.leaf_hash(data)
        head.frontier.append(chunk_leaf)
        head.tree_size += 1
        head.next_seq += len(group)
        chunk = (index, tenant, str(event_class), first, len(group), stored_now, root)
        return (*chunk, chunk_leaf, secret), body

    def _sign_head(self, driver: _Driver, head: _Head, now: datetime) -> None:
        count, recent = driver.execute(
            CHECKPOINTS, (driver.time(now - self.checkpoint_every),)
        ).fetchone()
        publish = not recent
        root = head.frontier.root()
        # The head also says how many checkpoints exist, so a deleted one is noticed.
        extension = f"{CHECKPOINT_COUNT} {int(count) + int(publish)}"
        note = self.signer.sign(Checkpoint(self.signer.name, head.tree_size, root, (extension,)))
        stored_now = driver.time(now)
        driver.execute(
            SIGN_HEAD,
            (
                head.tree_size,
                head.next_seq,
                head.frontier.dump(),
                note,
                stored_now,
                head.dedup_merged,
            ),
        )
        if publish:
            driver.execute(CHECKPOINT_INSERT, (head.tree_size, root, note, stored_now))
