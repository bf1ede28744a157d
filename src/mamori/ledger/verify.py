"""Recompute the whole ledger and say where it first goes wrong.

One read transaction streams the chunks and their blocks side by side in index order, so
memory stays flat: every event's bytes are hashed again and compared with the leaf its
block stores, every chunk's root is rebuilt from those leaves, every chunk's fields are
hashed into its leaf, the leaves are folded into the log's root and compared with every
published checkpoint and with the signed head; then every cosignature is checked. A
purged chunk must have no block left, every block must belong to a chunk, and the
de-duplication index must hold one key per stored event (it is an index, not evidence:
only its size is checked).

With `jobs` above one, worker threads check ranges of chunk indexes (blocks, events,
roots and chunk leaves), each on a connection of its own, and the calling thread folds
the chunk leaves they return, in order, exactly as it folds its own: the report is the
same. Threads run in parallel because the hashing (`hashing.block_digests`, native)
and the database driver release the GIL. The workers read the same snapshot: PostgreSQL
exports this transaction's snapshot to them; on SQLite, where it cannot be shared, a
worker that sees another version of the head than the caller does (the ledger changed in
between) makes the verification run again in the calling thread.
"""

from __future__ import annotations

import itertools
import math
import re
import threading
from collections.abc import Callable, Generator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, RootTransaction, select
from sqlalchemy.orm import Session

from mamori.core.clock import as_utc
from mamori.core.db import READ_ONLY, make_engine
from mamori.ledger import merkle
from mamori.ledger.blocks import DEDUP_SIZE, LEAF_SIZE, BlockError, expanded, layout
from mamori.ledger.hashing import block_digests
from mamori.ledger.models import LedgerCheckpoint, LedgerCosignature, LedgerCosigner, LedgerState
from mamori.ledger.notes import NoteError, open_checkpoint, split_note, verify_cosignature
from mamori.ledger.records import chunk_leaf_data
from mamori.ledger.store import CHECKPOINT_COUNT

MAX_PROBLEMS = 20
CHUNK_BATCH = 5000  # chunk rows fetched at a time
BLOCK_BATCH = 50  # block rows fetched at a time (a block holds up to a whole batch)
SPAN_EVENTS = 50_000  # about this many events per range a worker checks at a time
SPANS_PER_JOB = 4  # at least this many ranges per worker, so they finish together
# Smaller ledgers are checked in the calling thread: opening the workers' connections
# would cost about what they save.
PARALLEL_MIN_EVENTS = 20_000

CHUNKS_SQL = (
    'SELECT "index", tenant_id, event_class, first_seq, size, received_at, root, leaf, '
    'secret, purged_at FROM ledger_chunks ORDER BY "index"'
)
BLOCKS_SQL = "SELECT chunk_index, body FROM ledger_blocks ORDER BY chunk_index"
DEDUP_COUNT_SQL = "SELECT COUNT(*) FROM ledger_dedup"
SPANS_SQL = 'SELECT MIN("index"), MAX("index"), COUNT(*), SUM(size) FROM ledger_chunks'

MAX_SECRET = 64  # a BLAKE2b key
_UNREADABLE = merkle.leaf_hash(b"")  # folded in for a chunk whose leaf cannot be read
_SNAPSHOT = re.compile(r"[0-9A-Fa-f-]+")  # what pg_export_snapshot() answers


@dataclass(frozen=True)
class Problem:
    """Something that does not add up, and where."""

    where: str  # "event 1234", "chunk 17", "block 9", "checkpoint 40", "head"
    what: str


