"""AWS backups (commitment 12, backup).

Production resources (`production_tags`) of the types AWS can back up (EC2 instances,
EBS volumes, RDS instances, EFS file systems, DynamoDB tables) are selected by a backup
plan, and their newest completed backup is younger than `maximum_backup_age_days` (7)
when the snapshot was collected (never the wall clock, so a re-run gives the same
answer).

Besides AWS Backup plans, an RDS instance's own automated backups (retention of a day or
more) and a DynamoDB table's point-in-time recovery count as backups: both are kept by
AWS independently of the resource and restore it to a recent moment.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import datetime, timedelta
from fnmatch import fnmatchcase
from typing import Any

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.aws_common import (
    aws_resources,
    listing_failed,
    parse_time,
    tail,
    unread,
)
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    number,
    posture_check,
    production_test,
    result,
)
from mamori.posture.snapshot import Resource, Snapshot

BACKUP = ("backup",)
BACKUP_TYPES = (
    "aws.ec2.instance",
    "aws.ec2.volume",
    "aws.rds.instance",
    "aws.efs.file_system",
    "aws.dynamodb.table",
)
GONE_STATES = frozenset({"terminated", "shutting-down", "deleting", "deleted"})


def production(context: CheckContext, snapshot: Snapshot) -> list[Resource]:
    """Production resources of the backup-able types that still exist."""
    is_production = production_test(context)
    return [
        resource
        for resource in aws_resources(snapshot, *BACKUP_TYPES)
        if is_production(resource)
        and str(resource.properties.get("state", "")).lower() not in GONE_STATES
    ]


def selects(selection: Mapping[str, Any], resource: Resource) -> bool:
    """Whether a plan selection picks `resource`: by ARN (patterns, "*") or by a tag."""
    for pattern in selection.get("resources") or ():
        if str(pattern) == "*" or fnmatchcase(resource.id, str(pattern)):
            return True
    for condition in selection.get("tags") or ():
        key, value = str(condition.get("key", "")), str(condition.get("value", ""))
        if key in resource.tags and fnmatchcase(str(resource.tags[key]), value):
            return True
    return False


@posture_check(
    id="aws_production_resources_backed_up",
    title=LText(
        ja="本番リソースがバックアップの対象になっている",
        en="Production resources are covered by backups",
    ),
    rationale=LText(
        ja="バックアッププランに選ばれていない本番リソースは、障害や誤操作のときに復元できません。",
        en="A production resource no backup plan selects cannot be restored after a failure "
        "or a mistake.",
    ),
    remediation=LText(
        ja="AWS Backup のプランのリソース割り当てに、ARN かタグ条件でリソースを加えてください。",
        en="Add the resource to an AWS Backup plan's resource assignment, by ARN or by tag.",
    ),
    severity=Severity.HIGH,
    commitments=BACKUP,
    types=(
        "aws.backup.plan",
        "aws.ec2.instance",
        "aws.ec2.volume",
        "aws.rds.instance",
        "aws.efs.file_system",
        "aws.dynamodb.table",
    ),
)
def production_backed_up(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per production resource: a plan in its account and region selects it."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    plans: dict[tuple[str, str], list[Resource]] = {}
    for plan in aws_resources(facts.snapshot, "aws.backup.plan"):
        plans.setdefault((plan.account, plan.region), []).append(plan)
    for resource in production(context, facts.snapshot):
        local = plans.get((resource.account, resource.region), [])
        readable = [p for p in local if not unread(p, "selections")]
        covering = [
            plan
            for plan in readable
            if any(
                selects(selection, resource) for selection in plan.properties["selections"] or ()
            )
        ]
        properties = resource.properties
        if covering:
            yield result(
                facts,
                PASS,
                resource,
                N_("Selected by the backup plan %(plan)s."),
                {"plan": covering[0].name or tail(covering[0].id)},
            )
        elif resource.type == "aws.rds.instance" and _positive(
            properties.get("backup_retention_days")
        ):
            yield result(
                facts,
                PASS,
                resource,
                N_("RDS automated backups are kept %(days)s days."),
                {"days": int(properties["backup_retention_days"])},
            )
        elif (
            resource.type == "aws.dynamodb.table"
            and properties.get("point_in_time_recovery") is True
        ):
            yield result(facts, PASS, resource, N_("Point-in-time recovery is on."))
        elif len(readable) < len(local) or listing_failed(
            facts.snapshot, "backup", resource.account, resource.region
        ):
            yield result(
                facts,
                UNKNOWN,
                resource,
                N_("Backup plan selections in %(region)s could not all be read."),
                {"region": resource.region},
            )
        else:
            yield result(facts, FAIL, resource, N_("No backup plan selects this resource."))


def _positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value >= 1


class BackupTimes:
    """When each resource's completed backups were taken, indexed once per evaluation.

    Recovery points by resource ARN, EBS snapshots by (account, volume id) and volumes
    by (account, instance id): looking them up per resource would read the whole
    snapshot for every production resource.
    """

    def __init__(self, snapshot: Snapshot) -> None:
        self.points: dict[str, list[datetime]] = {}
        for point in aws_resources(snapshot, "aws.backup.recovery_point"):
            if str(point.properties.get("status", "")).upper() == "COMPLETED":
                moment = parse_time(point.properties.get("created_at"))
                if moment is not None:
                    target = str(point.properties.get("resource_arn"))
                    self.points.setdefault(target, []).append(moment)
        self.volumes: dict[tuple[str, str], set[str]] = {}
        for volume in aws_resources(snapshot, "aws.ec2.volume"):
            attached = volume.properties.get("attached_to")
            for instance in attached if isinstance(attached, list) else ():
                key = (volume.account, str(instance))
                self.volumes.setdefault(key, set()).add(tail(volume.id))
        self.snapshots: dict[tuple[str, str], list[datetime]] = {}
        for ebs in aws_resources(snapshot, "aws.ec2.snapshot"):
            if str(ebs.properties.get("state", "")).lower() == "completed":
                moment = parse_time(ebs.properties.get("started_at"))
                if moment is not None:
                    key = (ebs.account, str(ebs.properties.get("volume_id")))
                    self.snapshots.setdefault(key, []).append(moment)

    def of(self, resource: Resource) -> list[datetime]:
        """Times of the completed backups of `resource`."""
        times = list(self.points.get(resource.id, ()))
        if resource.type == "aws.rds.instance":
            restorable = parse_time(resource.properties.get("latest_restorable_time"))
            if restorable is not None:
                times.append(restorable)
        volumes: set[str] = set()
        if resource.type == "aws.ec2.volume":
            volumes.add(tail(resource.id))
        elif resource.type == "aws.ec2.instance":
            volumes |= self.volumes.get((resource.account, tail(resource.id)), set())
        for volume in volumes:
            times += self.snapshots.get((resource.account, volume), ())
        return times


@posture_check(
    id="aws_production_backups_recent",
    title=LText(
        ja="本番リソースの最新のバックアップが十分に新しい",
        en="Production resources have a recent backup",
    ),
    rationale=LText(
        ja="バックアップが古いと、復元しても失われるデータが多くなります。"
        "プランがあってもジョブが失敗し続けていれば、バックアップは存在しません。",
        en="An old backup loses more data on restore, and a plan whose jobs keep failing "
        "produces no backup at all.",
    ),
    remediation=LText(
        ja="AWS Backup のジョブ履歴で失敗の原因を確かめ、バックアップを取り直してください。",
        en="Find out why the backup jobs fail in AWS Backup's job history, and take a backup.",
    ),
    severity=Severity.HIGH,
    commitments=BACKUP,
    types=(
        "aws.backup.recovery_point",
        "aws.ec2.instance",
        "aws.ec2.volume",
        "aws.ec2.snapshot",
        "aws.rds.instance",
        "aws.efs.file_system",
        "aws.dynamodb.table",
    ),
)
def production_backups_recent(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Per production resource: the newest completed backup is within the allowed age."""
    assert facts.snapshot is not None  # noqa: S101 - the decorator guarantees it
    max_days = number(context, "maximum_backup_age_days", 7)
    limit = timedelta(days=max_days)
    now = facts.snapshot.collected_at
    backups = BackupTimes(facts.snapshot)
    for resource in production(context, facts.snapshot):
        if (
            resource.type == "aws.dynamodb.table"
            and resource.properties.get("point_in_time_recovery") is True
        ):
            yield result(
                facts,
                PASS,
                resource,
                N_("Point-in-time recovery backs the table up continuously."),
            )
            continue
        times = backups.of(resource)
        params: dict[str, str | int] = {"days": f"{max_days:g}"}
        if not times:
            if listing_failed(facts.snapshot, "backup", resource.account, resource.region):
                yield result(
                    facts,
                    UNKNOWN,
                    resource,
                    N_("Recovery points in %(region)s could not be read."),
                    {"region": resource.region},
                )
            else:
                yield result(facts, FAIL, resource, N_("No completed backup was found."), params)
            continue
        latest = max(times)
        params["when"] = latest.isoformat().replace("+00:00", "Z")
        if now - latest <= limit:
            yield result(
                facts,
                PASS,
                resource,
                N_("Latest backup %(when)s, within %(days)s days."),
                params,
            )
        else:
            yield result(
                facts,
                FAIL,
                resource,
                N_("Latest backup %(when)s is older than %(days)s days."),
                params,
            )
