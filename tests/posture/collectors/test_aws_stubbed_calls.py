"""The AWS calls moto does not implement, answered by botocore's Stubber.

moto lacks `GetEbsDefaultKmsKeyId`, `DescribeInstanceInformation`,
`DescribeComplianceByConfigRule`, `ListBackupSelections`/`GetBackupSelection` and
`ListRecoveryPointsByBackupVault`, so against moto the collector can only record them as
failed. Here the collector's own functions run against real botocore clients whose
answers come from a `Stubber`: each answer is in AWS's shape (the Stubber validates it
against botocore's service model) and each request is checked against the parameters
the collector must send. A stubbed call that goes wrong (an unexpected operation or
parameter) is a BotoCoreError the collector would record as a failed call, so every test
also asserts exactly which calls were answered and which failed.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from mamori.posture.collectors import aws_data, aws_ec2, aws_edge
from mamori.posture.collectors.aws import DEFAULT_CONFIG
from mamori.posture.collectors.aws_calls import Calls
from mamori.posture.collectors.base import SnapshotBuilder
from mamori.posture.schema import TYPES
from mamori.posture.snapshot import Resource, Snapshot, is_unknown

ACCOUNT = "123456789012"
REGION = "ap-northeast-1"
KEY = f"arn:aws:kms:{REGION}:{ACCOUNT}:key/0a1b2c3d-4e5f-6789-abcd-ef0123456789"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/AWSBackupDefaultServiceRole"
WHEN = datetime(2025, 3, 1, 2, 30, tzinfo=UTC)


class StubbedSession:
    """Stands in for a boto3 session: `client` hands out real clients under a Stubber.

    `Calls` only asks its session for `client(service, region_name=..., config=...)`, so
    the collector's code path is unchanged; only the HTTP exchange is replaced.
    """

    def __init__(self) -> None:
        # typed Any: the boto3 stubs overload `client` on literal service names
        self._session: Any = boto3.Session(
            aws_access_key_id="testing", aws_secret_access_key="testing"
        )
        self.stubbers: dict[tuple[str, str], Stubber] = {}

    def stub(self, service: str, region: str = REGION) -> Stubber:
        """The (active) Stubber of `service` in `region`, made on first use."""
        key = (service, region)
        if key not in self.stubbers:
            client = self._session.client(service, region_name=region, config=DEFAULT_CONFIG)
            stubber = Stubber(client)
            stubber.activate()
            self.stubbers[key] = stubber
        return self.stubbers[key]

    def client(self, service: str, region_name: str, config: Any = None) -> Any:
        """The stubbed client; a service no test stubbed is a test error, not a call."""
        assert (service, region_name) in self.stubbers, f"unexpected client {service}"
        return self.stubbers[(service, region_name)].client

    def close(self) -> None:
        for stubber in self.stubbers.values():
            stubber.deactivate()


@pytest.fixture
def aws() -> Iterator[StubbedSession]:
    session = StubbedSession()
    yield session
    session.close()


@pytest.fixture
def builder() -> SnapshotBuilder:
    return SnapshotBuilder()


@pytest.fixture
def calls(builder: SnapshotBuilder, aws: StubbedSession) -> Calls:
    return Calls(builder, ACCOUNT, aws, DEFAULT_CONFIG)


def answered(snapshot: Snapshot, aws: StubbedSession) -> list[tuple[str, str]]:
    """(service, operation) of every call, once every stubbed answer has been used;
    fails if any call failed (a stub mismatch is recorded as a failed call)."""
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()
    failed = [(e.operation, e.error_code, e.error_message) for e in snapshot.coverage if not e.ok]
    assert failed == []
    return [(e.service, e.operation) for e in snapshot.coverage]


def only(snapshot: Snapshot, kind: str) -> list[Resource]:
    """The resources of `kind`, checked against the schema and their cited answers."""
    found = snapshot.of_type(kind)
    for resource in found:
        assert set(resource.properties) <= set(TYPES[kind].properties), resource.id
        assert resource.raw and all(d in snapshot.raw for d in resource.raw), resource.id
    return found


# --- EC2: the region's default EBS key ------------------------------------------------------


def test_region_settings_read_the_default_ebs_key(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    ec2 = aws.stub("ec2")
    ec2.add_response("get_ebs_encryption_by_default", {"EbsEncryptionByDefault": True}, {})
    ec2.add_response("get_ebs_default_kms_key_id", {"KmsKeyId": KEY}, {})

    aws_ec2.region_settings(calls, REGION)

    snapshot = builder.snapshot
    assert answered(snapshot, aws) == [
        ("ec2", "GetEbsEncryptionByDefault"),
        ("ec2", "GetEbsDefaultKmsKeyId"),
    ]
    [settings] = only(snapshot, "aws.ec2.region_settings")
    assert settings.properties == {"ebs_encryption_by_default": True, "ebs_default_kms_key": KEY}
    assert len(settings.raw) == 2
    rid = f"arn:aws:ec2:{REGION}:{ACCOUNT}:region-settings"
    assert {e.resource for e in snapshot.coverage} == {rid}


# --- EC2 instances and Systems Manager ------------------------------------------------------


def _instance(iid: str) -> dict[str, Any]:
    return {
        "InstanceId": iid,
        "ImageId": "ami-0123456789abcdef0",
        "State": {"Code": 16, "Name": "running"},
        "VpcId": "vpc-0a1b2c3d",
        "SubnetId": "subnet-0a1b2c3d",
        "SecurityGroups": [{"GroupId": "sg-0a1b2c3d", "GroupName": "app"}],
        "MetadataOptions": {"HttpTokens": "required"},
        "LaunchTime": WHEN,
        "Tags": [{"Key": "Name", "Value": iid.replace("i-", "host-")}],
    }


def _managed(iid: str, ping: str) -> dict[str, Any]:
    return {
        "InstanceId": iid,
        "PingStatus": ping,
        "LastPingDateTime": WHEN,
        "AgentVersion": "3.3.1142.0",
        "IsLatestVersion": True,
        "PlatformType": "Linux",
        "PlatformName": "Amazon Linux",
        "PlatformVersion": "2023",
        "ResourceType": "EC2Instance",
    }


def _stub_instances(aws: StubbedSession, *iids: str) -> None:
    reservation = {
        "ReservationId": "r-0a1b2c3d",
        "OwnerId": ACCOUNT,
        "Instances": [_instance(i) for i in iids],
    }
    aws.stub("ec2").add_response("describe_instances", {"Reservations": [reservation]}, {})


def test_patch_managed_is_whether_systems_manager_sees_the_instance_online(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    _stub_instances(aws, "i-0000000000000online", "i-00000000000000lost", "i-0000000000missing")
    info = [
        _managed("i-0000000000000online", "Online"),
        _managed("i-00000000000000lost", "ConnectionLost"),
    ]
    aws.stub("ssm").add_response(
        "describe_instance_information", {"InstanceInformationList": info}, {}
    )

    aws_ec2.instances(calls, REGION)

    snapshot = builder.snapshot
    assert answered(snapshot, aws) == [
        ("ec2", "DescribeInstances"),
        ("ssm", "DescribeInstanceInformation"),
    ]
    managed = {r.name: r.properties["patch_managed"] for r in only(snapshot, "aws.ec2.instance")}
    assert managed == {
        "host-0000000000000online": True,
        "host-00000000000000lost": False,  # registered, but the agent is not reachable
        "host-0000000000missing": False,  # never registered with Systems Manager
    }
    # each instance cites the Systems Manager answer its patch_managed comes from
    ssm = [d for d, r in snapshot.raw.items() if r.operation == "DescribeInstanceInformation"]
    assert all(set(ssm) <= set(r.raw) for r in snapshot.of_type("aws.ec2.instance"))


# --- AWS Config rules -----------------------------------------------------------------------


def _rule(name: str) -> dict[str, Any]:
    return {
        "ConfigRuleName": name,
        "ConfigRuleArn": f"arn:aws:config:{REGION}:{ACCOUNT}:config-rule/config-rule-{name}",
        "ConfigRuleId": f"config-rule-{name}",
        "Source": {"Owner": "AWS", "SourceIdentifier": name.upper().replace("-", "_")},
        "ConfigRuleState": "ACTIVE",
    }


def test_config_rules_carry_their_compliance(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    rules = ["s3-bucket-ssl-requests-only", "encrypted-volumes", "rds-storage-encrypted"]
    config = aws.stub("config")
    config.add_response("describe_config_rules", {"ConfigRules": [_rule(r) for r in rules]}, {})
    verdicts = [
        {
            "ConfigRuleName": "s3-bucket-ssl-requests-only",
            "Compliance": {
                "ComplianceType": "NON_COMPLIANT",
                "ComplianceContributorCount": {"CappedCount": 2, "CapExceeded": False},
            },
        },
        {"ConfigRuleName": "encrypted-volumes", "Compliance": {"ComplianceType": "COMPLIANT"}},
    ]
    config.add_response(
        "describe_compliance_by_config_rule", {"ComplianceByConfigRules": verdicts}, {}
    )

    aws_edge.config_rules(calls, REGION)

    snapshot = builder.snapshot
    assert answered(snapshot, aws) == [
        ("config", "DescribeConfigRules"),
        ("config", "DescribeComplianceByConfigRule"),
    ]
    compliance = {r.name: r.properties["compliance"] for r in only(snapshot, "aws.config.rule")}
    assert compliance == {
        "s3-bucket-ssl-requests-only": "NON_COMPLIANT",
        "encrypted-volumes": "COMPLIANT",
        # AWS leaves out a rule that has not been evaluated yet
        "rds-storage-encrypted": "INSUFFICIENT_DATA",
    }


# --- AWS Backup -----------------------------------------------------------------------------

PLAN_ID = "8f3b2a1c-0d4e-4f5a-9b6c-7d8e9f0a1b2c"
PLAN_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-plan:{PLAN_ID}"
VAULT = "tenant-a-vault"
VAULT_ARN = f"arn:aws:backup:{REGION}:{ACCOUNT}:backup-vault:{VAULT}"
VOLUME = f"arn:aws:ec2:{REGION}:{ACCOUNT}:volume/vol-0a1b2c3d4e5f67890"
TABLE = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/orders"


def _selection_entry(sid: str, name: str) -> dict[str, Any]:
    return {
        "SelectionId": sid,
        "SelectionName": name,
        "BackupPlanId": PLAN_ID,
        "CreationDate": WHEN,
        "IamRoleArn": ROLE,
    }


def _stub_plan(aws: StubbedSession) -> Stubber:
    backup = aws.stub("backup")
    summary = {
        "BackupPlanArn": PLAN_ARN,
        "BackupPlanId": PLAN_ID,
        "BackupPlanName": "production",
        "VersionId": "v1",
        "CreationDate": WHEN,
    }
    backup.add_response("list_backup_plans", {"BackupPlansList": [summary]}, {})
    rule = {
        "RuleName": "daily",
        "TargetBackupVaultName": VAULT,
        "ScheduleExpression": "cron(0 5 ? * * *)",
        "CopyActions": [{"DestinationBackupVaultArn": VAULT_ARN.replace(REGION, "ap-northeast-3")}],
    }
    backup.add_response(
        "get_backup_plan",
        {
            "BackupPlan": {"BackupPlanName": "production", "Rules": [rule]},
            "BackupPlanId": PLAN_ID,
            "BackupPlanArn": PLAN_ARN,
            "VersionId": "v1",
        },
        {"BackupPlanId": PLAN_ID},
    )
    return backup


def test_backup_plan_selections_list_resources_and_tag_conditions(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    backup = _stub_plan(aws)
    entries = [
        _selection_entry("sel-by-arn", "named-resources"),
        _selection_entry("sel-by-tag", "production-tagged"),
    ]
    backup.add_response(
        "list_backup_selections", {"BackupSelectionsList": entries}, {"BackupPlanId": PLAN_ID}
    )
    by_arn = {"SelectionName": "named-resources", "IamRoleArn": ROLE, "Resources": [VOLUME, TABLE]}
    by_tag = {
        "SelectionName": "production-tagged",
        "IamRoleArn": ROLE,
        "Resources": ["*"],
        "ListOfTags": [
            {
                "ConditionType": "STRINGEQUALS",
                "ConditionKey": "mamori:env",
                "ConditionValue": "prod",
            }
        ],
    }
    for sid, selection in (("sel-by-arn", by_arn), ("sel-by-tag", by_tag)):
        backup.add_response(
            "get_backup_selection",
            {"BackupSelection": selection, "SelectionId": sid, "BackupPlanId": PLAN_ID},
            {"BackupPlanId": PLAN_ID, "SelectionId": sid},
        )
    backup.add_response(
        "list_tags", {"Tags": {"mamori:tenant": "tenant-a"}}, {"ResourceArn": PLAN_ARN}
    )

    aws_data.backup_plans(calls, REGION)

    snapshot = builder.snapshot
    assert answered(snapshot, aws) == [
        ("backup", "ListBackupPlans"),
        ("backup", "GetBackupPlan"),
        ("backup", "ListBackupSelections"),
        ("backup", "GetBackupSelection"),
        ("backup", "GetBackupSelection"),
        ("backup", "ListTags"),
    ]
    [plan] = only(snapshot, "aws.backup.plan")
    assert plan.id == PLAN_ARN
    assert plan.tags == {"mamori:tenant": "tenant-a"}
    assert plan.properties["selections"] == [
        {"name": "named-resources", "resources": [VOLUME, TABLE], "tags": []},
        {
            "name": "production-tagged",
            "resources": ["*"],
            "tags": [{"key": "mamori:env", "value": "prod"}],
        },
    ]
    assert plan.properties["rules"][0]["vault"] == VAULT
    # the plan cites its listing, the plan, the selection listing and both selections
    assert len(plan.raw) == 5


def test_recovery_points_of_a_vault(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    backup = aws.stub("backup")
    vault = {
        "BackupVaultName": VAULT,
        "BackupVaultArn": VAULT_ARN,
        "CreationDate": WHEN,
        "EncryptionKeyArn": KEY,
        "NumberOfRecoveryPoints": 2,
    }
    backup.add_response("list_backup_vaults", {"BackupVaultList": [vault]}, {})
    backup.add_response("list_tags", {"Tags": {}}, {"ResourceArn": VAULT_ARN})
    points = [
        {
            "RecoveryPointArn": f"arn:aws:ec2:{REGION}::snapshot/snap-0a1b2c3d4e5f67890",
            "BackupVaultName": VAULT,
            "BackupVaultArn": VAULT_ARN,
            "ResourceArn": VOLUME,
            "ResourceType": "EBS",
            "Status": "COMPLETED",
            "CreationDate": WHEN,
            "CompletionDate": WHEN,
            "IsEncrypted": True,
        },
        {
            "RecoveryPointArn": f"arn:aws:backup:{REGION}:{ACCOUNT}:recovery-point:orders-1",
            "BackupVaultName": VAULT,
            "BackupVaultArn": VAULT_ARN,
            "ResourceArn": TABLE,
            "ResourceType": "DynamoDB",
            "Status": "PARTIAL",
            "CreationDate": WHEN,
        },
    ]
    backup.add_response(
        "list_recovery_points_by_backup_vault",
        {"RecoveryPoints": points},
        {"BackupVaultName": VAULT},
    )

    aws_data.backup_vaults(calls, REGION)

    snapshot = builder.snapshot
    assert answered(snapshot, aws) == [
        ("backup", "ListBackupVaults"),
        ("backup", "ListTags"),
        ("backup", "ListRecoveryPointsByBackupVault"),
    ]
    recovered = {
        r.name: (
            r.properties["resource_arn"],
            r.properties["created_at"],
            r.properties["status"],
            r.properties["vault"],
        )
        for r in only(snapshot, "aws.backup.recovery_point")
    }
    assert recovered == {
        "snapshot/snap-0a1b2c3d4e5f67890": (VOLUME, WHEN, "COMPLETED", VAULT),
        "orders-1": (TABLE, WHEN, "PARTIAL", VAULT),
    }
    listing = [e for e in snapshot.coverage if e.operation == "ListRecoveryPointsByBackupVault"]
    assert [e.resource for e in listing] == [VAULT_ARN]


# --- a denied call: a failed coverage entry and an unknown property -------------------------


def test_denied_instance_information_leaves_patch_management_unknown(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    _stub_instances(aws, "i-0a1b2c3d4e5f67890")
    aws.stub("ssm").add_client_error(
        "describe_instance_information",
        service_error_code="AccessDeniedException",
        service_message="User: arn:aws:sts::123456789012:assumed-role/mamori-reader/x is not "
        "authorized to perform: ssm:DescribeInstanceInformation",
        http_status_code=400,
    )

    aws_ec2.instances(calls, REGION)

    snapshot = builder.snapshot
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()
    [failure] = snapshot.failures("aws")
    assert (failure.service, failure.operation, failure.error_code, failure.region) == (
        "ssm",
        "DescribeInstanceInformation",
        "AccessDeniedException",
        REGION,
    )
    assert "not authorized" in failure.error_message
    [instance] = only(snapshot, "aws.ec2.instance")
    patch = instance.properties["patch_managed"]
    assert is_unknown(patch) and "AccessDeniedException" in patch["$unknown"]
    # the rest of the instance is still read; it cites only the answer it has
    assert instance.properties["imds_v2_required"] is True
    assert [snapshot.raw[d].operation for d in instance.raw] == ["DescribeInstances"]


def test_denied_selection_listing_leaves_the_selections_unknown(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    backup = _stub_plan(aws)
    backup.add_client_error(
        "list_backup_selections",
        service_error_code="AccessDeniedException",
        service_message="not authorized to perform: backup:ListBackupSelections",
        http_status_code=403,
        expected_params={"BackupPlanId": PLAN_ID},
    )
    backup.add_response("list_tags", {"Tags": {}}, {"ResourceArn": PLAN_ARN})

    aws_data.backup_plans(calls, REGION)

    snapshot = builder.snapshot
    backup.assert_no_pending_responses()
    failed = [(e.operation, e.error_code, e.resource) for e in snapshot.failures("aws")]
    assert failed == [("ListBackupSelections", "AccessDeniedException", PLAN_ARN)]
    [plan] = only(snapshot, "aws.backup.plan")
    assert is_unknown(plan.properties["selections"])
    assert "AccessDeniedException" in plan.properties["selections"]["$unknown"]
    assert plan.properties["rules"][0]["name"] == "daily"  # the plan itself was read


def test_denied_default_key_and_compliance_leave_only_those_properties_unknown(
    calls: Calls, aws: StubbedSession, builder: SnapshotBuilder
) -> None:
    ec2 = aws.stub("ec2")
    ec2.add_response("get_ebs_encryption_by_default", {"EbsEncryptionByDefault": False}, {})
    ec2.add_client_error(
        "get_ebs_default_kms_key_id", "UnauthorizedOperation", http_status_code=403
    )
    config = aws.stub("config")
    config.add_response("describe_config_rules", {"ConfigRules": [_rule("encrypted-volumes")]}, {})
    config.add_client_error(
        "describe_compliance_by_config_rule", "AccessDeniedException", http_status_code=400
    )

    aws_ec2.region_settings(calls, REGION)
    aws_edge.config_rules(calls, REGION)

    snapshot = builder.snapshot
    for stubber in aws.stubbers.values():
        stubber.assert_no_pending_responses()
    failed = {(e.operation, e.error_code) for e in snapshot.failures("aws")}
    assert failed == {
        ("GetEbsDefaultKmsKeyId", "UnauthorizedOperation"),
        ("DescribeComplianceByConfigRule", "AccessDeniedException"),
    }
    [settings] = only(snapshot, "aws.ec2.region_settings")
    assert settings.properties["ebs_encryption_by_default"] is False
    assert is_unknown(settings.properties["ebs_default_kms_key"])
    [rule] = only(snapshot, "aws.config.rule")
    assert is_unknown(rule.properties["compliance"])
    assert "AccessDeniedException" in rule.properties["compliance"]["$unknown"]
