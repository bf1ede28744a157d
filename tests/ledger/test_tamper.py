"""Tampering with any stored row, directly in the database, is found by verify at its position.

Random trials on both databases, over a ledger some of whose chunks were purged: edit one
column of one row, delete a row, insert a copied row, or swap the contents of two rows
of the chunks, checkpoints and head; flip a bit anywhere in a block, delete or move a
block, insert one where none belongs, swap two blocks; delete or add a de-duplication
key. After each trial `verify` must fail and name the row that was touched (for a bit
flipped in a block: exactly the event or chunk it falls in, as its first problem); the
change is then undone and `verify` must pass again, which also shows the undo was exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Table, delete, insert, select, update

from mamori.core.db import Database
from mamori.ledger.blocks import (
    COMPRESSED_MAGIC,
    DEDUP_SIZE,
    LEAF_SIZE,
    MAGIC,
    expanded,
    unpack,
)
from mamori.ledger.models import (
    LedgerBlock,
    LedgerCheckpoint,
    LedgerChunk,
    LedgerDedup,
    LedgerState,
)
from mamori.ledger.retention import RetentionPolicy, purge
from mamori.ledger.service import LedgerService

TRIALS = 60
# Columns that record nothing about history, so changing them is not tampering:
# the writers' lock counter, when the head was last written, when a checkpoint was made,
# when a chunk was purged (the purge run's own ledger event says when it ran), and how far
# the de-duplication index is merged (an index, not history: a wrong mark shows as a
# wrong number of keys when it changes which chunks the index should cover).
UNGUARDED = {("ledger_state", "version"), ("ledger_state", "updated_at")}
UNGUARDED |= {("ledger_state", "dedup_merged")}
UNGUARDED |= {("ledger_checkpoints", "created_at"), ("ledger_chunks", "purged_at")}
TABLES: dict[str, tuple[Table, str]] = {
    "ledger_chunks": (LedgerChunk.__table__, "index"),  # type: ignore[dict-item]
    "ledger_checkpoints": (LedgerCheckpoint.__table__, "size"),  # type: ignore[dict-item]
    "ledger_state": (LedgerState.__table__, "id"),  # type: ignore[dict-item]
}
BLOCKS: Table = LedgerBlock.__table__  # type: ignore[assignment]
DEDUP: Table = LedgerDedup.__table__  # type: ignore[assignment]
_purged = LedgerChunk.purged_at.is_not(None)


@dataclass
class Trial:
    """One change and how to undo it."""

    description: str
    names: set[str]  # positions verify may name for it
    undo: Callable[[Connection], object]
    first: str | None = None  # what verify's first problem must name, when that is known


def changed(value: Any, rng: random.Random) -> Any:
    """A different value of the same type."""
    if isinstance(value, bool) or value is None:
        raise ValueError("nothing to change")
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 7])
    if isinstance(value, datetime):
        return value + timedelta(seconds=rng.choice([-1, 1, 3600]))
    if isinstance(value, (bytes, memoryview)):
        raw = bytearray(bytes(value))
        if not raw:
            return b"\x00"
        raw[rng.randrange(len(raw))] ^= 1 << rng.randrange(8)
        return bytes(raw)
    text = str(value)
    if not text:
        return "x"
    at = rng.randrange(len(text))
    return text[:at] + ("0" if text[at] != "0" else "1") + text[at + 1 :]


def chunk_row(connection: Connection, index: int) -> dict[str, Any]:
    row = connection.execute(select(LedgerChunk.__table__).where(LedgerChunk.index == index))
    return dict(row.one()._mapping)


def chunk_row_max(connection: Connection) -> int:
    return max(int(i) for i in connection.scalars(select(LedgerChunk.index)))


def chunk_names(row: dict[str, Any]) -> set[str]:
    """The chunk and every event position it holds."""
    span = range(row["first_seq"], row["first_seq"] + row["size"])
    return {f"chunk {row['index']}"} | {f"event {seq}" for seq in span}


def names_for(table: str, key: int, row: dict[str, Any]) -> set[str]:
    """Positions that identify a row of `table`."""
    if table == "ledger_chunks":
        return chunk_names(row)
    if table == "ledger_checkpoints":
        return {f"checkpoint {key}", "checkpoints"}
    return {"head"}


def rows(connection: Connection, table: Table) -> list[dict[str, Any]]:
    return [dict(r._mapping) for r in connection.execute(select(table))]


def edit(connection: Connection, rng: random.Random, name: str) -> Trial:
    table, pk = TABLES[name]
    existing = rows(connection, table)
    row = rng.choice(existing)
    columns = [c.name for c in table.columns if (name, c.name) not in UNGUARDED]
    column = rng.choice([c for c in columns if row[c] is not None and row[c] != b""])
    key, old, new = row[pk], row[column], changed(row[column], rng)
    if column == pk:  # move the row to a free key (the database refuses a taken one)
        new = max(r[pk] for r in existing) + rng.choice([1, 3])
    connection.execute(update(table).where(table.c[pk] == key).values({column: new}))
    moved = new if column == pk else key

    def undo(c: Connection) -> None:
        c.execute(update(table).where(table.c[pk] == moved).values({column: old}))

    names = names_for(name, key, row) | (names_for(name, new, row) if column == pk else set())
    if name == "ledger_chunks" and column == pk:
        names.add(f"block {key}")  # its block now belongs to no chunk
    return Trial(f"edit {name} {pk}={key} {column}", names, undo)


def remove(connection: Connection, rng: random.Random, name: str) -> Trial:
    table, pk = TABLES[name]
    row = rng.choice(rows(connection, table))
    connection.execute(delete(table).where(table.c[pk] == row[pk]))
    return Trial(
        f"delete {name} {pk}={row[pk]}",
        names_for(name, row[pk], row),
        lambda c: c.execute(insert(table).values(row)),
    )


def add(connection: Connection, rng: random.Random, name: str) -> Trial:
    table, pk = TABLES[name]
    existing = rows(connection, table)
    copy = dict(rng.choice(existing))
    copy[pk] = max(r[pk] for r in existing) + rng.choice([1, 5])
    connection.execute(insert(table).values(copy))
    return Trial(
        f"insert {name} {pk}={copy[pk]}",
        names_for(name, copy[pk], copy) | {"head"},
        lambda c: c.execute(delete(table).where(table.c[pk] == copy[pk])),
    )


def swap(connection: Connection, rng: random.Random, name: str) -> Trial:
    table, pk = TABLES[name]
    first, second = rng.sample(rows(connection, table), 2)
    columns = [c.name for c in table.columns if c.name != pk and (name, c.name) not in UNGUARDED]

    def put(c: Connection, contents: dict[int, dict[str, Any]]) -> None:
        """Give each row (by key) the column values of `contents`."""
        for key in (second[pk], first[pk]):
            values = {k: contents[key][k] for k in columns}
            c.execute(update(table).where(table.c[pk] == key).values(values))

    put(connection, {first[pk]: second, second[pk]: first})
    names = names_for(name, first[pk], first) | names_for(name, second[pk], second)
    return Trial(
        f"swap {name} {first[pk]} and {second[pk]}",
        names,
        lambda c: put(c, {first[pk]: first, second[pk]: second}),
    )


# Blocks


def blocks(connection: Connection) -> dict[int, bytes]:
    return {int(i): bytes(b) for i, b in connection.execute(select(BLOCKS))}


def set_body(index: int, body: bytes) -> Callable[[Connection], object]:
    return lambda c: c.execute(
        update(BLOCKS).where(BLOCKS.c.chunk_index == index).values(body=body)
    )


def named_by_offset(body: bytes, offset: int, index: int, first_seq: int) -> str:
    """What verify must name first for a bit flipped at `offset` of a chunk's block.

    The header and the table of lengths make the block unreadable (its chunk); a stored
    leaf, a stored key or any byte of an event's parts belongs to that event. In a
    compressed block the parts' size, checksum and compressed bytes are the chunk's: a
    changed one fails the checksum before any event is read.
    """
    block = unpack(body)
    count = len(block)
    table = len(MAGIC) + 4 + 12 * count
    dedups = table + LEAF_SIZE * count
    parts = dedups + DEDUP_SIZE * count
    if offset < table:
        return f"chunk {index}"
    if offset < dedups:
        return f"event {first_seq + (offset - table) // LEAF_SIZE}"
    if offset < parts:
        return f"event {first_seq + (offset - dedups) // DEDUP_SIZE}"
    if body[: len(COMPRESSED_MAGIC)] == COMPRESSED_MAGIC:
        return f"chunk {index}"
    at = parts
    for number in range(count):
        at += len(block.heads[number]) + len(block.subjects[number]) + len(block.contents[number])
        if offset < at:
            return f"event {first_seq + number}"
    raise AssertionError("the offset is past the block")


def edit_block(connection: Connection, rng: random.Random) -> Trial:
    """Flip one bit of a block, anywhere in it; or move the block to a free index."""
    stored = blocks(connection)
    index = rng.choice(sorted(stored))
    body = stored[index]
    chunk = chunk_row(connection, index)
    if rng.random() < 0.1:
        free = max(max(stored), chunk_row_max(connection)) + rng.choice([1, 4])
        connection.execute(
            update(BLOCKS).where(BLOCKS.c.chunk_index == index).values(chunk_index=free)
        )
        return Trial(
            f"move block {index} to {free}",
            {f"chunk {index}", f"block {free}"},
            lambda c: c.execute(
                update(BLOCKS).where(BLOCKS.c.chunk_index == free).values(chunk_index=index)
            ),
            first=f"chunk {index}",
        )
    # Flip inside the events' parts half of the time: they are most of a real block,
    # but a small test block is mostly its table.
    parts_at = len(MAGIC) + 4 + (12 + LEAF_SIZE + DEDUP_SIZE) * chunk["size"]
    offset = rng.randrange(parts_at, len(body)) if rng.random() < 0.5 else rng.randrange(len(body))
    edited = bytearray(body)
    edited[offset] ^= 1 << rng.randrange(8)
    set_body(index, bytes(edited))(connection)
    first = named_by_offset(body, offset, index, chunk["first_seq"])
    return Trial(
        f"flip a bit of block {index} at {offset} of {len(body)}",
        {first},
        set_body(index, body),
        first=first,
    )


def remove_block(connection: Connection, rng: random.Random) -> Trial:
    stored = blocks(connection)
    index = rng.choice(sorted(stored))
    connection.execute(delete(BLOCKS).where(BLOCKS.c.chunk_index == index))
    return Trial(
        f"delete block {index}",
        {f"chunk {index}"},
        lambda c: c.execute(insert(BLOCKS).values(chunk_index=index, body=stored[index])),
        first=f"chunk {index}",
    )


def add_block(connection: Connection, rng: random.Random) -> Trial:
    """A copy of a block, under an index no chunk has, or under a purged chunk's."""
    stored = blocks(connection)
    body = stored[rng.choice(sorted(stored))]
    purged = [int(i) for i in connection.scalars(select(LedgerChunk.index).where(_purged))]
    if purged and rng.random() < 0.5:
        index = rng.choice(purged)
        first = f"chunk {index}"
    else:
        index = rng.choice([-3, max(max(stored), chunk_row_max(connection)) + rng.choice([1, 6])])
        first = f"block {index}"
    connection.execute(insert(BLOCKS).values(chunk_index=index, body=body))
    return Trial(
        f"insert a block at {index}",
        {first},
        lambda c: c.execute(delete(BLOCKS).where(BLOCKS.c.chunk_index == index)),
        first=first,
    )


