"""A made-up cloud estate for the demo provider, so `mamori demo` shows posture at work.

Each AWS service runs in its own account in Tokyo with copies in Osaka; each Azure
service in its own subscription in Japan East with pairs in Japan West. Everything is
configured as the commitments promise, except two things a real estate often has: log
groups encrypted only with the CloudWatch default key, and one bucket nobody tagged.
The resources follow `schema.py`; the raw answers are the properties themselves.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from mamori.posture.attribution import SERVICE_TAG, SHARED, TENANT_TAG
from mamori.posture.collectors.base import SnapshotBuilder
from mamori.posture.snapshot import GLOBAL_REGION, Resource, Snapshot

TOKYO, OSAKA = "ap-northeast-1", "ap-northeast-3"
EAST, WEST = "japaneast", "japanwest"
AWS_REGIONS = ("us-east-1", "us-west-2", "eu-west-1", TOKYO, OSAKA, "ap-southeast-1")
PRODUCTION = {"environment": "production"}
IMAGE = "ami-0mamori20261101"


def _z(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


class _Estate:
    """Adds resources to a builder, each with its properties as its raw answer."""

    def __init__(self, builder: SnapshotBuilder, provider: str, account: str) -> None:
        self.builder, self.provider, self.account = builder, provider, account

    def add(
        self,
        resource_type: str,
        ident: str,
        region: str,
        tags: Mapping[str, str],
        **properties: Any,
    ) -> str:
        service = resource_type.split(".")[1]
        digest = self.builder.answered(
            self.provider, self.account, region, service, f"Describe:{resource_type}", properties
        )
        name = ident.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
        self.builder.add(
            Resource(
                self.provider,
                self.account,
                region,
                resource_type,
                ident,
                name,
                dict(tags),
                properties,
                (digest,),
            )
        )
        return ident


def _aws_service(
    builder: SnapshotBuilder, service: str, account: str, tenants: Sequence[str], now: datetime
) -> None:
    estate = _Estate(builder, "aws", account)
    shared = {SERVICE_TAG: service, TENANT_TAG: SHARED, **PRODUCTION}
    builder.scope("aws", account, AWS_REGIONS)
    estate.add(
        "aws.account",
        f"arn:aws:iam::{account}:root",
        GLOBAL_REGION,
        shared,
        regions=list(AWS_REGIONS),
        enabled_regions=list(AWS_REGIONS),
    )
    arn = f"arn:aws:ec2:{TOKYO}:{account}"
    for region in (TOKYO, OSAKA):
        estate.add(
            "aws.ec2.region_settings",
            f"arn:aws:ec2:{region}:{account}:settings/ebs",
            region,
            shared,
            ebs_encryption_by_default=True,
            ebs_default_kms_key=f"arn:aws:kms:{region}:{account}:alias/aws/ebs",
        )
        estate.add(
            "aws.guardduty.detector",
            f"arn:aws:guardduty:{region}:{account}:detector/{service}",
            region,
            shared,
            enabled=True,
            malware_protection=True,
        )
    vpc = f"vpc-{service}"
    estate.add(
        "aws.ec2.vpc", f"{arn}:vpc/{vpc}", TOKYO, shared, cidr="10.20.0.0/16", is_default=False
    )
    estate.add(
        "aws.ec2.subnet",
        f"{arn}:subnet/subnet-{service}-a",
        TOKYO,
        shared,
        vpc_id=vpc,
        cidr="10.20.1.0/24",
    )
    _aws_groups(estate, arn, vpc, shared, account)
    _aws_compute(estate, arn, account, service, vpc, shared, now)
    _aws_storage(estate, account, service, tenants, shared, now)
    _aws_logging(estate, account, service, shared)


def _rule(
    port: int, sources: Sequence[str] = (), groups: Sequence[Mapping[str, str]] = ()
) -> dict[str, Any]:
    return {
        "direction": "inbound",
        "action": "allow",
        "protocol": "tcp",
        "from_port": port,
        "to_port": port,
        "sources": list(sources),
        "source_groups": [dict(group) for group in groups],
        "priority": None,
    }


def _aws_groups(estate: _Estate, arn: str, vpc: str, tags: Mapping[str, str], account: str) -> None:
    web = {"group_id": "sg-web", "account": account}
    app = {"group_id": "sg-app", "account": account}
    for name, rules in (
        ("web", [_rule(443, ["0.0.0.0/0"])]),
        ("app", [_rule(8443, groups=[web])]),
        ("db", [_rule(5432, groups=[app])]),
    ):
        estate.add(
            "aws.ec2.security_group",
            f"{arn}:security-group/sg-{name}",
            TOKYO,
            tags,
            vpc_id=vpc,
            group_name=name,
            rules=rules,
        )


def _aws_compute(
    estate: _Estate,
    arn: str,
    account: str,
    service: str,
    vpc: str,
    tags: Mapping[str, str],
    now: datetime,
) -> None:
    for number in (1, 2):
        instance = f"i-{service}-{number}"
        volume = f"vol-{service}-{number}"
        instance_id = estate.add(
            "aws.ec2.instance",
            f"{arn}:instance/{instance}",
            TOKYO,
            tags,
            state="running",
            image_id=IMAGE,
            imds_v2_required=True,
            vpc_id=vpc,
            subnet_id=f"subnet-{service}-a",
            security_groups=["sg-app"],
            public_ip=None,
            patch_managed=True,
            launch_time=_z(now - timedelta(days=20)),
        )
        estate.add(
            "aws.ec2.volume",
            f"{arn}:volume/{volume}",
            TOKYO,
            tags,
            encrypted=True,
            kms_key=f"arn:aws:kms:{TOKYO}:{account}:key/{service}",
            attached_to=[instance],
        )
        estate.add(
            "aws.ec2.snapshot",
            f"{arn}:snapshot/snap-{service}-{number}",
            TOKYO,
            tags,
            encrypted=True,
            volume_id=volume,
            started_at=_z(now - timedelta(hours=number * 6)),
            state="completed",
        )
        for target in (instance_id, f"{arn}:volume/{volume}"):
            estate.add(
                "aws.backup.recovery_point",
                f"arn:aws:backup:{TOKYO}:{account}:recovery-point:{service}-{number}-{target[-6:]}",
                TOKYO,
                tags,
                resource_arn=target,
                created_at=_z(now - timedelta(hours=number * 5)),
                status="COMPLETED",
                vault=f"{service}-vault",
            )
    database = f"arn:aws:rds:{TOKYO}:{account}:db:{service}-db"
    estate.add(
        "aws.rds.instance",
        database,
        TOKYO,
        tags,
        engine="postgres",
        encrypted=True,
        kms_key=f"arn:aws:kms:{TOKYO}:{account}:key/{service}",
        backup_retention_days=7,
        latest_restorable_time=_z(now - timedelta(minutes=5)),
        replicas=[],
        backup_replications=[OSAKA],
        publicly_accessible=False,
    )
    estate.add(
        "aws.elbv2.load_balancer",
        f"arn:aws:elasticloadbalancing:{TOKYO}:{account}:loadbalancer/app/{service}/1",
        TOKYO,
        tags,
        kind="application",
        scheme="internet-facing",
        listeners=[
            {
                "port": 443,
                "protocol": "HTTPS",
                "ssl_policy": "ELBSecurityPolicy-TLS13-1-2-2021-06",
                "min_tls": "TLSv1.2",
            }
        ],
        web_acl=f"arn:aws:wafv2:{TOKYO}:{account}:regional/webacl/{service}/1",
        vpc_id=vpc,
        security_groups=["sg-web"],
    )
    for region in (TOKYO, OSAKA):
        estate.add(
            "aws.backup.vault",
            f"arn:aws:backup:{region}:{account}:backup-vault:{service}-vault",
            region,
            tags,
            kms_key=f"arn:aws:kms:{region}:{account}:key/{service}-backup",
            encrypted=True,
        )
    estate.add(
        "aws.backup.plan",
        f"arn:aws:backup:{TOKYO}:{account}:backup-plan:{service}-daily",
        TOKYO,
        tags,
        rules=[
            {
                "name": "daily",
                "schedule": "cron(0 17 * * ? *)",
                "vault": f"{service}-vault",
                "copy_destinations": [
                    f"arn:aws:backup:{OSAKA}:{account}:backup-vault:{service}-vault"
                ],
            }
        ],
        selections=[
            {
                "name": "production",
                "resources": [],
                "tags": [{"key": "environment", "value": "production"}],
            }
        ],
    )


def _aws_storage(
    estate: _Estate,
    account: str,
    service: str,
    tenants: Sequence[str],
    tags: Mapping[str, str],
    now: datetime,
) -> None:
    bucket = {
        "encryption": {
            "algorithm": "aws:kms",
            "kms_key": f"arn:aws:kms:{TOKYO}:{account}:key/{service}",
        },
        "policy": {
            "Statement": [
                {"Effect": "Deny", "Condition": {"Bool": {"aws:SecureTransport": "false"}}}
            ]
        },
        "secure_transport_denied": True,
        "cross_account_principals": [],
        "public_access_blocked": True,
        "versioning": "Enabled",
        "mfa_delete": False,
        "lifecycle": [],
        "replication_destinations": [
            {"bucket": f"arn:aws:s3:::{service}-replica", "region": OSAKA}
        ],
    }
    for tenant in tenants:
        tenant_tags = {**tags, TENANT_TAG: tenant}
        estate.add(
            "aws.s3.bucket",
            f"arn:aws:s3:::{service}-{tenant}",
            TOKYO,
            tenant_tags,
            object_lock=False,
            log_bucket=False,
            **bucket,
        )
    estate.add(
        "aws.s3.bucket",
        f"arn:aws:s3:::{service}-replica",
        OSAKA,
        tags,
        object_lock=False,
        log_bucket=False,
        **{**bucket, "replication_destinations": []},
    )
    logs = {**bucket, "replication_destinations": [], "versioning": "Enabled"}
    logs["lifecycle"] = [{"id": "expire", "enabled": True, "prefix": "", "expiration_days": 400}]
    estate.add(
        "aws.s3.bucket",
        f"arn:aws:s3:::{service}-trail",
        TOKYO,
        tags,
        object_lock=True,
        log_bucket=True,
        **logs,
    )
    # Someone's experiment, never tagged: the attribution check reports it.
    estate.add(
        "aws.s3.bucket",
        f"arn:aws:s3:::{service}-scratch-{now:%Y%m}",
        TOKYO,
        {},
        object_lock=False,
        log_bucket=False,
        **bucket,
    )


def _aws_logging(estate: _Estate, account: str, service: str, tags: Mapping[str, str]) -> None:
    estate.add(
        "aws.cloudtrail.trail",
        f"arn:aws:cloudtrail:{TOKYO}:{account}:trail/{service}",
        TOKYO,
        tags,
        multi_region=True,
        log_file_validation=True,
        logging=True,
        s3_bucket=f"{service}-trail",
        home_region=TOKYO,
    )
    filters = [
        {
            "name": "unauthorized",
            "pattern": '{ $.errorCode = "UnauthorizedOperation" || $.errorCode = "AccessDenied*" }',
            "metric_name": "Unauthorized",
            "metric_namespace": "Security",
        },
        {
            "name": "console-failures",
            "pattern": "{ ($.eventName = ConsoleLogin) && "
            '($.errorMessage = "Failed authentication") }',
            "metric_name": "ConsoleLoginFailures",
            "metric_namespace": "Security",
        },
    ]
    for name, extra in (("trail", filters), ("app", []), ("access", [])):
        estate.add(
            "aws.logs.log_group",
            f"arn:aws:logs:{TOKYO}:{account}:log-group:/{service}/{name}",
            TOKYO,
            tags,
            retention_days=400,
            kms_key=None,  # the CloudWatch default key: a low-severity finding
            metric_filters=extra,
        )
    for metric in ("Unauthorized", "ConsoleLoginFailures"):
        estate.add(
            "aws.cloudwatch.alarm",
            f"arn:aws:cloudwatch:{TOKYO}:{account}:alarm:{service}-{metric}",
            TOKYO,
            tags,
            metric_name=metric,
            namespace="Security",
            actions_enabled=True,
        )
    estate.add(
        "aws.kms.key",
        f"arn:aws:kms:{TOKYO}:{account}:key/{service}",
        TOKYO,
        tags,
        multi_region=False,
        replica_regions=[],
    )


def _azure_service(
    builder: SnapshotBuilder,
    service: str,
    subscription: str,
    tenants: Sequence[str],
    now: datetime,
) -> None:
    estate = _Estate(builder, "azure", subscription)
    tags = {SERVICE_TAG: service, TENANT_TAG: SHARED, **PRODUCTION}
    base = f"/subscriptions/{subscription}/resourceGroups/rg-{service}/providers"
    builder.scope("azure", subscription, [EAST, WEST])
    estate.add(
        "azure.resource_group",
        f"/subscriptions/{subscription}/resourceGroups/rg-{service}",
        EAST,
        tags,
    )
    nsg = f"{base}/Microsoft.Network/networkSecurityGroups/nsg-{service}"
    subnet = f"{base}/Microsoft.Network/virtualNetworks/vnet-{service}/subnets/app"
    estate.add(
        "azure.network.nsg",
        nsg,
        EAST,
        tags,
        rules=[
            {**_rule(443, ["Internet"]), "priority": 100},
            {
                "direction": "inbound",
                "action": "deny",
                "protocol": "all",
                "from_port": None,
                "to_port": None,
                "sources": ["*"],
                "source_groups": [],
                "priority": 4096,
            },
        ],
        attached_to=[subnet],
    )
    estate.add(
        "azure.network.vnet",
        f"{base}/Microsoft.Network/virtualNetworks/vnet-{service}",
        EAST,
        tags,
        address_space=["10.40.0.0/16"],
        subnets=[{"id": subnet, "nsg": nsg}],
        peerings=[],
    )
    _azure_compute(estate, base, service, subnet, nsg, tags, now)
    _azure_data(estate, base, subscription, service, tenants, tags)
    _azure_monitoring(estate, base, subscription, service, tags)


def _azure_compute(
    estate: _Estate,
    base: str,
    service: str,
    subnet: str,
    nsg: str,
    tags: Mapping[str, str],
    now: datetime,
) -> None:
    vault = f"{base}/Microsoft.RecoveryServices/vaults/rsv-{service}"
    estate.add("azure.recoveryservices.vault", vault, EAST, tags, storage_redundancy="GeoRedundant")
    for number in (1, 2):
        vm = f"{base}/Microsoft.Compute/virtualMachines/vm-{service}-{number}"
        nic = f"{base}/Microsoft.Network/networkInterfaces/nic-{service}-{number}"
        estate.add(
            "azure.compute.vm",
            vm,
            EAST,
            tags,
            image={
                "publisher": "Canonical",
                "offer": "ubuntu-24_04-lts",
                "sku": "server",
                "version": "latest",
                "id": None,
            },
            security_type="TrustedLaunch",
            network_interfaces=[nic],
            patch_mode="AutomaticByPlatform",
        )
        estate.add(
            "azure.network.nic", nic, EAST, tags, public_ip=False, nsg=nsg, subnet=subnet, vm=vm
        )
        estate.add(
            "azure.compute.disk",
            f"{base}/Microsoft.Compute/disks/disk-{service}-{number}",
            EAST,
            tags,
            encryption_type="EncryptionAtRestWithPlatformKey",
            attached_to=vm,
        )
        estate.add(
            "azure.recoveryservices.backup_item",
            f"{vault}/backupItems/vm-{service}-{number}",
            EAST,
            tags,
            source=vm,
            last_backup_time=_z(now - timedelta(hours=number * 7)),
            vault=vault,
        )
    estate.add(
        "azure.network.application_gateway",
        f"{base}/Microsoft.Network/applicationGateways/agw-{service}",
        EAST,
        tags,
        waf_enabled=True,
        public=True,
    )


def _azure_data(
    estate: _Estate,
    base: str,
    subscription: str,
    service: str,
    tenants: Sequence[str],
    tags: Mapping[str, str],
) -> None:
    server = f"{base}/Microsoft.Sql/servers/sql-{service}"
    estate.add("azure.sql.server", server, EAST, tags, minimal_tls_version="1.2")
    for tenant in tenants:
        tenant_tags = {**tags, TENANT_TAG: tenant}
        estate.add(
            "azure.sql.database",
            f"{server}/databases/{tenant}",
            EAST,
            tenant_tags,
            server=server,
            tde_enabled=True,
        )
    estate.add(
        "azure.storage.account",
        f"{base}/Microsoft.Storage/storageAccounts/st{service.replace('-', '')}",
        EAST,
        tags,
        sku="Standard_GRS",
        secondary_location=WEST,
        https_only=True,
        minimum_tls_version="TLS1_2",
        encryption_enabled=True,
        public_blob_access=False,
        blob_delete_retention_days=14,
    )
    estate.add(
        "azure.web.site",
        f"{base}/Microsoft.Web/sites/{service}",
        EAST,
        tags,
        https_only=True,
        min_tls_version="1.2",
    )


def _azure_monitoring(
    estate: _Estate, base: str, subscription: str, service: str, tags: Mapping[str, str]
) -> None:
    workspace = f"{base}/Microsoft.OperationalInsights/workspaces/log-{service}"
    estate.add("azure.loganalytics.workspace", workspace, EAST, tags, retention_days=400)
    storage = f"{base}/Microsoft.Storage/storageAccounts/st{service.replace('-', '')}"
    for target in (storage, f"/subscriptions/{subscription}"):
        estate.add(
            "azure.monitor.diagnostic_setting",
            f"{target}/providers/Microsoft.Insights/diagnosticSettings/to-log",
            GLOBAL_REGION if target.count("/") == 2 else EAST,
            tags,
            target=target,
            workspace=workspace,
            storage_account=None,
        )
    for operation in (
        "Microsoft.Authorization/policyAssignments/write",
        "Microsoft.Network/networkSecurityGroups/write",
    ):
        estate.add(
            "azure.monitor.activity_log_alert",
            f"{base}/Microsoft.Insights/activityLogAlerts/{operation.split('/')[1]}",
            GLOBAL_REGION,
            tags,
            enabled=True,
            operation=operation,
            category="Administrative",
        )
    for plan in ("VirtualMachines", "StorageAccounts", "SqlServers"):
        estate.add(
            "azure.security.pricing",
            f"/subscriptions/{subscription}/providers/Microsoft.Security/pricings/{plan}",
            GLOBAL_REGION,
            {},
            plan=plan,
            tier="Standard",
        )


def demo_snapshot(
    subscriptions: Iterable[tuple[str, Sequence[str], Sequence[str]]], now: datetime
) -> Snapshot:
    """A snapshot of the demo estate: (service, platforms, tenants subscribed) per service."""
    builder = SnapshotBuilder(now)
    for number, (service, platforms, tenants) in enumerate(subscriptions, start=1):
        if "aws" in platforms:
            _aws_service(builder, service, f"{100000000000 + number * 111111:012d}", tenants, now)
        if "azure" in platforms:
            _azure_service(builder, service, f"00000000-0000-4000-8000-{number:012d}", tenants, now)
    return builder.snapshot
