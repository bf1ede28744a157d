"""API input and output of the ledger's customer-facing features (log analyses)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict

from mamori.core.clock import as_utc
from mamori.ledger.models import LedgerAnalysis


class AnalysisIn(BaseModel):
    """A request to analyse the caller's own events in [starts_at, ends_at)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    starts_at: AwareDatetime
    ends_at: AwareDatetime


class AnalysisCheckpointOut(BaseModel):
    """The signed ledger head an analysis is bound to."""

    size: int
    root: str  # SHA-256 root hash, hex
    note: str  # the C2SP signed note, verifiable with the log's public key


class AnalysisOut(BaseModel):
    """An analysis and where to download its report."""

    id: str
    tenant_id: str
    requested_by: str
    starts_at: datetime
    ends_at: datetime
    status: str
    created_at: datetime
    completed_at: datetime | None
    checkpoint: AnalysisCheckpointOut | None
    downloads: dict[str, str]  # format -> path (add ?lang=ja or en to html and pdf)

    @classmethod
    def of(cls, row: LedgerAnalysis) -> AnalysisOut:
        """The API view of `row`."""
        return cls(**_fields(row))


class AnalysisDetailOut(AnalysisOut):
    """An analysis with its aggregates (counts and top lists only)."""

    result: dict[str, Any] | None

    @classmethod
    def of(cls, row: LedgerAnalysis) -> AnalysisDetailOut:
        """The API view of `row`, with its result."""
        return cls(**_fields(row), result=row.result)


def _fields(row: LedgerAnalysis) -> dict[str, Any]:
    checkpoint = (row.result or {}).get("checkpoint")
    done = row.completed_at is not None
    return {
        "id": row.id,
        "tenant_id": row.tenant_id,
        "requested_by": row.requested_by,
        "starts_at": as_utc(row.starts_at),
        "ends_at": as_utc(row.ends_at),
        "status": row.status,
        "created_at": as_utc(row.created_at),
        "completed_at": as_utc(row.completed_at) if row.completed_at else None,
        "checkpoint": (
            AnalysisCheckpointOut(
                size=checkpoint["size"], root=checkpoint["root"], note=row.checkpoint_note or ""
            )
            if checkpoint
            else None
        ),
        "downloads": {f: f"/analyses/{row.id}.{f}" for f in ("html", "pdf", "csv")} if done else {},
    }
