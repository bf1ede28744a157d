"""The AWS collector against a moto provider with planted violations and compliant twins.

One moto world and one collection serve the module (moto sets up every region's backend
on first use, which is slow); the test that changes the world runs last.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterator, Mapping
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse, HTTPHeaders
from moto import mock_aws
from moto.core import set_initial_no_auth_action_count

from mamori.commitments.catalog_loader import DEMO_CATALOG, read_catalog
from mamori.commitments.registry import load_all_checks
from mamori.posture.attribution import AttributionRules
from mamori.posture.collectors.aws import DEFAULT_CONFIG, AwsAccount, AwsCollector
from mamori.posture.collectors.aws_calls import Answer, Calls
from mamori.posture.collectors.base import SnapshotBuilder
from mamori.posture.evaluation import commitments_of, evaluate_snapshot, facts_for
from mamori.posture.schema import TYPES
from mamori.posture.snapshot import (
    Resource,
    Snapshot,
    diff,
    is_unknown,
    read_snapshot,
    write_snapshot,
)
from tests.posture.aws_world import ACCOUNT, OSAKA, OTHER_ACCOUNT, TOKYO, World, build_world

KEYS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def session_factory(**kwargs: Any) -> boto3.Session:
    """A session with moto's test keys unless others are given."""
    return boto3.Session(**{**KEYS, **kwargs})


def collect(factory: Any = session_factory) -> Snapshot:
    """One collection of the moto account."""
    builder = SnapshotBuilder()
    AwsCollector([AwsAccount(ACCOUNT)], session_factory=factory, max_workers=1).collect(builder)
    return builder.snapshot


@pytest.fixture(scope="module")
def world() -> Iterator[World]:
    with mock_aws(), pytest.MonkeyPatch.context() as patch:
        # moto's public AMIs and their snapshots are slow to set up in every region:
        # Tokyo (where the world's own snapshots are) gets them, the other regions not
        session = session_factory(region_name="us-east-1")
        session.client("ec2", region_name=TOKYO).describe_snapshots(MaxResults=5)
        patch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")
        yield build_world(session)


@pytest.fixture(scope="module")
def snapshot(world: World) -> Snapshot:
    return collect()


def aws_id(snapshot: Snapshot, rid: str) -> Resource:
    resource = snapshot.get(f"aws:{rid}")
    assert resource is not None, rid
    return resource


def ec2_id(kind: str, rid: str, region: str = TOKYO) -> str:
    return f"arn:aws:ec2:{region}:{ACCOUNT}:{kind}/{rid}"


def bucket(snapshot: Snapshot, name: str) -> Resource:
    return aws_id(snapshot, f"arn:aws:s3:::{name}")


def test_every_resource_follows_the_schema(snapshot: Snapshot) -> None:
    assert snapshot.resources
    for resource in snapshot.resources:
        assert resource.type in TYPES, resource.type
        assert set(resource.properties) <= set(TYPES[resource.type].properties), resource.id
        assert resource.raw, resource.id
        assert all(digest in snapshot.raw for digest in resource.raw), resource.id


def test_every_region_is_enumerated(snapshot: Snapshot) -> None:
    regions = snapshot.scope["aws"][ACCOUNT]
    assert {TOKYO, OSAKA, "us-east-1", "eu-west-1"} <= set(regions)
    assert len(regions) > 20
    account = aws_id(snapshot, f"arn:aws:iam::{ACCOUNT}:root")
    assert "ap-east-1" in account.properties["regions"]
    assert "ap-east-1" not in account.properties["enabled_regions"]
    listed = {e.region for e in snapshot.coverage if e.operation == "DescribeVpcs"}
    assert listed == set(account.properties["enabled_regions"])


def test_buckets_are_in_their_own_regions(snapshot: Snapshot, world: World) -> None:
    assert bucket(snapshot, world.buckets["us"]).region == "us-east-1"
    assert bucket(snapshot, world.buckets["replica"]).region == "us-west-2"
    assert bucket(snapshot, world.buckets["locked"]).region == OSAKA
    assert bucket(snapshot, world.buckets["compliant"]).tags["mamori:tenant"] == "tenant-a"


