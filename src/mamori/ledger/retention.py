"""Retention: keep every event exactly as long as the whitepaper promises, then erase it.

The period comes from the commitment catalog: the `log_retention_months` parameter (12
in the demo), with `retention_months_by_class` overriding it per event class. An event
expires `months` calendar months after it was received, compared in UTC; when that day
does not exist (31 January + 1 month) the expiry moves on to the start of the next
month, never back. A chunk is purged only when every event in it has expired and no
active legal hold covers it. Purging deletes the events and the chunk's secret (so the
salts are gone too) and keeps the chunk row, its hash and every checkpoint: the log
and proofs issued earlier still verify. Each run is itself recorded in the ledger.
"""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Mapping, Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from sqlalchemy import Connection, delete, select, update
from sqlalchemy.orm import Session

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.clock import as_utc
from mamori.core.errors import ConflictError, InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.ledger.blocks import BlockError, dedups_of
from mamori.ledger.dedup import block_keys, in_key_order
from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.models import LedgerBlock, LedgerChunk, LegalHold
from mamori.ledger.records import Attributed, EventClass
from mamori.ledger.store import LedgerWriter, aware_utc

MONTHS_PARAMETER = "log_retention_months"
BY_CLASS_PARAMETER = "retention_months_by_class"
DEFAULT_MONTHS = 12
PURGE_BATCH_CHUNKS = 500


def add_months(moment: datetime, months: int) -> datetime:
    """`moment` (UTC) plus calendar months; a missing day rolls forward to the next month."""
    moment = aware_utc(moment)
    total = moment.year * 12 + (moment.month - 1) + months
    year, month = divmod(total, 12)
    try:
        return moment.replace(year=year, month=month + 1)
    except ValueError:  # no such day in that month: the first instant of the next month
        year, month = divmod(total + 1, 12)
        return datetime(year, month + 1, 1, tzinfo=UTC)


@dataclass(frozen=True)
class RetentionPolicy:
    """How many months each event class is kept."""

    default_months: int = DEFAULT_MONTHS
    by_class: Mapping[str, int] = field(default_factory=dict)

    def months_for(self, event_class: str) -> int:
        """The retention of `event_class` in months."""
        return self.by_class.get(event_class, self.default_months)

    def expires_at(self, received_at: datetime, event_class: str) -> datetime:
        """When an event of `event_class` received at `received_at` may be erased."""
        return add_months(received_at, self.months_for(event_class))


def policy_from_catalog(session: Session) -> RetentionPolicy:
    """The policy the published commitments state (the longest, if several state one)."""
    months: list[int] = []
    by_class: dict[str, int] = {}
    for commitment in CommitmentsService(session, CheckRegistry()).commitments():
        parameters = commitment.parameters or {}
        if isinstance(parameters.get(MONTHS_PARAMETER), int):
            months.append(parameters[MONTHS_PARAMETER])
        for name, value in (parameters.get(BY_CLASS_PARAMETER) or {}).items():
            if isinstance(value, int):
                by_class[str(name)] = max(value, by_class.get(str(name), 0))
    return RetentionPolicy(max(months) if months else DEFAULT_MONTHS, by_class)


@dataclass(frozen=True)
class PurgeResult:
    """What one purge run erased and what it kept because of holds."""

    chunks: int
    events: int
    held_chunks: int
    ran_at: datetime


def _held(chunk: LedgerChunk, holds: Sequence[LegalHold]) -> bool:
    received = as_utc(chunk.received_at)
    return any(
        (hold.tenant_id is None or hold.tenant_id == chunk.tenant_id)
        and as_utc(hold.starts_at) <= received < as_utc(hold.ends_at)
        for hold in holds
    )


def expired_chunks(
    session: Session, policy: RetentionPolicy, now: datetime
) -> tuple[list[LedgerChunk], int]:
    """Chunks every event of which has expired at `now` and no hold keeps; and how many held."""
    now = aware_utc(now)
    shortest = min([policy.default_months, *policy.by_class.values()])
    # No month is shorter than 28 days, so nothing newer than this can have expired.
    horizon = now - timedelta(days=28 * shortest)
    candidates = session.scalars(
        select(LedgerChunk)
        .where(LedgerChunk.purged_at.is_(None))
        .where(LedgerChunk.received_at <= horizon)
        .order_by(LedgerChunk.index)
    ).all()
    holds = session.scalars(select(LegalHold).where(LegalHold.released_at.is_(None))).all()
    due, held = [], 0
    for chunk in candidates:
        if policy.expires_at(as_utc(chunk.received_at), chunk.event_class) > now:
            continue
        if _held(chunk, holds):
            held += 1
        else:
            due.append(chunk)
    return due, held


PURGE_GROUP_EVENTS = 20_000  # events whose blocks are read at a time (about 15 MB)

DEDUP_DELETE = {
    "qmark": "DELETE FROM ledger_dedup WHERE key = ?",
    "format": "DELETE FROM ledger_dedup WHERE key = %s",
}


