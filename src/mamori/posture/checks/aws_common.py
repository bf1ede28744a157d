"""Small helpers the `aws_*` check modules share: reading properties, places, regions."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from mamori.commitments.registry import Finding, ResultStatus
from mamori.core.clock import as_utc
from mamori.core.i18n import N_
from mamori.posture.checks.base import (
    UNKNOWN,
    PostureFacts,
    result,
    unknown_property,
)
from mamori.posture.snapshot import GLOBAL_REGION, Resource, Snapshot

NOT_COLLECTED = "not collected"
ANYWHERE = frozenset({"0.0.0.0/0", "::/0", "*", "internet", "any"})

# Types that say something about a region or account rather than hold data, and so
# neither count as "using" a region nor have to live in an allowed one.
NOT_DATA = frozenset(
    {
        "aws.account",
        "aws.ec2.region_settings",
        "aws.guardduty.detector",
        "aws.securityhub.finding",
        "aws.config.rule",
    }
)


def unread(resource: Resource, *names: str) -> tuple[str, str] | None:
    """(property, why) for the first of `names` that could not be read or is absent."""
    for name in names:
        if name not in resource.properties:
            return name, NOT_COLLECTED
        why = unknown_property(resource, name)
        if why is not None:
            return name, why
    return None


def unknown_result(facts: PostureFacts, resource: Resource, missing: tuple[str, str]) -> Finding:
    """The unknown result for a property of `resource` that could not be read."""
    return result(
        facts,
        UNKNOWN,
        resource,
        N_("%(property)s could not be read: %(reason)s"),
        {"property": missing[0], "reason": missing[1]},
    )


def place_result(
    status: ResultStatus,
    account: str,
    region: str,
    what: str,
    message: str,
    params: Mapping[str, str | int] | None = None,
    **details: Any,
) -> Finding:
    """A result about an account or a region rather than one resource."""
    return Finding(
        status,
        f"aws:{account}:{region}:{what}",
        message,
        dict(params or {}),
        {"provider": "aws", "account": account, "region": region, **details},
    )


def tail(identifier: str) -> str:
    """The last segment of an ARN or id: `vpc-1` from `arn:aws:ec2:...:vpc/vpc-1`."""
    return re.split(r"[/:]", str(identifier))[-1]


def arn_region(arn: str) -> str | None:
    """The region field of an ARN ("" for global ones); None when `arn` is not an ARN."""
    parts = str(arn).split(":")
    return parts[3] if len(parts) >= 6 and parts[0] == "arn" else None


def arn_account(arn: str) -> str | None:
    """The account field of an ARN; None when `arn` is not an ARN."""
    parts = str(arn).split(":")
    return parts[4] if len(parts) >= 6 and parts[0] == "arn" else None


def parse_time(value: Any) -> datetime | None:
    """A UTC datetime from an ISO 8601 string (or datetime); None if there is none."""
    if isinstance(value, datetime):
        return as_utc(value)
    if not isinstance(value, str) or not value:
        return None
    try:
        return as_utc(datetime.fromisoformat(value.replace("Z", "+00:00")))
    except ValueError:
        return None


def aws_resources(snapshot: Snapshot, *types: str) -> list[Resource]:
    """The AWS resources of `types` in the snapshot."""
    return [r for r in snapshot.of_type(*types) if r.provider == "aws"]


def default_infrastructure(facts: PostureFacts) -> frozenset[str]:
    """Keys of what AWS creates in every region: default VPCs, their subnets, default groups."""
    snapshot = facts.snapshot
    assert snapshot is not None  # noqa: S101 - only called under posture_check
    return facts.derived("aws_default_infrastructure", lambda: _defaults(snapshot))


def _defaults(snapshot: Snapshot) -> frozenset[str]:
    keys: set[str] = set()
    default_vpcs: set[tuple[str, str, str]] = set()
    for vpc in aws_resources(snapshot, "aws.ec2.vpc"):
        if vpc.properties.get("is_default") is True:
            keys.add(vpc.key)
            default_vpcs.add((vpc.account, vpc.region, tail(vpc.id)))
    for subnet in aws_resources(snapshot, "aws.ec2.subnet"):
        if (subnet.account, subnet.region, str(subnet.properties.get("vpc_id"))) in default_vpcs:
            keys.add(subnet.key)
    for group in aws_resources(snapshot, "aws.ec2.security_group"):
        if group.properties.get("group_name") == "default":
            keys.add(group.key)
    return frozenset(keys)


def used_regions(facts: PostureFacts) -> Mapping[str, frozenset[str]]:
    """Account -> regions holding at least one resource that is more than AWS's defaults."""
    return facts.derived("aws_used_regions", lambda: _used_regions(facts))


def _used_regions(facts: PostureFacts) -> Mapping[str, frozenset[str]]:
    snapshot = facts.snapshot
    assert snapshot is not None  # noqa: S101 - only called under posture_check
    defaults = default_infrastructure(facts)
    used: dict[str, set[str]] = {}
    for resource in snapshot.resources:
        if (
            resource.provider != "aws"
            or resource.type in NOT_DATA
            or resource.key in defaults
            or resource.region in (GLOBAL_REGION, "")
        ):
            continue
        used.setdefault(resource.account, set()).add(resource.region)
    return {account: frozenset(regions) for account, regions in used.items()}


def listing_failed(snapshot: Snapshot, service: str, account: str, region: str) -> bool:
    """Whether a listing of `service` failed in `account`/`region` (or in every region)."""
    return any(
        entry.account in (account, "") and entry.region in (region, "", GLOBAL_REGION)
        for entry in snapshot.failed_listings("aws", service)
    )


def region_list(value: Any) -> list[str]:
    """`value` as a list of strings ([] for None)."""
    return [str(item) for item in value or ()]
