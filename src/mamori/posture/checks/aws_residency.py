"""AWS data residency (commitment 3, data-storage-location): where data and its copies live.

Every resource must sit in an allowed region (`allowed_regions` parameter, global
services excepted), and so must every copy the cloud makes of its data: S3 replication,
AWS Backup copy jobs, RDS read replicas and cross-region automated backups, DynamoDB
global-table replicas and KMS multi-region key replicas.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.aws_common import (
    arn_region,
    aws_resources,
    default_infrastructure,
    region_list,
    tail,
    unknown_result,
    unread,
)
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    allowed_regions,
    posture_check,
    result,
)
from mamori.posture.snapshot import GLOBAL_REGION, Resource, Snapshot

RESIDENCY = ("data-storage-location",)

# Checks ---------------------------------------------------------------------------------

ALL_DATA_TYPES = (
    "aws.s3.bucket",
    "aws.ec2.instance",
    "aws.ec2.volume",
    "aws.ec2.snapshot",
    "aws.ec2.security_group",
    "aws.ec2.vpc",
    "aws.ec2.subnet",
    "aws.ec2.vpc_peering",
    "aws.ec2.transit_gateway_attachment",
    "aws.rds.instance",
    "aws.rds.cluster",
    "aws.rds.snapshot",
    "aws.efs.file_system",
    "aws.dynamodb.table",
    "aws.kms.key",
    "aws.backup.vault",
    "aws.backup.plan",
    "aws.backup.recovery_point",
    "aws.logs.log_group",
    "aws.cloudwatch.alarm",
    "aws.elbv2.load_balancer",
    "aws.cloudfront.distribution",
    "aws.apigateway.stage",
    "aws.cloudtrail.trail",
    "aws.iam.role",
)


def _region_verdict(
    facts: PostureFacts,
    resource: Resource,
    region: str,
    allowed: frozenset[str],
    shared: dict[str, dict[str, str | int]],
) -> Finding:
    params = shared.get(region)
    if params is None:  # one mapping per region, shared by its results
        params = shared[region] = {"region": region, "allowed": ", ".join(sorted(allowed))}
    if region in allowed:
        return result(facts, PASS, resource, N_("In %(region)s, an allowed region."), params)
    return result(
        facts,
        FAIL,
        resource,
        N_("In %(region)s, outside the allowed regions (%(allowed)s)."),
        params,
    )


@posture_check(
    id="aws_resources_in_allowed_regions",
    title=LText(
        ja="AWS のリソースが許可されたリージョンにのみ存在する",
        en="AWS resources exist only in the allowed regions",
    ),
    rationale=LText(
        ja="お客様のデータを保存する場所は約束で定めた国・地域に限っています。"
        "許可外のリージョンにあるリソースは、その約束を破る可能性があります。",
        en="Customer data is stored only in the countries and regions the commitment names; "
        "a resource in any other region may break that promise.",
    ),
    remediation=LText(
        ja="許可外のリージョンのリソースを許可されたリージョンへ移して削除するか、"
        "約束の allowed_regions を見直してください。",
        en="Move the resource to an allowed region and delete the original, "
        "or revise allowed_regions in the commitment.",
    ),
    severity=Severity.HIGH,
    commitments=RESIDENCY,
    types=ALL_DATA_TYPES,
)
def resources_in_allowed_regions(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per resource holding data: its region is allowed (global services pass)."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    allowed = allowed_regions(context, "aws")
    defaults = default_infrastructure(facts)
    shared: dict[str, dict[str, str | int]] = {}
    for resource in aws_resources(facts.snapshot, *ALL_DATA_TYPES):
        if resource.key in defaults:
            continue  # AWS creates these in every region; they hold no data
        if resource.type == "aws.s3.bucket" and resource.region in (GLOBAL_REGION, ""):
            yield result(
                facts,
                UNKNOWN,
                resource,
                N_("The bucket's region could not be read."),
            )
        elif resource.region == GLOBAL_REGION:
            yield result(facts, PASS, resource, N_("A global service, not tied to a region."))
        elif not resource.region:
            yield result(facts, UNKNOWN, resource, N_("The resource's region is not known."))
        else:
            yield _region_verdict(facts, resource, resource.region, allowed, shared)


def _copies_verdict(
    facts: PostureFacts,
    resource: Resource,
    regions: Iterable[str],
    unresolved: Iterable[str],
    allowed: frozenset[str],
) -> Finding:
    """Fail when a copy lands outside `allowed`; unknown when a copy's region is unknown."""
    regions, unresolved = sorted(set(regions)), sorted(set(unresolved))
    outside = [region for region in regions if region not in allowed]
    if outside:
        return result(
            facts,
            FAIL,
            resource,
            N_("Copies go to %(regions)s, outside the allowed regions (%(allowed)s)."),
            {"regions": ", ".join(outside), "allowed": ", ".join(sorted(allowed))},
        )
    if unresolved:
        return result(
            facts,
            UNKNOWN,
            resource,
            N_("The region of these copies could not be determined: %(targets)s."),
            {"targets": ", ".join(unresolved)},
        )
    if not regions:
        return result(facts, PASS, resource, N_("No copies to other regions are configured."))
    return result(
        facts,
        PASS,
        resource,
        N_("Copies stay in allowed regions: %(regions)s."),
        {"regions": ", ".join(regions)},
    )


