"""AWS virtual machine hardening (commitment 8, virtual-machine-hardening).

Instances require IMDSv2, run approved images (`approved_images`, fnmatch patterns on
AMI ids), are managed by Systems Manager for patching, and no security group opens an
administration port (`admin_ports`) to the whole internet.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from fnmatch import fnmatchcase
from typing import Any

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.aws_common import (
    ANYWHERE,
    aws_resources,
    tail,
    unknown_result,
    unread,
)
from mamori.posture.checks.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    PostureFacts,
    admin_ports,
    approved_images,
    posture_check,
    result,
)
from mamori.posture.snapshot import Resource, Snapshot

HARDENING = ("virtual-machine-hardening",)
GONE_STATES = frozenset({"terminated", "shutting-down"})


def live_instances(snapshot: Snapshot) -> list[Resource]:
    """EC2 instances that are not terminated (or terminating)."""
    return [
        instance
        for instance in aws_resources(snapshot, "aws.ec2.instance")
        if str(instance.properties.get("state", "")).lower() not in GONE_STATES
    ]


def from_anywhere(rule: Mapping[str, Any]) -> bool:
    """Whether an inbound allow rule admits the whole internet."""
    return (
        str(rule.get("direction", "inbound")) == "inbound"
        and str(rule.get("action", "allow")) == "allow"
        and any(str(source).lower() in ANYWHERE for source in rule.get("sources") or ())
    )


def opens_port(rule: Mapping[str, Any], port: int) -> bool:
    """Whether `rule` covers TCP `port` (protocol tcp or all; None ports mean all)."""
    if str(rule.get("protocol", "all")).lower() not in ("tcp", "all", "-1", "6"):
        return False
    low, high = rule.get("from_port"), rule.get("to_port")
    if low is None or high is None:
        return True
    return int(low) <= port <= int(high)


@posture_check(
    id="aws_instances_imdsv2_required",
    title=LText(
        ja="EC2 インスタンスが IMDSv2 を必須にしている",
        en="EC2 instances require IMDSv2",
    ),
    rationale=LText(
        ja="IMDSv1 のままだと、SSRF などの脆弱性から"
        "インスタンスの認証情報が盗まれるおそれがあります。",
        en="With IMDSv1, a server-side request forgery can steal the instance's credentials.",
    ),
    remediation=LText(
        ja="インスタンスのメタデータオプションで HttpTokens を required にしてください。",
        en="Set HttpTokens to required in the instance's metadata options.",
    ),
    severity=Severity.HIGH,
    commitments=HARDENING,
    types=("aws.ec2.instance",),
)
def instances_imdsv2(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per instance: IMDSv2 (session tokens) required."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for instance in live_instances(facts.snapshot):
        missing = unread(instance, "imds_v2_required")
        if missing:
            yield unknown_result(facts, instance, missing)
        elif instance.properties["imds_v2_required"] is True:
            yield result(facts, PASS, instance, N_("IMDSv2 is required."))
        else:
            yield result(facts, FAIL, instance, N_("IMDSv1 is still allowed."))


@posture_check(
    id="aws_instances_approved_images",
    title=LText(
        ja="EC2 インスタンスが承認済みのイメージから起動されている",
        en="EC2 instances run approved images",
    ),
    rationale=LText(
        ja="堅牢化済みと承認したイメージだけを使えば、設定の抜けや未知のソフトウェアを防げます。",
        en="Running only images approved as hardened keeps out missing settings and unknown "
        "software.",
    ),
    remediation=LText(
        ja="承認済みのイメージからインスタンスを作り直すか、"
        "審査したうえでイメージを approved_images に加えてください。",
        en="Rebuild the instance from an approved image, or review the image and add it to "
        "approved_images.",
    ),
    severity=Severity.MEDIUM,
    commitments=HARDENING,
    types=("aws.ec2.instance",),
)
def instances_approved_images(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per instance: its AMI matches an approved pattern (n/a when no list is configured)."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    patterns = approved_images(context, "aws")
    if not patterns:
        yield Finding(
            NOT_APPLICABLE,
            "aws:approved_images",
            N_("No list of approved images is configured (approved_images)."),
        )
        return
    for instance in live_instances(facts.snapshot):
        missing = unread(instance, "image_id")
        if missing:
            yield unknown_result(facts, instance, missing)
            continue
        image = str(instance.properties["image_id"])
        if any(fnmatchcase(image, pattern) for pattern in patterns):
            yield result(
                facts, PASS, instance, N_("Runs the approved image %(image)s."), {"image": image}
            )
        else:
            yield result(
                facts,
                FAIL,
                instance,
                N_("Runs %(image)s, which is not an approved image."),
                {"image": image},
            )


@posture_check(
    id="aws_no_admin_ports_open_to_internet",
    title=LText(
        ja="管理用ポートがインターネット全体に開いていない",
        en="No administration port is open to the whole internet",
    ),
    rationale=LText(
        ja="SSH や RDP などの管理用ポートを 0.0.0.0/0 や ::/0 に開けると、"
        "総当たり攻撃や脆弱性攻撃の的になります。",
        en="SSH, RDP and other administration ports open to 0.0.0.0/0 or ::/0 invite "
        "brute-force and exploit attempts.",
    ),
    remediation=LText(
        ja="ルールの送信元を管理用ネットワークに絞るか、Systems Manager Session Manager で"
        "接続してポートを閉じてください。",
        en="Restrict the rule's source to the administration network, or connect through "
        "Systems Manager Session Manager and close the port.",
    ),
    severity=Severity.CRITICAL,
    commitments=HARDENING,
    types=("aws.ec2.security_group", "aws.ec2.instance"),
)
def no_admin_ports_open(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per security group: no inbound rule opens an admin port to anywhere."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    ports = admin_ports(context)
    users: dict[tuple[str, str], list[str]] = {}
    for instance in live_instances(facts.snapshot):
        groups = instance.properties.get("security_groups")
        for group_id in groups if isinstance(groups, list) else ():
            users.setdefault((instance.account, str(group_id)), []).append(tail(instance.id))
    for group in aws_resources(facts.snapshot, "aws.ec2.security_group"):
        missing = unread(group, "rules")
        if missing:
            yield unknown_result(facts, group, missing)
            continue
        rules = [rule for rule in group.properties["rules"] or () if from_anywhere(rule)]
        open_ports = sorted({p for p in ports for rule in rules if opens_port(rule, p)})
        instances = users.get((group.account, tail(group.id)), [])
        if open_ports:
            yield result(
                facts,
                FAIL,
                group,
                N_(
                    "Administration ports open to the internet: %(ports)s "
                    "(instances: %(instances)s)."
                ),
                {
                    "ports": ", ".join(str(p) for p in open_ports),
                    "instances": ", ".join(instances) or "-",
                },
                instances=instances,
            )
        else:
            yield result(
                facts,
                PASS,
                group,
                N_("No administration port (%(ports)s) is open to the internet."),
                {"ports": ", ".join(str(p) for p in ports)},
                instances=instances,
            )


@posture_check(
    id="aws_instances_patch_managed",
    title=LText(
        ja="EC2 インスタンスが Systems Manager でパッチ管理されている",
        en="EC2 instances are patch-managed by Systems Manager",
    ),
    rationale=LText(
        ja="Systems Manager に登録されていないインスタンスには、"
        "パッチが適用されているかを確かめる手段がありません。",
        en="An instance Systems Manager does not manage has no way to show it is patched.",
    ),
    remediation=LText(
        ja="SSM エージェントを導入し、インスタンスプロファイルに AmazonSSMManagedInstanceCore を"
        "付けて、パッチベースラインの対象にしてください。",
        en="Install the SSM agent, attach AmazonSSMManagedInstanceCore to the instance "
        "profile, and put the instance under a patch baseline.",
    ),
    severity=Severity.HIGH,
    commitments=HARDENING,
    types=("aws.ec2.instance",),
)
def instances_patch_managed(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per running instance: registered and online in Systems Manager."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    for instance in live_instances(facts.snapshot):
        if str(instance.properties.get("state", "")).lower() == "stopped":
            continue  # a stopped instance cannot be online in Systems Manager
        missing = unread(instance, "patch_managed")
        if missing:
            yield unknown_result(facts, instance, missing)
        elif instance.properties["patch_managed"] is True:
            yield result(facts, PASS, instance, N_("Managed and online in Systems Manager."))
        else:
            yield result(
                facts, FAIL, instance, N_("Not managed (or not online) in Systems Manager.")
            )
