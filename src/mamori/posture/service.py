"""Posture rules: store snapshots, attribute their resources, follow findings over time.

Evaluation itself is the spine's (`commitments.evaluation.evaluate`): posture checks
read the latest stored snapshot through the `posture` collector (facts.py), so their
results feed commitment status and become evidence like every other check. After a run,
`record_run` turns the posture results into findings with first and last seen times and
resolutions, and keeps counts for the trend.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mamori.commitments.evaluation import evaluate
from mamori.commitments.models import CheckResult, Commitment
from mamori.commitments.registry import CheckRegistry
from mamori.core.clock import as_utc, utcnow
from mamori.core.errors import NotFoundError
from mamori.core.evidence import EvidenceLog
from mamori.core.i18n import N_
from mamori.core.scope import TenantScope
from mamori.posture.attribution import SHARED, Attribution, AttributionRules, attribute_all
from mamori.posture.checks.base import POSTURE_CHECKS, PostureFacts
from mamori.posture.models import PostureEvaluation, PostureFinding, PostureSnapshot
from mamori.posture.repository import FindingQuery, PostureRepository
from mamori.posture.snapshot import Snapshot, digest_of, read_snapshot, snapshot_bytes

OPEN_STATUSES = ("fail", "unknown")


@dataclass(frozen=True)
class RunRecord:
    """What `record_run` did."""

    opened: int
    still_open: int
    resolved: int
    counts: Mapping[str, int]


def attribution_json(attribution: Mapping[str, Attribution]) -> dict[str, list[str | None]]:
    """The stored form of an attribution map."""
    return {key: [a.service, a.tenant, a.rule] for key, a in attribution.items()}


def attribution_from_json(data: Mapping[str, Any]) -> dict[str, Attribution]:
    """An attribution map from its stored form."""
    return {
        key: Attribution(value[0], value[1], str(value[2] or "")) for key, value in data.items()
    }


class PostureService:
    """Snapshots, attribution, findings and the trend."""

    def __init__(self, session: Session, clock: Callable[[], datetime] = utcnow) -> None:
        self.session = session
        self.repository = PostureRepository(session)
        self.clock = clock

    def store(self, snapshot: Snapshot, source: str, rules: AttributionRules) -> PostureSnapshot:
        """Keep `snapshot` whole, with its resources attributed by `rules`."""
        content = snapshot_bytes(snapshot)
        return self.repository.add_snapshot(
            PostureSnapshot(
                collected_at=as_utc(snapshot.collected_at),
                stored_at=as_utc(self.clock()),
                source=source[:255],
                digest=snapshot.digest(),
                resources=len(snapshot.resources),
                failed_calls=sum(1 for entry in snapshot.coverage if not entry.ok),
                scope=snapshot.scope,
                attribution=attribution_json(attribute_all(rules, snapshot.resources)),
                network_policy=dict(rules.network_policy),
                content=content,
            )
        )

    def latest(self) -> PostureSnapshot | None:
        """The newest stored snapshot row."""
        return self.repository.latest_snapshot()

    def get(self, snapshot_id: int) -> PostureSnapshot:
        """The stored snapshot `snapshot_id`; NotFoundError when there is none."""
        row = self.repository.snapshot(snapshot_id)
        if row is None:
            raise NotFoundError(N_("no snapshot %(id)s"), params={"id": snapshot_id})
        return row

    def reattribute(self, row: PostureSnapshot, rules: AttributionRules) -> None:
        """Attribute a stored snapshot's resources again with the current `rules`."""
        snapshot = open_snapshot(row)
        row.attribution = attribution_json(attribute_all(rules, snapshot.resources))
        row.network_policy = dict(rules.network_policy)

    def facts(self) -> PostureFacts:
        """What posture checks read: the latest snapshot with its attribution."""
        row = self.latest()
        if row is None:
            return PostureFacts(snapshot=None)
        return facts_of(row)

    def record_run(self, row: PostureSnapshot, run_id: int) -> RunRecord:
        """Turn run `run_id`'s posture results on snapshot `row` into findings and counts."""
        results = self.repository.results_of_run(run_id, set(POSTURE_CHECKS))
        commitments = _commitments_by_check(self.session)
        now = as_utc(row.collected_at)
        open_rows = {(f.check_id, f.subject): f for f in self.repository.open_findings()}
        seen: set[tuple[str, str]] = set()
        fresh: list[PostureFinding] = []
        for result in results:
            if result.status not in OPEN_STATUSES:
                continue
            key = (result.check_id, result.subject)
            seen.add(key)
            existing = open_rows.get(key)
            if existing is None:
                fresh.append(_new_finding(result, row, commitments.get(result.check_id, [])))
            else:
                _refresh(existing, result, row)
        resolved = [f for key, f in open_rows.items() if key not in seen]
        for finding in resolved:
            finding.resolved_at = now
        self.repository.add_findings(fresh)
        counts = Counter(result.status for result in results)
        self.repository.add_evaluation(
            PostureEvaluation(
                snapshot_id=row.id,
                run_id=run_id,
                evaluated_at=as_utc(self.clock()),
                counts=dict(counts),
                by_commitment=_by_commitment(results, commitments),
                by_tenant=_by_tenant(results),
            )
        )
        return RunRecord(len(fresh), len(seen) - len(fresh), len(resolved), dict(counts))

    def findings(
        self, scope: TenantScope, query: FindingQuery | None = None
    ) -> Sequence[PostureFinding]:
        """Findings visible in `scope`."""
        return self.repository.findings(scope, query or FindingQuery())

    def trend(self, scope: TenantScope, limit: int = 200) -> list[tuple[datetime, dict[str, int]]]:
        """(time, counts by status) per evaluation; a tenant sees only its own counts."""
        points = []
        for evaluation in self.repository.evaluations(limit):
            if scope.tenant_ids is None:
                counts = dict(evaluation.counts)
            else:
                counts = Counter()
                for tenant in scope.tenant_ids:
                    counts.update(evaluation.by_tenant.get(tenant, {}))
            points.append((as_utc(evaluation.evaluated_at), dict(counts)))
        return points


