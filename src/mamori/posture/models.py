"""Posture tables: stored snapshots, the findings drawn from them, evaluation history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from mamori.core.db import Base


class PostureSnapshot(Base):
    """A collected or loaded snapshot, kept whole in its file form."""

    __tablename__ = "posture_snapshots"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    collected_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    stored_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(String(255))  # "collect" or the file name loaded
    digest: Mapped[str] = mapped_column(String(64))  # Snapshot.digest()
    resources: Mapped[int] = mapped_column(Integer)
    failed_calls: Mapped[int] = mapped_column(Integer)
    scope: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # resource key -> [service, tenant, rule], made with the rules in force when stored
    # or last re-attributed; and service id -> "dedicated" or "shared"
    attribution: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    network_policy: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # gzip JSON lines (snapshot.py); loaded only when read, not with the row's metadata
    content: Mapped[bytes] = mapped_column(LargeBinary, deferred=True)


class PostureEvaluation(Base):
    """One evaluation of a snapshot: counts for the trend over time."""

    __tablename__ = "posture_evaluations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    snapshot_id: Mapped[int] = mapped_column(
        ForeignKey("posture_snapshots.id", ondelete="CASCADE"), index=True
    )
    run_id: Mapped[int | None] = mapped_column(Integer, nullable=True)  # evaluation_runs.id
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), index=True)
    counts: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)  # status -> count
    # commitment id -> {status -> count}
    by_commitment: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    # tenant id -> {status -> count}, so each customer sees the trend of its own resources
    by_tenant: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)


class PostureFinding(Base):
    """A check's fail or unknown result about one subject, followed across snapshots.

    Opened when first seen, `last_seen_at` moves with every snapshot that still shows it,
    and `resolved_at` is set by the first snapshot that no longer does.
    """

    __tablename__ = "posture_findings"
    __table_args__ = (
        Index("ix_posture_findings_key", "check_id", "subject", unique=False),
        Index("ix_posture_findings_tenant_open", "tenant_id", "resolved_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    check_id: Mapped[str] = mapped_column(String(96))
    subject: Mapped[str] = mapped_column(String(512))
    status: Mapped[str] = mapped_column(String(16))  # fail or unknown
    severity: Mapped[str] = mapped_column(String(16))
    commitments: Mapped[list[str]] = mapped_column(JSON, default=list)
    provider: Mapped[str] = mapped_column(String(16), default="")
    account: Mapped[str] = mapped_column(String(128), default="")
    region: Mapped[str] = mapped_column(String(64), default="")
    resource_type: Mapped[str] = mapped_column(String(96), default="")
    resource_id: Mapped[str] = mapped_column(String(512), default="")
    # The tenant whose resource it is; None for shared and unattributed resources.
    tenant_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    placement: Mapped[str] = mapped_column(String(16))  # tenant, shared or unattributed
    service_id: Mapped[str | None] = mapped_column(String(64), nullable=True, index=True)
    message: Mapped[str] = mapped_column(String(500))
    message_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    raw: Mapped[list[str]] = mapped_column(JSON, default=list)  # raw response digests
    first_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    last_seen_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    first_snapshot_id: Mapped[int] = mapped_column(Integer)
    last_snapshot_id: Mapped[int] = mapped_column(Integer)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
