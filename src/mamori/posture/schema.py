"""The normalised resource types: the contract between collectors and checks.

Each type names the properties a collector fills and checks read. Conventions:
times are ISO 8601 UTC strings ending in `Z`; ARNs and Azure ids are kept whole; a
property whose call failed holds `{"$unknown": "<code>: <message>"}` (see
`snapshot.unknown`), never a guess. A property that is absent from a type's
declaration must not be produced (a test checks every collector against this table).

`Resource.region` is the resource's own region (an S3 bucket's location, an Azure
resource's location; `global` for global services). Security-group and NSG rules share
one shape, `RULE`, so exposure checks read both.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class ResourceType:
    """A normalised type: the cloud service it comes from and its properties."""

    name: str
    service: str  # the coverage `service` whose listing produces it
    properties: dict[str, str] = field(default_factory=dict)  # name -> meaning


RULE = (
    "list of {direction: inbound|outbound, action: allow|deny, protocol: tcp|udp|icmp|all, "
    "from_port: int|None, to_port: int|None (None: all ports), sources: [CIDR or '*' or "
    "'Internet'], source_groups: [{group_id, account}], priority: int|None}"
)

_AWS: tuple[ResourceType, ...] = (
    ResourceType(
        "aws.account",
        "ec2",
        {
            "regions": "every region enumerated, enabled or not: [name]",
            "enabled_regions": "[name] the account can use",
        },
    ),
    ResourceType(
        "aws.ec2.region_settings",
        "ec2",
        {"ebs_encryption_by_default": "bool", "ebs_default_kms_key": "str|None"},
    ),
    ResourceType(
        "aws.s3.bucket",
        "s3",
        {
            "encryption": "{algorithm: AES256|aws:kms|aws:kms:dsse, kms_key: str|None} or None",
            "policy": "the bucket policy document (dict) or None",
            "secure_transport_denied": "bool: a Deny statement on aws:SecureTransport false",
            "cross_account_principals": "[account id] granted by the policy, other accounts",
            "public_access_blocked": "bool: all four block-public-access flags on",
            "versioning": "Enabled|Suspended|None",
            "mfa_delete": "bool",
            "object_lock": "bool: object lock enabled",
            "lifecycle": "[{id, enabled: bool, prefix: str, expiration_days: int|None}] or []",
            "replication_destinations": "[{bucket: ARN, region: str|None}]",
            "log_bucket": "bool: receives CloudTrail or access logs (set by the collector)",
        },
    ),
    ResourceType(
        "aws.ec2.instance",
        "ec2",
        {
            "state": "running|stopped|...",
            "image_id": "AMI id",
            "imds_v2_required": "bool: HttpTokens is required",
            "vpc_id": "str|None",
            "subnet_id": "str|None",
            "security_groups": "[group id]",
            "public_ip": "str|None",
            "patch_managed": "bool: registered and online in Systems Manager",
            "launch_time": "time",
        },
    ),
    ResourceType(
        "aws.ec2.volume",
        "ec2",
        {"encrypted": "bool", "kms_key": "str|None", "attached_to": "[instance id]"},
    ),
    ResourceType(
        "aws.ec2.snapshot",
        "ec2",
        {
            "encrypted": "bool",
            "volume_id": "str",
            "started_at": "time",
            "state": "completed|pending|error",
        },
    ),
    ResourceType(
        "aws.ec2.security_group",
        "ec2",
        {"vpc_id": "str", "group_name": "str", "rules": RULE},
    ),
    ResourceType("aws.ec2.vpc", "ec2", {"cidr": "str", "is_default": "bool"}),
    ResourceType("aws.ec2.subnet", "ec2", {"vpc_id": "str", "cidr": "str"}),
    ResourceType(
        "aws.ec2.vpc_peering",
        "ec2",
        {
            "requester": "{account, vpc_id, region}",
            "accepter": "{account, vpc_id, region}",
            "status": "active|pending-acceptance|...",
        },
    ),
    ResourceType(
        "aws.ec2.transit_gateway_attachment",
        "ec2",
        {
            "transit_gateway_id": "str",
            "transit_gateway_owner": "account id",
            "resource_owner": "account id",
            "resource_type": "vpc|vpn|peering|...",
            "resource_id": "str",
            "state": "str",
        },
    ),
    ResourceType(
        "aws.rds.instance",
        "rds",
        {
            "engine": "str",
            "encrypted": "bool",
            "kms_key": "str|None",
            "backup_retention_days": "int",
            "latest_restorable_time": "time|None",
            "replicas": "[ARN or id of read replicas; ARNs carry their region]",
            "backup_replications": "[region] of cross-region automated backups",
            "publicly_accessible": "bool",
        },
    ),
    ResourceType("aws.rds.cluster", "rds", {"engine": "str", "encrypted": "bool"}),
    ResourceType(
        "aws.rds.snapshot",
        "rds",
        {
            "encrypted": "bool",
            "source": "DB instance or cluster id",
            "created_at": "time|None",
            "snapshot_type": "manual|automated",
        },
    ),
    ResourceType("aws.efs.file_system", "efs", {"encrypted": "bool"}),
    ResourceType(
        "aws.dynamodb.table",
        "dynamodb",
        {
            "encryption": "AWS_OWNED|KMS",
            "replica_regions": "[region] of global-table replicas",
            "point_in_time_recovery": "bool",
        },
    ),
    ResourceType("aws.kms.key", "kms", {"multi_region": "bool", "replica_regions": "[region]"}),
    ResourceType("aws.backup.vault", "backup", {"kms_key": "str|None", "encrypted": "bool"}),
    ResourceType(
        "aws.backup.plan",
        "backup",
        {
            "rules": "[{name, schedule, vault, copy_destinations: [vault ARN]}]",
            "selections": "[{name, resources: [ARN or *], tags: [{key, value}]}]",
        },
    ),
    ResourceType(
        "aws.backup.recovery_point",
        "backup",
        {"resource_arn": "ARN", "created_at": "time", "status": "str", "vault": "name"},
    ),
    ResourceType(
        "aws.logs.log_group",
        "logs",
        {
            "retention_days": "int|None (None: never expire)",
            "kms_key": "str|None",
            "metric_filters": "[{name, pattern, metric_name, metric_namespace}]",
        },
    ),
    ResourceType(
        "aws.cloudwatch.alarm",
        "cloudwatch",
        {"metric_name": "str", "namespace": "str", "actions_enabled": "bool"},
    ),
    ResourceType(
        "aws.elbv2.load_balancer",
        "elbv2",
        {
            "kind": "application|network|gateway",
            "scheme": "internet-facing|internal",
            "listeners": "[{port, protocol, ssl_policy: str|None, min_tls: str|None}]",
            "web_acl": "ARN|None",
            "vpc_id": "str",
            "security_groups": "[group id]",
        },
    ),
    ResourceType(
        "aws.cloudfront.distribution",
        "cloudfront",
        {
            "viewer_protocol_policies": "[allow-all|redirect-to-https|https-only]",
            "origin_protocol_policies": "[http-only|match-viewer|https-only or s3]",
            "minimum_protocol_version": "e.g. TLSv1.2_2021",
            "web_acl": "ARN or id|None",
        },
    ),
    ResourceType(
        "aws.apigateway.stage",
        "apigateway",
        {"api_id": "str", "web_acl": "ARN|None", "endpoint_type": "EDGE|REGIONAL|PRIVATE"},
    ),
    ResourceType(
        "aws.guardduty.detector",
        "guardduty",
        {"enabled": "bool", "malware_protection": "bool: EBS malware protection on"},
    ),
    ResourceType(
        "aws.cloudtrail.trail",
        "cloudtrail",
        {
            "multi_region": "bool",
            "log_file_validation": "bool",
            "logging": "bool",
            "s3_bucket": "bucket name",
            "home_region": "str",
        },
    ),
    ResourceType(
        "aws.iam.role",
        "iam",
        {"trusted_accounts": "[account id] other accounts allowed to assume it"},
    ),
    ResourceType(
        "aws.config.rule",
        "config",
        {"compliance": "COMPLIANT|NON_COMPLIANT|NOT_APPLICABLE|INSUFFICIENT_DATA"},
    ),
    ResourceType(
        "aws.securityhub.finding",
        "securityhub",
        {
            "title": "str",
            "standard": "str",
            "control_id": "str",
            "compliance": "PASSED|FAILED|WARNING|NOT_AVAILABLE",
            "severity": "str",
            "resource_ids": "[ARN]",
        },
    ),
)

_AZURE: tuple[ResourceType, ...] = (
    ResourceType("azure.resource_group", "resources", {}),
    ResourceType(
        "azure.storage.account",
        "storage",
        {
            "sku": "e.g. Standard_GRS",
            "secondary_location": "str|None (geo-redundant pair)",
            "https_only": "bool",
            "minimum_tls_version": "TLS1_0|TLS1_1|TLS1_2|TLS1_3",
            "encryption_enabled": "bool: blob and file services encrypted",
            "public_blob_access": "bool",
            "blob_delete_retention_days": "int|None",
        },
    ),
    ResourceType(
        "azure.compute.disk",
        "compute",
        {"encryption_type": "str|None", "attached_to": "VM id|None"},
    ),
    ResourceType(
        "azure.compute.vm",
        "compute",
        {
            "image": "{publisher, offer, sku, version, id}",
            "security_type": "TrustedLaunch|ConfidentialVM|None",
            "network_interfaces": "[id]",
            "patch_mode": "str|None",
        },
    ),
    ResourceType(
        "azure.sql.database",
        "sql",
        {"server": "id", "tde_enabled": "bool"},
    ),
    ResourceType(
        "azure.sql.server",
        "sql",
        {"minimal_tls_version": "str|None"},
    ),
    ResourceType(
        "azure.web.site",
        "web",
        {"https_only": "bool", "min_tls_version": "str|None"},
    ),
    ResourceType(
        "azure.network.nsg",
        "network",
        {"rules": RULE, "attached_to": "[subnet or NIC id]"},
    ),
    ResourceType(
        "azure.network.vnet",
        "network",
        {
            "address_space": "[CIDR]",
            "subnets": "[{id, nsg: id|None}]",
            "peerings": "[{remote_vnet: id, state}]",
        },
    ),
    ResourceType(
        "azure.network.nic",
        "network",
        {"public_ip": "bool", "nsg": "id|None", "subnet": "id|None", "vm": "id|None"},
    ),
    ResourceType(
        "azure.network.application_gateway",
        "network",
        {"waf_enabled": "bool", "public": "bool"},
    ),
    ResourceType(
        "azure.frontdoor.profile",
        "frontdoor",
        {"waf_policy": "id|None"},
    ),
    ResourceType(
        "azure.security.pricing",
        "security",
        {"plan": "VirtualMachines|StorageAccounts|...", "tier": "Free|Standard"},
    ),
    ResourceType(
        "azure.monitor.diagnostic_setting",
        "monitor",
        {"target": "resource id", "workspace": "id|None", "storage_account": "id|None"},
    ),
    ResourceType(
        "azure.monitor.activity_log_alert",
        "monitor",
        {"enabled": "bool", "operation": "str|None", "category": "str|None"},
    ),
    ResourceType(
        "azure.loganalytics.workspace",
        "loganalytics",
        {"retention_days": "int|None (None: never expire)"},
    ),
    ResourceType(
        "azure.recoveryservices.vault",
        "recoveryservices",
        {"storage_redundancy": "LocallyRedundant|GeoRedundant|..."},
    ),
    ResourceType(
        "azure.recoveryservices.backup_item",
        "recoveryservices",
        {"source": "resource id", "last_backup_time": "time|None", "vault": "id"},
    ),
    ResourceType(
        "azure.policy.state",
        "policyinsights",
        {
            "assignment": "id",
            "definition": "id",
            "initiative": "str|None",
            "compliance": "Compliant|NonCompliant|Unknown",
            "resource": "id",
            "assignment_name": "str|None: the assignment's name",
            "definition_name": "str|None: the policy definition's name (a GUID for built-ins)",
            "definition_reference": "str|None: the definition's reference id in its initiative",
        },
    ),
)

TYPES: dict[str, ResourceType] = {kind.name: kind for kind in (*_AWS, *_AZURE)}
