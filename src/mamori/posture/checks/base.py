"""What every posture check shares: reading the snapshot, unknowns, results, parameters.

Checks are declared with `posture_check`, which adds two rules to every check: with no
snapshot collected yet the check is unknown, and every failed listing call of the
services behind the check's resource types is an unknown result naming the call, so a
region or account that could not be read never passes silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity, check
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.attribution import UNATTRIBUTED, Attribution
from mamori.posture.schema import TYPES
from mamori.posture.snapshot import UNKNOWN_KEY, Resource, Snapshot, is_unknown

PASS = ResultStatus.PASS
FAIL = ResultStatus.FAIL
UNKNOWN = ResultStatus.UNKNOWN
NOT_APPLICABLE = ResultStatus.NOT_APPLICABLE

DEFAULT_REGIONS = {
    "aws": ("ap-northeast-1", "ap-northeast-3"),
    "azure": ("japaneast", "japanwest"),
}


@dataclass
class PostureFacts:
    """What posture checks read: the latest snapshot and where each resource belongs."""

    snapshot: Snapshot | None
    attribution: Mapping[str, Attribution] = field(default_factory=dict)  # by resource key
    snapshot_id: int | None = None
    # service id -> "dedicated" or "shared" network, from the attribution file
    network_policy: Mapping[str, str] = field(default_factory=dict)

    def of(self, resource: Resource) -> Attribution:
        """The attribution of `resource` (UNATTRIBUTED when none was made)."""
        return self.attribution.get(resource.key, UNATTRIBUTED)


def posture_facts(context: CheckContext) -> PostureFacts:
    """The posture facts of this evaluation (an empty one when nothing was collected)."""
    extra = getattr(context.records, "extra", {}) or {}
    facts = extra.get("posture")
    return facts if isinstance(facts, PostureFacts) else PostureFacts(snapshot=None)


def result(
    facts: PostureFacts,
    status: ResultStatus,
    resource: Resource,
    message: str,
    params: Mapping[str, str | int] | None = None,
    **details: Any,
) -> Finding:
    """A result about `resource`, carrying its place, attribution and raw-response digests."""
    place = facts.of(resource)
    return Finding(
        status,
        resource.key,
        message,
        dict(params or {}),
        {
            "resource": resource.id,
            "type": resource.type,
            "provider": resource.provider,
            "account": resource.account,
            "region": resource.region,
            "service": place.service,
            "tenant": place.tenant,
            "raw": list(resource.raw),
            **details,
        },
    )


def unknown_property(resource: Resource, *names: str) -> str | None:
    """Why the first of `names` that could not be read is unknown; None if all were read."""
    for name in names:
        value = resource.properties.get(name)
        if isinstance(value, Mapping) and is_unknown(value):
            return str(value[UNKNOWN_KEY])
    return None


def unreadable(facts: PostureFacts, types: Iterable[str]) -> Iterator[Finding]:
    """One unknown result per failed listing call of the services behind `types`."""
    if facts.snapshot is None:
        return
    wanted = {(TYPES[kind].service, kind.split(".", 1)[0]) for kind in types}
    for entry in facts.snapshot.coverage:
        if entry.ok or entry.resource or (entry.service, entry.provider) not in wanted:
            continue
        subject = f"{entry.provider}:{entry.account}:{entry.region}:{entry.service}"
        yield Finding(
            UNKNOWN,
            subject,
            N_("%(call)s could not be read in %(where)s: %(error)s"),
            {
                "call": f"{entry.service}:{entry.operation}",
                "where": f"{entry.account}/{entry.region}",
                "error": f"{entry.error_code}: {entry.error_message}".strip(": "),
            },
            {
                "provider": entry.provider,
                "account": entry.account,
                "region": entry.region,
                "call": f"{entry.service}:{entry.operation}",
                "error_code": entry.error_code,
            },
        )


def allowed_regions(context: CheckContext, provider: str) -> frozenset[str]:
    """The regions the commitments allow for `provider` (`allowed_regions` parameter)."""
    configured = context.parameters.get("allowed_regions")
    if isinstance(configured, Mapping) and provider in configured:
        return frozenset(str(region) for region in configured[provider] or ())
    return frozenset(DEFAULT_REGIONS.get(provider, ()))


def number(context: CheckContext, name: str, default: float) -> float:
    """A numeric commitment parameter, or `default` when absent or not a number."""
    value = context.parameters.get(name, default)
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


PostureFunction = Callable[[CheckContext, PostureFacts], Iterable[Finding]]


def posture_check(
    *,
    id: str,
    title: LText,
    rationale: LText,
    remediation: LText,
    severity: Severity,
    commitments: Iterable[str],
    types: tuple[str, ...],
) -> Callable[[PostureFunction], PostureFunction]:
    """Register a posture check over resources of `types` (see the module docstring)."""
    unknown_types = [kind for kind in types if kind not in TYPES]
    if unknown_types:
        raise ValueError(f"check {id}: unknown resource types {unknown_types}")

    def decorate(function: PostureFunction) -> PostureFunction:
        def run(context: CheckContext) -> Iterator[Finding]:
            facts = posture_facts(context)
            if facts.snapshot is None:
                yield Finding(UNKNOWN, "posture", N_("No cloud snapshot has been collected yet."))
                return
            yield from unreadable(facts, types)
            yield from function(context, facts)

        run.__doc__ = function.__doc__
        check(
            id=id,
            title=title,
            rationale=rationale,
            remediation=remediation,
            severity=severity,
            commitments=commitments,
        )(run)
        return function

    return decorate