def _bucket_region(snapshot: Snapshot, arn: str) -> str | None:
    """The region of the bucket `arn` (or name) if the snapshot holds that bucket."""
    found = snapshot.get(f"aws:{arn}")
    if found is None:
        name = tail(arn)
        found = next((b for b in aws_resources(snapshot, "aws.s3.bucket") if b.name == name), None)
    if found is None or found.region in (GLOBAL_REGION, ""):
        return None
    return found.region


@posture_check(
    id="aws_s3_replication_in_allowed_regions",
    title=LText(
        ja="S3 のレプリケーション先が許可されたリージョン内にある",
        en="S3 replication copies stay in the allowed regions",
    ),
    rationale=LText(
        ja="レプリケーションで作られた複製もお客様のデータです。"
        "複製先のバケットが許可外のリージョンにあれば、保存場所の約束を破ります。",
        en="A replicated object is customer data too; a destination bucket in another "
        "region breaks the storage-location promise.",
    ),
    remediation=LText(
        ja="レプリケーションルールの宛先を許可されたリージョンのバケットに変更してください。",
        en="Point the replication rule at a bucket in an allowed region.",
    ),
    severity=Severity.HIGH,
    commitments=RESIDENCY,
    types=("aws.s3.bucket",),
)
def s3_replication_in_allowed_regions(
    context: CheckContext, facts: PostureFacts
) -> Iterator[Finding]:
    """Per bucket: each replication destination's region (given, or the bucket's own)."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    allowed = allowed_regions(context, "aws")
    for bucket in aws_resources(facts.snapshot, "aws.s3.bucket"):
        missing = unread(bucket, "replication_destinations")
        if missing:
            yield unknown_result(facts, bucket, missing)
            continue
        regions, unresolved = [], []
        for destination in bucket.properties["replication_destinations"] or ():
            target = str(destination.get("bucket", ""))
            region = destination.get("region") or _bucket_region(facts.snapshot, target)
            if region:
                regions.append(str(region))
            else:
                unresolved.append(target or "?")
        yield _copies_verdict(facts, bucket, regions, unresolved, allowed)


@posture_check(
    id="aws_backup_copies_in_allowed_regions",
    title=LText(
        ja="AWS Backup のコピー先が許可されたリージョン内にある",
        en="AWS Backup copy jobs stay in the allowed regions",
    ),
    rationale=LText(
        ja="バックアップの複製先のボールトが許可外のリージョンにあると、"
        "バックアップという形でデータが国外へ出てしまいます。",
        en="A copy job to a vault in another region takes customer data there as a backup.",
    ),
    remediation=LText(
        ja="バックアッププランのコピー先を許可されたリージョンのボールトに変更してください。",
        en="Change the plan's copy destination to a vault in an allowed region.",
    ),
    severity=Severity.HIGH,
    commitments=RESIDENCY,
    types=("aws.backup.plan",),
)
def backup_copies_in_allowed_regions(
    context: CheckContext, facts: PostureFacts
) -> Iterator[Finding]:
    """Per backup plan: the region of every copy destination vault (from its ARN)."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    allowed = allowed_regions(context, "aws")
    for plan in aws_resources(facts.snapshot, "aws.backup.plan"):
        missing = unread(plan, "rules")
        if missing:
            yield unknown_result(facts, plan, missing)
            continue
        regions, unresolved = [], []
        for rule in plan.properties["rules"] or ():
            for vault in rule.get("copy_destinations") or ():
                region = arn_region(str(vault))
                if region:
                    regions.append(region)
                else:
                    unresolved.append(str(vault))
        yield _copies_verdict(facts, plan, regions, unresolved, allowed)