def swap_blocks(connection: Connection, rng: random.Random) -> Trial:
    stored = blocks(connection)
    one, other = rng.sample(sorted(stored), 2)
    set_body(one, stored[other])(connection)
    set_body(other, stored[one])(connection)

    def undo(c: Connection) -> None:
        set_body(one, stored[one])(c)
        set_body(other, stored[other])(c)

    names = chunk_names(chunk_row(connection, one)) | chunk_names(chunk_row(connection, other))
    return Trial(f"swap blocks {one} and {other}", names, undo)


# The de-duplication index: only its size is evidence of anything.


def remove_key(connection: Connection, rng: random.Random) -> Trial:
    key = rng.choice([bytes(k) for k in connection.scalars(select(DEDUP.c.key))])
    connection.execute(delete(DEDUP).where(DEDUP.c.key == key))
    return Trial(
        "delete a de-duplication key",
        {"dedup index"},
        lambda c: c.execute(insert(DEDUP).values(key=key)),
        first="dedup index",
    )


def add_key(connection: Connection, rng: random.Random) -> Trial:
    key = rng.randbytes(16)
    connection.execute(insert(DEDUP).values(key=key))
    return Trial(
        "insert a de-duplication key",
        {"dedup index"},
        lambda c: c.execute(delete(DEDUP).where(DEDUP.c.key == key)),
        first="dedup index",
    )


