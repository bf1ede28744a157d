"""AWS protective-control checks (commitment 17)."""

from __future__ import annotations

from typing import Any

from mamori.commitments.registry import Finding
from mamori.posture.snapshot import Resource, unknown
from tests.posture.support import (
    aws,
    failed_listing,
    run_check,
    snapshot_of,
    statuses_of,
    with_properties,
)

A, B = "111111111111", "222222222222"


def at(findings: list[Finding], subject: str) -> list[str]:
    return [str(f.status) for f in findings if f.subject == subject]


def test_security_groups_default_deny() -> None:
    everything = {
        "direction": "inbound",
        "action": "allow",
        "protocol": "all",
        "from_port": None,
        "to_port": None,
        "sources": ["0.0.0.0/0"],
        "source_groups": [],
        "priority": None,
    }
    bad = aws("ec2.security_group", "sg-bad", rules=[everything])
    good = aws("ec2.security_group", "sg-good", rules=[{**everything, "sources": ["10.0.0.0/8"]}])
    outbound = aws("ec2.security_group", "sg-out", rules=[{**everything, "direction": "outbound"}])
    unread = aws("ec2.security_group", "sg-unread", rules=unknown("AccessDenied: no"))
    findings = run_check(
        "aws_security_groups_default_deny", snapshot_of([bad, good, outbound, unread])
    )
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, outbound) == ["pass"]
    assert statuses_of(findings, unread) == ["unknown"]


def test_guardduty_in_every_used_region() -> None:
    tokyo = aws("guardduty.detector", "d1", enabled=True, malware_protection=True)
    osaka = aws("guardduty.detector", "d2", region="ap-northeast-3", enabled=False)
    unused = aws("guardduty.detector", "d3", region="eu-west-1", enabled=False)
    resources = [
        aws("s3.bucket", "b1"),
        aws("s3.bucket", "b2", region="ap-northeast-3"),
        aws("s3.bucket", "b3", region="us-east-1"),
        aws("s3.bucket", "b4", region="us-west-2"),
        aws("ec2.vpc", "vpc-0", region="eu-west-1", is_default=True),
    ]
    snapshot = snapshot_of(
        [tokyo, osaka, unused, *resources], [failed_listing("guardduty", region="us-west-2")]
    )
    findings = run_check("aws_guardduty_in_used_regions", snapshot)
    assert statuses_of(findings, tokyo) == ["pass"]
    assert statuses_of(findings, osaka) == ["fail"]
    assert statuses_of(findings, unused) == []
    assert at(findings, f"aws:{A}:us-east-1:guardduty") == ["fail"]
    # only the failed listing's unknown, never a guessed failure
    assert at(findings, f"aws:{A}:us-west-2:guardduty") == ["unknown"]
    assert any(
        str(f.status) == "unknown" and f.params.get("call") == "guardduty:List" for f in findings
    )


def test_guardduty_malware_protection() -> None:
    on = aws("guardduty.detector", "d1", enabled=True, malware_protection=True)
    off = aws("guardduty.detector", "d2", enabled=True, malware_protection=False)
    unread = aws("guardduty.detector", "d3", enabled=True, malware_protection=unknown("x: y"))
    findings = run_check("aws_guardduty_malware_protection", snapshot_of([on, off, unread]))
    assert statuses_of(findings, on) == ["pass"]
    assert statuses_of(findings, off) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]


def alb(name: str, scheme: str, acl: Any) -> Resource:
    made = aws("elbv2.load_balancer", name, scheme=scheme, web_acl=acl, listeners=[])
    return with_properties(made, kind="application")


def test_waf_on_public_endpoints() -> None:
    protected = alb("alb-1", "internet-facing", "arn:aws:wafv2:acl")
    bare = alb("alb-2", "internet-facing", None)
    internal = alb("alb-3", "internal", None)
    unread = alb("alb-4", "internet-facing", unknown("WAFNonexistentItemException: x"))
    cdn = aws("cloudfront.distribution", "cdn", region="global", web_acl=None)
    regional = aws("apigateway.stage", "api-1", endpoint_type="REGIONAL", web_acl=None)
    private = aws("apigateway.stage", "api-2", endpoint_type="PRIVATE", web_acl=None)
    snapshot = snapshot_of([protected, bare, internal, unread, cdn, regional, private])
    findings = run_check("aws_waf_on_public_endpoints", snapshot)
    assert statuses_of(findings, protected) == ["pass"]
    assert statuses_of(findings, bare) == ["fail"]
    assert statuses_of(findings, internal) == []
    assert statuses_of(findings, unread) == ["unknown"]
    assert statuses_of(findings, cdn) == ["fail"]
    assert statuses_of(findings, regional) == ["fail"]
    assert statuses_of(findings, private) == []