@dataclass
class Report:
    """The outcome of a verification."""

    events: int = 0
    chunks: int = 0
    purged_chunks: int = 0
    checkpoints: int = 0
    cosignatures: int = 0
    tree_size: int = 0
    next_seq: int = 0  # the position after the last chunk
    problems: list[Problem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when nothing was found wrong."""
        return not self.problems

    def add(self, where: str, what: str) -> None:
        """Record a problem (the first few are kept)."""
        if len(self.problems) < MAX_PROBLEMS:
            self.problems.append(Problem(where, what))


def _ranged(sql: str, column: str, low: int | None, high: int | None) -> str:
    """`sql` (one table, ending in ORDER BY) limited to `low <= column < high`."""
    bounds = []
    if low is not None:
        bounds.append(f"{column} >= {int(low)}")
    if high is not None:
        bounds.append(f"{column} < {int(high)}")
    if not bounds:
        return sql
    head, order = sql.split(" ORDER BY ")
    return f"{head} WHERE {' AND '.join(bounds)} ORDER BY {order}"


def _stream(connection: Connection, sql: str, name: str, batch: int) -> Generator[tuple[Any, ...]]:
    """Rows of `sql`, fetched in batches (a server-side cursor on PostgreSQL)."""
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor(name=name)
        cursor.itersize = batch
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(batch):
            yield from rows
    finally:
        cursor.close()


def _moment(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


# One chunk checked: index, first_seq, size, its recomputed leaf, the blocks before it
# that belong to no chunk, its problems (where, what), events checked, events stored
# (live chunks with a block) and whether it is purged. The last item of a range has
# index None and carries only the stray blocks after its last chunk.
Checked = tuple[int | None, int, int, bytes, list[int], list[tuple[str, str]], int, int, bool]


def check_range(
    connection: Connection, low: int | None = None, high: int | None = None
) -> Generator[Checked]:
    """Check the chunks with `low <= index < high` (None: unbounded) and their blocks."""
    chunks = _stream(
        connection, _ranged(CHUNKS_SQL, '"index"', low, high), "verify_chunks", CHUNK_BATCH
    )
    blocks = _stream(
        connection, _ranged(BLOCKS_SQL, "chunk_index", low, high), "verify_blocks", BLOCK_BATCH
    )
    try:
        block = next(blocks, None)
        for row in chunks:
            index = row[0]
            strays: list[int] = []
            while block is not None and block[0] < index:
                if len(strays) < MAX_PROBLEMS:
                    strays.append(block[0])
                block = next(blocks, None)
            body = None
            if block is not None and block[0] == index:
                body = block[1]
                block = next(blocks, None)
            problems: list[tuple[str, str]] = []
            try:
                leaf, events, stored, purged = _check_chunk(row, body, problems)
            except (TypeError, ValueError, OverflowError) as exc:  # a value of another type
                problems.append((f"chunk {index}", f"its row cannot be read: {exc}"))
                leaf = row[7] if isinstance(row[7], bytes) else _UNREADABLE
                purged = row[9] is not None or row[8] is None
                events, stored = 0, row[4] if not purged and body is not None else 0
            yield (index, row[3], row[4], leaf, strays, problems, events, stored, purged)
        strays = []
        while block is not None and len(strays) < MAX_PROBLEMS:
            strays.append(block[0])
            block = next(blocks, None)
        yield (None, 0, 0, b"", strays, [], 0, 0, False)
    finally:
        chunks.close()
        blocks.close()


def _check_chunk(
    row: tuple[Any, ...], body: bytes | None, problems: list[tuple[str, str]]
) -> tuple[bytes, int, int, bool]:
    """Check one chunk row and its block; returns its leaf, events checked and stored."""
    index, tenant, event_class, first, size, received, root, leaf, secret, purged = row
    root = bytes(root)
    data = chunk_leaf_data(index, tenant, event_class, first, size, _moment(received), root)
    recomputed = merkle.leaf_hash(data)
    if recomputed != bytes(leaf):
        problems.append((f"chunk {index}", "its fields do not match its stored hash"))
    if purged is not None or secret is None:
        if body is not None:
            problems.append((f"chunk {index}", "its events are still stored after the purge"))
        return recomputed, 0, 0, True
    if body is None:
        problems.append((f"chunk {index}", "its events are missing"))
        return recomputed, 0, 0, False
    scope = f"{tenant or '-'}|{event_class}|".encode()
    checked = _check_block(index, first, size, root, bytes(secret), scope, bytes(body), problems)
    return recomputed, checked, size, False


def _check_block(
    index: int,
    first: int,
    size: int,
    root: bytes,
    secret: bytes,
    scope: bytes,
    body: bytes | bytearray,
    problems: list[tuple[str, str]],
) -> int:
    """Hash every event of a live chunk's block again; returns the events checked.

    `hashing.block_digests` recomputes the leaves and keys (natively where built); they
    are compared with the block's own as whole runs of bytes, event by event only when
    they differ.
    """
    try:
        body = expanded(body, size)
        shape = layout(body, size)
    except BlockError as exc:
        problems.append((f"chunk {index}", str(exc)))
        return 0
    if first < 0 or first + size > 1 << 64:
        problems.append((f"chunk {index}", "its events' positions are out of range"))
        return 0
    if len(secret) > MAX_SECRET:
        problems.append((f"chunk {index}", "its secret is not a key"))
        return 0
    leaves, keys, stored_root = block_digests(body, first, secret, scope)
    stored_leaves = body[shape.leaves_at : shape.dedups_at]
    stored_keys = body[shape.dedups_at : shape.parts_at]
    if leaves != stored_leaves or keys != stored_keys:
        for number in range(size):
            at = number * LEAF_SIZE
            if leaves[at : at + LEAF_SIZE] != stored_leaves[at : at + LEAF_SIZE]:
                problems.append(
                    (f"event {first + number}", "its stored bytes do not match its hash")
                )
                continue
            at = number * DEDUP_SIZE
            if keys[at : at + DEDUP_SIZE] != stored_keys[at : at + DEDUP_SIZE]:
                problems.append(
                    (f"event {first + number}", "its de-duplication key does not match its content")
                )
    if stored_root != root:
        problems.append((f"chunk {index}", "its root does not match its events"))
    return size


class _Fold:
    """Chunk leaves folded into the log in order, checked against the checkpoints."""

    def __init__(
        self,
        report: Report,
        checkpoints: list[LedgerCheckpoint],
        check_checkpoint: Callable[[Report, LedgerCheckpoint, bytes], None],
        progress: Callable[[int], None],
        dedup_merged: int = 0,
    ) -> None:
        self.report = report
        self.frontier = merkle.Frontier()
        self.due = iter(checkpoints)
        self.checkpoint = next(self.due, None)
        self.check_checkpoint = check_checkpoint
        self.progress = progress
        self.expected_seq = 0
        self.stored = 0  # events in live chunks' blocks
        # Chunks from here on have their keys only in their blocks (dedup.py).
        self.dedup_merged = dedup_merged
        self.indexed = 0  # events in live blocks below it: the keys the index should hold

    def add(self, checked: Checked) -> None:
        """Fold one checked chunk (or the end of a range) in."""
        index, first, size, leaf, strays, problems, events, stored, purged = checked
        report, frontier = self.report, self.frontier
        for stray in strays:
            report.add(f"block {stray}", "belongs to no chunk")
        if index is None:
            return
        if index != frontier.size:
            report.add(f"chunk {frontier.size}", f"missing (the next chunk is {index})")
        if first != self.expected_seq:
            report.add(f"chunk {index}", f"starts at event {first}, expected {self.expected_seq}")
        for where, what in problems:
            report.add(where, what)
        frontier.append(leaf)
        report.chunks += 1
        report.events += events
        report.purged_chunks += purged
        self.stored += stored
        if index < self.dedup_merged:
            self.indexed += stored
        self.expected_seq = first + size
        report.next_seq = self.expected_seq
        while self.checkpoint is not None and self.checkpoint.size <= frontier.size:
            if self.checkpoint.size == frontier.size:
                self.check_checkpoint(report, self.checkpoint, frontier.root())
            self.checkpoint = next(self.due, None)
        self.progress(report.events)

    def dedup_index(self, keys: int) -> None:
        """Compare the size of the de-duplication index with the events it should hold."""
        if keys != self.indexed:
            self.report.add(
                "dedup index",
                f"holds {keys} keys for {self.indexed} stored events of the chunks below"
                f" {self.dedup_merged}",
            )


class Verifier:
    """Checks one ledger against the log's public key.

    `jobs` above one checks chunks in that many worker threads, each with its own
    connection to `url` (by default the URL of the connection given to `run`).
    """

    def __init__(
        self,
        vkey: str,
        progress: Callable[[int], None] | None = None,
        *,
        jobs: int = 1,
        url: str | None = None,
    ) -> None:
        self.vkey = vkey
        self.progress = progress or (lambda count: None)
        self.jobs = max(1, jobs)
        self.url = url
        self._dedup_merged = 0  # the head's mark, read by `run`

    def run(self, connection: Connection) -> Report:
        """Verify everything visible in `connection`'s transaction."""
        session = Session(bind=connection)
        state = session.get(LedgerState, 1)
        checkpoints = list(
            session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size))
        )
        version = None if state is None else state.version
        self._dedup_merged = 0 if state is None else int(state.dedup_merged)
        url = self._worker_url(connection)
        fold = None
        if url is not None:
            fold = self._walk_parallel(connection, checkpoints, url, version)
        if fold is None:
            fold = self._walk(connection, checkpoints)
        report = fold.report
        if state is None:
            report.add("head", "missing")
        else:
            self._head(report, state, fold.frontier, len(checkpoints))
        for checkpoint in checkpoints:
            if checkpoint.size > fold.frontier.size:
                report.add(f"checkpoint {checkpoint.size}", "it covers chunks that do not exist")
        report.checkpoints = len(checkpoints)
        self._cosignatures(session, report, {c.size: c for c in checkpoints})
        return report

    def _new_fold(self, checkpoints: list[LedgerCheckpoint]) -> _Fold:
        return _Fold(Report(), checkpoints, self._checkpoint, self.progress, self._dedup_merged)

    def _walk(self, connection: Connection, checkpoints: list[LedgerCheckpoint]) -> _Fold:
        fold = self._new_fold(checkpoints)
        checked = check_range(connection)
        try:
            for item in checked:
                fold.add(item)
        finally:
            checked.close()
        fold.dedup_index(_dedup_keys(connection))
        return fold

    def _worker_url(self, connection: Connection) -> str | None:
        """Where the workers connect; None when verifying in this process only."""
        if self.jobs < 2:
            return None
        if self.url is not None:
            return self.url
        url = connection.engine.url
        if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
            return None  # a private database no other process can open
        return url.render_as_string(hide_password=False)

    def _walk_parallel(
        self,
        connection: Connection,
        checkpoints: list[LedgerCheckpoint],
        url: str,
        version: int | None,
    ) -> _Fold | None:
        """The chunks checked by workers; None when they saw another ledger (SQLite).

        None too, without starting workers, for a ledger too small to be worth them.
        """
        spans = _spans(connection, self.jobs)
        if spans is None:
            return None
        snapshot = None
        if connection.dialect.name == "postgresql":
            snapshot = str(connection.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one())
        fold = self._new_fold(checkpoints)
        readers = _Readers(url, snapshot, self.jobs)
        try:
            with ThreadPoolExecutor(self.jobs, thread_name_prefix="mamori-verify") as pool:
                results = pool.map(readers.check, spans)
                keys = _dedup_keys(connection)  # while the workers hash
                try:
                    for seen, items in results:
                        if seen != version:
                            return None
                        for item in items:
                            fold.add(item)
                finally:
                    pool.shutdown(cancel_futures=True)
        finally:
            readers.close()
        fold.dedup_index(keys)
        return fold

    def _checkpoint(self, report: Report, checkpoint: LedgerCheckpoint, root: bytes) -> None:
        where = f"checkpoint {checkpoint.size}"
        try:
            signed = open_checkpoint(checkpoint.note, self.vkey)
        except NoteError as exc:
            report.add(where, str(exc))
            return
        if signed.size != checkpoint.size or signed.root != bytes(checkpoint.root):
            report.add(where, "its stored size or root differs from what is signed")
        if signed.root != root:
            report.add(where, "the log's chunks no longer lead to the signed root")

    def _head(
        self, report: Report, state: LedgerState, frontier: merkle.Frontier, checkpoints: int
    ) -> None:
        report.tree_size = frontier.size
        if state.tree_size != frontier.size:
            report.add("head", f"says {state.tree_size} chunks, found {frontier.size}")
        if state.next_seq != report.next_seq:
            report.add("head", f"says the next event is {state.next_seq}, not {report.next_seq}")
        if state.tree_size == 0 and not state.note:
            return
        try:
            signed = open_checkpoint(state.note, self.vkey)
        except NoteError as exc:
            report.add("head", str(exc))
            return
        if signed.size != frontier.size or signed.root != frontier.root():
            report.add("head", "the signed head does not match the chunks stored")
        if f"{CHECKPOINT_COUNT} {checkpoints}" not in signed.extensions:
            report.add("checkpoints", f"{checkpoints} stored, not the number the head signed")
        stored = (
            merkle.Frontier.load(state.tree_size, bytes(state.frontier)) if _fits(state) else None
        )
        if stored is None or stored.root() != signed.root:
            report.add("head", "the stored frontier does not match the signed head")

    def _cosignatures(
        self, session: Session, report: Report, checkpoints: dict[int, LedgerCheckpoint]
    ) -> None:
        rows = session.execute(
            select(LedgerCosignature, LedgerCosigner).join(
                LedgerCosigner, LedgerCosigner.id == LedgerCosignature.cosigner_id
            )
        ).all()
        for cosignature, cosigner in rows:
            where = f"cosignature {cosignature.id}"
            checkpoint = checkpoints.get(cosignature.checkpoint_size)
            if checkpoint is None:
                report.add(where, "its checkpoint is missing")
                continue
            try:
                body, _ = split_note(checkpoint.note)
                _, lines = split_note(body + "\n" + cosignature.line.rstrip("\n") + "\n")
                verify_cosignature(body, lines[0], cosigner.vkey)
            except (NoteError, IndexError) as exc:
                report.add(where, str(exc) or "unreadable")
                continue
            report.cosignatures += 1