Mutation = Callable[[Connection, random.Random], Trial]


def on(mutate: Callable[[Connection, random.Random, str], Trial], name: str) -> Mutation:
    return lambda connection, rng: mutate(connection, rng, name)


MUTATIONS: list[Mutation] = [
    *(on(edit, name) for name in TABLES),
    *(on(remove, name) for name in TABLES),
    *(on(add, name) for name in ("ledger_chunks", "ledger_checkpoints")),
    *(on(swap, name) for name in ("ledger_chunks", "ledger_checkpoints")),
    edit_block,
    edit_block,
    edit_block,  # the bit flips are the most varied trials: drawn more often
    remove_block,
    add_block,
    swap_blocks,
    remove_key,
    add_key,
]


@pytest.fixture
def tampered_ledger(
    ledger: LedgerService, database: Database, fill: Callable[[int, int], None]
) -> LedgerService:
    """Six batches of 25 events; the first two batches' chunks purged."""
    fill(6, 25)
    with database.session() as session:
        # The batches came at 09:00 and every 30 minutes; a month on at 09:45, the
        # chunks of the first two have expired.
        result = purge(
            session, ledger.writer, RetentionPolicy(1), datetime(2026, 5, 1, 9, 45, tzinfo=UTC)
        )
    assert result.chunks == 6
    report = ledger.verify()
    assert report.ok, report.problems
    assert report.purged_chunks == 6 and report.events == 4 * 25 + 1
    return ledger


