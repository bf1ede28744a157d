"""A realistic provider in moto: two tenants' services in Japan, with planted violations.

Each violation has a compliant twin, so a check that flags everything fails as surely as
one that flags nothing. `build_world` returns the ids of what it planted.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from moto.core.utils import utcnow
from moto.ec2.models import ec2_backends

ACCOUNT = "123456789012"  # moto's default account
OTHER_ACCOUNT = "999999999999"
TOKYO, OSAKA = "ap-northeast-1", "ap-northeast-3"
FSBP = "arn:aws:securityhub:::standards/aws-foundational-security-best-practices/v/1.0.0"


def tags(service: str, tenant: str) -> list[dict[str, str]]:
    """The provider's attribution tags as a boto3 tag list."""
    return [{"Key": "mamori:service", "Value": service}, {"Key": "mamori:tenant", "Value": tenant}]


def tag_map(service: str, tenant: str) -> dict[str, str]:
    """The provider's attribution tags as a mapping."""
    return {"mamori:service": service, "mamori:tenant": tenant}


@dataclass
class World:
    """The ids and ARNs of everything planted, by what it is for."""

    buckets: dict[str, str] = field(default_factory=dict)  # role -> bucket name
    log_groups: dict[str, str] = field(default_factory=dict)  # role -> ARN
    volumes: dict[str, str] = field(default_factory=dict)  # role -> volume id
    snapshots: dict[str, str] = field(default_factory=dict)  # role -> snapshot id
    rds: dict[str, str] = field(default_factory=dict)  # role -> DB instance ARN
    efs: dict[str, str] = field(default_factory=dict)  # role -> file system ARN
    table: str = ""  # DynamoDB table ARN
    groups: dict[str, str] = field(default_factory=dict)  # role -> security group id
    vpcs: dict[str, str] = field(default_factory=dict)  # tenant -> VPC id
    peering: str = ""
    instances: dict[str, str] = field(default_factory=dict)  # role -> instance id
    trails: dict[str, str] = field(default_factory=dict)  # role -> trail ARN
    load_balancers: dict[str, str] = field(default_factory=dict)  # role -> ARN
    web_acl: str = ""
    distributions: dict[str, str] = field(default_factory=dict)  # role -> CloudFront ARN
    api_stages: dict[str, str] = field(default_factory=dict)  # role -> API stage ARN
    # role -> transit gateway attachment id: "tenant-a"/"tenant-b" share one gateway,
    # "alone" is tenant-a's VPC on a gateway of its own
    attachments: dict[str, str] = field(default_factory=dict)
    detector: str = ""  # GuardDuty detector id in Tokyo
    kms_key: str = ""  # multi-region key ARN
    vault: str = ""  # backup vault ARN
    plan: str = ""  # backup plan ARN
    role: str = ""  # IAM role trusting another account
    config_rule: str = ""  # AWS Config rule ARN
    finding: str = ""  # Security Hub finding id


def build_world(session: Any) -> World:
    """Create the provider's resources through `session` (under moto)."""
    world = World()
    _buckets(session, world)
    _logs(session, world)
    _ebs(session, world)
    _databases(session, world)
    _network(session, world)
    _instances(session, world)
    _trails(session, world)
    _load_balancers(session, world)
    _distributions(session, world)
    _api_stages(session, world)
    _transit_gateways(session, world)
    _security_services(session, world)
    _backup(session, world)
    _iam(session, world)
    _attestations(session, world)
    return world


def _bucket(s3: Any, name: str, region: str, service: str, tenant: str) -> str:
    if region == "us-east-1":
        s3.create_bucket(Bucket=name)
    else:
        s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": region})
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags(service, tenant)})
    return name


def _secure_policy(name: str) -> dict[str, Any]:
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "DenyInsecure",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "s3:*",
                "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            }
        ],
    }


