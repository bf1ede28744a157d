"""Verify with worker threads reports exactly what it reports in one thread.

The workers check ranges of chunks and the calling thread folds their leaves in order, so the
report, its problems and their order included, must be the same: on a clean ledger, on
one tampered in many places at once, and on one with more problems than are kept. The
workers read the snapshot of the verifying transaction, even when the ledger grows while
they start (PostgreSQL shares the snapshot; SQLite verifies again in one thread).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import Connection, delete, insert, select, update
from typer.testing import CliRunner

from mamori.core.db import Database
from mamori.core.settings import get_settings
from mamori.ledger import verify
from mamori.ledger.blocks import LEAF_SIZE, MAGIC, compress, expanded
from mamori.ledger.cli_support import read_only
from mamori.ledger.models import LedgerBlock, LedgerChunk, LedgerDedup, LedgerState
from mamori.ledger.retention import RetentionPolicy, purge
from mamori.ledger.service import LedgerService
from mamori.ledger.verify import MAX_PROBLEMS, Report, Verifier
from tests.ledger.conftest import sample_event

JOBS = 2


@pytest.fixture(autouse=True)
def _workers_even_for_small_ledgers(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(verify, "PARALLEL_MIN_EVENTS", 0)


def verify_with(
    ledger: LedgerService, jobs: int, progress: Callable[[int], None] | None = None
) -> Report:
    with read_only(ledger.database) as session:
        return Verifier(ledger.vkey, progress, jobs=jobs).run(session.connection())


@pytest.fixture
def filled(
    ledger: LedgerService, database: Database, fill: Callable[[int, int], None]
) -> LedgerService:
    """Six batches of 25 events over three tenants (19 chunks); the first two purged."""
    fill(6, 25)
    with database.session() as session:
        purge(session, ledger.writer, RetentionPolicy(1), datetime(2026, 5, 1, 9, 45, tzinfo=UTC))
    return ledger


def flip(connection: Connection, index: int, offset: int) -> None:
    body = bytearray(
        connection.scalars(select(LedgerBlock.body).where(LedgerBlock.chunk_index == index)).one()
    )
    body[offset] ^= 0x10
    connection.execute(
        update(LedgerBlock).where(LedgerBlock.chunk_index == index).values(body=bytes(body))
    )


def change_last_event(connection: Connection, index: int) -> None:
    """Flip a bit of the last byte of a chunk's last event, in its bytes as they were
    before compression, and store the block compressed again: a well-formed block whose
    event no longer matches its leaf."""
    statement = select(LedgerBlock.body).where(LedgerBlock.chunk_index == index)
    plain = bytearray(expanded(bytes(connection.scalars(statement).one())))
    plain[-1] ^= 0x10
    connection.execute(
        update(LedgerBlock)
        .where(LedgerBlock.chunk_index == index)
        .values(body=compress(bytes(plain)))
    )


def test_a_clean_ledger_gives_the_same_report(filled: LedgerService) -> None:
    seen: list[int] = []
    parallel = verify_with(filled, JOBS, seen.append)
    assert parallel.ok, parallel.problems
    assert parallel == filled.verify()
    assert (parallel.chunks, parallel.purged_chunks, parallel.events) == (19, 6, 101)
    assert seen == sorted(seen) and seen[-1] == parallel.events


def body_of(connection: Connection, index: int) -> bytes:
    statement = select(LedgerBlock.body).where(LedgerBlock.chunk_index == index)
    return bytes(connection.scalars(statement).one())


def first_seq_of(connection: Connection, index: int) -> int:
    return int(
        connection.scalars(select(LedgerChunk.first_seq).where(LedgerChunk.index == index)).one()
    )


def test_a_ledger_tampered_in_many_places_gives_the_same_report(
    filled: LedgerService, database: Database
) -> None:
    with database.engine.begin() as connection:
        copied = body_of(connection, 8)
        # The second stored leaf of chunk 7, the last byte of chunk 16's last event, the
        # last compressed byte of chunk 13.
        size = int.from_bytes(body_of(connection, 7)[len(MAGIC) : len(MAGIC) + 4], "big")
        flip(connection, 7, len(MAGIC) + 4 + 12 * size + LEAF_SIZE + 3)
        change_last_event(connection, 16)
        flip(connection, 13, len(body_of(connection, 13)) - 1)
        leaf_event = first_seq_of(connection, 7) + 1
        content_event = first_seq_of(connection, 17) - 1
        connection.execute(delete(LedgerBlock).where(LedgerBlock.chunk_index == 12))
        connection.execute(insert(LedgerBlock).values(chunk_index=2, body=copied))  # purged
        connection.execute(insert(LedgerBlock).values(chunk_index=-1, body=copied))
        connection.execute(insert(LedgerBlock).values(chunk_index=40, body=copied))
        connection.execute(delete(LedgerChunk).where(LedgerChunk.index == 18))  # the last
        connection.execute(insert(LedgerDedup).values(key=b"\x01" * 16))
    sequential = filled.verify()
    wheres = [problem.where for problem in sequential.problems]
    assert wheres[:2] == ["block -1", "chunk 2"], sequential.problems
    expected = [f"event {leaf_event}", "chunk 12", "chunk 13", f"event {content_event}"]
    expected += ["block 18"]
    expected += ["block 40", "dedup index", "head"]
    named = list(dict.fromkeys(where for where in wheres if where in expected))
    assert named == expected, sequential.problems
    assert verify_with(filled, JOBS) == sequential


def test_more_problems_than_are_kept_are_cut_the_same_way(
    filled: LedgerService, database: Database
) -> None:
    with database.engine.begin() as connection:
        for index in connection.scalars(select(LedgerBlock.chunk_index)).all():
            body = connection.scalars(
                select(LedgerBlock.body).where(LedgerBlock.chunk_index == index)
            ).one()
            size = int.from_bytes(body[len(MAGIC) : len(MAGIC) + 4], "big")
            for number in range(size):  # every stored leaf
                flip(connection, index, len(MAGIC) + 4 + 12 * size + LEAF_SIZE * number)
    sequential = filled.verify()
    assert len(sequential.problems) == MAX_PROBLEMS
    assert verify_with(filled, JOBS) == sequential


def test_the_workers_check_the_ledger_as_the_transaction_sees_it(
    filled: LedgerService,
) -> None:
    before = filled.verify()
    with read_only(filled.database) as session:
        assert session.get(LedgerState, 1) is not None  # the snapshot starts here
        filled.append([sample_event(1000 + n) for n in range(30)])  # committed meanwhile
        report = Verifier(filled.vkey, jobs=JOBS).run(session.connection())
    assert report == before
    after = verify_with(filled, JOBS)
    assert after.ok and after.events == before.events + 30


def test_the_cli_verifies_with_workers(
    cli_env: Path, filled: LedgerService, database: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    from mamori.cli.main import app

    monkeypatch.setenv("MAMORI_DEFAULT_LANGUAGE", "en")
    get_settings.cache_clear()
    runner = CliRunner()
    result = runner.invoke(app, ["ledger", "verify", "--jobs", "2", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["events"] == 101
    with database.engine.begin() as connection:
        flip(connection, 9, len(MAGIC))  # the count of events
    result = runner.invoke(app, ["ledger", "verify", "-j", "2"])
    assert result.exit_code == 1
    assert "First problem: chunk 9: it holds" in result.stdout


def test_a_small_ledger_is_checked_without_workers(
    filled: LedgerService, monkeypatch: pytest.MonkeyPatch
) -> None:
    def no_workers(*args: object, **kwargs: object) -> None:
        raise AssertionError("workers started for a small ledger")

    monkeypatch.setattr(verify, "PARALLEL_MIN_EVENTS", 152)  # 151 positions
    monkeypatch.setattr(verify, "ThreadPoolExecutor", no_workers)
    assert verify_with(filled, JOBS) == filled.verify()
