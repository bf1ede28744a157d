"""AWS encryption-at-rest checks (commitment 9)."""

from __future__ import annotations

import pytest

from mamori.posture.snapshot import unknown
from tests.posture.support import aws, run_check, snapshot_of, statuses_of

FLAG_CHECKS = [
    ("aws_ebs_volumes_encrypted", "ec2.volume"),
    ("aws_ebs_snapshots_encrypted", "ec2.snapshot"),
    ("aws_rds_storage_encrypted", "rds.instance"),
    ("aws_rds_storage_encrypted", "rds.cluster"),
    ("aws_rds_storage_encrypted", "rds.snapshot"),
    ("aws_efs_encrypted", "efs.file_system"),
    ("aws_backup_vaults_encrypted", "backup.vault"),
]


@pytest.mark.parametrize(("check_id", "kind"), FLAG_CHECKS)
def test_encrypted_flag(check_id: str, kind: str) -> None:
    good = aws(kind, "good", encrypted=True, kms_key="arn:aws:kms:ap-northeast-1:1:key/k")
    bad = aws(kind, "bad", encrypted=False)
    unread = aws(kind, "unread", encrypted=unknown("AccessDenied: no"))
    absent = aws(kind, "absent")
    findings = run_check(check_id, snapshot_of([good, bad, unread, absent]))
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]
    assert statuses_of(findings, absent) == ["unknown"]


def test_s3_default_encryption() -> None:
    good = aws("s3.bucket", "good", encryption={"algorithm": "aws:kms", "kms_key": "k"})
    bad = aws("s3.bucket", "bad", encryption=None)
    unread = aws("s3.bucket", "unread", encryption=unknown("AccessDenied: no"))
    findings = run_check("aws_s3_default_encryption", snapshot_of([good, bad, unread]))
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]


def test_ebs_encryption_by_default_only_where_used_or_allowed() -> None:
    on = aws("ec2.region_settings", "tokyo", ebs_encryption_by_default=True)
    off = aws(
        "ec2.region_settings", "osaka", region="ap-northeast-3", ebs_encryption_by_default=False
    )
    unused = aws("ec2.region_settings", "ohio", region="us-east-2", ebs_encryption_by_default=False)
    used = aws("ec2.region_settings", "va", region="us-east-1", ebs_encryption_by_default=False)
    volume = aws("ec2.volume", "v", region="us-east-1", encrypted=True)
    unread = aws(
        "ec2.region_settings",
        "x",
        region="ap-northeast-1",
        account="222222222222",
        ebs_encryption_by_default=unknown("UnauthorizedOperation: no"),
    )
    findings = run_check(
        "aws_ebs_encryption_by_default", snapshot_of([on, off, unused, used, volume, unread])
    )
    assert statuses_of(findings, on) == ["pass"]
    assert statuses_of(findings, off) == ["fail"]
    assert statuses_of(findings, unused) == []
    assert statuses_of(findings, used) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]


def test_dynamodb_aws_owned_counts_as_encrypted_with_a_note() -> None:
    owned = aws("dynamodb.table", "owned", encryption="AWS_OWNED")
    kms = aws("dynamodb.table", "kms", encryption="KMS")
    unread = aws("dynamodb.table", "unread", encryption=unknown("AccessDenied: no"))
    odd = aws("dynamodb.table", "odd", encryption=None)
    findings = run_check("aws_dynamodb_encrypted", snapshot_of([owned, kms, unread, odd]))
    assert statuses_of(findings, owned) == ["pass"]
    assert "AWS owns" in next(f.message for f in findings if f.subject == owned.key)
    assert statuses_of(findings, kms) == ["pass"]
    assert statuses_of(findings, unread) == ["unknown"]
    assert statuses_of(findings, odd) == ["unknown"]


def test_log_groups_customer_key() -> None:
    keyed = aws("logs.log_group", "keyed", kms_key="arn:aws:kms:ap-northeast-1:1:key/k")
    default = aws("logs.log_group", "default", kms_key=None)
    unread = aws("logs.log_group", "unread", kms_key=unknown("AccessDenied: no"))
    findings = run_check("aws_log_groups_customer_key", snapshot_of([keyed, default, unread]))
    assert statuses_of(findings, keyed) == ["pass"]
    assert statuses_of(findings, default) == ["fail"]
    assert "default service key" in next(f.message for f in findings if f.subject == default.key)
    assert statuses_of(findings, unread) == ["unknown"]
