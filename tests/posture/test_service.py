"""Stored snapshots, findings over time, tenant scoping, trend and exports (both databases)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.scope import TenantScope
from mamori.posture.attribution import AttributionRules
from mamori.posture.export import CSV_COLUMNS, findings_csv, ocsf_event
from mamori.posture.repository import FindingQuery
from mamori.posture.service import PostureService
from mamori.posture.snapshot import Resource, Snapshot

MIDORI, SAKURA = "midori-city-boe", "sakura-town-boe"
START = datetime(2026, 11, 1, 0, 0, tzinfo=UTC)
CHECK = "posture_resources_attributed"


def bucket(name: str, tags: dict[str, str]) -> Resource:
    return Resource(
        "aws", "111111111111", "ap-northeast-1", "aws.s3.bucket", f"arn:aws:s3:::{name}", name, tags
    )


def world(day: int, fixed: bool) -> Snapshot:
    """Midori's bucket lacks a service tag until `fixed`; Sakura's is always complete."""
    snapshot = Snapshot(collected_at=START + timedelta(days=day))
    midori = {"mamori:tenant": MIDORI}
    if fixed:
        midori["mamori:service"] = "total-id"
    snapshot.add(bucket("midori-data", midori))
    snapshot.add(bucket("sakura-data", {"mamori:tenant": SAKURA, "mamori:service": "my-assess"}))
    snapshot.add(bucket("orphan", {}))
    return snapshot


def evaluate(database: Database, registry: CheckRegistry, snapshot: Snapshot) -> None:
    with database.session() as session:
        service = PostureService(session, clock=lambda: snapshot.collected_at)
        row = service.store(snapshot, "test", AttributionRules())
        session.flush()
        summary = CommitmentsService(session, registry).evaluate(trigger="test")
        service.record_run(row, summary.run_id)


def open_findings(database: Database, scope: TenantScope) -> list[tuple[str, str]]:
    with database.session() as session:
        rows = PostureService(session).findings(scope, FindingQuery(check_ids=frozenset({CHECK})))
        return sorted((f.resource_id, f.placement) for f in rows)


def test_findings_open_persist_and_resolve_across_snapshots(
    demo_database: Database, registry: CheckRegistry
) -> None:
    evaluate(demo_database, registry, world(0, fixed=False))
    evaluate(demo_database, registry, world(1, fixed=False))
    with demo_database.session() as session:
        [midori] = [
            f
            for f in PostureService(session).findings(TenantScope.everything())
            if f.resource_id == "arn:aws:s3:::midori-data" and f.check_id == CHECK
        ]
        assert midori.first_seen_at.replace(tzinfo=UTC) == START
        assert midori.last_seen_at.replace(tzinfo=UTC) == START + timedelta(days=1)
        assert midori.tenant_id == MIDORI and midori.placement == "tenant"
        assert midori.status == "fail"
        assert set(midori.commitments) == {"asset-inventory", "virtual-environment-segregation"}
        finding_id = midori.id
    evaluate(demo_database, registry, world(2, fixed=True))
    assert open_findings(demo_database, TenantScope.everything()) == [
        ("arn:aws:s3:::orphan", "unattributed")
    ]
    with demo_database.session() as session:
        everything = PostureService(session).findings(
            TenantScope.everything(), FindingQuery(open_only=False, check_ids=frozenset({CHECK}))
        )
        resolved = next(f for f in everything if f.id == finding_id)
        assert resolved.resolved_at is not None
        assert resolved.resolved_at.replace(tzinfo=UTC) == START + timedelta(days=2)


def test_a_tenant_sees_only_findings_about_its_own_resources(
    demo_database: Database, registry: CheckRegistry
) -> None:
    evaluate(demo_database, registry, world(0, fixed=False))
    assert open_findings(demo_database, TenantScope.only(MIDORI)) == [
        ("arn:aws:s3:::midori-data", "tenant")
    ]
    assert open_findings(demo_database, TenantScope.only(SAKURA)) == []
    assert len(open_findings(demo_database, TenantScope.everything())) == 2
    with demo_database.session() as session:
        service = PostureService(session)
        [(_, own)] = service.trend(TenantScope.only(SAKURA))
        [(_, everyone)] = service.trend(TenantScope.everything())
    assert own.get("fail", 0) == 0 and own["pass"] >= 1
    assert everyone["fail"] >= 2


def test_exports_carry_resource_tenant_times_and_raw_references(
    demo_database: Database, registry: CheckRegistry
) -> None:
    evaluate(demo_database, registry, world(0, fixed=False))
    with demo_database.session() as session:
        findings = PostureService(session).findings(
            TenantScope.everything(), FindingQuery(check_ids=frozenset({CHECK}))
        )
        text = findings_csv(findings, registry, "ja", "Asia/Tokyo")
        events = [ocsf_event(f, registry, "en") for f in findings]
    rows = list(csv.reader(io.StringIO(text)))
    assert tuple(rows[0]) == CSV_COLUMNS
    orphan = next(
        row for row in rows[1:] if row[CSV_COLUMNS.index("resource_id")].endswith("orphan")
    )
    assert orphan[CSV_COLUMNS.index("tenant")] == "unattributed"
    assert orphan[CSV_COLUMNS.index("first_seen")] == "2026年11月1日 09:00 JST"
    assert "割り当て" in orphan[CSV_COLUMNS.index("title")]
    event = next(e for e in events if e["resources"][0]["uid"].endswith("orphan"))
    assert event["class_uid"] == 2003 and event["type_uid"] == 200301
    assert event["compliance"]["status_id"] == 3
    assert event["compliance"]["control"] == CHECK
    assert event["finding_info"]["first_seen_time"] == int(START.timestamp() * 1000)
    assert event["cloud"] == {
        "provider": "AWS",
        "account": {"uid": "111111111111"},
        "region": "ap-northeast-1",
    }
