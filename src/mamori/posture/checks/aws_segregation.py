"""AWS segregation of tenants (commitment 7, virtual-environment-segregation).

Each resource belongs to a tenant or is shared (see `attribution`); shared resources may
talk to anyone. These checks look for paths between two different tenants: VPC
peerings, one transit gateway joining tenants' VPCs, security-group rules that admit
another tenant's group, S3 policies and IAM role trusts that let another tenant's
account in, and networks shared by tenants of a service whose network must be
dedicated (`network_policy` of the attribution file).

An account belongs to a tenant when every attributed resource in it does. Resources
nobody attributed are reported by the attribution check, not here (not applicable).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.attribution import SHARED
from mamori.posture.checks.aws_common import aws_resources, tail, unknown_result, unread
from mamori.posture.checks.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    PostureFacts,
    posture_check,
    result,
)
from mamori.posture.snapshot import Resource, Snapshot

SEGREGATION = ("virtual-environment-segregation",)
GONE = frozenset({"deleted", "deleting", "rejected", "failed", "expired"})


@dataclass(frozen=True)
class Side:
    """One end of a connection: its label and tenant (None: not attributed)."""

    label: str
    known: bool  # False when the end could not be found in the snapshot
    tenant: str | None = None


def conflict(one: str | None, other: str | None) -> bool:
    """Whether two tenants may not be joined: both known, neither shared, different."""
    return one is not None and other is not None and SHARED not in (one, other) and one != other


def account_tenants(facts: PostureFacts) -> Mapping[str, str | None]:
    """Account -> its tenant when all attributed resources in it share one (else None)."""
    return facts.derived("aws_account_tenants", lambda: _account_tenants(facts))


def _account_tenants(facts: PostureFacts) -> Mapping[str, str | None]:
    assert facts.snapshot is not None  # noqa: S101 - only called under posture_check
    seen: dict[str, set[str]] = {}
    for resource in facts.snapshot.resources:
        if resource.provider != "aws":
            continue
        tenant = facts.of(resource).tenant
        if tenant is not None:
            seen.setdefault(resource.account, set()).add(tenant)
    return {account: next(iter(t)) if len(t) == 1 else None for account, t in seen.items()}


def find(
    snapshot: Snapshot, kind: str, short_id: str, account: str | None, region: str | None
) -> Resource | None:
    """The resource of `kind` whose id ends in `short_id`, preferring account and region."""
    candidates = [
        r for r in aws_resources(snapshot, kind) if short_id and short_id in (tail(r.id), r.name)
    ]
    if account:
        candidates = [r for r in candidates if r.account == account]
    if region and len(candidates) > 1:
        candidates = [r for r in candidates if r.region == region] or candidates
    return candidates[0] if candidates else None


def side(
    facts: PostureFacts,
    accounts: Mapping[str, str | None],
    kind: str,
    short_id: str,
    account: str | None,
    region: str | None,
) -> Side:
    """The tenant behind `short_id`: its resource's, else its account's, else unknown."""
    assert facts.snapshot is not None  # noqa: S101 - only called under posture_check
    label = f"{account}/{short_id}" if account else short_id
    found = find(facts.snapshot, kind, short_id, account, region)
    if found is not None:
        return Side(label, True, facts.of(found).tenant)
    if account and accounts.get(account) is not None:
        return Side(label, True, accounts[account])
    return Side(label, False)


def joined_verdict(facts: PostureFacts, resource: Resource, sides: Iterable[Side]) -> Finding:
    """Fail when two known tenants meet; unknown for an unfound end; else pass or n/a."""
    sides = list(sides)
    tenants = sorted({s.tenant for s in sides if s.known and s.tenant is not None})
    clashing = [t for t in tenants if any(conflict(t, other) for other in tenants)]
    if clashing:
        return result(
            facts,
            FAIL,
            resource,
            N_("Joins the networks of different tenants: %(tenants)s."),
            {"tenants": ", ".join(clashing)},
        )
    lost = [s.label for s in sides if not s.known]
    if lost:
        return result(
            facts,
            UNKNOWN,
            resource,
            N_("The tenant behind %(targets)s could not be determined."),
            {"targets": ", ".join(lost)},
        )
    if any(s.tenant is None for s in sides):
        return result(
            facts,
            NOT_APPLICABLE,
            resource,
            N_("An end is not attributed to a tenant; the attribution check reports it."),
        )
    return result(
        facts,
        PASS,
        resource,
        N_("Joins only one tenant, or shared resources: %(tenants)s."),
        {"tenants": ", ".join(tenants)},
    )


@posture_check(
    id="aws_vpc_peering_tenant_segregation",
    title=LText(
        ja="VPC ピアリングが異なるテナントのネットワークをつないでいない",
        en="No VPC peering joins two tenants' networks",
    ),
    rationale=LText(
        ja="異なるテナントの VPC をピアリングでつなぐと、テナント間で直接通信できてしまいます。",
        en="Peering two tenants' VPCs lets them reach each other directly.",
    ),
    remediation=LText(
        ja="テナント間のピアリング接続を削除し、必要な連携は共有サービスを経由させてください。",
        en="Delete the peering connection; route any needed exchange through a shared service.",
    ),
    severity=Severity.CRITICAL,
    commitments=SEGREGATION,
    types=("aws.ec2.vpc_peering", "aws.ec2.vpc"),
)
def vpc_peering_segregation(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per live peering connection: the tenants of its two VPCs."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    accounts = account_tenants(facts)
    for peering in aws_resources(facts.snapshot, "aws.ec2.vpc_peering"):
        missing = unread(peering, "requester", "accepter")
        if missing:
            yield unknown_result(facts, peering, missing)
            continue
        if str(peering.properties.get("status", "")).lower() in GONE:
            continue
        ends = []
        for end in (peering.properties["requester"], peering.properties["accepter"]):
            end = end or {}
            ends.append(
                side(
                    facts,
                    accounts,
                    "aws.ec2.vpc",
                    str(end.get("vpc_id") or ""),
                    end.get("account") or peering.account,
                    end.get("region") or peering.region,
                )
            )
        yield joined_verdict(facts, peering, ends)


@posture_check(
    id="aws_transit_gateway_tenant_segregation",
    title=LText(
        ja="トランジットゲートウェイが異なるテナントの VPC をつないでいない",
        en="No transit gateway joins two tenants' VPCs",
    ),
    rationale=LText(
        ja="一つのトランジットゲートウェイに複数テナントの VPC が接続されていると、"
        "ルートの設定次第でテナント間の通信が可能になります。",
        en="When one transit gateway carries several tenants' VPCs, a single route decides "
        "whether tenants can reach each other.",
    ),
    remediation=LText(
        ja="テナントごとにトランジットゲートウェイを分けるか、接続を外してください。",
        en="Give each tenant its own transit gateway, or detach the VPC.",
    ),
    severity=Severity.HIGH,
    commitments=SEGREGATION,
    types=("aws.ec2.transit_gateway_attachment", "aws.ec2.vpc"),
)
def transit_gateway_segregation(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per VPC attachment: the tenants of every VPC attached to the same gateway."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    accounts = account_tenants(facts)
    gateways: dict[tuple[str, str], list[tuple[Resource, Side]]] = {}
    for attachment in aws_resources(facts.snapshot, "aws.ec2.transit_gateway_attachment"):
        missing = unread(attachment, "transit_gateway_id", "resource_type", "resource_id")
        if missing:
            yield unknown_result(facts, attachment, missing)
            continue
        properties = attachment.properties
        if properties["resource_type"] != "vpc" or str(properties.get("state")).lower() in GONE:
            continue
        owner = str(properties.get("transit_gateway_owner") or attachment.account)
        vpc = side(
            facts,
            accounts,
            "aws.ec2.vpc",
            str(properties["resource_id"]),
            str(properties.get("resource_owner") or attachment.account),
            attachment.region,
        )
        gateways.setdefault((owner, str(properties["transit_gateway_id"])), []).append(
            (attachment, vpc)
        )
    for members in gateways.values():
        for attachment, vpc in members:
            if vpc.known and vpc.tenant is None:
                yield joined_verdict(facts, attachment, [vpc])
                continue
            others = [other for _, other in members if other is not vpc]
            relevant = [o for o in others if not o.known or conflict(vpc.tenant, o.tenant)]
            yield joined_verdict(facts, attachment, [vpc, *relevant])


@posture_check(
    id="aws_security_group_tenant_segregation",
    title=LText(
        ja="セキュリティグループが他のテナントのグループからの通信を許可していない",
        en="No security group admits another tenant's security group",
    ),
    rationale=LText(
        ja="他テナントのセキュリティグループを送信元に指定したルールは、"
        "そのテナントのサーバーからの通信を直接許可します。",
        en="A rule naming another tenant's security group as a source admits that tenant's "
        "servers directly.",
    ),
    remediation=LText(
        ja="他テナントのグループを参照するルールを削除してください。",
        en="Remove rules that reference another tenant's security group.",
    ),
    severity=Severity.HIGH,
    commitments=SEGREGATION,
    types=("aws.ec2.security_group",),
)
def security_group_segregation(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per security group whose rules reference other groups: those groups' tenants."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    accounts = account_tenants(facts)
    for group in aws_resources(facts.snapshot, "aws.ec2.security_group"):
        missing = unread(group, "rules")
        if missing:
            yield unknown_result(facts, group, missing)
            continue
        own = Side(tail(group.id), True, facts.of(group).tenant)
        referenced: dict[str, Side] = {}
        for rule in group.properties["rules"] or ():
            for source in rule.get("source_groups") or ():
                group_id = str(source.get("group_id") or "")
                if not group_id or group_id in (own.label, group.name):
                    continue
                account = str(source.get("account") or group.account)
                referenced[f"{account}/{group_id}"] = side(
                    facts, accounts, "aws.ec2.security_group", group_id, account, group.region
                )
        if not referenced:
            continue
        if own.tenant is None:
            yield joined_verdict(facts, group, [own])
        else:
            yield joined_verdict(facts, group, [own, *referenced.values()])


def _grants(
    facts: PostureFacts,
    accounts: Mapping[str, str | None],
    resource: Resource,
    granted: Iterable[str],
) -> Finding:
    own = facts.of(resource).tenant
    granted = sorted({str(account) for account in granted if str(account) != resource.account})
    if own is None:
        return result(
            facts,
            NOT_APPLICABLE,
            resource,
            N_("Not attributed to a tenant; the attribution check reports it."),
        )
    others = [a for a in granted if conflict(own, accounts.get(a))]
    if others:
        return result(
            facts,
            FAIL,
            resource,
            N_("Grants access to accounts of other tenants: %(accounts)s."),
            {"accounts": ", ".join(f"{a} ({accounts[a]})" for a in others)},
        )
    outside = [a for a in granted if a not in accounts]
    return result(
        facts,
        PASS,
        resource,
        N_("Other accounts granted (%(accounts)s) belong to no other tenant."),
        {"accounts": ", ".join(granted)},
        accounts_outside_snapshot=outside,
    )


@posture_check(
    id="aws_cross_account_tenant_segregation",
    title=LText(
        ja="S3 バケットポリシーと IAM ロールの信頼関係が他のテナントのアカウントを許可していない",
        en="No bucket policy or role trust lets another tenant's account in",
    ),
    rationale=LText(
        ja="他テナントのアカウントにバケットへのアクセスやロールの引き受けを許すと、"
        "テナント間でデータや権限が行き来します。",
        en="Letting another tenant's account read a bucket or assume a role moves data or "
        "privileges between tenants.",
    ),
    remediation=LText(
        ja="バケットポリシーのプリンシパルやロールの信頼ポリシーから、他テナントのアカウントを"
        "削除してください。",
        en="Remove the other tenant's account from the bucket policy or the role's trust policy.",
    ),
    severity=Severity.CRITICAL,
    commitments=SEGREGATION,
    types=("aws.s3.bucket", "aws.iam.role"),
)
def cross_account_segregation(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per bucket or role granting other accounts: none of them is another tenant's."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    accounts = account_tenants(facts)
    for kind, name in (
        ("aws.s3.bucket", "cross_account_principals"),
        ("aws.iam.role", "trusted_accounts"),
    ):
        for resource in aws_resources(facts.snapshot, kind):
            missing = unread(resource, name)
            if missing:
                yield unknown_result(facts, resource, missing)
                continue
            granted = [a for a in resource.properties[name] or () if str(a) != resource.account]
            if granted:
                yield _grants(facts, accounts, resource, granted)


MEMBERS_BY_VPC = (
    "aws.ec2.instance",
    "aws.ec2.security_group",
    "aws.ec2.subnet",
    "aws.elbv2.load_balancer",
)


@posture_check(
    id="aws_dedicated_networks_not_shared",
    title=LText(
        ja="専用ネットワークと定めたサービスの VPC を複数のテナントで共有していない",
        en="Services promised dedicated networks do not share a VPC between tenants",
    ),
    rationale=LText(
        ja="テナントごとに専用のネットワークを約束したサービスでは、"
        "一つの VPC に複数テナントのリソースがあってはいけません。",
        en="Where a service promises each tenant its own network, one VPC must not hold "
        "resources of several tenants.",
    ),
    remediation=LText(
        ja="テナントごとに VPC を分けてリソースを移すか、"
        "帰属設定の network_policy を見直してください。",
        en="Move each tenant's resources to its own VPC, or revise network_policy in the "
        "attribution file.",
    ),
    severity=Severity.HIGH,
    commitments=SEGREGATION,
    types=(
        "aws.ec2.vpc",
        "aws.ec2.instance",
        "aws.ec2.security_group",
        "aws.ec2.subnet",
        "aws.elbv2.load_balancer",
    ),
)
def dedicated_networks(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per VPC with attributed resources: one tenant, unless no service needs its own."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    members: dict[tuple[str, str, str], list[Resource]] = {}
    vpcs: dict[tuple[str, str, str], Resource] = {}
    for vpc in aws_resources(facts.snapshot, "aws.ec2.vpc"):
        where = (vpc.account, vpc.region, tail(vpc.id))
        vpcs[where] = vpc
        members.setdefault(where, []).append(vpc)
    for resource in aws_resources(facts.snapshot, *MEMBERS_BY_VPC):
        vpc_id = resource.properties.get("vpc_id")
        if isinstance(vpc_id, str) and vpc_id:
            members.setdefault((resource.account, resource.region, vpc_id), []).append(resource)
    for where, inside in members.items():
        places = [facts.of(r) for r in inside]
        tenants = sorted({p.tenant for p in places if p.tenant is not None and p.tenant != SHARED})
        if not any(p.tenant is not None for p in places):
            continue
        subject = vpcs.get(where, inside[0])
        dedicated = sorted(
            {
                p.service
                for p in places
                if p.service is not None
                and p.tenant not in (None, SHARED)
                and facts.network_policy.get(p.service) == "dedicated"
            }
        )
        params = {"tenants": ", ".join(tenants), "services": ", ".join(dedicated)}
        if len(tenants) > 1 and dedicated:
            yield result(
                facts,
                FAIL,
                subject,
                N_(
                    "Holds resources of tenants %(tenants)s, "
                    "but %(services)s needs a dedicated network."
                ),
                params,
            )
        elif len(tenants) > 1:
            yield result(
                facts,
                PASS,
                subject,
                N_("Shared by tenants %(tenants)s; no service in it needs a dedicated network."),
                params,
            )
        else:
            yield result(
                facts,
                PASS,
                subject,
                N_("Holds resources of one tenant only (or shared ones): %(tenants)s."),
                params,
            )
