"""Stored events read back from their chunks' blocks, by chunk or by position.

Every reader of events (entries, proofs, detection, the audit trail) goes through here,
so the block layout (`blocks`) stays a detail of this module and of `store`.
A block that cannot be read raises BlockError (an UnreadableBlockError naming its chunk);
only `verify` reads damaged ledgers.

Chunks are found by position through the index on `first_seq`: the chunk holding a
position is the last one starting at or before it, and the chunks after it follow in
`first_seq` order. Blocks are fetched at most CHUNKS_PER_READ (and about EVENTS_PER_READ
events) at a time, so memory stays bounded however much is read.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import ColumnElement, Connection, func, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import SQLCoreOperations

from mamori.ledger.blocks import BlockError, StoredEvent, stored_events, unpack
from mamori.ledger.models import LedgerBlock, LedgerChunk

CHUNKS_PER_READ = 50  # blocks fetched per query
EVENTS_PER_READ = 50_000  # ... or fewer blocks, once they hold this many events

Reader = Connection | Session


class ChunkPlace(Protocol):
    """What locates a chunk's events: its index, first position and size."""

    @property
    def index(self) -> int: ...

    @property
    def first_seq(self) -> int: ...

    @property
    def size(self) -> int: ...


@dataclass(frozen=True, slots=True)
class Place:
    """A chunk's index, first position and size, read without the rest of its row."""

    index: int
    first_seq: int
    size: int


class UnreadableBlockError(BlockError):
    """A chunk's block that cannot be read: which chunk, and why."""

    def __init__(self, chunk_index: int, reason: BlockError) -> None:
        super().__init__(f"chunk {chunk_index}: {reason}")
        self.chunk_index = chunk_index


def events_of_chunks(
    connection: Reader, chunks: Iterable[ChunkPlace], *, descending: bool = False
) -> Iterator[StoredEvent]:
    """The stored events of `chunks`, chunk by chunk in the order given.

    Each chunk's events come in position order, or newest first when `descending`.
    Chunks without a block (purged) give nothing.
    """
    pending: list[ChunkPlace] = []
    held = 0
    for chunk in chunks:
        pending.append(chunk)
        held += chunk.size
        if len(pending) >= CHUNKS_PER_READ or held >= EVENTS_PER_READ:
            yield from _read(connection, pending, descending)
            pending, held = [], 0
    if pending:
        yield from _read(connection, pending, descending)


def _bodies(connection: Reader, indexes: Sequence[int]) -> dict[int, bytes]:
    rows = connection.execute(
        select(LedgerBlock.chunk_index, LedgerBlock.body).where(
            LedgerBlock.chunk_index.in_(indexes)
        )
    ).all()
    return {int(index): bytes(body) for index, body in rows}


def _read(
    connection: Reader, chunks: list[ChunkPlace], descending: bool = False
) -> Iterator[StoredEvent]:
    bodies = _bodies(connection, [chunk.index for chunk in chunks])
    for chunk in chunks:
        body = bodies.pop(chunk.index, None)
        if body is None:
            continue
        try:
            events = stored_events(chunk.index, chunk.first_seq, body, chunk.size)
        except BlockError as exc:
            raise UnreadableBlockError(chunk.index, exc) from exc
        yield from reversed(events) if descending else events


def chunk_leaves(connection: Reader, chunk: ChunkPlace) -> list[bytes] | None:
    """The leaf hashes stored in the chunk's block, in order; None when it has no block."""
    body = _bodies(connection, [chunk.index]).get(chunk.index)
    if body is None:
        return None
    try:
        return unpack(body).leaves
    except BlockError as exc:
        raise UnreadableBlockError(chunk.index, exc) from exc


def stored_event_count(connection: Reader) -> int:
    """How many events are stored: the sizes of the chunks that have a block."""
    total = connection.scalar(
        select(func.coalesce(func.sum(LedgerChunk.size), 0)).join(
            LedgerBlock, LedgerBlock.chunk_index == LedgerChunk.index
        )
    )
    return int(total or 0)


def _start_of(connection: Reader, seq: int) -> int | None:
    """Where the chunk holding position `seq` starts (the last starting at or before it)."""
    if seq <= 0:
        return None  # no lower bound: every chunk starts at 0 or later
    found = connection.scalar(
        select(LedgerChunk.first_seq)
        .where(LedgerChunk.first_seq <= seq)
        .order_by(LedgerChunk.first_seq.desc())
        .limit(1)
    )
    return seq if found is None else int(found)