def _buckets(session: Any, world: World) -> None:
    s3 = session.client("s3", region_name=TOKYO)
    good = _bucket(s3, "tenant-a-data", TOKYO, "storage", "tenant-a")
    s3.put_bucket_encryption(
        Bucket=good,
        ServerSideEncryptionConfiguration={
            "Rules": [
                {
                    "ApplyServerSideEncryptionByDefault": {
                        "SSEAlgorithm": "aws:kms",
                        "KMSMasterKeyID": "alias/tenant-a",
                    }
                }
            ]
        },
    )
    s3.put_bucket_policy(Bucket=good, Policy=json.dumps(_secure_policy(good)))
    flags = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    s3.put_public_access_block(
        Bucket=good, PublicAccessBlockConfiguration=dict.fromkeys(flags, True)
    )
    s3.put_bucket_versioning(Bucket=good, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(
        Bucket=good,
        LifecycleConfiguration={
            "Rules": [
                {
                    "ID": "expire",
                    "Status": "Enabled",
                    "Filter": {"Prefix": "tmp/"},
                    "Expiration": {"Days": 30},
                }
            ]
        },
    )
    world.buckets["compliant"] = good
    world.buckets["us"] = _bucket(
        session.client("s3", region_name="us-east-1"),
        "tenant-a-us",
        "us-east-1",
        "storage",
        "tenant-a",
    )
    loose = _bucket(s3, "tenant-b-loose", TOKYO, "storage", "tenant-b")
    shared = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{loose}/*",
            }
        ],
    }
    s3.put_bucket_policy(Bucket=loose, Policy=json.dumps(shared))
    world.buckets["loose"] = loose
    _replicated(session, s3, world)
    world.buckets["trail_logs"] = _bucket(s3, "provider-trail-logs", TOKYO, "audit", "provider")
    locked = "tenant-b-locked"
    session.client("s3", region_name=OSAKA).create_bucket(
        Bucket=locked,
        CreateBucketConfiguration={"LocationConstraint": OSAKA},
        ObjectLockEnabledForBucket=True,
    )
    world.buckets["locked"] = locked


def _replicated(session: Any, s3: Any, world: World) -> None:
    west = session.client("s3", region_name="us-west-2")
    target = _bucket(west, "tenant-a-replica", "us-west-2", "storage", "tenant-a")
    west.put_bucket_versioning(Bucket=target, VersioningConfiguration={"Status": "Enabled"})
    source = _bucket(s3, "tenant-a-replicated", TOKYO, "storage", "tenant-a")
    s3.put_bucket_versioning(Bucket=source, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_replication(
        Bucket=source,
        ReplicationConfiguration={
            "Role": f"arn:aws:iam::{ACCOUNT}:role/replication",
            "Rules": [
                {
                    "ID": "all",
                    "Status": "Enabled",
                    "Prefix": "",
                    "Destination": {"Bucket": f"arn:aws:s3:::{target}"},
                }
            ],
        },
    )
    world.buckets["replicated"], world.buckets["replica"] = source, target


def _logs(session: Any, world: World) -> None:
    logs = session.client("logs", region_name=TOKYO)
    for role, days in (("short", 30), ("long", 400), ("forever", None)):
        name = f"/tenant-a/app-{role}"
        logs.create_log_group(logGroupName=name, tags=tag_map("app", "tenant-a"))
        if days is not None:
            logs.put_retention_policy(logGroupName=name, retentionInDays=days)
        world.log_groups[role] = f"arn:aws:logs:{TOKYO}:{ACCOUNT}:log-group:{name}"
    logs.put_metric_filter(
        logGroupName="/tenant-a/app-long",
        filterName="root-login",
        filterPattern='{ $.userIdentity.type = "Root" }',
        metricTransformations=[
            {"metricName": "RootLogin", "metricNamespace": "Security", "metricValue": "1"}
        ],
    )


def _ebs(session: Any, world: World) -> None:
    ec2 = session.client("ec2", region_name=TOKYO)
    spec = [{"ResourceType": "volume", "Tags": tags("app", "tenant-a")}]
    for role, encrypted in (("plain", False), ("encrypted", True)):
        volume = ec2.create_volume(
            AvailabilityZone=f"{TOKYO}a", Size=8, Encrypted=encrypted, TagSpecifications=spec
        )["VolumeId"]
        world.volumes[role] = volume
        world.snapshots[role] = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    # A volume whose only backup is the stale snapshot below: the backup-age check's case.
    world.volumes["neglected"] = ec2.create_volume(
        AvailabilityZone=f"{TOKYO}a", Size=8, Encrypted=True, TagSpecifications=spec
    )["VolumeId"]
    stale = ec2.create_snapshot(VolumeId=world.volumes["neglected"])["SnapshotId"]
    # moto stamps snapshots "now"; an old one can only be made by ageing it in place
    backend = ec2_backends[ACCOUNT][TOKYO]
    backend.snapshots[stale].start_time = utcnow() - timedelta(days=800)
    world.snapshots["stale"] = stale


def _databases(session: Any, world: World) -> None:
    rds = session.client("rds", region_name=TOKYO)
    for role, encrypted in (("plain", False), ("encrypted", True)):
        db = rds.create_db_instance(
            DBInstanceIdentifier=f"tenant-a-{role}",
            DBInstanceClass="db.t3.micro",
            Engine="postgres",
            MasterUsername="admin",
            MasterUserPassword="password123",
            AllocatedStorage=20,
            StorageEncrypted=encrypted,
            BackupRetentionPeriod=7,
            Tags=tags("db", "tenant-a"),
        )["DBInstance"]
        world.rds[role] = db["DBInstanceArn"]
    efs = session.client("efs", region_name=OSAKA)
    for role, encrypted in (("plain", False), ("encrypted", True)):
        fs = efs.create_file_system(
            CreationToken=role, Encrypted=encrypted, Tags=tags("files", "tenant-b")
        )
        world.efs[role] = fs["FileSystemArn"]
    dynamodb = session.client("dynamodb", region_name=TOKYO)
    table = dynamodb.create_table(
        TableName="tenant-a-sessions",
        KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
        Tags=tags("app", "tenant-a"),
    )["TableDescription"]
    dynamodb.update_continuous_backups(
        TableName="tenant-a-sessions",
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )
    world.table = table["TableArn"]


def _vpc(ec2: Any, tenant: str, cidr: str) -> str:
    spec = [{"ResourceType": "vpc", "Tags": tags("network", tenant)}]
    return str(ec2.create_vpc(CidrBlock=cidr, TagSpecifications=spec)["Vpc"]["VpcId"])


def _group(ec2: Any, vpc: str, name: str, tenant: str) -> str:
    spec = [{"ResourceType": "security-group", "Tags": tags("network", tenant)}]
    return str(
        ec2.create_security_group(
            GroupName=name, Description=name, VpcId=vpc, TagSpecifications=spec
        )["GroupId"]
    )


def _open(ec2: Any, group: str, port: int) -> None:
    ec2.authorize_security_group_ingress(
        GroupId=group,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": port,
                "ToPort": port,
                "IpRanges": [{"CidrIp": "0.0.0.0/0"}],
            }
        ],
    )


def _network(session: Any, world: World) -> None:
    ec2 = session.client("ec2", region_name=TOKYO)
    world.vpcs["tenant-a"] = _vpc(ec2, "tenant-a", "10.1.0.0/16")
    world.vpcs["tenant-b"] = _vpc(ec2, "tenant-b", "10.2.0.0/16")
    ssh = _group(ec2, world.vpcs["tenant-a"], "ssh-open", "tenant-a")
    _open(ec2, ssh, 22)
    https = _group(ec2, world.vpcs["tenant-a"], "https-only", "tenant-a")
    _open(ec2, https, 443)
    crossed = _group(ec2, world.vpcs["tenant-b"], "from-tenant-a", "tenant-b")
    ec2.authorize_security_group_ingress(
        GroupId=crossed,
        IpPermissions=[
            {
                "IpProtocol": "tcp",
                "FromPort": 5432,
                "ToPort": 5432,
                "UserIdGroupPairs": [{"GroupId": https, "UserId": ACCOUNT}],
            }
        ],
    )
    world.groups.update({"ssh": ssh, "https": https, "cross_tenant": crossed})
    world.peering = ec2.create_vpc_peering_connection(
        VpcId=world.vpcs["tenant-a"], PeerVpcId=world.vpcs["tenant-b"]
    )["VpcPeeringConnection"]["VpcPeeringConnectionId"]
    ec2.accept_vpc_peering_connection(VpcPeeringConnectionId=world.peering)
    for tenant, cidr in (("tenant-a", "10.1.1.0/24"), ("tenant-b", "10.2.1.0/24")):
        ec2.create_subnet(VpcId=world.vpcs[tenant], CidrBlock=cidr, AvailabilityZone=f"{TOKYO}a")


def _instances(session: Any, world: World) -> None:
    ec2 = session.client("ec2", region_name=TOKYO)
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [world.vpcs["tenant-a"]]}])[
        "Subnets"
    ][0]["SubnetId"]
    for role, tokens in (("imds_v1", "optional"), ("imds_v2", "required")):
        world.instances[role] = ec2.run_instances(
            ImageId=image,
            MinCount=1,
            MaxCount=1,
            InstanceType="t3.micro",
            SubnetId=subnet,
            SecurityGroupIds=[world.groups["https"]],
            MetadataOptions={"HttpTokens": tokens, "HttpEndpoint": "enabled"},
            TagSpecifications=[{"ResourceType": "instance", "Tags": tags("app", "tenant-a")}],
        )["Instances"][0]["InstanceId"]


def _trails(session: Any, world: World) -> None:
    trail_tags = [{"Key": t["Key"], "Value": t["Value"]} for t in tags("audit", "provider")]
    bucket = world.buckets["trail_logs"]
    tokyo = session.client("cloudtrail", region_name=TOKYO)
    weak = tokyo.create_trail(Name="weak-trail", S3BucketName=bucket, TagsList=trail_tags)
    world.trails["weak"] = weak["TrailARN"]
    strong = tokyo.create_trail(
        Name="org-trail",
        S3BucketName=bucket,
        IsMultiRegionTrail=True,
        EnableLogFileValidation=True,
        TagsList=trail_tags,
    )
    tokyo.start_logging(Name="org-trail")
    world.trails["strong"] = strong["TrailARN"]


def _load_balancers(session: Any, world: World) -> None:
    ec2 = session.client("ec2", region_name=TOKYO)
    elb = session.client("elbv2", region_name=TOKYO)
    vpc = world.vpcs["tenant-a"]
    second = ec2.create_subnet(VpcId=vpc, CidrBlock="10.1.2.0/24", AvailabilityZone=f"{TOKYO}c")
    subnets = [
        s["SubnetId"]
        for s in ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"]
    ]
    assert second["Subnet"]["SubnetId"] in subnets
    group = elb.create_target_group(Name="web", Protocol="HTTP", Port=80, VpcId=vpc)
    forward = [{"Type": "forward", "TargetGroupArn": group["TargetGroups"][0]["TargetGroupArn"]}]
    for role in ("http", "https"):
        lb = elb.create_load_balancer(
            Name=f"tenant-a-{role}",
            Subnets=subnets,
            SecurityGroups=[world.groups["https"]],
            Scheme="internet-facing",
            Type="application",
            Tags=tags("web", "tenant-a"),
        )["LoadBalancers"][0]["LoadBalancerArn"]
        world.load_balancers[role] = lb
    elb.create_listener(
        LoadBalancerArn=world.load_balancers["http"],
        Protocol="HTTP",
        Port=80,
        DefaultActions=forward,
    )
    certificate = session.client("acm", region_name=TOKYO).request_certificate(
        DomainName="tenant-a.example.jp"
    )["CertificateArn"]
    elb.create_listener(
        LoadBalancerArn=world.load_balancers["https"],
        Protocol="HTTPS",
        Port=443,
        SslPolicy="ELBSecurityPolicy-TLS13-1-2-2021-06",
        Certificates=[{"CertificateArn": certificate}],
        DefaultActions=forward,
    )
    waf = session.client("wafv2", region_name=TOKYO)
    acl = waf.create_web_acl(
        Name="tenant-a-web",
        Scope="REGIONAL",
        DefaultAction={"Allow": {}},
        VisibilityConfig={
            "SampledRequestsEnabled": False,
            "CloudWatchMetricsEnabled": False,
            "MetricName": "web",
        },
        Rules=[],
    )["Summary"]["ARN"]
    waf.associate_web_acl(WebACLArn=acl, ResourceArn=world.load_balancers["https"])
    world.web_acl = acl


def _distribution(cloudfront: Any, reference: str, viewer_policy: str) -> str:
    config = {
        "CallerReference": reference,
        "Comment": reference,
        "Enabled": True,
        "Origins": {
            "Quantity": 1,
            "Items": [
                {
                    "Id": "origin",
                    "DomainName": "origin.tenant-a.example.jp",
                    "CustomOriginConfig": {
                        "HTTPPort": 80,
                        "HTTPSPort": 443,
                        "OriginProtocolPolicy": "https-only",
                    },
                }
            ],
        },
        "DefaultCacheBehavior": {
            "TargetOriginId": "origin",
            "ViewerProtocolPolicy": viewer_policy,
            "CachePolicyId": "658327ea-f89d-4fab-a63d-7e88639e58f6",  # CachingOptimized
        },
        "ViewerCertificate": {
            "ACMCertificateArn": f"arn:aws:acm:us-east-1:{ACCOUNT}:certificate/{reference}",
            "SSLSupportMethod": "sni-only",
            "MinimumProtocolVersion": "TLSv1.2_2021",
        },
    }
    created = cloudfront.create_distribution_with_tags(
        DistributionConfigWithTags={
            "DistributionConfig": config,
            "Tags": {"Items": tags("web", "tenant-a")},
        }
    )
    return str(created["Distribution"]["ARN"])


def _distributions(session: Any, world: World) -> None:
    # the same origin and TLS floor; only the viewer protocol policy differs
    cloudfront = session.client("cloudfront", region_name="us-east-1")
    world.distributions["plain_http"] = _distribution(cloudfront, "plain-http", "allow-all")
    world.distributions["https"] = _distribution(cloudfront, "https", "redirect-to-https")


def _api_stages(session: Any, world: World) -> None:
    apigateway = session.client("apigateway", region_name=TOKYO)
    api = apigateway.create_rest_api(
        name="tenant-a-api",
        endpointConfiguration={"types": ["REGIONAL"]},
        tags=tag_map("api", "tenant-a"),
    )["id"]
    root = apigateway.get_resources(restApiId=api)["items"][0]["id"]
    apigateway.put_method(
        restApiId=api, resourceId=root, httpMethod="GET", authorizationType="NONE"
    )
    apigateway.put_integration(restApiId=api, resourceId=root, httpMethod="GET", type="MOCK")
    for stage in ("open", "guarded"):
        apigateway.create_deployment(restApiId=api, stageName=stage)
        world.api_stages[stage] = f"arn:aws:apigateway:{TOKYO}::/restapis/{api}/stages/{stage}"
    waf = session.client("wafv2", region_name=TOKYO)
    waf.associate_web_acl(WebACLArn=world.web_acl, ResourceArn=world.api_stages["guarded"])


def _transit_gateways(session: Any, world: World) -> None:
    ec2 = session.client("ec2", region_name=TOKYO)
    shared = ec2.create_transit_gateway(Description="shared by both tenants")
    alone = ec2.create_transit_gateway(Description="tenant-a only")
    gateways = [
        ("tenant-a", shared, "tenant-a"),
        ("tenant-b", shared, "tenant-b"),
        ("alone", alone, "tenant-a"),
    ]
    for role, gateway, tenant in gateways:
        vpc = world.vpcs[tenant]
        subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]
        world.attachments[role] = ec2.create_transit_gateway_vpc_attachment(
            TransitGatewayId=gateway["TransitGateway"]["TransitGatewayId"],
            VpcId=vpc,
            SubnetIds=[subnet["SubnetId"]],
            TagSpecifications=[
                {"ResourceType": "transit-gateway-attachment", "Tags": tags("network", tenant)}
            ],
        )["TransitGatewayVpcAttachment"]["TransitGatewayAttachmentId"]


def _security_services(session: Any, world: World) -> None:
    guardduty = session.client("guardduty", region_name=TOKYO)
    world.detector = guardduty.create_detector(
        Enable=True,
        Features=[{"Name": "EBS_MALWARE_PROTECTION", "Status": "ENABLED"}],
        Tags=tag_map("security", "provider"),
    )["DetectorId"]
    kms = session.client("kms", region_name=TOKYO)
    key = kms.create_key(
        Description="tenant-a data",
        MultiRegion=True,
        Tags=[{"TagKey": "mamori:service", "TagValue": "storage"}],
    )["KeyMetadata"]
    kms.replicate_key(KeyId=key["KeyId"], ReplicaRegion=OSAKA)
    world.kms_key = key["Arn"]


def _backup(session: Any, world: World) -> None:
    backup = session.client("backup", region_name=TOKYO)
    vault = backup.create_backup_vault(
        BackupVaultName="tenant-a-vault",
        EncryptionKeyArn=world.kms_key,
        BackupVaultTags=tag_map("backup", "tenant-a"),
    )
    world.vault = vault["BackupVaultArn"]
    osaka = session.client("backup", region_name=OSAKA).create_backup_vault(
        BackupVaultName="tenant-a-copy"
    )
    plan = backup.create_backup_plan(
        BackupPlan={
            "BackupPlanName": "tenant-a-daily",
            "Rules": [
                {
                    "RuleName": "daily",
                    "TargetBackupVaultName": "tenant-a-vault",
                    "ScheduleExpression": "cron(0 3 * * ? *)",
                    "CopyActions": [{"DestinationBackupVaultArn": osaka["BackupVaultArn"]}],
                }
            ],
        },
        BackupPlanTags=tag_map("backup", "tenant-a"),
    )
    # moto implements no backup selections (CreateBackupSelection is NotImplemented)
    world.plan = plan["BackupPlanArn"]


def _iam(session: Any, world: World) -> None:
    iam = session.client("iam", region_name="us-east-1")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{OTHER_ACCOUNT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName="vendor-support",
        AssumeRolePolicyDocument=json.dumps(trust),
        Tags=tags("support", "provider"),
    )
    world.role = role["Role"]["Arn"]


def _attestations(session: Any, world: World) -> None:
    config = session.client("config", region_name=TOKYO)
    config.put_config_rule(
        ConfigRule={
            "ConfigRuleName": "s3-bucket-ssl-requests-only",
            "Source": {"Owner": "AWS", "SourceIdentifier": "S3_BUCKET_SSL_REQUESTS_ONLY"},
        }
    )
    world.config_rule = config.describe_config_rules()["ConfigRules"][0]["ConfigRuleArn"]
    hub = session.client("securityhub", region_name=TOKYO)
    world.finding = f"arn:aws:securityhub:{TOKYO}:{ACCOUNT}:finding/s3-ssl-1"
    hub.batch_import_findings(
        Findings=[
            {
                "SchemaVersion": "2018-10-08",
                "Id": world.finding,
                "ProductArn": f"arn:aws:securityhub:{TOKYO}::product/aws/securityhub",
                "GeneratorId": "aws-foundational-security-best-practices/v/1.0.0/S3.5",
                "AwsAccountId": ACCOUNT,
                "Types": ["Software and Configuration Checks"],
                "CreatedAt": "2026-11-01T00:00:00Z",
                "UpdatedAt": "2026-11-01T00:00:00Z",
                "Severity": {"Label": "MEDIUM"},
                "Title": "S3.5 S3 buckets should require requests to use SSL",
                "Description": "tenant-b-loose allows plain HTTP",
                "Resources": [{"Type": "AwsS3Bucket", "Id": "arn:aws:s3:::tenant-b-loose"}],
                "Compliance": {"Status": "FAILED", "SecurityControlId": "S3.5"},
                "ProductFields": {"StandardsArn": FSBP},
                "RecordState": "ACTIVE",
            }
        ]
    )