def test_bucket_properties(snapshot: Snapshot, world: World) -> None:
    good = bucket(snapshot, world.buckets["compliant"]).properties
    assert good["encryption"] == {"algorithm": "aws:kms", "kms_key": "alias/tenant-a"}
    assert good["secure_transport_denied"] is True
    assert good["public_access_blocked"] is True
    assert good["versioning"] == "Enabled"
    assert good["lifecycle"] == [
        {"id": "expire", "enabled": True, "prefix": "tmp/", "expiration_days": 30}
    ]
    assert good["log_bucket"] is False
    loose = bucket(snapshot, world.buckets["loose"]).properties
    assert loose["secure_transport_denied"] is False
    assert loose["cross_account_principals"] == [OTHER_ACCOUNT]
    assert loose["public_access_blocked"] is False
    assert loose["lifecycle"] == []
    assert loose["object_lock"] is False
    assert isinstance(loose["policy"], dict)
    assert bucket(snapshot, world.buckets["us"]).properties["policy"] is None
    assert bucket(snapshot, world.buckets["locked"]).properties["object_lock"] is True
    assert bucket(snapshot, world.buckets["trail_logs"]).properties["log_bucket"] is True
    replicated = bucket(snapshot, world.buckets["replicated"]).properties
    assert replicated["replication_destinations"] == [
        {"bucket": f"arn:aws:s3:::{world.buckets['replica']}", "region": "us-west-2"}
    ]


def test_not_configured_is_an_answer_not_a_failure(snapshot: Snapshot, world: World) -> None:
    arn = f"arn:aws:s3:::{world.buckets['us']}"
    calls = [e for e in snapshot.coverage if e.resource == arn]
    assert {e.operation for e in calls} >= {"GetBucketPolicy", "GetBucketLifecycleConfiguration"}
    assert all(e.ok for e in calls)
    bodies = [r.body for r in snapshot.raw.values() if r.operation == "GetBucketPolicy"]
    assert {"error": "NoSuchBucketPolicy"} in bodies


def test_log_groups_retention_and_filters(snapshot: Snapshot, world: World) -> None:
    retention = {
        role: aws_id(snapshot, arn).properties["retention_days"]
        for role, arn in world.log_groups.items()
    }
    assert retention == {"short": 30, "long": 400, "forever": None}
    filters = aws_id(snapshot, world.log_groups["long"]).properties["metric_filters"]
    assert [f["metric_name"] for f in filters] == ["RootLogin"]


def test_ebs_volumes_and_snapshots(snapshot: Snapshot, world: World) -> None:
    for role, encrypted in (("plain", False), ("encrypted", True)):
        volume = aws_id(snapshot, ec2_id("volume", world.volumes[role]))
        assert volume.properties["encrypted"] is encrypted
        snap = aws_id(snapshot, ec2_id("snapshot", world.snapshots[role]))
        assert snap.properties["encrypted"] is encrypted
        assert snap.properties["volume_id"] == world.volumes[role]
    stale = aws_id(snapshot, ec2_id("snapshot", world.snapshots["stale"]))
    assert str(stale.properties["started_at"]) < "2025"


def test_public_moto_snapshots_are_not_collected(snapshot: Snapshot, world: World) -> None:
    ours = {ec2_id("snapshot", sid) for sid in world.snapshots.values()}
    assert {r.id for r in snapshot.of_type("aws.ec2.snapshot")} == ours


def test_databases(snapshot: Snapshot, world: World) -> None:
    assert aws_id(snapshot, world.rds["plain"]).properties["encrypted"] is False
    encrypted = aws_id(snapshot, world.rds["encrypted"]).properties
    assert encrypted["encrypted"] is True
    assert encrypted["backup_retention_days"] == 7
    efs = {role: aws_id(snapshot, arn) for role, arn in world.efs.items()}
    assert efs["plain"].properties == {"encrypted": False}
    assert efs["encrypted"].properties == {"encrypted": True}
    assert efs["plain"].region == OSAKA
    table = aws_id(snapshot, world.table)
    assert table.properties["point_in_time_recovery"] is True
    assert table.tags["mamori:service"] == "app"


