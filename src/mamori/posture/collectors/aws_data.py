"""Data services in one region: RDS, EFS, DynamoDB, KMS, AWS Backup, CloudWatch Logs."""

from __future__ import annotations

from typing import Any

from mamori.posture.collectors.aws_calls import (
    Answer,
    Calls,
    Failure,
    digests,
    get,
    region_of_arn,
    tag_dict,
)


def collect_data(calls: Calls, region: str) -> None:
    """Every data-service resource type of `region`."""
    rds_instances(calls, region)
    rds_clusters(calls, region)
    rds_snapshots(calls, region)
    efs(calls, region)
    dynamodb(calls, region)
    kms(calls, region)
    backup_vaults(calls, region)
    backup_plans(calls, region)
    log_groups(calls, region)


def rds_instances(calls: Calls, region: str) -> None:
    """RDS DB instances, with replicas and cross-region backup replications."""
    listing = calls.pages(region, "rds", "describe_db_instances")
    if isinstance(listing, Failure):
        return
    for db in listing.body.get("DBInstances", []):
        replicated = db.get("DBInstanceAutomatedBackupsReplications") or []
        properties = {
            "engine": db.get("Engine"),
            "encrypted": bool(db.get("StorageEncrypted")),
            "kms_key": db.get("KmsKeyId"),
            "backup_retention_days": int(db.get("BackupRetentionPeriod") or 0),
            "latest_restorable_time": db.get("LatestRestorableTime"),
            "replicas": list(db.get("ReadReplicaDBInstanceIdentifiers") or []),
            "backup_replications": [
                region_of_arn(str(r.get("DBInstanceAutomatedBackupsArn", ""))) for r in replicated
            ],
            "publicly_accessible": bool(db.get("PubliclyAccessible")),
        }
        name = str(db["DBInstanceIdentifier"])
        rid = str(db.get("DBInstanceArn") or calls.arn("rds", region, f"db:{name}"))
        tags = tag_dict(db.get("TagList"))
        calls.add(region, "aws.rds.instance", rid, name, tags, properties, (listing.digest,))


def rds_clusters(calls: Calls, region: str) -> None:
    """RDS (Aurora) DB clusters."""
    listing = calls.pages(region, "rds", "describe_db_clusters")
    if isinstance(listing, Failure):
        return
    for cluster in listing.body.get("DBClusters", []):
        properties = {
            "engine": cluster.get("Engine"),
            "encrypted": bool(cluster.get("StorageEncrypted")),
        }
        name = str(cluster["DBClusterIdentifier"])
        rid = str(cluster.get("DBClusterArn") or calls.arn("rds", region, f"cluster:{name}"))
        tags = tag_dict(cluster.get("TagList"))
        calls.add(region, "aws.rds.cluster", rid, name, tags, properties, (listing.digest,))


def rds_snapshots(calls: Calls, region: str) -> None:
    """RDS DB snapshots, manual and automated."""
    listing = calls.pages(region, "rds", "describe_db_snapshots")
    if isinstance(listing, Failure):
        return
    for snap in listing.body.get("DBSnapshots", []):
        properties = {
            "encrypted": bool(snap.get("Encrypted")),
            "source": snap.get("DBInstanceIdentifier"),
            "created_at": snap.get("SnapshotCreateTime"),
            "snapshot_type": snap.get("SnapshotType"),
        }
        name = str(snap["DBSnapshotIdentifier"])
        rid = str(snap.get("DBSnapshotArn") or calls.arn("rds", region, f"snapshot:{name}"))
        tags = tag_dict(snap.get("TagList"))
        calls.add(region, "aws.rds.snapshot", rid, name, tags, properties, (listing.digest,))


def efs(calls: Calls, region: str) -> None:
    """EFS file systems."""
    listing = calls.pages(region, "efs", "describe_file_systems")
    if isinstance(listing, Failure):
        return
    for fs in listing.body.get("FileSystems", []):
        fid = str(fs["FileSystemId"])
        rid = str(
            fs.get("FileSystemArn") or calls.arn("elasticfilesystem", region, f"file-system/{fid}")
        )
        tags = tag_dict(fs.get("Tags"))
        properties = {"encrypted": bool(fs.get("Encrypted"))}
        name = str(fs.get("Name") or fid)
        calls.add(region, "aws.efs.file_system", rid, name, tags, properties, (listing.digest,))


