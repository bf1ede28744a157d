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
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, func, insert, select, update

from mamori.core.clock import as_utc, utcnow
from mamori.core.crypto import derive_key, load_secret_key
from mamori.core.settings import Settings
from mamori.ledger import merkle
from mamori.ledger.hashing import dedup_keys, pack_chunk
from mamori.ledger.models import LedgerCheckpoint, LedgerChunk, LedgerState
from mamori.ledger.notes import Checkpoint, NoteSigner
from mamori.ledger.records import (
    Attributed,
    Encoded,
    chunk_leaf_data,
    dedup_scope,
    encode,
    head_of,
    timestamp,
)


def aware_utc(moment: datetime) -> datetime:
    """`moment` in UTC; a naive time is refused rather than guessed."""
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError("the ledger needs timezone-aware times")
    return moment.astimezone(UTC)


SIGNING_KEY_PURPOSE = "mamori-ledger-log-signing-v1"
DEDUP_QUERY_SLICE = 500
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


# The bulk statements, written out per driver parameter style (sqlite3 qmark, psycopg).
BLOCK_INSERT = {
    "qmark": "INSERT INTO ledger_blocks (chunk_index, body) VALUES (?, ?)",
    "format": "INSERT INTO ledger_blocks (chunk_index, body) VALUES (%s, %s)",
}


def _style(connection: Connection) -> str:
    return "qmark" if connection.dialect.paramstyle == "qmark" else "format"


@dataclass
class _Head:
    tree_size: int
    next_seq: int
    frontier: merkle.Frontier


def _lock_head(connection: Connection) -> _Head:
    connection.execute(
        update(LedgerState).where(LedgerState.id == 1).values(version=LedgerState.version + 1)
    )
    row = connection.execute(
        select(LedgerState.tree_size, LedgerState.next_seq, LedgerState.frontier).where(
            LedgerState.id == 1
        )
    ).one()
    size, next_seq, blob = int(row[0]), int(row[1]), bytes(row[2] or b"")
    return _Head(size, next_seq, merkle.Frontier.load(size, blob))


def _claim(connection: Connection, batch: Sequence[Encoded]) -> dict[bytes, Encoded]:
    """The events of `batch` not stored before nor repeated within it, by key; their keys
    are added to the de-duplication index on the way (in the caller's transaction).

    One statement per slice both looks the keys up and adds the new ones: an insert that
    skips keys already present and returns those it added. In key order, it walks the
    index's pages once, front to back.
    """
    unique: dict[bytes, Encoded] = {}
    for item in batch:
        unique.setdefault(item.dedup, item)
    keys = sorted(unique)
    row = "(?)" if connection.dialect.paramstyle == "qmark" else "(%s)"
    claimed: dict[bytes, Encoded] = {}
    # Driver-level statements: compiling hundreds of parameters with SQLAlchemy each
    # batch cost more than the statement itself.
    for start in range(0, len(keys), DEDUP_QUERY_SLICE):
        part = keys[start : start + DEDUP_QUERY_SLICE]
        rows = ", ".join([row] * len(part))  # parameter markers only
        sql = f"INSERT INTO ledger_dedup (key) VALUES {rows} ON CONFLICT DO NOTHING RETURNING key"  # noqa: S608
        added = connection.exec_driver_sql(sql, tuple(part))
        for (key,) in added:
            key = bytes(key)
            claimed[key] = unique[key]
    return claimed


def _grouped(items: Iterable[Encoded]) -> list[list[Encoded]]:
    """Items grouped by (tenant, class), groups in order of first appearance."""
    groups: dict[tuple[str | None, str], list[Encoded]] = {}
    for item in items:
        groups.setdefault((item.tenant_id, item.event_class), []).append(item)
    return list(groups.values())