def test_security_groups_and_peering(snapshot: Snapshot, world: World) -> None:
    def inbound(role: str) -> list[dict[str, Any]]:
        group = aws_id(snapshot, ec2_id("security-group", world.groups[role]))
        return [r for r in group.properties["rules"] if r["direction"] == "inbound"]

    assert [(r["from_port"], r["sources"]) for r in inbound("ssh")] == [(22, ["0.0.0.0/0"])]
    assert [(r["from_port"], r["sources"]) for r in inbound("https")] == [(443, ["0.0.0.0/0"])]
    crossed = inbound("cross_tenant")[0]
    assert crossed["source_groups"] == [{"group_id": world.groups["https"], "account": ACCOUNT}]
    peering = aws_id(snapshot, ec2_id("vpc-peering-connection", world.peering)).properties
    assert peering["requester"]["vpc_id"] == world.vpcs["tenant-a"]
    assert peering["accepter"]["vpc_id"] == world.vpcs["tenant-b"]
    assert peering["status"] == "active"


def test_instances(snapshot: Snapshot, world: World) -> None:
    v1 = aws_id(snapshot, ec2_id("instance", world.instances["imds_v1"])).properties
    v2 = aws_id(snapshot, ec2_id("instance", world.instances["imds_v2"])).properties
    assert (v1["imds_v2_required"], v2["imds_v2_required"]) == (False, True)
    # moto has no DescribeInstanceInformation: patch management is unknown, not False
    assert is_unknown(v1["patch_managed"])
    assert "NotImplemented" in v1["patch_managed"]["$unknown"]


def test_trails(snapshot: Snapshot, world: World) -> None:
    weak = aws_id(snapshot, world.trails["weak"]).properties
    strong = aws_id(snapshot, world.trails["strong"]).properties
    assert (weak["multi_region"], weak["log_file_validation"]) == (False, False)
    assert (strong["multi_region"], strong["log_file_validation"]) == (True, True)
    assert strong["logging"] is True
    assert strong["s3_bucket"] == world.buckets["trail_logs"]
    # a multi-region trail is one resource, not one per region
    assert len(snapshot.of_type("aws.cloudtrail.trail")) == 2


def test_load_balancers(snapshot: Snapshot, world: World) -> None:
    http = aws_id(snapshot, world.load_balancers["http"]).properties
    https = aws_id(snapshot, world.load_balancers["https"]).properties
    assert http["scheme"] == "internet-facing"
    assert [(li["protocol"], li["min_tls"]) for li in http["listeners"]] == [("HTTP", None)]
    assert [(li["protocol"], li["min_tls"]) for li in https["listeners"]] == [("HTTPS", "TLSv1.2")]
    assert https["web_acl"] == world.web_acl
    assert http["web_acl"] is None


def test_cloudfront_api_stages_and_transit_gateways(snapshot: Snapshot, world: World) -> None:
    plain = aws_id(snapshot, world.distributions["plain_http"])
    https = aws_id(snapshot, world.distributions["https"]).properties
    assert plain.region == "global"
    assert plain.tags["mamori:tenant"] == "tenant-a"
    assert plain.properties["viewer_protocol_policies"] == ["allow-all"]
    assert https["viewer_protocol_policies"] == ["redirect-to-https"]
    assert https["origin_protocol_policies"] == ["https-only"]
    assert https["minimum_protocol_version"] == "TLSv1.2_2021"
    stages = {role: aws_id(snapshot, arn).properties for role, arn in world.api_stages.items()}
    assert stages["open"]["endpoint_type"] == "REGIONAL"
    assert (stages["open"]["web_acl"], stages["guarded"]["web_acl"]) == (None, world.web_acl)
    attached = {
        role: aws_id(snapshot, ec2_id("transit-gateway-attachment", aid)).properties
        for role, aid in world.attachments.items()
    }
    assert attached["tenant-a"]["transit_gateway_id"] == attached["tenant-b"]["transit_gateway_id"]
    assert attached["alone"]["transit_gateway_id"] != attached["tenant-a"]["transit_gateway_id"]
    assert (attached["tenant-b"]["resource_type"], attached["tenant-b"]["resource_id"]) == (
        "vpc",
        world.vpcs["tenant-b"],
    )