def dynamodb(calls: Calls, region: str) -> None:
    """DynamoDB tables with encryption, global-table replicas and point-in-time recovery."""
    listing = calls.pages(region, "dynamodb", "list_tables")
    if isinstance(listing, Failure):
        return
    for name in listing.body.get("TableNames", []):
        described = calls.call(region, "dynamodb", "describe_table", resource=name, TableName=name)
        if isinstance(described, Failure):
            continue
        table = described.body.get("Table") or {}
        rid = str(table.get("TableArn") or calls.arn("dynamodb", region, f"table/{name}"))
        backups = calls.call(
            region, "dynamodb", "describe_continuous_backups", resource=rid, TableName=name
        )
        tagged = calls.call(
            region, "dynamodb", "list_tags_of_resource", resource=rid, ResourceArn=rid
        )
        sse = get(table, "SSEDescription", "SSEType")
        pitr = get(
            backups.body if isinstance(backups, Answer) else None,
            "ContinuousBackupsDescription",
            "PointInTimeRecoveryDescription",
            "PointInTimeRecoveryStatus",
        )
        properties = {
            "encryption": "KMS" if sse == "KMS" else "AWS_OWNED",
            "replica_regions": [r.get("RegionName") for r in table.get("Replicas") or []],
            "point_in_time_recovery": backups.unknown()
            if isinstance(backups, Failure)
            else pitr == "ENABLED",
        }
        tags = tag_dict(tagged.body.get("Tags")) if isinstance(tagged, Answer) else {}
        raw = digests(listing, described, backups, tagged)
        calls.add(region, "aws.dynamodb.table", rid, name, tags, properties, raw)


def kms(calls: Calls, region: str) -> None:
    """KMS keys with multi-region replicas (AWS-managed keys included)."""
    listing = calls.pages(region, "kms", "list_keys")
    if isinstance(listing, Failure):
        return
    for entry in listing.body.get("Keys", []):
        kid = str(entry["KeyId"])
        rid = str(entry.get("KeyArn") or calls.arn("kms", region, f"key/{kid}"))
        described = calls.call(region, "kms", "describe_key", resource=rid, KeyId=kid)
        if isinstance(described, Failure):
            continue
        meta = described.body.get("KeyMetadata") or {}
        replicas = get(meta, "MultiRegionConfiguration", "ReplicaKeys") or []
        properties = {
            "multi_region": bool(meta.get("MultiRegion")),
            "replica_regions": [r.get("Region") for r in replicas],
        }
        tagged = calls.call(region, "kms", "list_resource_tags", resource=rid, KeyId=kid)
        tags = (
            tag_dict(tagged.body.get("Tags"), "TagKey", "TagValue")
            if isinstance(tagged, Answer)
            else {}
        )
        raw = digests(listing, described, tagged)
        calls.add(region, "aws.kms.key", rid, kid, tags, properties, raw)


def backup_vaults(calls: Calls, region: str) -> None:
    """Backup vaults and their recovery points."""
    listing = calls.pages(region, "backup", "list_backup_vaults")
    if isinstance(listing, Failure):
        return
    for vault in listing.body.get("BackupVaultList", []):
        name = str(vault["BackupVaultName"])
        rid = str(
            vault.get("BackupVaultArn") or calls.arn("backup", region, f"backup-vault:{name}")
        )
        key = vault.get("EncryptionKeyArn")
        properties = {"kms_key": key, "encrypted": bool(key)}
        tags = _backup_tags(calls, region, rid)
        calls.add(region, "aws.backup.vault", rid, name, tags, properties, (listing.digest,))
        recovery_points(calls, region, name, rid)


def _backup_tags(calls: Calls, region: str, arn: str) -> dict[str, str]:
    tagged = calls.call(region, "backup", "list_tags", resource=arn, ResourceArn=arn)
    return tag_dict(tagged.body.get("Tags")) if isinstance(tagged, Answer) else {}


def recovery_points(calls: Calls, region: str, vault: str, vault_arn: str) -> None:
    """The recovery points kept in one vault."""
    listing = calls.pages(
        region,
        "backup",
        "list_recovery_points_by_backup_vault",
        resource=vault_arn,
        BackupVaultName=vault,
    )
    if isinstance(listing, Failure):
        return
    for point in listing.body.get("RecoveryPoints", []):
        rid = str(point["RecoveryPointArn"])
        properties = {
            "resource_arn": point.get("ResourceArn"),
            "created_at": point.get("CreationDate"),
            "status": point.get("Status"),
            "vault": vault,
        }
        kind = "aws.backup.recovery_point"
        calls.add(region, kind, rid, rid.rsplit(":", 1)[-1], {}, properties, (listing.digest,))


