"""`evaluate` records a result for every check; a broken check is an error, not a crash."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import pytest
from sqlalchemy import select

from mamori.cli.main import seed_demo_posture
from mamori.commitments.models import CheckResult, Commitment
from mamori.commitments.registry import CheckContext, CheckRegistry, Finding, Severity, check
from mamori.commitments.service import CommitmentsService
from mamori.commitments.status import CommitmentStatus
from mamori.core.db import Database
from mamori.core.text import LText

TEXT = LText(ja="テスト", en="test")


@pytest.fixture
def broken_check(registry: CheckRegistry) -> Iterator[str]:
    @check(
        id="deliberately_broken",
        title=TEXT,
        rationale=TEXT,
        remediation=TEXT,
        severity=Severity.LOW,
        target=registry,
    )
    def deliberately_broken(context: CheckContext) -> Iterator[Finding]:
        raise RuntimeError("boom")
        yield  # pragma: no cover - makes this a generator like real checks

    yield "deliberately_broken"
    registry.unregister("deliberately_broken")


def test_every_registered_check_has_results(
    demo_database: Database, registry: CheckRegistry
) -> None:
    with demo_database.session() as session:
        summary = CommitmentsService(session, registry).evaluate()
    with demo_database.session() as session:
        checked = set(
            session.scalars(
                select(CheckResult.check_id).where(CheckResult.run_id == summary.run_id)
            )
        )
    assert checked == {c.id for c in registry}
    assert summary.checks == len(registry)
    assert summary.errored_checks == []


def test_broken_check_is_recorded_as_error_and_others_still_run(
    demo_database: Database, registry: CheckRegistry, broken_check: str
) -> None:
    with demo_database.session() as session:
        summary = CommitmentsService(session, registry).evaluate()
    assert summary.errored_checks == [broken_check]
    with demo_database.session() as session:
        rows = session.scalars(
            select(CheckResult).where(CheckResult.run_id == summary.run_id)
        ).all()
    errors = [r for r in rows if r.check_id == broken_check]
    assert len(errors) == 1 and errors[0].status == "error"
    assert "boom" in errors[0].message_params["error"]
    assert {r.check_id for r in rows} == {c.id for c in registry}
    assert any(r.status == "pass" for r in rows if r.check_id != broken_check)


def test_demo_statuses_follow_the_evidence(
    demo_database: Database, registry: CheckRegistry
) -> None:
    with demo_database.session() as session:
        service = CommitmentsService(session, registry)
        service.evaluate()
        states = {s.commitment.id: s for s in service.states(max_age=timedelta(hours=1))}
    # The services' declared regions pass, but no cloud snapshot exists yet: the posture
    # checks are unknown, so the promise is only at risk and backups are not evidenced.
    assert states["data-storage-location"].status is CommitmentStatus.AT_RISK
    assert states["data-storage-location"].latest_evidence_at is not None
    assert states["backup"].status is CommitmentStatus.NOT_EVIDENCED
    assert states["security-awareness-training"].status is CommitmentStatus.NOT_EVIDENCED

    with demo_database.session() as session:
        seed_demo_posture(session)
    with demo_database.session() as session:
        service = CommitmentsService(session, registry)
        service.evaluate()
        states = {s.commitment.id: s for s in service.states(max_age=timedelta(hours=1))}
    # The demo estate keeps its data in Japan and backs it up daily.
    assert states["data-storage-location"].status is CommitmentStatus.MET
    assert states["backup"].status is CommitmentStatus.MET


def test_a_region_outside_the_promise_makes_commitment_3_fail(
    demo_database: Database, registry: CheckRegistry
) -> None:
    with demo_database.session() as session:
        promise = session.get(Commitment, "data-storage-location")
        assert promise is not None
        promise.parameters = {
            "allowed_regions": {"aws": ["ap-northeast-1"], "azure": ["japaneast"]}
        }
    with demo_database.session() as session:
        service = CommitmentsService(session, registry)
        service.evaluate()
        states = {s.commitment.id: s for s in service.states(max_age=timedelta(hours=1))}
        rows = service.latest_results()
    assert states["data-storage-location"].status is CommitmentStatus.FAILING
    failing = [
        r for r in rows if r.check_id == "service_regions_within_residency" and r.status == "fail"
    ]
    assert failing and all("outside" in r.details for r in failing)


def test_later_run_replaces_earlier_evidence(
    demo_database: Database, registry: CheckRegistry
) -> None:
    with demo_database.session() as session:
        service = CommitmentsService(session, registry)
        first = service.evaluate()
        second = service.evaluate()
        latest = service.latest_results()
    assert {r.run_id for r in latest} == {second.run_id}
    assert first.run_id < second.run_id
