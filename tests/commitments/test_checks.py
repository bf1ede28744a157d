"""Each spine check passes on good records and fails on the flaw it is about."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from mamori.commitments.evaluation import collect_records, parameters_for
from mamori.commitments.registry import CheckContext, CheckRegistry, Finding, ResultStatus
from mamori.core.db import Database
from mamori.core.text import LText


def run(
    database: Database,
    registry: CheckRegistry,
    check_id: str,
    change: Callable[[Any], None] | None = None,
) -> list[Finding]:
    with database.session() as session:
        records = collect_records(session, registry)
        if change:
            change(records)
        definition = registry.get(check_id)
        assert definition is not None
        findings = definition.run(
            CheckContext(records=records, parameters=parameters_for(check_id, records.commitments))
        )
        session.rollback()
    return findings


def statuses(findings: list[Finding]) -> set[ResultStatus]:
    return {ResultStatus(f.status) for f in findings}


def test_profile_complete_on_demo_and_incomplete_without_address(
    demo_database: Database, registry: CheckRegistry
) -> None:
    assert statuses(run(demo_database, registry, "provider_profile_complete")) == {
        ResultStatus.PASS
    }

    def blank_address(records: Any) -> None:
        records.provider.head_office_address = LText(ja="東京都", en="")
        records.provider.call_centre = {"name": {"ja": "x", "en": "x"}, "phone": ""}

    findings = run(demo_database, registry, "provider_profile_complete", blank_address)
    assert statuses(findings) == {ResultStatus.FAIL}
    assert findings[0].details["missing"] == ["head_office_address", "call_centre"]


def test_matrix_with_blank_cell_fails(demo_database: Database, registry: CheckRegistry) -> None:
    assert statuses(run(demo_database, registry, "responsibility_matrix_complete")) == {
        ResultStatus.PASS
    }

    def blank_cell(records: Any) -> None:
        for commitment in records.commitments:
            if commitment.responsibility_areas:
                commitment.responsibility_areas[1].customer = LText(ja="", en="—")

    findings = run(demo_database, registry, "responsibility_matrix_complete", blank_cell)
    assert statuses(findings) == {ResultStatus.FAIL}
    assert findings[0].params["rows"] == "2"


def test_region_outside_policy_fails_per_service(
    demo_database: Database, registry: CheckRegistry
) -> None:
    findings = run(demo_database, registry, "service_regions_within_residency")
    assert statuses(findings) == {ResultStatus.PASS} and len(findings) == 6

    def move_to_virginia(records: Any) -> None:
        records.services[0].regions = ["ap-northeast-1", "us-east-1"]

    findings = run(demo_database, registry, "service_regions_within_residency", move_to_virginia)
    failed = [f for f in findings if f.status == ResultStatus.FAIL]
    assert [f.subject for f in failed] == [f"service:{_first_service(demo_database, registry)}"]
    assert failed[0].details["outside"] == ["us-east-1"]


def test_region_of_another_platform_is_outside(
    demo_database: Database, registry: CheckRegistry
) -> None:
    def azure_region_on_aws(records: Any) -> None:
        service = next(s for s in records.services if s.platforms == ["aws"])
        service.regions = ["japaneast"]

    findings = run(demo_database, registry, "service_regions_within_residency", azure_region_on_aws)
    assert ResultStatus.FAIL in statuses(findings)


def test_plain_http_endpoint_fails(demo_database: Database, registry: CheckRegistry) -> None:
    assert statuses(run(demo_database, registry, "service_endpoints_https")) == {ResultStatus.PASS}

    def plain(records: Any) -> None:
        records.services[2].endpoints = ["http://plain.example.jp"]
        records.services[3].endpoints = []

    findings = run(demo_database, registry, "service_endpoints_https", plain)
    by_status = {f.subject: f.status for f in findings}
    assert list(by_status.values()).count(ResultStatus.FAIL) == 1
    assert list(by_status.values()).count(ResultStatus.NOT_APPLICABLE) == 1


def test_owner_and_checks_flags_commitments_without_checks(
    demo_database: Database, registry: CheckRegistry
) -> None:
    findings = run(demo_database, registry, "commitment_has_owner_and_checks")
    by_subject = {f.subject: f.status for f in findings}
    assert by_subject["commitment:data-storage-location"] == ResultStatus.PASS
    assert by_subject["commitment:security-awareness-training"] == ResultStatus.FAIL
    assert len(findings) == 22


def _first_service(database: Database, registry: CheckRegistry) -> str:
    with database.session() as session:
        return collect_records(session, registry).services[0].id


def test_residency_without_a_promise(demo_database: Database, registry: CheckRegistry) -> None:
    definition = registry.get("service_regions_within_residency")
    assert definition is not None
    with demo_database.session() as session:
        records = collect_records(session, registry)
        uncited = definition.run(CheckContext(records=records, parameters={}))
        cited = definition.run(
            CheckContext(records=records, parameters={}, cited_by=("data-storage-location",))
        )
    assert statuses(uncited) == {ResultStatus.NOT_APPLICABLE}
    assert statuses(cited) == {ResultStatus.ERROR}


def test_check_goes_to_the_registry_it_is_given() -> None:
    from mamori.commitments.registry import CheckRegistry as Registry
    from mamori.commitments.registry import Severity, check, registry

    private = Registry()
    text = LText(ja="テスト", en="test")

    @check(
        id="private_only",
        title=text,
        rationale=text,
        remediation=text,
        severity=Severity.LOW,
        target=private,
    )
    def private_only(context: CheckContext) -> list[Finding]:
        return []

    assert "private_only" in private
    assert "private_only" not in registry
