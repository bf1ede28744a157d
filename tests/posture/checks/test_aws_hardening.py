"""AWS virtual machine hardening checks (commitment 8)."""

from __future__ import annotations

from typing import Any

from mamori.posture.snapshot import Resource, unknown
from tests.posture.support import aws, run_check, snapshot_of, statuses_of


def instance(name: str, **properties: Any) -> Resource:
    base = {
        "state": "running",
        "image_id": "ami-good",
        "imds_v2_required": True,
        "security_groups": [],
        "patch_managed": True,
    }
    return aws("ec2.instance", name, **{**base, **properties})


def test_imdsv2_required() -> None:
    good = instance("i-good")
    bad = instance("i-bad", imds_v2_required=False)
    unread = instance("i-unread", imds_v2_required=unknown("UnauthorizedOperation: no"))
    gone = instance("i-gone", state="terminated", imds_v2_required=False)
    findings = run_check("aws_instances_imdsv2_required", snapshot_of([good, bad, unread, gone]))
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]
    assert statuses_of(findings, gone) == []


def test_approved_images() -> None:
    good = instance("i-good", image_id="ami-0abc")
    bad = instance("i-bad", image_id="ami-9999")
    unread = instance("i-unread", image_id=unknown("AccessDenied: no"))
    snapshot = snapshot_of([good, bad, unread])
    findings = run_check("aws_instances_approved_images", snapshot)
    assert [str(f.status) for f in findings] == ["not_applicable"]
    assert "No list" in findings[0].message
    approved = {"approved_images": {"aws": ["ami-0*"]}}
    findings = run_check("aws_instances_approved_images", snapshot, approved)
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check(
        "aws_instances_approved_images", snapshot, {"approved_images": {"aws": ["ami-*"]}}
    )
    assert statuses_of(findings, bad) == ["pass"]


def rule(port: int | None, *sources: str, protocol: str = "tcp") -> dict[str, Any]:
    return {
        "direction": "inbound",
        "action": "allow",
        "protocol": protocol,
        "from_port": port,
        "to_port": port,
        "sources": list(sources),
        "source_groups": [],
        "priority": None,
    }


def test_admin_ports_open_to_the_internet() -> None:
    ssh_world = aws("ec2.security_group", "sg-ssh", rules=[rule(22, "0.0.0.0/0")])
    rdp_v6 = aws("ec2.security_group", "sg-rdp", rules=[rule(3389, "::/0")])
    all_ports = aws("ec2.security_group", "sg-all", rules=[rule(None, "0.0.0.0/0", protocol="all")])
    ssh_office = aws("ec2.security_group", "sg-office", rules=[rule(22, "203.0.113.0/24")])
    https_world = aws("ec2.security_group", "sg-web", rules=[rule(443, "0.0.0.0/0")])
    unread = aws("ec2.security_group", "sg-unread", rules=unknown("AccessDenied: no"))
    user = instance("i-1", security_groups=["sg-ssh"])
    snapshot = snapshot_of([ssh_world, rdp_v6, all_ports, ssh_office, https_world, unread, user])
    findings = run_check("aws_no_admin_ports_open_to_internet", snapshot)
    assert statuses_of(findings, ssh_world) == ["fail"]
    assert next(f for f in findings if f.subject == ssh_world.key).details["instances"] == ["i-1"]
    assert statuses_of(findings, rdp_v6) == ["fail"]
    assert statuses_of(findings, all_ports) == ["fail"]
    assert statuses_of(findings, ssh_office) == ["pass"]
    assert statuses_of(findings, https_world) == ["pass"]
    assert statuses_of(findings, unread) == ["unknown"]
    findings = run_check("aws_no_admin_ports_open_to_internet", snapshot, {"admin_ports": [443]})
    assert statuses_of(findings, https_world) == ["fail"]
    assert statuses_of(findings, ssh_world) == ["pass"]


def test_patch_managed() -> None:
    good = instance("i-good")
    bad = instance("i-bad", patch_managed=False)
    unread = instance("i-unread", patch_managed=unknown("AccessDeniedException: ssm"))
    stopped = instance("i-stopped", state="stopped", patch_managed=False)
    findings = run_check("aws_instances_patch_managed", snapshot_of([good, bad, unread, stopped]))
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, unread) == ["unknown"]
    assert statuses_of(findings, stopped) == []