def trail(name: str, account: str = A, **properties: Any) -> Resource:
    base = {
        "multi_region": True,
        "log_file_validation": True,
        "logging": True,
        "s3_bucket": "trail-logs",
        "home_region": "ap-northeast-1",
    }
    return aws("cloudtrail.trail", name, account=account, **{**base, **properties})


def test_cloudtrail_multi_region_and_protected_bucket() -> None:
    locked = aws("s3.bucket", "trail-logs", object_lock=True, mfa_delete=False)
    good = trail("t1")
    findings = run_check("aws_cloudtrail_multi_region_protected", snapshot_of([locked, good]))
    assert statuses_of(findings, good) == ["pass"]

    open_bucket = aws("s3.bucket", "trail-logs", object_lock=False, mfa_delete=False)
    findings = run_check("aws_cloudtrail_multi_region_protected", snapshot_of([open_bucket, good]))
    assert statuses_of(findings, good) == ["fail"]

    findings = run_check("aws_cloudtrail_multi_region_protected", snapshot_of([good]))
    assert statuses_of(findings, good) == ["unknown"]  # the bucket is not in the snapshot

    single = trail("t2", multi_region=False)
    findings = run_check("aws_cloudtrail_multi_region_protected", snapshot_of([locked, single]))
    assert at(findings, f"aws:{A}:global:cloudtrail") == ["fail"]

    unread = trail("t3", logging=unknown("AccessDenied: GetTrailStatus"))
    findings = run_check("aws_cloudtrail_multi_region_protected", snapshot_of([locked, unread]))
    assert at(findings, f"aws:{A}:global:cloudtrail") == ["unknown"]

    other_account = aws("s3.bucket", "b", account=B)
    findings = run_check(
        "aws_cloudtrail_multi_region_protected", snapshot_of([locked, good, other_account])
    )
    assert at(findings, f"aws:{B}:global:cloudtrail") == ["fail"]

    empty = snapshot_of([locked, good])
    empty.scope = {"aws": {"333333333333": ["ap-northeast-1"]}}  # enumerated, holds nothing
    findings = run_check("aws_cloudtrail_multi_region_protected", empty)
    assert at(findings, "aws:333333333333:global:cloudtrail") == ["fail"]


def security_setup(pattern: str, actions: Any = True) -> list[Resource]:
    group = aws(
        "logs.log_group",
        "trail",
        retention_days=365,
        kms_key=None,
        metric_filters=[
            {"name": "f", "pattern": pattern, "metric_name": "Events", "metric_namespace": "Sec"},
            {
                "name": "g",
                "pattern": "{ ($.eventName = ConsoleLogin) && "
                '($.errorMessage = "Failed authentication") }',
                "metric_name": "Logins",
                "metric_namespace": "Sec",
            },
        ],
    )
    alarms = [
        aws("cloudwatch.alarm", name, metric_name=name, namespace="Sec", actions_enabled=actions)
        for name in ("Events", "Logins")
    ]
    return [group, *alarms]


def test_security_event_alarms() -> None:
    subject = f"aws:{A}:global:security-alarms"
    unauthorized = '{ ($.errorCode = "*UnauthorizedOperation") || ($.errorCode = "AccessDenied*") }'
    findings = run_check("aws_security_event_alarms", snapshot_of(security_setup(unauthorized)))
    assert at(findings, subject) == ["pass"]

    findings = run_check("aws_security_event_alarms", snapshot_of(security_setup("{ $.x = 1 }")))
    assert at(findings, subject) == ["fail"]

    disabled = security_setup(unauthorized, actions=False)
    findings = run_check("aws_security_event_alarms", snapshot_of(disabled))
    assert at(findings, subject) == ["fail"]

    unread = security_setup(unauthorized, actions=unknown("AccessDenied: no"))
    findings = run_check("aws_security_event_alarms", snapshot_of(unread))
    assert at(findings, subject) == ["unknown"]
