"""Tampering with any stored row, directly in the database, is found by verify at its position.

Random trials on both databases: edit one column of one row, delete a row, insert a
copied row, or swap the contents of two rows. After each trial `verify` must fail and
name the row that was touched; the change is then undone and `verify` must pass again,
which also shows the undo was exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection, Table, delete, insert, select, update

from mamori.core.db import Database
from mamori.ledger.models import LedgerCheckpoint, LedgerChunk, LedgerEvent, LedgerState
from mamori.ledger.service import LedgerService

TRIALS = 60
# Columns that record nothing about history, so changing them is not tampering:
# the writers' lock counter, when the head was last written, when a checkpoint was made.
UNGUARDED = {("ledger_state", "version"), ("ledger_state", "updated_at")}
UNGUARDED |= {("ledger_checkpoints", "created_at")}
TABLES: dict[str, tuple[Table, str]] = {
    "ledger_events": (LedgerEvent.__table__, "seq"),  # type: ignore[dict-item]
    "ledger_chunks": (LedgerChunk.__table__, "index"),  # type: ignore[dict-item]
    "ledger_checkpoints": (LedgerCheckpoint.__table__, "size"),  # type: ignore[dict-item]
    "ledger_state": (LedgerState.__table__, "id"),  # type: ignore[dict-item]
}


@dataclass
class Trial:
    """One change and how to undo it."""

    description: str
    names: set[str]  # positions verify may name for it
    undo: Callable[[Connection], object]


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


def names_for(table: str, key: int, row: dict[str, Any]) -> set[str]:
    """Positions that identify a row of `table`."""
    if table == "ledger_events":
        return {f"event {key}"}
    if table == "ledger_chunks":
        span = range(row["first_seq"], row["first_seq"] + row["size"])
        return {f"chunk {key}"} | {f"event {seq}" for seq in span}
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
    if name == "ledger_events":
        copy["dedup"] = bytes(reversed(bytes(copy["dedup"])))  # the unique key must differ
    connection.execute(insert(table).values(copy))
    return Trial(
        f"insert {name} {pk}={copy[pk]}",
        names_for(name, copy[pk], copy) | {"head"},
        lambda c: c.execute(delete(table).where(table.c[pk] == copy[pk])),
    )


def swap(connection: Connection, rng: random.Random, name: str) -> Trial:
    table, pk = TABLES[name]
    first, second = rng.sample(rows(connection, table), 2)
    unique = {"dedup"}  # swap unique columns through a free value
    columns = [c.name for c in table.columns if c.name != pk and (name, c.name) not in UNGUARDED]

    def put(c: Connection, contents: dict[int, dict[str, Any]]) -> None:
        """Give each row (by key) the column values of `contents`."""
        parked = {k: b"\xff" * 16 for k in unique if k in columns}
        if parked:
            c.execute(update(table).where(table.c[pk] == first[pk]).values(parked))
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


MUTATIONS = {
    "edit": (edit, list(TABLES)),
    "delete": (remove, ["ledger_events", "ledger_chunks", "ledger_checkpoints", "ledger_state"]),
    "insert": (add, ["ledger_events", "ledger_chunks", "ledger_checkpoints"]),
    "swap": (swap, ["ledger_events", "ledger_chunks", "ledger_checkpoints"]),
}


@pytest.mark.parametrize("seed", [1, 2])
def test_any_tampering_is_found_and_named(
    ledger: LedgerService,
    database: Database,
    fill: Callable[[int, int], None],
    seed: int,
) -> None:
    fill(6, 25)
    assert ledger.verify().ok
    rng = random.Random(seed)  # noqa: S311 - reproducible trials, not secrets
    for number in range(TRIALS):
        kind = rng.choice(list(MUTATIONS))
        mutate, tables = MUTATIONS[kind]
        with database.engine.begin() as connection:
            trial = mutate(connection, rng, rng.choice(tables))
        report = ledger.verify()
        context = f"seed {seed} trial {number}: {trial.description}"
        assert not report.ok, f"{context} went unnoticed"
        named = {p.where for p in report.problems}
        assert named & trial.names, f"{context}: verify named {report.problems}"
        with database.engine.begin() as connection:
            trial.undo(connection)
        after = ledger.verify()
        assert after.ok, f"{context}: after undoing, {after.problems}"
