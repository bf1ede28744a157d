"""Run every registered check against the collected records and store the results."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from mamori.commitments.models import Commitment, EvaluationRun
from mamori.commitments.registry import (
    CheckContext,
    CheckDefinition,
    CheckRegistry,
    Finding,
    ResultStatus,
)
from mamori.commitments.repository import CommitmentsRepository
from mamori.core.clock import utcnow
from mamori.core.evidence import EvidenceLog
from mamori.core.i18n import N_
from mamori.core.memory import collector_paused
from mamori.tenants.models import Provider, Service, Tenant
from mamori.tenants.service import TenantsService

MAX_SUBJECT = 255
MAX_MESSAGE = 500


@dataclass(frozen=True)
class Records:
    """What checks of the spine read: the provider's own records."""

    provider: Provider | None
    services: Sequence[Service]
    tenants: Sequence[Tenant]
    commitments: Sequence[Commitment]
    check_ids: frozenset[str]
    extra: Mapping[str, Any] = field(default_factory=dict)  # facts other domains collect


@dataclass
class EvaluationSummary:
    """What one evaluation run did."""

    run_id: int
    checks: int
    results: int
    by_status: Counter[str] = field(default_factory=Counter)
    errored_checks: list[str] = field(default_factory=list)
    failed_checks: list[str] = field(default_factory=list)


def collect_records(session: Session, registry: CheckRegistry) -> Records:
    """Read the records the checks need, once per run."""
    tenants = TenantsService(session)
    return Records(
        provider=tenants.find_provider(),
        services=tenants.services(),
        tenants=tenants.tenants(),
        commitments=CommitmentsRepository(session).commitments(),
        check_ids=frozenset(c.id for c in registry),
        extra={name: collect(session) for name, collect in registry.collectors.items()},
    )


def parameters_for(check_id: str, commitments: Sequence[Commitment]) -> dict[str, Any]:
    """Merged parameters of the commitments that cite `check_id`."""
    merged: dict[str, Any] = {}
    for commitment in commitments:
        if any(link.check_id == check_id for link in commitment.checks):
            merged.update(commitment.parameters or {})
    return merged


def cited_by(check_id: str, commitments: Sequence[Commitment]) -> tuple[str, ...]:
    """Ids of the commitments that list `check_id`."""
    return tuple(c.id for c in commitments if any(link.check_id == check_id for link in c.checks))


def run_check(definition: CheckDefinition, context: CheckContext) -> list[Finding]:
    """The check's findings; an exception becomes one `error` finding, never a crash."""
    try:
        findings = definition.run(context)
    except Exception as exc:
        return [
            Finding(
                status=ResultStatus.ERROR,
                subject="check",
                message=N_("The check raised an error: %(error)s"),
                params={"error": f"{type(exc).__name__}: {exc}"[:300]},
                details={"exception": type(exc).__name__},
            )
        ]
    if not findings:
        return [
            Finding(
                status=ResultStatus.NOT_APPLICABLE,
                subject="check",
                message=N_("There was nothing for this check to examine."),
            )
        ]
    return findings


def _row(run_id: int, definition: CheckDefinition, finding: Finding) -> Mapping[str, Any]:
    return {
        "run_id": run_id,
        "check_id": definition.id,
        "subject": finding.subject[:MAX_SUBJECT],
        "status": ResultStatus(finding.status).value,
        "severity": definition.severity.value,
        "message": finding.message[:MAX_MESSAGE],
        "message_params": dict(finding.params),
        "details": dict(finding.details),
        "evaluated_at": utcnow(),
    }


def evaluate(
    session: Session,
    registry: CheckRegistry,
    trigger: str = "cli",
    evidence: EvidenceLog | None = None,
) -> EvaluationSummary:
    """Run every registered check once and store each result under a new run.

    With an evidence log, every result is also kept there as evidence.
    """
    repository = CommitmentsRepository(session)
    run = repository.add_run(EvaluationRun(started_at=utcnow(), trigger=trigger))
    records = collect_records(session, registry)
    summary = EvaluationSummary(run_id=run.id, checks=0, results=0)
    rows: list[Mapping[str, Any]] = []
    with collector_paused():  # checks make a result per subject; see core/memory.py
        for definition in registry:
            context = CheckContext(
                records=records,
                parameters=parameters_for(definition.id, records.commitments),
                cited_by=cited_by(definition.id, records.commitments),
            )
            findings = run_check(definition, context)
            statuses = {ResultStatus(f.status) for f in findings}
            if ResultStatus.ERROR in statuses:
                summary.errored_checks.append(definition.id)
            if ResultStatus.FAIL in statuses:
                summary.failed_checks.append(definition.id)
            summary.checks += 1
            for finding in findings:
                summary.by_status[ResultStatus(finding.status).value] += 1
                rows.append(_row(run.id, definition, finding))
    repository.add_results(rows)
    if evidence is not None:
        evidence.record(session, rows)
    summary.results = len(rows)
    run.finished_at = utcnow()
    run.check_count = summary.checks
    run.result_count = summary.results
    session.flush()
    return summary