def test_guardduty_kms_backup_iam(snapshot: Snapshot, world: World) -> None:
    detectors = snapshot.of_type("aws.guardduty.detector")
    assert [(d.region, d.properties["enabled"]) for d in detectors] == [(TOKYO, True)]
    assert detectors[0].properties["malware_protection"] is True
    key = aws_id(snapshot, world.kms_key).properties
    assert key == {"multi_region": True, "replica_regions": [OSAKA]}
    vault = aws_id(snapshot, world.vault).properties
    assert vault == {"kms_key": world.kms_key, "encrypted": True}
    plan = aws_id(snapshot, world.plan)
    assert plan.properties["rules"][0]["copy_destinations"][0].startswith(f"arn:aws:backup:{OSAKA}")
    assert is_unknown(plan.properties["selections"])  # moto lacks ListBackupSelections
    role = aws_id(snapshot, world.role)
    assert role.region == "global"
    assert role.properties == {"trusted_accounts": [OTHER_ACCOUNT]}


def test_native_attestations(snapshot: Snapshot, world: World) -> None:
    rule = aws_id(snapshot, world.config_rule)
    # moto has no DescribeComplianceByConfigRule: the rule is known, its verdict is not
    assert is_unknown(rule.properties["compliance"])
    finding = aws_id(snapshot, world.finding).properties
    assert finding["compliance"] == "FAILED"
    assert finding["control_id"] == "S3.5"
    assert finding["severity"] == "MEDIUM"
    assert finding["resource_ids"] == ["arn:aws:s3:::tenant-b-loose"]
    assert "aws-foundational-security-best-practices" in finding["standard"]


def test_assumed_role_session_keeps_no_secrets(world: World) -> None:
    builder = SnapshotBuilder()
    collector = AwsCollector([], session_factory=session_factory)
    role = f"arn:aws:iam::{OTHER_ACCOUNT}:role/mamori-reader"
    session = collector._session(builder, AwsAccount(OTHER_ACCOUNT, role, "ext-1"))
    identity = session.client("sts", region_name=TOKYO).get_caller_identity()
    assert identity["Account"] == OTHER_ACCOUNT
    [raw] = builder.snapshot.raw.values()
    assert raw.operation == "AssumeRole"
    assert set(raw.body["Credentials"]) == {"Expiration"}


def test_moto_gaps_are_recorded_as_failed_calls(snapshot: Snapshot) -> None:
    failed = {(e.service, e.operation, e.error_code) for e in snapshot.failures("aws")}
    assert ("ec2", "GetEbsDefaultKmsKeyId", "NotImplemented") in failed
    assert ("ssm", "DescribeInstanceInformation", "NotImplemented") in failed


def test_written_snapshot_reads_back_equal(snapshot: Snapshot) -> None:
    buffer = io.BytesIO()
    write_snapshot(snapshot, buffer)
    buffer.seek(0)
    again = read_snapshot(buffer)
    assert again.digest() == snapshot.digest()
    assert diff(snapshot, again).empty


