"""Shared helpers for posture tests: build resources and run one check on them."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from mamori.commitments.registry import CheckContext, Finding, registry
from mamori.posture.attribution import Attribution
from mamori.posture.checks.base import PostureFacts
from mamori.posture.snapshot import CoverageEntry, Resource, Snapshot

NOW = datetime(2026, 11, 27, 3, 0, tzinfo=UTC)


@dataclass
class FakeRecords:
    """The part of `evaluation.Records` posture checks read."""

    extra: Mapping[str, Any] = field(default_factory=dict)


def aws(
    kind: str,
    name: str,
    region: str = "ap-northeast-1",
    account: str = "111111111111",
    tags: Mapping[str, str] | None = None,
    **properties: Any,
) -> Resource:
    """An AWS resource of type `aws.<kind>` named `name`."""
    return Resource(
        "aws",
        account,
        region,
        f"aws.{kind}",
        f"arn:aws:{kind}:{region}:{account}:{name}",
        name,
        dict(tags or {}),
        properties,
        (),
    )


def azure(
    kind: str,
    name: str,
    region: str = "japaneast",
    subscription: str = "sub-1",
    tags: Mapping[str, str] | None = None,
    **properties: Any,
) -> Resource:
    """An Azure resource of type `azure.<kind>` named `name`."""
    rid = f"/subscriptions/{subscription}/resourceGroups/rg/providers/{kind}/{name}"
    return Resource(
        "azure", subscription, region, f"azure.{kind}", rid, name, dict(tags or {}), properties, ()
    )


def snapshot_of(resources: Iterable[Resource], coverage: Iterable[CoverageEntry] = ()) -> Snapshot:
    """A snapshot holding `resources` and `coverage`."""
    snapshot = Snapshot(collected_at=NOW, coverage=list(coverage))
    for resource in resources:
        snapshot.add(resource)
    return snapshot


def run_check(
    check_id: str,
    snapshot: Snapshot | None,
    parameters: Mapping[str, Any] | None = None,
    attribution: Mapping[str, Attribution] | None = None,
    network_policy: Mapping[str, str] | None = None,
) -> list[Finding]:
    """The findings of the registered check `check_id` over `snapshot`."""
    import mamori.posture.checks  # noqa: F401 - registers the posture checks

    definition = registry.get(check_id)
    assert definition is not None, f"check {check_id} is not registered"
    facts = PostureFacts(snapshot, dict(attribution or {}), None, dict(network_policy or {}))
    context = CheckContext(
        records=FakeRecords({"posture": facts}), parameters=dict(parameters or {})
    )
    return definition.run(context)


def by_subject(findings: Iterable[Finding]) -> dict[str, list[Finding]]:
    """Findings grouped by subject."""
    grouped: dict[str, list[Finding]] = {}
    for finding in findings:
        grouped.setdefault(finding.subject, []).append(finding)
    return grouped


def failed_listing(
    service: str,
    operation: str = "List",
    account: str = "111111111111",
    region: str = "ap-northeast-1",
    provider: str = "aws",
) -> CoverageEntry:
    """A listing call of `service` that failed with AccessDenied."""
    return CoverageEntry(provider, account, region, service, operation, False, "AccessDenied", "no")


def statuses(findings: Iterable[Finding]) -> list[str]:
    """The statuses of `findings`, as plain strings, in order."""
    return [str(finding.status) for finding in findings]


def statuses_of(findings: Iterable[Finding], resource: Resource) -> list[str]:
    """The statuses of the findings about `resource`."""
    return [str(finding.status) for finding in findings if finding.subject == resource.key]


def with_properties(resource: Resource, **properties: Any) -> Resource:
    """`resource` with `properties` added (for names `aws()` takes itself, like `kind`)."""
    from dataclasses import replace

    return replace(resource, properties={**resource.properties, **properties})