_OPENED: dict[int, tuple[str, PostureFacts]] = {}  # one parsed snapshot kept per process


def open_snapshot(row: PostureSnapshot) -> Snapshot:
    """The snapshot stored in `row`."""
    import io

    return read_snapshot(io.BytesIO(row.content), f"snapshot {row.id}")


def facts_of(row: PostureSnapshot) -> PostureFacts:
    """Posture facts of a stored snapshot; the last one parsed is reused while unchanged."""
    key = f"{row.digest}:{attribution_digest(row)}"
    cached = _OPENED.get(0)
    if cached is not None and cached[0] == key:
        return cached[1]
    facts = PostureFacts(
        snapshot=open_snapshot(row),
        attribution=attribution_from_json(row.attribution or {}),
        snapshot_id=row.id,
        network_policy=dict(row.network_policy or {}),
    )
    _OPENED[0] = (key, facts)
    return facts


def attribution_digest(row: PostureSnapshot) -> str:
    """A digest of a row's attribution and network policy (they change on re-attribution)."""
    return digest_of({"a": row.attribution or {}, "n": row.network_policy or {}})


def _commitments_by_check(session: Session) -> dict[str, list[str]]:
    from mamori.commitments.repository import CommitmentsRepository

    by_check: dict[str, list[str]] = {}
    commitments: Iterable[Commitment] = CommitmentsRepository(session).commitments()
    for commitment in commitments:
        for link in commitment.checks:
            by_check.setdefault(link.check_id, []).append(commitment.id)
    return by_check


def _tenant_of(details: Mapping[str, Any]) -> tuple[str | None, str]:
    tenant = details.get("tenant")
    if tenant is None:
        return None, "unattributed"
    if tenant == SHARED:
        return None, "shared"
    return str(tenant), "tenant"


def _new_finding(
    result: CheckResult, row: PostureSnapshot, commitments: list[str]
) -> PostureFinding:
    details = dict(result.details or {})
    tenant, placement = _tenant_of(details)
    seen = as_utc(row.collected_at)
    return PostureFinding(
        check_id=result.check_id,
        subject=result.subject,
        status=result.status,
        severity=result.severity,
        commitments=commitments,
        provider=str(details.get("provider") or "")[:16],
        account=str(details.get("account") or "")[:128],
        region=str(details.get("region") or "")[:64],
        resource_type=str(details.get("type") or "")[:96],
        resource_id=str(details.get("resource") or "")[:512],
        tenant_id=tenant,
        placement=placement,
        service_id=details.get("service"),
        message=result.message,
        message_params=dict(result.message_params or {}),
        raw=list(details.get("raw") or []),
        first_seen_at=seen,
        last_seen_at=seen,
        first_snapshot_id=row.id,
        last_snapshot_id=row.id,
    )


def _refresh(finding: PostureFinding, result: CheckResult, row: PostureSnapshot) -> None:
    details = dict(result.details or {})
    tenant, placement = _tenant_of(details)
    finding.status = result.status
    finding.severity = result.severity
    finding.message = result.message
    finding.message_params = dict(result.message_params or {})
    finding.raw = list(details.get("raw") or [])
    finding.tenant_id, finding.placement = tenant, placement
    finding.service_id = details.get("service")
    finding.last_seen_at = as_utc(row.collected_at)
    finding.last_snapshot_id = row.id


def _by_commitment(
    results: Iterable[CheckResult], commitments: Mapping[str, list[str]]
) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for result in results:
        for commitment in commitments.get(result.check_id, []):
            table.setdefault(commitment, Counter())[result.status] += 1
    return {commitment: dict(counts) for commitment, counts in table.items()}


def _by_tenant(results: Iterable[CheckResult]) -> dict[str, dict[str, int]]:
    table: dict[str, Counter[str]] = {}
    for result in results:
        tenant, _ = _tenant_of(dict(result.details or {}))
        if tenant is not None:
            table.setdefault(tenant, Counter())[result.status] += 1
    return {tenant: dict(counts) for tenant, counts in table.items()}


def rules_from_settings(session: Session, path: Any) -> AttributionRules:
    """The attribution rules in `path` (MAMORI_POSTURE_ATTRIBUTION_FILE); tags only if None."""
    if path is None:
        return AttributionRules()
    from mamori.posture.attribution import load_rules
    from mamori.tenants.service import TenantsService

    tenants = TenantsService(session)
    return load_rules(
        path,
        {tenant.id for tenant in tenants.tenants()},
        {service.id for service in tenants.services()},
    )


@dataclass(frozen=True)
class PostureRun:
    """One evaluation of the latest snapshot: the snapshot, the spine's run and findings."""

    snapshot: PostureSnapshot
    run_id: int
    record: RunRecord


def evaluate_latest(
    session: Session,
    registry: CheckRegistry,
    evidence: EvidenceLog | None,
    rules: AttributionRules,
    trigger: str = "posture",
) -> PostureRun | None:
    """Re-attribute the latest snapshot, evaluate every check, update findings (None: none)."""
    service = PostureService(session)
    row = service.latest()
    if row is None:
        return None
    service.reattribute(row, rules)
    session.flush()
    summary = evaluate(session, registry, trigger, evidence)
    return PostureRun(row, summary.run_id, service.record_run(row, summary.run_id))