def evaluated(snapshot: Snapshot, **parameters: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(check, subject) -> status of every posture check, with the demo catalog's parameters
    (and `parameters` merged into the commitments named by their keys)."""
    registry = load_all_checks()
    commitments = commitments_of(read_catalog(DEMO_CATALOG, registry))
    for commitment in commitments:
        commitment.parameters = {**commitment.parameters, **parameters.get(commitment.id, {})}
    facts = facts_for(snapshot, AttributionRules())
    found = evaluate_snapshot(facts, registry, commitments)
    return {(check, finding.subject): str(finding.status) for check, finding in found}


PRODUCTION_APP = {"backup": {"production_tags": {"mamori:service": ["app"]}}}


def planted(world: World) -> list[tuple[str, str, str]]:
    """(check, subject, expected status): every planted violation and its compliant twin."""
    bucket = "aws:arn:aws:s3:::{}".format
    ec2 = lambda kind, rid, region=TOKYO: f"aws:{ec2_id(kind, rid, region)}"  # noqa: E731
    lbs = world.load_balancers
    return [
        ("aws_resources_in_allowed_regions", bucket(world.buckets["us"]), "fail"),
        ("aws_resources_in_allowed_regions", bucket(world.buckets["compliant"]), "pass"),
        ("aws_s3_replication_in_allowed_regions", bucket(world.buckets["replicated"]), "fail"),
        ("aws_s3_replication_in_allowed_regions", bucket(world.buckets["compliant"]), "pass"),
        ("aws_s3_default_encryption", bucket(world.buckets["loose"]), "fail"),
        ("aws_s3_default_encryption", bucket(world.buckets["compliant"]), "pass"),
        ("aws_s3_secure_transport", bucket(world.buckets["loose"]), "fail"),
        ("aws_s3_secure_transport", bucket(world.buckets["compliant"]), "pass"),
        ("aws_log_groups_retention", f"aws:{world.log_groups['short']}", "fail"),
        ("aws_log_groups_retention", f"aws:{world.log_groups['long']}", "pass"),
        ("aws_ebs_volumes_encrypted", ec2("volume", world.volumes["plain"]), "fail"),
        ("aws_ebs_volumes_encrypted", ec2("volume", world.volumes["encrypted"]), "pass"),
        ("aws_ebs_snapshots_encrypted", ec2("snapshot", world.snapshots["plain"]), "fail"),
        ("aws_ebs_snapshots_encrypted", ec2("snapshot", world.snapshots["encrypted"]), "pass"),
        ("aws_production_backups_recent", ec2("volume", world.volumes["neglected"]), "fail"),
        ("aws_production_backups_recent", ec2("volume", world.volumes["encrypted"]), "pass"),
        ("aws_rds_storage_encrypted", f"aws:{world.rds['plain']}", "fail"),
        ("aws_rds_storage_encrypted", f"aws:{world.rds['encrypted']}", "pass"),
        ("aws_efs_encrypted", f"aws:{world.efs['plain']}", "fail"),
        ("aws_efs_encrypted", f"aws:{world.efs['encrypted']}", "pass"),
        ("aws_no_admin_ports_open_to_internet", ec2("security-group", world.groups["ssh"]), "fail"),
        (
            "aws_no_admin_ports_open_to_internet",
            ec2("security-group", world.groups["https"]),
            "pass",
        ),
        (
            "aws_security_group_tenant_segregation",
            ec2("security-group", world.groups["cross_tenant"]),
            "fail",
        ),
        (
            "aws_vpc_peering_tenant_segregation",
            ec2("vpc-peering-connection", world.peering),
            "fail",
        ),
        ("aws_instances_imdsv2_required", ec2("instance", world.instances["imds_v1"]), "fail"),
        ("aws_instances_imdsv2_required", ec2("instance", world.instances["imds_v2"]), "pass"),
        ("aws_load_balancer_listeners_tls", f"aws:{lbs['http']}", "fail"),
        ("aws_load_balancer_listeners_tls", f"aws:{lbs['https']}", "pass"),
        ("aws_waf_on_public_endpoints", f"aws:{lbs['http']}", "fail"),
        ("aws_waf_on_public_endpoints", f"aws:{lbs['https']}", "pass"),
        ("aws_waf_on_public_endpoints", f"aws:{world.api_stages['open']}", "fail"),
        ("aws_waf_on_public_endpoints", f"aws:{world.api_stages['guarded']}", "pass"),
        ("aws_cloudfront_tls", f"aws:{world.distributions['plain_http']}", "fail"),
        ("aws_cloudfront_tls", f"aws:{world.distributions['https']}", "pass"),
        (
            "aws_transit_gateway_tenant_segregation",
            ec2("transit-gateway-attachment", world.attachments["tenant-a"]),
            "fail",
        ),
        (
            "aws_transit_gateway_tenant_segregation",
            ec2("transit-gateway-attachment", world.attachments["tenant-b"]),
            "fail",
        ),
        (
            "aws_transit_gateway_tenant_segregation",
            ec2("transit-gateway-attachment", world.attachments["alone"]),
            "pass",
        ),
        ("aws_guardduty_in_used_regions", f"aws:{ACCOUNT}:{OSAKA}:guardduty", "fail"),
        ("aws_security_event_alarms", f"aws:{ACCOUNT}:global:security-alarms", "fail"),
    ]


def test_every_planted_violation_is_found_and_every_twin_passes(
    snapshot: Snapshot, world: World
) -> None:
    results = evaluated(snapshot, **PRODUCTION_APP)
    wrong = [
        (check, subject, expected, results.get((check, subject), "missing"))
        for check, subject, expected in planted(world)
        if results.get((check, subject)) != expected
    ]
    assert wrong == []


def test_commitment_parameters_change_the_outcome(snapshot: Snapshot, world: World) -> None:
    us = ("aws_resources_in_allowed_regions", f"aws:arn:aws:s3:::{world.buckets['us']}")
    short = ("aws_log_groups_retention", f"aws:{world.log_groups['short']}")
    regions = {"aws": [TOKYO, OSAKA, "us-east-1"], "azure": ["japaneast"]}
    changes: dict[str, Mapping[str, Any]] = {
        "data-storage-location": {"allowed_regions": regions},
        "event-logging": {"log_retention_months": 1},
    }
    relaxed = evaluated(snapshot, **changes)
    assert relaxed[us] == "pass" and relaxed[short] == "pass"


def test_the_trail_bucket_without_object_lock_is_found(snapshot: Snapshot, world: World) -> None:
    results = evaluated(snapshot)
    trail = ("aws_cloudtrail_multi_region_protected", f"aws:{world.trails['strong']}")
    assert results[trail] == "fail"


def test_a_saved_and_loaded_snapshot_evaluates_identically(snapshot: Snapshot) -> None:
    buffer = io.BytesIO()
    write_snapshot(snapshot, buffer)
    buffer.seek(0)
    again = read_snapshot(buffer)
    assert evaluated(again, **PRODUCTION_APP) == evaluated(snapshot, **PRODUCTION_APP)


def test_throttled_call_is_retried(world: World, monkeypatch: pytest.MonkeyPatch) -> None:
    from botocore.retries import bucket, standard

    waits: list[str] = []

    def no_backoff(*_: Any) -> float:
        waits.append("backoff")
        return 0.0

    # botocore's backoff and adaptive rate limiting sleep for seconds; record them instead
    monkeypatch.setattr(standard.ExponentialBackoff, "delay_amount", no_backoff)
    monkeypatch.setattr(bucket.TokenBucket, "_sleep_amount", lambda *_: 0.0)
    session = session_factory()
    throttles = iter([True, True])

    def throttle(request: Any, **_: Any) -> AWSResponse | None:
        if next(throttles, False):
            body = json.dumps({"__type": "ThrottlingException", "message": "Rate exceeded"})
            headers = HTTPHeaders()
            headers["x-amzn-ErrorType"] = "ThrottlingException"
            return AWSResponse(request.url, 400, headers, _Raw(body))
        return None

    # first in line, so it answers before moto does
    events: Any = session.events  # the stubs type handlers as returning None
    events.register_first("before-send.guardduty.ListDetectors", throttle)
    builder = SnapshotBuilder()
    answer = Calls(builder, ACCOUNT, session, DEFAULT_CONFIG).pages(
        TOKYO, "guardduty", "list_detectors"
    )
    assert isinstance(answer, Answer)
    assert answer.body["DetectorIds"] == [world.detector]
    assert waits == ["backoff", "backoff"]
    assert [e.ok for e in builder.snapshot.coverage] == [True]


class _Raw:
    def __init__(self, body: str) -> None:
        self._body = body.encode()

    def stream(self, **_: Any) -> Iterator[bytes]:
        yield self._body


def test_missing_permission_is_recorded_and_yields_nothing(world: World) -> None:
    iam = session_factory(region_name="us-east-1").client("iam")
    deny_rds = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Action": "*", "Resource": "*"},
            {"Effect": "Deny", "Action": "rds:*", "Resource": "*"},
        ],
    }

    # moto enforces IAM after the three unauthenticated calls that create the user
    @set_initial_no_auth_action_count(3)
    def collect_as_limited_user() -> Snapshot:
        iam.create_user(UserName="auditor")
        iam.put_user_policy(
            UserName="auditor", PolicyName="no-rds", PolicyDocument=json.dumps(deny_rds)
        )
        key = iam.create_access_key(UserName="auditor")["AccessKey"]
        keys = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }
        return collect(lambda **kwargs: boto3.Session(**{**kwargs, **keys}))

    limited = collect_as_limited_user()
    failures = limited.failures("aws", "rds")
    in_tokyo = {(f.operation, f.error_code, f.resource) for f in failures if f.region == TOKYO}
    assert in_tokyo == {
        ("DescribeDBInstances", "AccessDenied", ""),
        ("DescribeDBClusters", "AccessDenied", ""),
        ("DescribeDBSnapshots", "AccessDenied", ""),
    }
    assert all("not authorized" in f.error_message for f in failures if f.region == TOKYO)
    # moto also lists the GovCloud and China regions, where the user's keys do not exist
    assert {f.error_code for f in failures} <= {"AccessDenied", "InvalidClientTokenId"}
    enabled = {e.region for e in limited.coverage if e.operation == "DescribeVpcs"}
    assert {f.region for f in failures} == enabled
    assert not limited.of_type("aws.rds.instance", "aws.rds.cluster", "aws.rds.snapshot")
    assert {e.service for e in limited.coverage if not e.ok} >= {"rds"}
    assert limited.of_type("aws.s3.bucket")
    assert limited.of_type("aws.ec2.instance")
    assert limited.of_type("aws.logs.log_group")
    # The checks of the service that could not be read are unknown, naming the call,
    # never a pass; the other services' checks still decide.
    results = evaluated(limited)
    rds = {
        subject: status
        for (check, subject), status in results.items()
        if check == "aws_rds_storage_encrypted"
    }
    assert rds[f"aws:{ACCOUNT}:{TOKYO}:rds"] == "unknown"
    assert set(rds.values()) == {"unknown"}
    assert results[("aws_s3_default_encryption", "aws:arn:aws:s3:::tenant-b-loose")] == "fail"


def test_diff_after_changing_the_world_names_the_changes(snapshot: Snapshot, world: World) -> None:
    s3 = session_factory(region_name=TOKYO).client("s3")
    s3.put_bucket_encryption(
        Bucket=world.buckets["loose"],
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.create_bucket(Bucket="tenant-c-new", CreateBucketConfiguration={"LocationConstraint": TOKYO})
    after = collect()
    changes = diff(snapshot, after)
    assert [r.id for r in changes.added] == ["arn:aws:s3:::tenant-c-new"]
    assert not changes.removed
    # an RDS instance's latest restorable time moves on by itself, in AWS as in moto
    changed = [c for c in changes.changed if c.fields != ("properties.latest_restorable_time",)]
    assert [(c.key, c.fields) for c in changed] == [
        (f"aws:arn:aws:s3:::{world.buckets['loose']}", ("properties.encryption",))
    ]
