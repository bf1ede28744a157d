"""Tables of the clause index, the commitment catalog and check results."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from mamori.core.clock import utcnow
from mamori.core.db import Base
from mamori.core.text import LText, LTextType


class Clause(Base):
    """An ISO/IEC 27017 clause: number and a short title of our own."""

    __tablename__ = "clauses"

    number: Mapped[str] = mapped_column(String(32), primary_key=True)
    position: Mapped[int] = mapped_column(Integer)
    cloud_specific: Mapped[bool] = mapped_column(Boolean)
    title: Mapped[LText] = mapped_column(LTextType)


class Commitment(Base):
    """One promise the provider publishes in its whitepaper."""

    __tablename__ = "commitments"

    id: Mapped[str] = mapped_column(String(64), primary_key=True)
    position: Mapped[int] = mapped_column(Integer, unique=True)
    title: Mapped[LText] = mapped_column(LTextType)
    statement: Mapped[LText] = mapped_column(LTextType)
    owner_role: Mapped[str] = mapped_column(String(32))
    parameters: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)

    clauses: Mapped[list[CommitmentClause]] = relationship(
        order_by="CommitmentClause.position", cascade="all, delete-orphan"
    )
    checks: Mapped[list[CommitmentCheck]] = relationship(
        order_by="CommitmentCheck.position", cascade="all, delete-orphan"
    )
    responsibility_areas: Mapped[list[ResponsibilityArea]] = relationship(
        order_by="ResponsibilityArea.position", cascade="all, delete-orphan"
    )


class CommitmentClause(Base):
    """A clause that a commitment cites."""

    __tablename__ = "commitment_clauses"

    commitment_id: Mapped[str] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), primary_key=True
    )
    clause_number: Mapped[str] = mapped_column(
        ForeignKey("clauses.number", ondelete="RESTRICT"), primary_key=True
    )
    position: Mapped[int] = mapped_column(Integer)


class CommitmentCheck(Base):
    """A check whose results evidence a commitment."""

    __tablename__ = "commitment_checks"

    commitment_id: Mapped[str] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), primary_key=True
    )
    check_id: Mapped[str] = mapped_column(String(96), primary_key=True, index=True)
    position: Mapped[int] = mapped_column(Integer)


class ResponsibilityArea(Base):
    """A row of a shared-responsibility matrix: who does what in one area."""

    __tablename__ = "responsibility_areas"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    commitment_id: Mapped[str] = mapped_column(
        ForeignKey("commitments.id", ondelete="CASCADE"), index=True
    )
    position: Mapped[int] = mapped_column(Integer)
    area: Mapped[LText] = mapped_column(LTextType)
    provider: Mapped[LText] = mapped_column(LTextType)
    customer: Mapped[LText] = mapped_column(LTextType)
    cloud_platform: Mapped[LText] = mapped_column(LTextType)


class EvaluationRun(Base):
    """One run of `mamori evaluate`."""

    __tablename__ = "evaluation_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    started_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
    finished_at: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    trigger: Mapped[str] = mapped_column(String(32))
    check_count: Mapped[int] = mapped_column(Integer, default=0)
    result_count: Mapped[int] = mapped_column(Integer, default=0)


class CheckResult(Base):
    """One outcome of one check about one subject: the evidence a status rests on."""

    __tablename__ = "check_results"
    __table_args__ = (Index("ix_check_results_check_run", "check_id", "run_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    run_id: Mapped[int] = mapped_column(
        ForeignKey("evaluation_runs.id", ondelete="CASCADE"), index=True
    )
    check_id: Mapped[str] = mapped_column(String(96))
    subject: Mapped[str] = mapped_column(String(255))
    status: Mapped[str] = mapped_column(String(16))
    severity: Mapped[str] = mapped_column(String(16))
    message: Mapped[str] = mapped_column(String(500))
    message_params: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    details: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evaluated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True))
