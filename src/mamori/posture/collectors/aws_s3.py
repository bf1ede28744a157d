"""S3 buckets: listed once per account, each read in its own region.

A bucket's region is its location (an empty LocationConstraint is us-east-1, the legacy
"EU" is eu-west-1). Whether a bucket receives logs depends on every trail and every other
bucket, so buckets are read first and their resources added once all is known.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any, TypeVar

from mamori.posture.collectors.aws_calls import Answer, Calls, Failure, digests, get, tag_dict
from mamori.posture.collectors.aws_policy import (
    denies_insecure_transport,
    document,
    principal_accounts,
)
from mamori.posture.snapshot import GLOBAL_REGION

UNKNOWN_LOCATION = "unknown"  # GetBucketLocation failed; the coverage record says why
_LEGACY_LOCATIONS = {"": "us-east-1", "EU": "eu-west-1"}
_T = TypeVar("_T")
_R = TypeVar("_R")
Mapper = Callable[[Callable[[_T], _R], Iterable[_T]], Iterator[_R]]


@dataclass
class _Bucket:
    name: str
    arn: str
    region: str = UNKNOWN_LOCATION
    properties: dict[str, Any] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    raw: tuple[str, ...] = ()
    log_target: str | None = None


def collect_s3(calls: Calls, trail_buckets: Iterable[str], mapper: Mapper[Any, Any] = map) -> None:
    """Every bucket of the account; `trail_buckets` receive CloudTrail logs."""
    listing = calls.pages(GLOBAL_REGION, "s3", "list_buckets")
    if isinstance(listing, Failure):
        return
    buckets = [
        _Bucket(str(b["Name"]), f"arn:aws:s3:::{b['Name']}")
        for b in listing.body.get("Buckets", [])
    ]
    list(mapper(lambda bucket: _locate(calls, bucket), buckets))
    locations = {bucket.name: bucket.region for bucket in buckets}
    list(mapper(lambda bucket: _read(calls, bucket, locations), buckets))
    log_buckets = set(trail_buckets) | {b.log_target for b in buckets if b.log_target}
    for bucket in buckets:
        bucket.properties["log_bucket"] = bucket.name in log_buckets
        raw = (listing.digest, *bucket.raw)
        calls.add(
            bucket.region,
            "aws.s3.bucket",
            bucket.arn,
            bucket.name,
            bucket.tags,
            bucket.properties,
            raw,
        )


def location(constraint: Any) -> str:
    """The region a GetBucketLocation LocationConstraint names."""
    value = str(constraint or "")
    return _LEGACY_LOCATIONS.get(value, value)


def _locate(calls: Calls, bucket: _Bucket) -> None:
    answer = calls.call(
        GLOBAL_REGION, "s3", "get_bucket_location", resource=bucket.arn, Bucket=bucket.name
    )
    if isinstance(answer, Answer):
        bucket.region = location(answer.body.get("LocationConstraint"))
        bucket.raw += (answer.digest,)


def _read(calls: Calls, bucket: _Bucket, locations: dict[str, str]) -> None:
    region = bucket.region if bucket.region != UNKNOWN_LOCATION else GLOBAL_REGION

    def call(operation: str, *absent: str) -> Answer | Failure:
        answer = calls.call(region, "s3", operation, bucket.arn, absent, Bucket=bucket.name)
        bucket.raw += digests(answer)
        return answer

    props = bucket.properties
    props["encryption"] = _encryption(
        call("get_bucket_encryption", "ServerSideEncryptionConfigurationNotFoundError")
    )
    props.update(_policy(call("get_bucket_policy", "NoSuchBucketPolicy"), calls.account))
    props["public_access_blocked"] = _blocked(
        call("get_public_access_block", "NoSuchPublicAccessBlockConfiguration")
    )
    versioning = call("get_bucket_versioning")
    props["versioning"] = _field(versioning, "Status")
    mfa = _field(versioning, "MFADelete")
    props["mfa_delete"] = mfa if isinstance(mfa, dict) else mfa == "Enabled"
    lock = call("get_object_lock_configuration", "ObjectLockConfigurationNotFoundError")
    enabled = _field(lock, "ObjectLockConfiguration", "ObjectLockEnabled")
    props["object_lock"] = enabled if isinstance(enabled, dict) else enabled == "Enabled"
    props["lifecycle"] = _lifecycle(
        call("get_bucket_lifecycle_configuration", "NoSuchLifecycleConfiguration")
    )
    props["replication_destinations"] = _replication(
        call("get_bucket_replication", "ReplicationConfigurationNotFoundError"), locations
    )
    tagging = call("get_bucket_tagging", "NoSuchTagSet")
    bucket.tags = tag_dict(tagging.body.get("TagSet")) if isinstance(tagging, Answer) else {}
    logging = call("get_bucket_logging")
    bucket.log_target = (
        _field(logging, "LoggingEnabled", "TargetBucket") if isinstance(logging, Answer) else None
    )


def _field(answer: Answer | Failure, *path: str) -> Any:
    if isinstance(answer, Failure):
        return answer.unknown()
    return None if answer.absent else get(answer.body, *path)


def _encryption(answer: Answer | Failure) -> Any:
    if isinstance(answer, Failure):
        return answer.unknown()
    rules = get(answer.body, "ServerSideEncryptionConfiguration", "Rules") or []
    for rule in rules:
        default = rule.get("ApplyServerSideEncryptionByDefault") or {}
        if default.get("SSEAlgorithm"):
            return {"algorithm": default["SSEAlgorithm"], "kms_key": default.get("KMSMasterKeyID")}
    return None


def _policy(answer: Answer | Failure, account: str) -> dict[str, Any]:
    if isinstance(answer, Failure):
        why = answer.unknown()
        return {"policy": why, "secure_transport_denied": why, "cross_account_principals": why}
    policy = None if answer.absent else document(answer.body.get("Policy"))
    return {
        "policy": policy,
        "secure_transport_denied": denies_insecure_transport(policy),
        "cross_account_principals": principal_accounts(policy, account),
    }


def _blocked(answer: Answer | Failure) -> Any:
    if isinstance(answer, Failure):
        return answer.unknown()
    flags = get(answer.body, "PublicAccessBlockConfiguration") or {}
    names = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy", "RestrictPublicBuckets")
    return not answer.absent and all(flags.get(name) is True for name in names)


def _lifecycle(answer: Answer | Failure) -> Any:
    if isinstance(answer, Failure):
        return answer.unknown()
    found = []
    for rule in answer.body.get("Rules") or []:
        prefix = rule.get("Prefix") or get(rule, "Filter", "Prefix") or ""
        found.append(
            {
                "id": rule.get("ID"),
                "enabled": rule.get("Status") == "Enabled",
                "prefix": prefix,
                "expiration_days": get(rule, "Expiration", "Days"),
            }
        )
    return found


def _replication(answer: Answer | Failure, locations: dict[str, str]) -> Any:
    if isinstance(answer, Failure):
        return answer.unknown()
    found = []
    for rule in get(answer.body, "ReplicationConfiguration", "Rules") or []:
        target = str(get(rule, "Destination", "Bucket") or "")
        name = target.removeprefix("arn:aws:s3:::")
        region = locations.get(name)
        found.append({"bucket": target, "region": None if region == UNKNOWN_LOCATION else region})
    return found