def backup_plans(calls: Calls, region: str) -> None:
    """Backup plans with their rules (copy destinations) and resource selections."""
    listing = calls.pages(region, "backup", "list_backup_plans")
    if isinstance(listing, Failure):
        return
    for summary in listing.body.get("BackupPlansList", []):
        pid, rid = str(summary["BackupPlanId"]), str(summary["BackupPlanArn"])
        plan = calls.call(region, "backup", "get_backup_plan", resource=rid, BackupPlanId=pid)
        rules: Any = plan.unknown() if isinstance(plan, Failure) else _plan_rules(plan.body)
        selections, raw = _selections(calls, region, pid, rid)
        properties = {"rules": rules, "selections": selections}
        name = str(summary.get("BackupPlanName") or pid)
        tags = _backup_tags(calls, region, rid)
        calls.add(
            region, "aws.backup.plan", rid, name, tags, properties, digests(listing, plan) + raw
        )


def _plan_rules(body: dict[str, Any]) -> list[dict[str, Any]]:
    return [
        {
            "name": rule.get("RuleName"),
            "schedule": rule.get("ScheduleExpression"),
            "vault": rule.get("TargetBackupVaultName"),
            "copy_destinations": [
                c.get("DestinationBackupVaultArn") for c in rule.get("CopyActions") or []
            ],
        }
        for rule in get(body, "BackupPlan", "Rules") or []
    ]


def _selections(calls: Calls, region: str, pid: str, rid: str) -> tuple[Any, tuple[str, ...]]:
    listing = calls.pages(
        region, "backup", "list_backup_selections", resource=rid, BackupPlanId=pid
    )
    if isinstance(listing, Failure):
        return listing.unknown(), ()
    found, raw = [], [listing.digest]
    for entry in listing.body.get("BackupSelectionsList", []):
        sid = entry["SelectionId"]
        answer = calls.call(
            region,
            "backup",
            "get_backup_selection",
            resource=rid,
            BackupPlanId=pid,
            SelectionId=sid,
        )
        if isinstance(answer, Failure):
            found.append(
                {"name": entry.get("SelectionName"), "resources": answer.unknown(), "tags": []}
            )
            continue
        raw.append(answer.digest)
        selection = answer.body.get("BackupSelection") or {}
        conditions = selection.get("ListOfTags") or []
        found.append(
            {
                "name": selection.get("SelectionName"),
                "resources": list(selection.get("Resources") or []),
                "tags": [
                    {"key": c.get("ConditionKey"), "value": c.get("ConditionValue")}
                    for c in conditions
                ],
            }
        )
    return found, tuple(raw)


def log_groups(calls: Calls, region: str) -> None:
    """Log groups with retention, encryption key and metric filters."""
    listing = calls.pages(region, "logs", "describe_log_groups")
    if isinstance(listing, Failure):
        return
    groups = listing.body.get("logGroups", [])
    if not groups:
        return
    filters = calls.pages(region, "logs", "describe_metric_filters")
    for group in groups:
        name = str(group["logGroupName"])
        rid = str(group.get("arn") or "").removesuffix(":*") or calls.arn(
            "logs", region, f"log-group:{name}"
        )
        properties = {
            "retention_days": group.get("retentionInDays"),
            "kms_key": group.get("kmsKeyId"),
            "metric_filters": filters.unknown()
            if isinstance(filters, Failure)
            else _filters_of(filters.body, name),
        }
        tagged = calls.call(region, "logs", "list_tags_for_resource", resource=rid, resourceArn=rid)
        tags = tag_dict(tagged.body.get("tags")) if isinstance(tagged, Answer) else {}
        calls.add(
            region,
            "aws.logs.log_group",
            rid,
            name,
            tags,
            properties,
            digests(listing, filters, tagged),
        )


def _filters_of(body: dict[str, Any], group: str) -> list[dict[str, Any]]:
    return [
        {
            "name": f.get("filterName"),
            "pattern": f.get("filterPattern"),
            "metric_name": (f.get("metricTransformations") or [{}])[0].get("metricName"),
            "metric_namespace": (f.get("metricTransformations") or [{}])[0].get("metricNamespace"),
        }
        for f in body.get("metricFilters", [])
        if f.get("logGroupName") == group
    ]
