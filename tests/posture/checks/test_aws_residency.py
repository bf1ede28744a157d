"""AWS residency checks (commitment 3)."""

from __future__ import annotations

from mamori.posture.snapshot import Resource, unknown
from tests.posture.support import aws, run_check, snapshot_of, statuses_of

US = {"allowed_regions": {"aws": ["ap-northeast-1", "us-east-1"]}}


def test_resource_outside_allowed_regions_fails_and_parameter_changes_it() -> None:
    inside = aws("s3.bucket", "tokyo")
    outside = aws("s3.bucket", "virginia", region="us-east-1")
    role = aws("iam.role", "admin", region="global")
    snapshot = snapshot_of([inside, outside, role])
    findings = run_check("aws_resources_in_allowed_regions", snapshot)
    assert statuses_of(findings, inside) == ["pass"]
    assert statuses_of(findings, outside) == ["fail"]
    assert statuses_of(findings, role) == ["pass"]
    findings = run_check("aws_resources_in_allowed_regions", snapshot, US)
    assert statuses_of(findings, outside) == ["pass"]


def test_bucket_without_region_is_unknown_and_default_vpcs_are_skipped() -> None:
    bucket = aws("s3.bucket", "lost", region="global")
    default_vpc = aws("ec2.vpc", "vpc-0", region="eu-west-1", is_default=True)
    default_group = aws("ec2.security_group", "sg-0", region="eu-west-1", group_name="default")
    findings = run_check(
        "aws_resources_in_allowed_regions", snapshot_of([bucket, default_vpc, default_group])
    )
    assert statuses_of(findings, bucket) == ["unknown"]
    assert statuses_of(findings, default_vpc) == []
    assert statuses_of(findings, default_group) == []


def test_s3_replication_destinations() -> None:
    target = aws("s3.bucket", "copy", region="us-east-1")
    explicit = aws(
        "s3.bucket",
        "a",
        replication_destinations=[{"bucket": "arn:aws:s3:::x", "region": "us-east-1"}],
    )
    looked_up = aws(
        "s3.bucket", "b", replication_destinations=[{"bucket": target.id, "region": None}]
    )
    by_name = aws(
        "s3.bucket", "c", replication_destinations=[{"bucket": "arn:aws:s3:::copy", "region": None}]
    )
    lost = aws(
        "s3.bucket", "d", replication_destinations=[{"bucket": "arn:aws:s3:::gone", "region": None}]
    )
    local = aws(
        "s3.bucket",
        "e",
        replication_destinations=[{"bucket": "arn:aws:s3:::x", "region": "ap-northeast-3"}],
    )
    none = aws("s3.bucket", "f", replication_destinations=[])
    unread = aws("s3.bucket", "g", replication_destinations=unknown("AccessDenied: no"))
    snapshot = snapshot_of([target, explicit, looked_up, by_name, lost, local, none, unread])
    findings = run_check("aws_s3_replication_in_allowed_regions", snapshot)
    assert statuses_of(findings, explicit) == ["fail"]
    assert statuses_of(findings, looked_up) == ["fail"]
    assert statuses_of(findings, by_name) == ["fail"]
    assert statuses_of(findings, lost) == ["unknown"]
    assert statuses_of(findings, local) == ["pass"]
    assert statuses_of(findings, none) == ["pass"]
    assert statuses_of(findings, unread) == ["unknown"]
    assert "AccessDenied" in str(
        next(f for f in findings if f.subject == unread.key).params["reason"]
    )
    findings = run_check("aws_s3_replication_in_allowed_regions", snapshot, US)
    assert statuses_of(findings, explicit) == ["pass"]


def test_backup_copy_destinations() -> None:
    def plan(name: str, vault: str) -> Resource:
        return aws("backup.plan", name, rules=[{"name": "daily", "copy_destinations": [vault]}])

    away = plan("away", "arn:aws:backup:us-east-1:111111111111:backup-vault:dr")
    home = plan("home", "arn:aws:backup:ap-northeast-3:111111111111:backup-vault:dr")
    odd = plan("odd", "dr-vault")
    unread = aws("backup.plan", "unread", rules=unknown("AccessDenied: no"))
    snapshot = snapshot_of([away, home, odd, unread])
    findings = run_check("aws_backup_copies_in_allowed_regions", snapshot)
    assert statuses_of(findings, away) == ["fail"]
    assert statuses_of(findings, home) == ["pass"]
    assert statuses_of(findings, odd) == ["unknown"]
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check("aws_backup_copies_in_allowed_regions", snapshot, US)
    assert statuses_of(findings, away) == ["pass"]


def test_database_replicas() -> None:
    cross = aws(
        "rds.instance",
        "db1",
        replicas=["arn:aws:rds:us-east-1:111111111111:db:db1-replica"],
        backup_replications=[],
    )
    same = aws("rds.instance", "db2", replicas=["db2-replica"], backup_replications=[])
    backups_away = aws("rds.instance", "db3", replicas=[], backup_replications=["us-west-2"])
    table_away = aws("dynamodb.table", "t1", replica_regions=["ap-northeast-1", "us-east-1"])
    table_home = aws("dynamodb.table", "t2", replica_regions=["ap-northeast-3"])
    table_unread = aws("dynamodb.table", "t3", replica_regions=unknown("Throttling: slow"))
    rds_missing = aws("rds.instance", "db4", replicas=[])
    snapshot = snapshot_of(
        [cross, same, backups_away, table_away, table_home, table_unread, rds_missing]
    )
    findings = run_check("aws_database_replicas_in_allowed_regions", snapshot)
    assert statuses_of(findings, cross) == ["fail"]
    assert statuses_of(findings, same) == ["pass"]
    assert statuses_of(findings, backups_away) == ["fail"]
    assert statuses_of(findings, table_away) == ["fail"]
    assert statuses_of(findings, table_home) == ["pass"]
    assert statuses_of(findings, table_unread) == ["unknown"]
    assert statuses_of(findings, rds_missing) == ["unknown"]
    findings = run_check("aws_database_replicas_in_allowed_regions", snapshot, US)
    assert statuses_of(findings, cross) == ["pass"]
    assert statuses_of(findings, table_away) == ["pass"]


def test_kms_replicas() -> None:
    away = aws("kms.key", "k1", multi_region=True, replica_regions=["us-east-1"])
    home = aws("kms.key", "k2", multi_region=True, replica_regions=["ap-northeast-3"])
    single = aws("kms.key", "k3", multi_region=False, replica_regions=[])
    unread = aws("kms.key", "k4", multi_region=True, replica_regions=unknown("AccessDenied: x"))
    snapshot = snapshot_of([away, home, single, unread])
    findings = run_check("aws_kms_replicas_in_allowed_regions", snapshot)
    assert statuses_of(findings, away) == ["fail"]
    assert statuses_of(findings, home) == ["pass"]
    assert statuses_of(findings, single) == ["pass"]
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check("aws_kms_replicas_in_allowed_regions", snapshot, US)
    assert statuses_of(findings, away) == ["pass"]