@posture_check(
    id="aws_database_replicas_in_allowed_regions",
    title=LText(
        ja="データベースのレプリカとバックアップ複製が許可されたリージョン内にある",
        en="Database replicas and backup replications stay in the allowed regions",
    ),
    rationale=LText(
        ja="RDS のリードレプリカやバックアップの自動複製、DynamoDB グローバルテーブルの"
        "レプリカは、データそのものを別のリージョンに置きます。",
        en="RDS read replicas, replicated automated backups and DynamoDB global-table "
        "replicas put the data itself in another region.",
    ),
    remediation=LText(
        ja="許可外のリージョンのレプリカやバックアップ複製を削除し、"
        "必要なら許可されたリージョンに作り直してください。",
        en="Remove replicas and backup replications outside the allowed regions; recreate "
        "them in an allowed region if needed.",
    ),
    severity=Severity.HIGH,
    commitments=RESIDENCY,
    types=("aws.rds.instance", "aws.dynamodb.table"),
)
def database_replicas_in_allowed_regions(
    context: CheckContext, facts: PostureFacts
) -> Iterator[Finding]:
    """Per RDS instance and DynamoDB table: the regions of its replicas."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    allowed = allowed_regions(context, "aws")
    for instance in aws_resources(facts.snapshot, "aws.rds.instance"):
        missing = unread(instance, "replicas", "backup_replications")
        if missing:
            yield unknown_result(facts, instance, missing)
            continue
        regions = region_list(instance.properties["backup_replications"])
        for replica in region_list(instance.properties["replicas"]):
            # a replica named by id only is in the source's own region (AWS gives ARNs
            # for cross-region replicas)
            regions.append(arn_region(replica) or instance.region)
        yield _copies_verdict(facts, instance, regions, (), allowed)
    for table in aws_resources(facts.snapshot, "aws.dynamodb.table"):
        missing = unread(table, "replica_regions")
        if missing:
            yield unknown_result(facts, table, missing)
            continue
        regions = [r for r in region_list(table.properties["replica_regions"]) if r != table.region]
        yield _copies_verdict(facts, table, regions, (), allowed)


@posture_check(
    id="aws_kms_replicas_in_allowed_regions",
    title=LText(
        ja="KMS マルチリージョンキーのレプリカが許可されたリージョン内にある",
        en="KMS multi-Region key replicas stay in the allowed regions",
    ),
    rationale=LText(
        ja="鍵のレプリカがあるリージョンでは、その鍵で暗号化したデータを復号できます。"
        "鍵の置き場所もデータの保存場所と同じ範囲に限るべきです。",
        en="Data encrypted under a key can be decrypted wherever the key has a replica; keys "
        "belong in the same regions as the data.",
    ),
    remediation=LText(
        ja="許可外のリージョンにあるレプリカキーの削除をスケジュールしてください。",
        en="Schedule deletion of the replica keys outside the allowed regions.",
    ),
    severity=Severity.MEDIUM,
    commitments=RESIDENCY,
    types=("aws.kms.key",),
)
def kms_replicas_in_allowed_regions(
    context: CheckContext, facts: PostureFacts
) -> Iterator[Finding]:
    """Per multi-Region key: the regions of its replicas."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    allowed = allowed_regions(context, "aws")
    for key in aws_resources(facts.snapshot, "aws.kms.key"):
        missing = unread(key, "multi_region")
        if missing:
            yield unknown_result(facts, key, missing)
            continue
        if key.properties["multi_region"] is not True:
            yield result(facts, PASS, key, N_("A single-Region key; it has no replicas."))
            continue
        missing = unread(key, "replica_regions")
        if missing:
            yield unknown_result(facts, key, missing)
            continue
        regions = [r for r in region_list(key.properties["replica_regions"]) if r != key.region]
        yield _copies_verdict(facts, key, regions, (), allowed)