class LedgerWriter:
    """Appends attributed events and keeps the signed head and checkpoints current."""

    def __init__(
        self,
        signer: NoteSigner,
        *,
        checkpoint_every: timedelta = timedelta(hours=1),
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.signer = signer
        self.checkpoint_every = checkpoint_every
        self.clock = clock

    def append(self, connection: Connection, items: Sequence[Attributed]) -> AppendResult:
        """Store `items` in `connection`'s transaction (the caller commits)."""
        encoded = [encode(item) for item in items]
        groups = _grouped(encoded)
        for group in groups:
            scope = dedup_scope(group[0].tenant_id, group[0].event_class)
            keys = dedup_keys(scope, [item.hour for item in group], [i.content for i in group])
            for item, key in zip(group, keys, strict=True):
                item.dedup = key
        head = _lock_head(connection)
        fresh = _claim(connection, encoded)
        if not fresh:
            return AppendResult(0, len(items), head.tree_size, None, None)
        # Stored in UTC whatever zone the clock answers in (SQLite keeps wall-clock fields).
        now = aware_utc(self.clock())
        first_seq = head.next_seq
        chunk_rows: list[dict[str, Any]] = []
        block_rows: list[tuple[int, bytes]] = []
        for group in groups:
            kept = [item for item in group if fresh.get(item.dedup) is item]
            if not kept:
                continue
            chunk_row, body = self._chunk(head, kept, now)
            chunk_rows.append(chunk_row)
            block_rows.append((chunk_row["index"], body))
        style = _style(connection)
        connection.exec_driver_sql(BLOCK_INSERT[style], block_rows)
        connection.execute(insert(LedgerChunk), chunk_rows)
        self._sign_head(connection, head, now)
        return AppendResult(
            len(fresh), len(items) - len(fresh), head.tree_size, first_seq, head.next_seq - 1
        )

    def _chunk(
        self, head: _Head, group: list[Encoded], now: datetime
    ) -> tuple[dict[str, Any], bytes]:
        """The chunk row of `group` and the block holding its events."""
        secret = os.urandom(32)
        index, first = head.tree_size, head.next_seq
        received = (timestamp(now) or "").encode()
        heads = [
            head_of(item.head_start, item.head_end, first + offset, received)
            for offset, item in enumerate(group)
        ]
        body, root = pack_chunk(
            secret,
            first,
            heads,
            [item.subject for item in group],
            [item.content for item in group],
            [item.dedup for item in group],
        )
        tenant, event_class = group[0].tenant_id, group[0].event_class
        data = chunk_leaf_data(index, tenant, event_class, first, len(group), now, root)
        chunk_leaf = merkle.leaf_hash(data)
        head.frontier.append(chunk_leaf)
        head.tree_size += 1
        head.next_seq += len(group)
        chunk = {
            "index": index,
            "tenant_id": tenant,
            "event_class": event_class,
            "first_seq": first,
            "size": len(group),
            "received_at": now,
            "root": root,
            "leaf": chunk_leaf,
            "secret": secret,
        }
        return chunk, body

    def _sign_head(self, connection: Connection, head: _Head, now: datetime) -> None:
        count, latest = connection.execute(
            select(func.count(), func.max(LedgerCheckpoint.created_at))
        ).one()
        publish = latest is None or now - as_utc(latest) >= self.checkpoint_every
        root = head.frontier.root()
        # The head also says how many checkpoints exist, so a deleted one is noticed.
        extension = f"{CHECKPOINT_COUNT} {int(count) + int(publish)}"
        note = self.signer.sign(Checkpoint(self.signer.name, head.tree_size, root, (extension,)))
        connection.execute(
            update(LedgerState)
            .where(LedgerState.id == 1)
            .values(
                tree_size=head.tree_size,
                next_seq=head.next_seq,
                frontier=head.frontier.dump(),
                note=note,
                updated_at=now,
            )
        )
        if publish:
            connection.execute(
                insert(LedgerCheckpoint).values(
                    size=head.tree_size, root=root, note=note, created_at=now
                )
            )
