"""Recompute the whole ledger and say where it first goes wrong.

One read transaction streams chunks and events side by side in position order, so memory
stays flat: every event's bytes are hashed again and compared with its stored leaf, every
chunk's root is rebuilt from its events, every chunk's fields are hashed into its leaf,
the leaves are folded into the log's root and compared with every published checkpoint
and with the signed head; then every cosignature is checked.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from mamori.core.clock import as_utc
from mamori.ledger import merkle
from mamori.ledger.models import LedgerCheckpoint, LedgerCosignature, LedgerCosigner, LedgerState
from mamori.ledger.notes import NoteError, open_checkpoint, split_note, verify_cosignature
from mamori.ledger.records import chunk_leaf_data, dedup_key, event_leaf
from mamori.ledger.store import CHECKPOINT_COUNT

MAX_PROBLEMS = 20
STREAM_BATCH = 5000

CHUNKS_SQL = (
    'SELECT "index", tenant_id, event_class, first_seq, size, received_at, root, leaf, '
    'secret, purged_at FROM ledger_chunks ORDER BY "index"'
)
EVENTS_SQL = (
    "SELECT seq, chunk_index, head, subject, content, leaf, dedup FROM ledger_events ORDER BY seq"
)


@dataclass(frozen=True)
class Problem:
    """Something that does not add up, and where."""

    where: str  # "event 1234", "chunk 17", "checkpoint 40", "head"
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


def _stream(connection: Connection, sql: str, name: str) -> Generator[tuple[Any, ...]]:
    """Rows of `sql`, fetched in batches (a server-side cursor on PostgreSQL)."""
    raw: Any = connection.connection.driver_connection
    if connection.dialect.name == "postgresql":
        cursor = raw.cursor(name=name)
        cursor.itersize = STREAM_BATCH
    else:
        cursor = raw.cursor()
    try:
        cursor.execute(sql)
        while rows := cursor.fetchmany(STREAM_BATCH):
            yield from rows
    finally:
        cursor.close()


def _moment(value: Any) -> datetime:
    """A stored time as an aware UTC datetime (SQLite gives text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return as_utc(value)


class Verifier:
    """Checks one ledger against the log's public key."""

    def __init__(self, vkey: str, progress: Callable[[int], None] | None = None) -> None:
        self.vkey = vkey
        self.progress = progress or (lambda count: None)

    def run(self, connection: Connection) -> Report:
        """Verify everything visible in `connection`'s transaction."""
        report = Report()
        session = Session(bind=connection)
        state = session.get(LedgerState, 1)
        checkpoints = list(
            session.scalars(select(LedgerCheckpoint).order_by(LedgerCheckpoint.size))
        )
        frontier = self._walk(connection, report, checkpoints)
        if state is None:
            report.add("head", "missing")
        else:
            self._head(report, state, frontier, len(checkpoints))
        for checkpoint in checkpoints:
            if checkpoint.size > frontier.size:
                report.add(f"checkpoint {checkpoint.size}", "it covers chunks that do not exist")
        report.checkpoints = len(checkpoints)
        self._cosignatures(session, report, {c.size: c for c in checkpoints})
        return report

    def _walk(
        self, connection: Connection, report: Report, checkpoints: list[LedgerCheckpoint]
    ) -> merkle.Frontier:
        event_rows = _stream(connection, EVENTS_SQL, "verify_events")
        chunk_rows = _stream(connection, CHUNKS_SQL, "verify_chunks")
        try:
            return self._fold(report, checkpoints, _Events(event_rows, report), chunk_rows)
        finally:
            event_rows.close()
            chunk_rows.close()

    def _fold(
        self,
        report: Report,
        checkpoints: list[LedgerCheckpoint],
        events: _Events,
        chunk_rows: Iterator[tuple[Any, ...]],
    ) -> merkle.Frontier:
        frontier = merkle.Frontier()
        due = iter(checkpoints)
        checkpoint = next(due, None)
        expected_seq = 0
        for row in chunk_rows:
            index, tenant, event_class, first, size, received, root, leaf, secret, purged = row
            where = f"chunk {index}"
            if index != frontier.size:
                report.add(f"chunk {frontier.size}", f"missing (the next chunk is {index})")
            if first != expected_seq:
                report.add(where, f"starts at event {first}, expected {expected_seq}")
            data = chunk_leaf_data(
                index, tenant, event_class, first, size, _moment(received), bytes(root)
            )
            recomputed = merkle.leaf_hash(data)
            if recomputed != bytes(leaf):
                report.add(where, "its fields do not match its stored hash")
            events.skip_before(first)
            if purged is None and secret is not None:
                self._chunk_events(events, report, row)
            else:
                report.purged_chunks += 1
                events.expect_none(first, first + size, where)
            frontier.append(recomputed)
            report.chunks += 1
            expected_seq = first + size
            report.next_seq = expected_seq
            while checkpoint is not None and checkpoint.size <= frontier.size:
                if checkpoint.size == frontier.size:
                    self._checkpoint(report, checkpoint, frontier.root())
                checkpoint = next(due, None)
            self.progress(report.events)
        events.skip_before(None)
        return frontier

    def _chunk_events(self, events: _Events, report: Report, row: tuple[Any, ...]) -> None:
        index, tenant, event_class, first, size, _, root, _, secret, _ = row
        leaves: list[bytes] = []
        secret = bytes(secret)
        for seq in range(first, first + size):
            stored = events.take(seq, f"chunk {index}")
            if stored is None:
                continue
            _, chunk_index, head, subject, content, leaf, dedup = stored
            leaf = bytes(leaf)
            if chunk_index != index:
                report.add(f"event {seq}", f"says it is in chunk {chunk_index}, not {index}")
            if event_leaf(secret, seq, head, subject, content) != leaf:
                report.add(f"event {seq}", "its stored bytes do not match its hash")
            elif dedup_key(tenant, event_class, content) != bytes(dedup):
                report.add(f"event {seq}", "its de-duplication key does not match its content")
            leaves.append(leaf)
            report.events += 1
        if len(leaves) == size and merkle.root(leaves) != bytes(root):
            report.add(f"chunk {index}", "its root does not match its events")

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


class _Events:
    """The event stream, consumed in position order alongside the chunks."""

    def __init__(self, rows: Iterator[tuple[Any, ...]], report: Report) -> None:
        self.rows = rows
        self.report = report
        self.current = next(rows, None)

    def _advance(self) -> None:
        self.current = next(self.rows, None)

    def skip_before(self, seq: int | None) -> None:
        """Report and pass over events before `seq` (all remaining when None)."""
        while self.current is not None and (seq is None or self.current[0] < seq):
            self.report.add(f"event {self.current[0]}", "belongs to no chunk")
            self._advance()

    def take(self, seq: int, where: str) -> tuple[Any, ...] | None:
        """The event at `seq`, or None (reported) when it is missing."""
        if self.current is None or self.current[0] != seq:
            self.report.add(f"event {seq}", f"missing from {where}")
            return None
        row = self.current
        self._advance()
        return row

    def expect_none(self, first: int, end: int, where: str) -> None:
        """Report events left behind in a purged range."""
        while self.current is not None and first <= self.current[0] < end:
            self.report.add(f"event {self.current[0]}", f"is still stored in purged {where}")
            self._advance()