def _fits(state: LedgerState) -> bool:
    return len(bytes(state.frontier)) == 32 * bin(state.tree_size).count("1")


def _dedup_keys(connection: Connection) -> int:
    return int(connection.exec_driver_sql(DEDUP_COUNT_SQL).scalar_one())


def _spans(connection: Connection, jobs: int) -> list[tuple[int | None, int | None]] | None:
    """Ranges of chunk indexes [low, high) covering every index, None: unbounded.

    About SPAN_EVENTS events each (at least SPANS_PER_JOB per worker), of equal widths
    between the lowest and highest index; the first and last are open-ended, so blocks
    outside the chunks' indexes are seen too. None under PARALLEL_MIN_EVENTS events.
    """
    low, high, count, events = connection.exec_driver_sql(SPANS_SQL).one()
    if not count or int(events or 0) < PARALLEL_MIN_EVENTS:
        return None
    wanted = max(jobs * SPANS_PER_JOB, math.ceil(int(events or 0) / SPAN_EVENTS))
    number = max(1, min(wanted, int(count)))
    width = max(1, math.ceil((int(high) - int(low) + 1) / number))
    cuts = [int(low) + width * step for step in range(1, number)]
    cuts = [cut for cut in cuts if cut <= int(high)]
    bounds: list[int | None] = [None, *cuts, None]
    return list(itertools.pairwise(bounds))


