"""Every query on clauses, commitments and check results."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, func, insert, select, tuple_
from sqlalchemy.orm import Session, selectinload

from mamori.commitments.models import (
    CheckResult,
    Clause,
    Commitment,
    CommitmentCheck,
    CommitmentClause,
    EvaluationRun,
    ResponsibilityArea,
)


class CommitmentsRepository:
    """Reads and writes of this domain's tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def clauses(self) -> Sequence[Clause]:
        """The clause index in order."""
        return self.session.scalars(select(Clause).order_by(Clause.position)).all()

    def commitments(self) -> Sequence[Commitment]:
        """All commitments in whitepaper order, with clauses, checks and matrix."""
        return self.session.scalars(
            select(Commitment)
            .options(
                selectinload(Commitment.clauses),
                selectinload(Commitment.checks),
                selectinload(Commitment.responsibility_areas),
            )
            .order_by(Commitment.position)
        ).all()

    def upsert_clause(self, clause: Clause) -> None:
        """Insert or update a clause by number."""
        self.session.merge(clause)

    def delete_clauses_except(self, keep: set[str]) -> None:
        """Drop clauses no longer in the index (references restrict this)."""
        self.session.execute(delete(Clause).where(Clause.number.not_in(keep)))

    def replace_commitments(self, commitments: Iterable[Commitment]) -> None:
        """Make the catalog exactly `commitments` (children are replaced with them)."""
        self.session.execute(delete(CommitmentClause))
        self.session.execute(delete(CommitmentCheck))
        self.session.execute(delete(ResponsibilityArea))
        self.session.execute(delete(Commitment))
        self.session.flush()
        # Rows just deleted in SQL may still sit in the identity map under the same keys.
        catalog_types = (Commitment, CommitmentClause, CommitmentCheck, ResponsibilityArea)
        for instance in list(self.session.identity_map.values()):
            if isinstance(instance, catalog_types):
                self.session.expunge(instance)
        self.session.add_all(list(commitments))
        self.session.flush()

    def add_run(self, run: EvaluationRun) -> EvaluationRun:
        """Store a new evaluation run and return it with its id."""
        self.session.add(run)
        self.session.flush()
        return run

    def add_results(self, rows: Sequence[Mapping[str, Any]]) -> None:
        """Bulk-insert check results."""
        if rows:
            self.session.execute(insert(CheckResult), list(rows))

    def latest_results(self, check_ids: Iterable[str] | None = None) -> Sequence[CheckResult]:
        """For each check, every result of the latest run that evaluated it."""
        latest = select(CheckResult.check_id, func.max(CheckResult.run_id).label("run_id"))
        if check_ids is not None:
            latest = latest.where(CheckResult.check_id.in_(list(check_ids)))
        latest_runs = latest.group_by(CheckResult.check_id).subquery()
        return self.session.scalars(
            select(CheckResult)
            .where(
                tuple_(CheckResult.check_id, CheckResult.run_id).in_(
                    select(latest_runs.c.check_id, latest_runs.c.run_id)
                )
            )
            .order_by(CheckResult.check_id, CheckResult.id)
        ).all()

    def results_of_run(self, run_id: int) -> Sequence[CheckResult]:
        """Every result of one run."""
        return self.session.scalars(
            select(CheckResult).where(CheckResult.run_id == run_id).order_by(CheckResult.id)
        ).all()

    def latest_run(self) -> EvaluationRun | None:
        """The most recent evaluation run."""
        return self.session.scalars(
            select(EvaluationRun).order_by(EvaluationRun.id.desc()).limit(1)
        ).first()
