"""AWS log retention checks (commitment 13)."""

from __future__ import annotations

from typing import Any

import pytest

from mamori.posture.snapshot import Resource, unknown
from tests.posture.support import aws, run_check, snapshot_of, statuses_of


def test_log_group_retention() -> None:
    year = aws("logs.log_group", "year", retention_days=400)
    month = aws("logs.log_group", "month", retention_days=60)
    forever = aws("logs.log_group", "forever", retention_days=None)
    unread = aws("logs.log_group", "unread", retention_days=unknown("AccessDenied: no"))
    snapshot = snapshot_of([year, month, forever, unread])
    findings = run_check("aws_log_groups_retention", snapshot)
    assert statuses_of(findings, year) == ["pass"]
    assert statuses_of(findings, month) == ["fail"]
    assert statuses_of(findings, forever) == ["pass"]
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check("aws_log_groups_retention", snapshot, {"log_retention_months": 1})
    assert statuses_of(findings, month) == ["pass"]
    findings = run_check(
        "aws_log_groups_retention", snapshot, {"log_never_expire_meets_policy": False}
    )
    assert statuses_of(findings, forever) == ["fail"]


@pytest.mark.parametrize(("months", "days"), [(1, 30), (3, 90), (6, 180), (12, 365), (18, 545)])
def test_cloudwatch_steps_meet_the_months_they_stand_for(months: int, days: int) -> None:
    enough = aws("logs.log_group", "enough", retention_days=days)
    short = aws("logs.log_group", "short", retention_days=days - 1)
    findings = run_check(
        "aws_log_groups_retention", snapshot_of([enough, short]), {"log_retention_months": months}
    )
    assert statuses_of(findings, enough) == ["pass"]
    assert statuses_of(findings, short) == ["fail"]


def log_bucket(name: str, *rules: dict[str, Any], log_bucket: Any = True) -> Resource:
    return aws("s3.bucket", name, log_bucket=log_bucket, lifecycle=list(rules))


def expiry(days: int | None, enabled: bool = True) -> dict[str, Any]:
    return {"id": f"r{days}", "enabled": enabled, "prefix": "", "expiration_days": days}


def test_log_bucket_lifecycle() -> None:
    short = log_bucket("short", expiry(90))
    long = log_bucket("long", expiry(400))
    disabled = log_bucket("disabled", expiry(30, enabled=False))
    kept = log_bucket("kept")
    data = log_bucket("data", expiry(1), log_bucket=False)
    unread = aws("s3.bucket", "unread", log_bucket=True, lifecycle=unknown("AccessDenied: no"))
    snapshot = snapshot_of([short, long, disabled, kept, data, unread])
    findings = run_check("aws_log_buckets_lifecycle", snapshot)
    assert statuses_of(findings, short) == ["fail"]
    assert statuses_of(findings, long) == ["pass"]
    assert statuses_of(findings, disabled) == ["pass"]
    assert statuses_of(findings, kept) == ["pass"]
    assert statuses_of(findings, data) == []
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check("aws_log_buckets_lifecycle", snapshot, {"log_retention_months": 2})
    assert statuses_of(findings, short) == ["pass"]
    findings = run_check(
        "aws_log_buckets_lifecycle", snapshot, {"log_never_expire_meets_policy": False}
    )
    assert statuses_of(findings, kept) == ["fail"]