class _Readers:
    """The worker threads' connections: one each, opened on first use, in one read
    transaction for the whole verification (in `snapshot` on PostgreSQL)."""

    def __init__(self, url: str, snapshot: str | None, jobs: int) -> None:
        if snapshot is not None and not _SNAPSHOT.fullmatch(snapshot):
            raise ValueError(f"not a snapshot: {snapshot!r}")
        self.engine = make_engine(url, pool_size=jobs)
        self.snapshot = snapshot
        self.local = threading.local()
        self.opened: list[tuple[Connection, RootTransaction]] = []
        self.lock = threading.Lock()

    def check(self, span: tuple[int | None, int | None]) -> tuple[int | None, list[Checked]]:
        """The head's version this thread sees and the chunks of `span`, checked.

        Problems past the first MAX_PROBLEMS of the span are dropped: they could not be
        reported anyway.
        """
        reader = getattr(self.local, "reader", None)
        if reader is None:
            reader = self.local.reader = self._open()
        connection, version = reader
        items: list[Checked] = []
        kept = 0
        checked = check_range(connection, *span)
        try:
            for item in checked:
                index, first, size, leaf, strays, problems, events, stored, purged = item
                if kept >= MAX_PROBLEMS and (problems or strays):
                    item = (index, first, size, leaf, [], [], events, stored, purged)
                kept += len(problems) + len(strays)
                items.append(item)
        finally:
            checked.close()
        return version, items

    def _open(self) -> tuple[Connection, int | None]:
        connection = self.engine.connect()
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        else:
            connection = connection.execution_options(**READ_ONLY)
        transaction = connection.begin()
        with self.lock:
            self.opened.append((connection, transaction))
        if self.snapshot is not None:
            connection.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{self.snapshot}'")
        version = connection.execute(select(LedgerState.version).where(LedgerState.id == 1))
        return connection, version.scalar_one_or_none()

    def close(self) -> None:
        """End every worker's transaction and close its connection."""
        for connection, transaction in self.opened:
            transaction.rollback()
            connection.close()
        self.engine.dispose()
