"""Every query on posture tables; findings are always read through a tenant scope."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from mamori.commitments.models import CheckResult
from mamori.core.scope import TenantScope
from mamori.posture.models import PostureEvaluation, PostureFinding, PostureSnapshot

MAX_FINDINGS_PAGE = 1000


@dataclass(frozen=True)
class FindingQuery:
    """Filters on findings; None means any."""

    open_only: bool = True
    check_ids: frozenset[str] | None = None  # e.g. the checks of one commitment
    service_id: str | None = None
    tenant_id: str | None = None
    status: str | None = None
    limit: int = MAX_FINDINGS_PAGE


class PostureRepository:
    """Reads and writes of this domain's tables."""

    def __init__(self, session: Session) -> None:
        self.session = session

    def add_snapshot(self, row: PostureSnapshot) -> PostureSnapshot:
        """Store a snapshot row and give it an id."""
        self.session.add(row)
        self.session.flush()
        return row

    def latest_snapshot(self) -> PostureSnapshot | None:
        """The most recently collected snapshot."""
        return self.session.scalars(
            select(PostureSnapshot)
            .order_by(PostureSnapshot.collected_at.desc(), PostureSnapshot.id.desc())
            .limit(1)
        ).first()

    def snapshot(self, snapshot_id: int) -> PostureSnapshot | None:
        """The snapshot with `snapshot_id`."""
        return self.session.get(PostureSnapshot, snapshot_id)

    def snapshots(self, limit: int = 100) -> Sequence[PostureSnapshot]:
        """Newest snapshots first."""
        return self.session.scalars(
            select(PostureSnapshot).order_by(PostureSnapshot.collected_at.desc()).limit(limit)
        ).all()

    def results_of_run(self, run_id: int, check_ids: set[str]) -> Sequence[CheckResult]:
        """The results of evaluation run `run_id` from the given checks."""
        return self.session.scalars(
            select(CheckResult)
            .where(CheckResult.run_id == run_id, CheckResult.check_id.in_(sorted(check_ids)))
            .order_by(CheckResult.id)
        ).all()

    def open_findings(self) -> Sequence[PostureFinding]:
        """Every unresolved finding (for updating them from a new snapshot)."""
        return self.session.scalars(
            select(PostureFinding).where(PostureFinding.resolved_at.is_(None))
        ).all()

    def add_findings(self, rows: Sequence[PostureFinding]) -> None:
        """Store new findings."""
        self.session.add_all(rows)

    def add_evaluation(self, row: PostureEvaluation) -> None:
        """Store an evaluation's counts."""
        self.session.add(row)

    def findings(self, scope: TenantScope, query: FindingQuery) -> Sequence[PostureFinding]:
        """Findings visible in `scope` that match `query`, newest first."""
        statement = scope.apply(select(PostureFinding), PostureFinding.tenant_id)
        if query.open_only:
            statement = statement.where(PostureFinding.resolved_at.is_(None))
        if query.check_ids is not None:
            statement = statement.where(PostureFinding.check_id.in_(sorted(query.check_ids)))
        if query.service_id is not None:
            statement = statement.where(PostureFinding.service_id == query.service_id)
        if query.tenant_id is not None:
            statement = statement.where(PostureFinding.tenant_id == query.tenant_id)
        if query.status is not None:
            statement = statement.where(PostureFinding.status == query.status)
        statement = statement.order_by(
            PostureFinding.last_seen_at.desc(), PostureFinding.id.desc()
        ).limit(min(query.limit, MAX_FINDINGS_PAGE))
        return self.session.scalars(statement).all()

    def evaluations(self, limit: int = 200) -> Sequence[PostureEvaluation]:
        """The latest evaluations, oldest first (for the trend)."""
        rows = self.session.scalars(
            select(PostureEvaluation).order_by(PostureEvaluation.evaluated_at.desc()).limit(limit)
        ).all()
        return list(reversed(rows))