def purge_groups(chunks: Sequence[LedgerChunk]) -> list[list[int]]:
    """The chunks' indexes in order, grouped so a group holds about PURGE_GROUP_EVENTS."""
    groups: list[list[int]] = []
    held = PURGE_GROUP_EVENTS
    for chunk in sorted(chunks, key=lambda c: c.index):
        if held >= PURGE_GROUP_EVENTS:
            groups.append([])
            held = 0
        groups[-1].append(chunk.index)
        held += chunk.size
    return groups


def erase(connection: Connection, chunks: Sequence[LedgerChunk], now: datetime) -> int:
    """Delete the blocks, event keys and secrets of `chunks`; returns the events deleted.

    Blocks are read a group at a time for their events' de-duplication keys, so memory
    stays bounded however much has expired.
    """
    deleted = 0
    style = "qmark" if connection.dialect.paramstyle == "qmark" else "format"
    for group in purge_groups(chunks):
        # In key order: the keys of a month lie together in the index (they start with
        # their hour), and the deletes then walk its pages once.
        keys = in_key_order(_keys_of_blocks(connection, group))
        if keys:
            connection.exec_driver_sql(DEDUP_DELETE[style], [(key,) for key in keys])
        connection.execute(delete(LedgerBlock).where(LedgerBlock.chunk_index.in_(group)))
        deleted += len(keys)
    if chunks:
        connection.execute(
            update(LedgerChunk)
            .where(LedgerChunk.index.in_([chunk.index for chunk in chunks]))
            .values(secret=None, purged_at=now)
        )
    return deleted


def _keys_of_blocks(connection: Connection, indexes: list[int]) -> list[bytes]:
    """The de-duplication keys in the blocks of chunks `indexes`.

    A damaged block is skipped: `verify` names it, and its keys cannot be read. On SQLite
    only each block's key section is read (incremental blob I/O), not its events.
    """
    raw = connection.connection.driver_connection
    if isinstance(raw, sqlite3.Connection):
        return block_keys(raw, indexes)
    bodies = connection.execute(
        select(LedgerBlock.body).where(LedgerBlock.chunk_index.in_(indexes))
    ).scalars()
    keys: list[bytes] = []
    for body in bodies:
        with suppress(BlockError):
            keys += dedups_of(body)
    return keys


def purge_record(result: PurgeResult, policy: RetentionPolicy) -> Attributed:
    """The ledger entry that records a purge run."""
    details = {
        "chunks": result.chunks,
        "events": result.events,
        "held_chunks": result.held_chunks,
        "default_months": policy.default_months,
        "months_by_class": dict(policy.by_class),
        "ran_at": result.ran_at.isoformat(),
    }
    event = IncomingEvent(
        original=details,
        occurred_at=result.ran_at,
        severity=Severity.NOTICE,
        actor="system",
        action="ledger.purge",
        outcome=Outcome.SUCCESS,
        message=f"purged {result.events} events in {result.chunks} chunks",
    )
    return Attributed(event, None, None, EventClass.LEDGER)


def new_hold(
    tenant_id: str | None,
    starts_at: datetime,
    ends_at: datetime,
    reason: str,
    by: str,
    now: datetime,
) -> LegalHold:
    """A legal hold, checked: a real range and a reason."""
    if aware_utc(starts_at) >= aware_utc(ends_at):
        raise InputError(N_("the hold must end after it starts"), field="ends_at")
    if not reason.strip():
        raise InputError(N_("say why the events are held"), field="reason")
    return LegalHold(
        id=str(uuid.uuid4()),
        tenant_id=tenant_id,
        starts_at=starts_at,
        ends_at=ends_at,
        reason=reason.strip()[:500],
        created_by=by,
        created_at=now,
    )


def release_hold(session: Session, hold_id: str, now: datetime) -> LegalHold:
    """End a hold; the purge may then erase what it kept."""
    hold = session.get(LegalHold, hold_id)
    if hold is None:
        raise NotFoundError(N_("no such legal hold"))
    if hold.released_at is not None:
        raise ConflictError(N_("this legal hold was already released"))
    hold.released_at = now
    return hold


def purge(
    session: Session, writer: LedgerWriter, policy: RetentionPolicy, now: datetime
) -> PurgeResult:
    """Erase every expired, unheld chunk and record the run, in `session`'s transaction."""
    now = aware_utc(now)
    due, held = expired_chunks(session, policy, now)
    connection = session.connection()
    if due:  # every key in the index first, so that deleting them there is enough
        writer.merge_keys(connection)
    deleted = 0
    for start in range(0, len(due), PURGE_BATCH_CHUNKS):
        deleted += erase(connection, due[start : start + PURGE_BATCH_CHUNKS], now)
    result = PurgeResult(len(due), deleted, held, now)
    writer.append(connection, [purge_record(result, policy)])
    session.expire_all()
    return result
