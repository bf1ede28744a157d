"""Rules of the commitment catalog: loading it, evaluating checks, deriving status."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

from sqlalchemy.orm import Session

from mamori.commitments.catalog_loader import Catalog, read_catalog
from mamori.commitments.evaluation import EvaluationSummary, evaluate
from mamori.commitments.models import (
    CheckResult,
    Clause,
    Commitment,
    CommitmentCheck,
    CommitmentClause,
    EvaluationRun,
    ResponsibilityArea,
)
from mamori.commitments.registry import CheckRegistry, Severity
from mamori.commitments.repository import CommitmentsRepository
from mamori.commitments.status import (
    MISSING,
    CheckOutcome,
    CommitmentStatus,
    derive_status,
    outcomes_by_check,
)
from mamori.core.clock import utcnow
from mamori.core.evidence import EvidenceLog
from mamori.tenants.service import TenantsService


@dataclass(frozen=True)
class CommitmentState:
    """A commitment with its derived status and the outcomes behind it."""

    commitment: Commitment
    status: CommitmentStatus
    latest_evidence_at: datetime | None
    outcomes: list[CheckOutcome]


@dataclass(frozen=True)
class CatalogCounts:
    """What a catalog load wrote."""

    clauses: int
    commitments: int
    services: int
    tenants: int


def _commitment_rows(catalog: Catalog) -> list[Commitment]:
    rows = []
    for item in catalog.commitments.commitments:
        rows.append(
            Commitment(
                id=item.id,
                position=item.order,
                title=item.title.to_text(),
                statement=item.statement.to_text(),
                owner_role=item.owner_role,
                parameters=dict(item.parameters),
                updated_at=utcnow(),
                clauses=[
                    CommitmentClause(clause_number=number, position=index)
                    for index, number in enumerate(item.clauses)
                ],
                checks=[
                    CommitmentCheck(check_id=check_id, position=index)
                    for index, check_id in enumerate(catalog.resolved_checks[item.id])
                ],
                responsibility_areas=[
                    ResponsibilityArea(
                        position=index,
                        area=row.area.to_text(),
                        provider=row.provider.to_text(),
                        customer=row.customer.to_text(),
                        cloud_platform=row.cloud_platform.to_text(),
                    )
                    for index, row in enumerate(item.responsibility_matrix)
                ],
            )
        )
    return rows


class CommitmentsService:
    """The catalog, evaluation and status of commitments."""

    def __init__(
        self, session: Session, registry: CheckRegistry, evidence: EvidenceLog | None = None
    ) -> None:
        self.session = session
        self.registry = registry
        self.evidence = evidence
        self.repository = CommitmentsRepository(session)

    def load_catalog(self, directory: Path) -> CatalogCounts:
        """Validate the catalog in `directory` completely, then write it.

        Raises InputError (and writes nothing) at the first problem; the caller's
        session must be rolled back on any other error.
        """
        catalog = read_catalog(directory, self.registry)
        for position, clause in enumerate(catalog.clauses.clauses):
            self.repository.upsert_clause(
                Clause(
                    number=clause.number,
                    position=position,
                    cloud_specific=clause.cloud_specific,
                    title=clause.title.to_text(),
                )
            )
        self.session.flush()
        tenants = TenantsService(self.session)
        tenants.put_provider(catalog.provider.provider)
        tenants.put_services(catalog.services.services)
        if catalog.tenants is not None:
            tenants.put_tenants(catalog.tenants.tenants)
        tenants.remove_services_except({s.id for s in catalog.services.services})
        self.repository.replace_commitments(_commitment_rows(catalog))
        self.repository.delete_clauses_except({c.number for c in catalog.clauses.clauses})
        self.session.flush()
        return CatalogCounts(
            clauses=len(catalog.clauses.clauses),
            commitments=len(catalog.commitments.commitments),
            services=len(catalog.services.services),
            tenants=len(catalog.tenants.tenants) if catalog.tenants else 0,
        )

    def clauses(self) -> Sequence[Clause]:
        """The clause index."""
        return self.repository.clauses()

    def commitments(self) -> Sequence[Commitment]:
        """The catalog in order."""
        return self.repository.commitments()

    def evaluate(self, trigger: str = "cli") -> EvaluationSummary:
        """Run every registered check and store the results."""
        return evaluate(self.session, self.registry, trigger, self.evidence)

    def latest_run(self) -> EvaluationRun | None:
        """The most recent evaluation."""
        return self.repository.latest_run()

    def latest_results(self) -> Sequence[CheckResult]:
        """The latest results of every check."""
        return self.repository.latest_results()

    def states(self, *, max_age: timedelta, now: datetime | None = None) -> list[CommitmentState]:
        """Every commitment with its status derived from its checks' latest results."""
        commitments = self.repository.commitments()
        rows = self.repository.latest_results()
        outcomes = outcomes_by_check((r.check_id, r.status, r.evaluated_at) for r in rows)
        moment = now or utcnow()
        states = []
        for commitment in commitments:
            listed = [self._outcome(link.check_id, outcomes) for link in commitment.checks]
            status, newest = derive_status(listed, now=moment, max_age=max_age)
            states.append(CommitmentState(commitment, status, newest, listed))
        return states

    def _outcome(self, check_id: str, outcomes: Mapping[str, tuple[str, datetime]]) -> CheckOutcome:
        definition = self.registry.get(check_id)
        severity = definition.severity if definition else Severity.MEDIUM
        if check_id not in outcomes:
            return CheckOutcome(check_id, MISSING, severity, None)
        outcome, evaluated_at = outcomes[check_id]
        return CheckOutcome(check_id, outcome, severity, evaluated_at)