def unindexed(column: SQLCoreOperations[Any]) -> ColumnElement[Any]:
    """`column` in a form no index serves (the same text), for conditions checked row by row.

    SQLite plans without statistics: offered an equality on an indexed column, it reads
    every chunk that index finds and sorts them, rather than walk the position index a
    page at a time. A condition on `unindexed(column)` leaves it the position index.
    """
    return column.concat("")


def chunk_places(
    connection: Reader,
    first_seq: int = 0,
    end_seq: int | None = None,
    *,
    descending: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
    page: int | None = None,
) -> Iterator[Place]:
    """Chunks holding any position in [first_seq, end_seq) and matching `where`, by position.

    Read `page` rows (CHUNKS_PER_READ) at a time along the `first_seq` index, oldest first
    or newest first when `descending`; `end_seq` None means up to the end of the log.
    """
    page = page or CHUNKS_PER_READ
    chunk = LedgerChunk
    statement = select(chunk.index, chunk.first_seq, chunk.size).where(*where)
    low = _start_of(connection, first_seq)
    if low is not None:
        statement = statement.where(chunk.first_seq >= low)
    if end_seq is not None:
        statement = statement.where(chunk.first_seq < end_seq)
    # Ordered by the indexed column alone, so each page is a short walk of the index
    # (a chunk's first position is its own: chunks do not overlap).
    statement = statement.order_by(chunk.first_seq.desc() if descending else chunk.first_seq)
    current = statement
    while True:
        rows = connection.execute(current.limit(page)).all()
        for index, first, size in rows:
            if first + size > first_seq:
                yield Place(int(index), int(first), int(size))
        if len(rows) < page:
            return
        last = int(rows[-1][1])
        after = chunk.first_seq < last if descending else chunk.first_seq > last
        current = statement.where(after)


def events_in_order(
    connection: Reader,
    first_seq: int = 0,
    end_seq: int | None = None,
    *,
    descending: bool = False,
    where: Sequence[ColumnElement[bool]] = (),
) -> Iterator[StoredEvent]:
    """Stored events at positions [first_seq, end_seq) of chunks matching `where`.

    In position order, or newest first when `descending`; read lazily, so a caller that
    stops early reads no further blocks.
    """
    places = chunk_places(connection, first_seq, end_seq, descending=descending, where=where)
    for event in events_of_chunks(connection, places, descending=descending):
        if event.seq >= first_seq and (end_seq is None or event.seq < end_seq):
            yield event


def chunks_covering(
    connection: Reader, first_seq: int, end_seq: int, *, descending: bool = False
) -> list[LedgerChunk]:
    """Chunks holding any position in [first_seq, end_seq), by position."""
    order = LedgerChunk.first_seq.desc() if descending else LedgerChunk.first_seq
    statement = (
        select(LedgerChunk)
        .where(LedgerChunk.first_seq < end_seq)
        .where(LedgerChunk.first_seq + LedgerChunk.size > first_seq)
        .order_by(order)
    )
    low = _start_of(connection, first_seq)
    if low is not None:
        statement = statement.where(LedgerChunk.first_seq >= low)  # lets the index narrow it
    if isinstance(connection, Session):
        return list(connection.scalars(statement))
    return list(Session(bind=connection).scalars(statement))


def events_between(connection: Reader, first_seq: int, end_seq: int) -> Iterator[StoredEvent]:
    """Stored events at positions [first_seq, end_seq), in order."""
    return events_in_order(connection, first_seq, end_seq)


def chunk_holding(connection: Reader, seq: int) -> Place | None:
    """The chunk whose positions include `seq`, purged or not; None when none does."""
    row = connection.execute(
        select(LedgerChunk.index, LedgerChunk.first_seq, LedgerChunk.size)
        .where(LedgerChunk.first_seq <= seq)
        .order_by(LedgerChunk.first_seq.desc())
        .limit(1)
    ).first()
    if row is None or row[1] + row[2] <= seq:
        return None
    return Place(int(row[0]), int(row[1]), int(row[2]))


def events_at(connection: Reader, seqs: Iterable[int]) -> dict[int, StoredEvent]:
    """The stored events at `seqs` (missing or purged positions are left out).

    One indexed look-up per chunk touched, then the blocks of those chunks only.
    """
    wanted = sorted(set(seqs))
    places: list[Place] = []
    for seq in wanted:
        if places and seq < places[-1].first_seq + places[-1].size:
            continue  # in the chunk found last
        place = chunk_holding(connection, seq)
        if place is not None:
            places.append(place)
    wanted_set = set(wanted)
    found: dict[int, StoredEvent] = {}
    for event in events_of_chunks(connection, places):
        if event.seq in wanted_set:
            found[event.seq] = event
    return found
