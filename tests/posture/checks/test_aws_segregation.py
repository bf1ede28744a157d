"""AWS tenant segregation checks (commitment 7)."""

from __future__ import annotations

from typing import Any

from mamori.posture.attribution import SHARED, Attribution
from mamori.posture.snapshot import Resource, unknown
from tests.posture.support import aws, run_check, snapshot_of, statuses_of

A, B = "111111111111", "222222222222"


def tenant_of(*pairs: tuple[Resource, str | None]) -> dict[str, Attribution]:
    return {r.key: Attribution("svc", tenant, "tag") for r, tenant in pairs}


VPC_A = aws("ec2.vpc", "vpc-a", account=A)
VPC_A2 = aws("ec2.vpc", "vpc-a2", account=A)
VPC_B = aws("ec2.vpc", "vpc-b", account=B)
VPC_S = aws("ec2.vpc", "vpc-s", account=A)
VPC_N = aws("ec2.vpc", "vpc-n", account=A)  # nobody attributed it
TENANTS = tenant_of((VPC_A, "t1"), (VPC_A2, "t1"), (VPC_B, "t2"), (VPC_S, SHARED))


def end(vpc: str, account: str = A) -> dict[str, Any]:
    return {"account": account, "vpc_id": vpc, "region": "ap-northeast-1"}


def peering(name: str, one: dict[str, Any], other: Any, status: str = "active") -> Resource:
    return aws("ec2.vpc_peering", name, requester=one, accepter=other, status=status)


def test_vpc_peering_between_tenants() -> None:
    cross = peering("pcx-1", end("vpc-a"), end("vpc-b", B))
    same = peering("pcx-2", end("vpc-a"), end("vpc-a2"))
    shared = peering("pcx-3", end("vpc-a"), end("vpc-s"))
    stranger = peering("pcx-4", end("vpc-a"), end("vpc-x", "999999999999"))
    loose = peering("pcx-5", end("vpc-a"), end("vpc-n"))
    deleted = peering("pcx-6", end("vpc-a"), end("vpc-b", B), status="deleted")
    unread = peering("pcx-7", end("vpc-a"), unknown("AccessDenied: no"))
    resources = [VPC_A, VPC_A2, VPC_B, VPC_S, VPC_N, cross, same, shared, stranger, loose]
    snapshot = snapshot_of([*resources, deleted, unread])
    findings = run_check("aws_vpc_peering_tenant_segregation", snapshot, attribution=TENANTS)
    assert statuses_of(findings, cross) == ["fail"]
    assert statuses_of(findings, same) == ["pass"]
    assert statuses_of(findings, shared) == ["pass"]
    assert statuses_of(findings, stranger) == ["unknown"]
    assert statuses_of(findings, loose) == ["not_applicable"]
    assert statuses_of(findings, deleted) == []
    assert statuses_of(findings, unread) == ["unknown"]


def attachment(name: str, gateway: str, vpc: str, owner: str = A) -> Resource:
    return aws(
        "ec2.transit_gateway_attachment",
        name,
        account=owner,
        transit_gateway_id=gateway,
        transit_gateway_owner=A,
        resource_owner=owner,
        resource_type="vpc",
        resource_id=vpc,
        state="available",
    )


def test_transit_gateway_joining_tenants() -> None:
    a1 = attachment("att-1", "tgw-1", "vpc-a")
    b1 = attachment("att-2", "tgw-1", "vpc-b", B)
    s1 = attachment("att-3", "tgw-1", "vpc-s")
    a2 = attachment("att-4", "tgw-2", "vpc-a")
    a2b = attachment("att-5", "tgw-2", "vpc-a2")
    unread = aws("ec2.transit_gateway_attachment", "att-6", resource_id=unknown("x: y"))
    snapshot = snapshot_of([VPC_A, VPC_A2, VPC_B, VPC_S, a1, b1, s1, a2, a2b, unread])
    findings = run_check("aws_transit_gateway_tenant_segregation", snapshot, attribution=TENANTS)
    assert statuses_of(findings, a1) == ["fail"]
    assert statuses_of(findings, b1) == ["fail"]
    assert statuses_of(findings, s1) == ["pass"]
    assert statuses_of(findings, a2) == ["pass"]
    assert statuses_of(findings, a2b) == ["pass"]
    assert statuses_of(findings, unread) == ["unknown"]


