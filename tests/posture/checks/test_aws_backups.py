"""AWS backup checks (commitment 12)."""

from __future__ import annotations

from typing import Any

from mamori.posture.snapshot import Resource, unknown
from tests.posture.support import aws, failed_listing, run_check, snapshot_of, statuses_of

PROD = {"environment": "production"}


def plan(name: str, *selections: dict[str, Any]) -> Resource:
    return aws("backup.plan", name, rules=[], selections=list(selections))


def test_production_resources_selected_by_a_plan() -> None:
    by_tag = aws("ec2.instance", "i-1", tags={**PROD, "backup": "daily"}, state="running")
    by_arn = aws("efs.file_system", "fs-1", tags=PROD, encrypted=True)
    missed = aws("ec2.volume", "vol-1", tags=PROD, encrypted=True)
    test_box = aws("ec2.volume", "vol-2", tags={"environment": "test"})
    rds_auto = aws("rds.instance", "db-1", tags=PROD, backup_retention_days=7)
    table_pitr = aws("dynamodb.table", "t-1", tags=PROD, point_in_time_recovery=True)
    elsewhere = aws("ec2.volume", "vol-3", region="ap-northeast-3", tags=PROD)
    plans = [
        plan(
            "tagged", {"name": "s1", "resources": [], "tags": [{"key": "backup", "value": "daily"}]}
        ),
        plan("listed", {"name": "s2", "resources": [by_arn.id], "tags": []}),
        aws(
            "backup.plan", "broken", region="ap-northeast-3", selections=unknown("AccessDenied: x")
        ),
    ]
    snapshot = snapshot_of(
        [by_tag, by_arn, missed, test_box, rds_auto, table_pitr, elsewhere, *plans]
    )
    findings = run_check("aws_production_resources_backed_up", snapshot)
    assert statuses_of(findings, by_tag) == ["pass"]
    assert statuses_of(findings, by_arn) == ["pass"]
    assert statuses_of(findings, missed) == ["fail"]
    assert statuses_of(findings, test_box) == []
    assert statuses_of(findings, rds_auto) == ["pass"]
    assert statuses_of(findings, table_pitr) == ["pass"]
    assert statuses_of(findings, elsewhere) == ["unknown"]

    everything = snapshot_of([missed, plan("all", {"name": "s", "resources": ["*"], "tags": []})])
    assert statuses_of(run_check("aws_production_resources_backed_up", everything), missed) == [
        "pass"
    ]
    # production is what production_tags says
    findings = run_check(
        "aws_production_resources_backed_up",
        snapshot,
        {"production_tags": {"environment": ["test"]}},
    )
    assert statuses_of(findings, test_box) == ["fail"]
    assert statuses_of(findings, missed) == []


def test_backups_are_recent_relative_to_collection_time() -> None:
    # the snapshot was collected 2026-11-27T03:00Z
    fresh = aws("efs.file_system", "fs-1", tags=PROD)
    stale = aws("efs.file_system", "fs-2", tags=PROD)
    never = aws("efs.file_system", "fs-3", tags=PROD)
    points = [
        aws(
            "backup.recovery_point",
            "rp-1",
            resource_arn=fresh.id,
            created_at="2026-11-26T01:00:00Z",
            status="COMPLETED",
            vault="v",
        ),
        aws(
            "backup.recovery_point",
            "rp-2",
            resource_arn=stale.id,
            created_at="2026-11-10T01:00:00Z",
            status="COMPLETED",
            vault="v",
        ),
        aws(
            "backup.recovery_point",
            "rp-3",
            resource_arn=never.id,
            created_at="2026-11-26T01:00:00Z",
            status="FAILED",
            vault="v",
        ),
    ]
    database = aws("rds.instance", "db-1", tags=PROD, latest_restorable_time="2026-11-27T02:55:00Z")
    server = aws("ec2.instance", "i-1", tags=PROD, state="running")
    disk = aws("ec2.volume", "vol-1", attached_to=["i-1"])
    ebs = aws(
        "ec2.snapshot",
        "snap-1",
        volume_id="vol-1",
        started_at="2026-11-25T00:00:00Z",
        state="completed",
        encrypted=True,
    )
    snapshot = snapshot_of([fresh, stale, never, *points, database, server, disk, ebs])
    findings = run_check("aws_production_backups_recent", snapshot)
    assert statuses_of(findings, fresh) == ["pass"]
    assert statuses_of(findings, stale) == ["fail"]
    assert statuses_of(findings, never) == ["fail"]
    assert statuses_of(findings, database) == ["pass"]
    assert statuses_of(findings, server) == ["pass"]
    findings = run_check("aws_production_backups_recent", snapshot, {"maximum_backup_age_days": 30})
    assert statuses_of(findings, stale) == ["pass"]
    findings = run_check("aws_production_backups_recent", snapshot, {"maximum_backup_age_days": 1})
    assert statuses_of(findings, server) == ["fail"]


def test_unreadable_recovery_points_are_unknown_not_failed() -> None:
    lonely = aws("efs.file_system", "fs-1", tags=PROD)
    snapshot = snapshot_of([lonely], [failed_listing("backup", "ListRecoveryPointsByBackupVault")])
    findings = run_check("aws_production_backups_recent", snapshot)
    assert statuses_of(findings, lonely) == ["unknown"]
    assert any(f.params.get("call") == "backup:ListRecoveryPointsByBackupVault" for f in findings)