@pytest.mark.parametrize("seed", [1, 2])
def test_any_tampering_is_found_and_named(
    tampered_ledger: LedgerService, database: Database, seed: int
) -> None:
    ledger = tampered_ledger
    rng = random.Random(seed)  # noqa: S311 - reproducible trials, not secrets
    for number in range(TRIALS):
        mutate = rng.choice(MUTATIONS)
        with database.engine.begin() as connection:
            trial = mutate(connection, rng)
        report = ledger.verify()
        context = f"seed {seed} trial {number}: {trial.description}"
        assert not report.ok, f"{context} went unnoticed"
        named = {p.where for p in report.problems}
        assert named & trial.names, f"{context}: verify named {report.problems}"
        if trial.first is not None:
            assert report.problems[0].where == trial.first, f"{context}: {report.problems}"
        with database.engine.begin() as connection:
            trial.undo(connection)
        after = ledger.verify()
        assert after.ok, f"{context}: after undoing, {after.problems}"


def boundaries(body: bytes) -> list[int]:
    """The first and last byte of every field of a block, and of every event's parts."""
    block = unpack(body)
    count = len(block)
    spans = [(0, len(MAGIC)), (len(MAGIC), 4), (len(MAGIC) + 4, 12 * count)]
    at = len(MAGIC) + 4 + 12 * count
    for size in (LEAF_SIZE, DEDUP_SIZE):
        spans += [(at + size * number, size) for number in range(count)]
        at += size * count
    if body[: len(COMPRESSED_MAGIC)] == COMPRESSED_MAGIC:
        # The parts' size, their checksum, and the compressed parts (every 97th byte too).
        spans += [(at, 4), (at + 4, 4)]
        spans += [(offset, 1) for offset in range(at + 8, len(body), 97)]
        at = len(body)
    for number in range(count):
        if at == len(body):
            break
        for part in (block.heads, block.subjects, block.contents):
            spans.append((at, len(part[number])))
            at += len(part[number])
    assert at == len(body)
    return sorted({offset for start, size in spans for offset in (start, start + size - 1)})


@pytest.mark.parametrize("kind", ["compressed", "uncompressed"])
def test_a_bit_flipped_anywhere_in_a_block_names_its_event_or_chunk(
    tampered_ledger: LedgerService, database: Database, kind: str
) -> None:
    ledger = tampered_ledger
    with database.engine.begin() as connection:
        index = min(blocks(connection))  # the first live chunk, of several events
        body = blocks(connection)[index]
        first_seq = chunk_row(connection, index)["first_seq"]
        assert body[: len(COMPRESSED_MAGIC)] == COMPRESSED_MAGIC  # as the ledger writes
        if kind == "uncompressed":  # as blocks were written before compression
            body = bytes(expanded(body))
            set_body(index, body)(connection)
    assert ledger.verify().ok
    rng = random.Random(7)  # noqa: S311
    for offset in boundaries(body):
        edited = bytearray(body)
        edited[offset] ^= 1 << rng.randrange(8)
        with database.engine.begin() as connection:
            set_body(index, bytes(edited))(connection)
        report = ledger.verify()
        expected = named_by_offset(body, offset, index, first_seq)
        assert report.problems, f"a bit flipped at {offset} went unnoticed"
        assert report.problems[0].where == expected, (offset, report.problems)
    with database.engine.begin() as connection:
        set_body(index, body)(connection)
    assert ledger.verify().ok