def group(name: str, account: str, *sources: str) -> Resource:
    rules = [
        {
            "direction": "inbound",
            "action": "allow",
            "protocol": "tcp",
            "from_port": 5432,
            "to_port": 5432,
            "sources": [],
            "source_groups": [{"group_id": s, "account": account} for s in sources],
            "priority": None,
        }
    ]
    return aws("ec2.security_group", name, account=account, vpc_id="vpc-a", rules=rules)


def test_security_group_referencing_another_tenant() -> None:
    target_a = group("sg-a2", A)
    target_b = group("sg-b", B)
    bad = aws(
        "ec2.security_group",
        "sg-bad",
        account=A,
        rules=[{"direction": "inbound", "source_groups": [{"group_id": "sg-b", "account": B}]}],
    )
    good = group("sg-good", A, "sg-a2")
    lost = group("sg-lost", A, "sg-zzz")
    unread = aws("ec2.security_group", "sg-unread", rules=unknown("AccessDenied: no"))
    attribution = tenant_of(
        (target_a, "t1"), (target_b, "t2"), (bad, "t1"), (good, "t1"), (lost, "t1")
    )
    snapshot = snapshot_of([target_a, target_b, bad, good, lost, unread])
    findings = run_check("aws_security_group_tenant_segregation", snapshot, attribution=attribution)
    assert statuses_of(findings, bad) == ["fail"]
    assert statuses_of(findings, good) == ["pass"]
    assert statuses_of(findings, target_a) == []  # references nothing
    assert statuses_of(findings, lost) == ["pass"]  # account A belongs to t1 only
    assert statuses_of(findings, unread) == ["unknown"]


def test_cross_account_access_to_another_tenant() -> None:
    tenant_b_thing = aws("s3.bucket", "b-data", account=B, cross_account_principals=[])
    to_b = aws("s3.bucket", "a-data", account=A, cross_account_principals=[B])
    to_stranger = aws("s3.bucket", "a-open", account=A, cross_account_principals=["333333333333"])
    role_to_b = aws("iam.role", "a-role", account=A, region="global", trusted_accounts=[B])
    shared_role = aws("iam.role", "s-role", account=A, region="global", trusted_accounts=[B])
    unread = aws("iam.role", "r-unread", account=A, trusted_accounts=unknown("AccessDenied: x"))
    attribution = tenant_of(
        (tenant_b_thing, "t2"),
        (to_b, "t1"),
        (to_stranger, "t1"),
        (role_to_b, "t1"),
        (shared_role, SHARED),
    )
    snapshot = snapshot_of([tenant_b_thing, to_b, to_stranger, role_to_b, shared_role, unread])
    findings = run_check("aws_cross_account_tenant_segregation", snapshot, attribution=attribution)
    assert statuses_of(findings, to_b) == ["fail"]
    assert statuses_of(findings, to_stranger) == ["pass"]
    assert statuses_of(findings, role_to_b) == ["fail"]
    assert statuses_of(findings, shared_role) == ["pass"]
    assert statuses_of(findings, tenant_b_thing) == []
    assert statuses_of(findings, unread) == ["unknown"]


def test_dedicated_network_shared_by_tenants() -> None:
    vpc = aws("ec2.vpc", "vpc-m", cidr="10.0.0.0/16", is_default=False)
    one = aws("ec2.instance", "i-1", vpc_id="vpc-m")
    two = aws("ec2.instance", "i-2", vpc_id="vpc-m")
    lonely_vpc = aws("ec2.vpc", "vpc-l", cidr="10.1.0.0/16", is_default=False)
    three = aws("ec2.instance", "i-3", vpc_id="vpc-l")
    attribution = {
        one.key: Attribution("db", "t1"),
        two.key: Attribution("db", "t2"),
        three.key: Attribution("db", "t1"),
    }
    snapshot = snapshot_of([vpc, one, two, lonely_vpc, three])
    findings = run_check(
        "aws_dedicated_networks_not_shared",
        snapshot,
        attribution=attribution,
        network_policy={"db": "dedicated"},
    )
    assert statuses_of(findings, vpc) == ["fail"]
    assert statuses_of(findings, lonely_vpc) == ["pass"]
    findings = run_check(
        "aws_dedicated_networks_not_shared",
        snapshot,
        attribution=attribution,
        network_policy={"db": "shared"},
    )
    assert statuses_of(findings, vpc) == ["pass"]
