"""The ledger's tables: events in per-tenant chunks, the log head, checkpoints, holds.

An event is stored as three exact byte strings (UTF-8 JSON): `head` (position, tenant,
service, class, times, severity, action, outcome), `subject` (actor, source address)
and `content` (message, labels, original record). Its leaf commits to the head and to
salted digests of the other two, so a disclosure can redact the subject or the content
and still prove the event. A chunk's events are packed into one compressed block row
(`blocks`). Salts come from the chunk's secret; purging a chunk deletes its block, its
events' keys and its secret but keeps the chunk row, whose hash is a leaf of the log.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
)
from sqlalchemy.orm import Mapped, mapped_column

from mamori.core.db import Base


class LedgerState(Base):
    """The single row holding the log's head: its size, frontier and signed checkpoint."""

    __tablename__ = "ledger_state"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    version: Mapped[int] = mapped_column(BigInteger, default=0)  # bumped to serialise writers
    tree_size: Mapped[int] = mapped_column(BigInteger, default=0)
    next_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    frontier: Mapped[bytes] = mapped_column(LargeBinary, default=b"")
    note: Mapped[str] = mapped_column(Text, default="")  # signed checkpoint of the head
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    # Chunks below it have their de-duplication keys in ledger_dedup; the keys of the
    # others are only in their blocks until a writer merges them (dedup.py).
    dedup_merged: Mapped[int] = mapped_column(BigInteger, default=0, server_default="0")


class LedgerChunk(Base):
    """A run of one tenant's events of one class, appended together; a leaf of the log."""

    __tablename__ = "ledger_chunks"
    __table_args__ = (
        Index("ix_ledger_chunks_tenant_received", "tenant_id", "received_at"),
        Index("ix_ledger_chunks_class_received", "event_class", "received_at"),
        Index("ix_ledger_chunks_first_seq", "first_seq"),  # events are found by position
    )

    index: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)  # None: provider
    event_class: Mapped[str] = mapped_column(String(32))
    first_seq: Mapped[int] = mapped_column(BigInteger)
    size: Mapped[int] = mapped_column(Integer)
    received_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    leaf: Mapped[bytes] = mapped_column(LargeBinary(32))  # names a tampered chunk in verify
    secret: Mapped[bytes | None] = mapped_column(LargeBinary(32), nullable=True)
    purged_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LedgerBlock(Base):
    """A chunk's events packed into one row (see `blocks` for the layout)."""

    __tablename__ = "ledger_blocks"

    # On SQLite an INTEGER primary key is the rowid itself: one B-tree fewer per insert.
    chunk_index: Mapped[int] = mapped_column(
        BigInteger().with_variant(Integer(), "sqlite"), primary_key=True, autoincrement=False
    )
    body: Mapped[bytes] = mapped_column(LargeBinary)


class LedgerDedup(Base):
    """The de-duplication keys of the stored events of the chunks below the head's
    `dedup_merged` (dedup.py): an index, not evidence.

    `verify` recomputes each key from the event's content in its block and checks that
    the index holds as many keys as there are stored events in those chunks.
    """

    __tablename__ = "ledger_dedup"
    __table_args__ = ({"sqlite_with_rowid": False},)

    key: Mapped[bytes] = mapped_column(LargeBinary(16), primary_key=True)


class LedgerCheckpoint(Base):
    """A published checkpoint: what customers cosign and proof bundles are bound to."""

    __tablename__ = "ledger_checkpoints"

    size: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=False)
    root: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)


class LedgerCosigner(Base):
    """A tenant's cosigning key (a C2SP cosignature/v1 verifier key)."""

    __tablename__ = "ledger_cosigners"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    name: Mapped[str] = mapped_column(String(200))
    vkey: Mapped[str] = mapped_column(String(400))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LedgerCosignature(Base):
    """A cosignature a tenant's cosigner made on a published checkpoint."""

    __tablename__ = "ledger_cosignatures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    cosigner_id: Mapped[str] = mapped_column(ForeignKey("ledger_cosigners.id"), index=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    checkpoint_size: Mapped[int] = mapped_column(ForeignKey("ledger_checkpoints.size"), index=True)
    signed_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    line: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class LegalHold(Base):
    """Keeps a tenant's events (or everyone's, tenant None) of a time range from the purge."""

    __tablename__ = "ledger_holds"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reason: Mapped[str] = mapped_column(String(500))
    created_by: Mapped[str] = mapped_column(String(254))
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    released_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LedgerSource(Base):
    """When a (tenant, service) last sent events: for the 'stopped sending' rule and check."""

    __tablename__ = "ledger_sources"

    key: Mapped[str] = mapped_column(String(140), primary_key=True)  # "<tenant or ->|<service>"
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    service_id: Mapped[str] = mapped_column(String(64))
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    silent_alerted_at: Mapped[datetime | None] = mapped_column(
        DateTime(timezone=True), nullable=True
    )


class LedgerAlert(Base):
    """An alert raised by a detection rule."""

    __tablename__ = "ledger_alerts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    rule_id: Mapped[str] = mapped_column(String(64), index=True)
    severity: Mapped[str] = mapped_column(String(16))
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    service_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    group_key: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    first_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    count: Mapped[int] = mapped_column(Integer)
    seqs: Mapped[list[int]] = mapped_column(JSON, default=list)
    title: Mapped[dict[str, str]] = mapped_column(JSON)  # ja/en
    summary: Mapped[dict[str, str]] = mapped_column(JSON)  # ja/en
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    closed_by: Mapped[str | None] = mapped_column(String(254), nullable=True)


class LedgerCursor(Base):
    """How far a background reader (detection) has read the ledger."""

    __tablename__ = "ledger_cursors"

    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    next_seq: Mapped[int] = mapped_column(BigInteger, default=0)
    updated_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LedgerAnalysis(Base):
    """A customer's request for an analysis of its events over a time range, and its result."""

    __tablename__ = "ledger_analyses"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    requested_by: Mapped[str] = mapped_column(String(254))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    status: Mapped[str] = mapped_column(String(16), default="requested")
    checkpoint_size: Mapped[int | None] = mapped_column(BigInteger, nullable=True)
    checkpoint_note: Mapped[str | None] = mapped_column(Text, nullable=True)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSON, nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    completed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)


class LedgerDisclosure(Base):
    """A request for evidence (commitment 20), from review to a one-time download."""

    __tablename__ = "ledger_disclosures"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tenant_id: Mapped[str] = mapped_column(String(64), index=True)
    requester_id: Mapped[str] = mapped_column(String(36))
    requester_label: Mapped[str] = mapped_column(String(254))
    authority: Mapped[str | None] = mapped_column(String(200), nullable=True)
    reason: Mapped[str] = mapped_column(String(1000))
    starts_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    ends_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    filters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    state: Mapped[str] = mapped_column(String(16), index=True)
    review_due_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    reviewer_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    reviewed_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    redactions: Mapped[list[str]] = mapped_column(JSON, default=list)
    approver_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    approved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    package: Mapped[bytes | None] = mapped_column(LargeBinary, nullable=True)
    package_sha256: Mapped[str | None] = mapped_column(String(64), nullable=True)
    downloaded_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str] = mapped_column(String(1000), default="")
