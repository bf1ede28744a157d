"""AWS Config rules and Security Hub controls as evidence."""

from __future__ import annotations

from mamori.posture.snapshot import unknown
from tests.posture.support import aws, failed_listing, run_check, snapshot_of, statuses_of


def test_config_rule_verdicts() -> None:
    rules = {
        verdict: aws("config.rule", f"rule-{verdict.lower()}", compliance=verdict)
        for verdict in ("COMPLIANT", "NON_COMPLIANT", "NOT_APPLICABLE", "INSUFFICIENT_DATA")
    }
    unread = aws("config.rule", "rule-unread", compliance=unknown("NotImplemented: no"))
    findings = run_check("aws_config_rules_compliant", snapshot_of([*rules.values(), unread]))
    assert statuses_of(findings, rules["COMPLIANT"]) == ["pass"]
    assert statuses_of(findings, rules["NON_COMPLIANT"]) == ["fail"]
    assert statuses_of(findings, rules["NOT_APPLICABLE"]) == ["not_applicable"]
    assert statuses_of(findings, rules["INSUFFICIENT_DATA"]) == ["unknown"]
    assert statuses_of(findings, unread) == ["unknown"]


def test_security_hub_verdicts() -> None:
    found = {
        status: aws(
            "securityhub.finding",
            f"f-{status.lower()}",
            title="S3 buckets should require SSL",
            standard="aws-foundational-security-best-practices",
            control_id="S3.5",
            compliance=status,
            severity="MEDIUM",
            resource_ids=["arn:aws:s3:::b"],
        )
        for status in ("PASSED", "FAILED", "WARNING", "NOT_AVAILABLE")
    }
    findings = run_check("aws_security_hub_controls_passed", snapshot_of(found.values()))
    assert statuses_of(findings, found["PASSED"]) == ["pass"]
    assert statuses_of(findings, found["FAILED"]) == ["fail"]
    assert statuses_of(findings, found["WARNING"]) == ["unknown"]
    assert statuses_of(findings, found["NOT_AVAILABLE"]) == ["unknown"]
    failed = next(f for f in findings if f.status == "fail")
    assert failed.params["control"] == "S3.5"


def test_an_unreadable_listing_is_unknown() -> None:
    coverage = [failed_listing("securityhub", "GetFindings")]
    findings = run_check("aws_security_hub_controls_passed", snapshot_of([], coverage))
    assert [str(f.status) for f in findings] == ["unknown"]
