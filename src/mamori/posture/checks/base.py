"""What every posture check shares: reading the snapshot, unknowns, results, parameters.

Checks are declared with `posture_check`, which adds two rules to every check: with no
snapshot collected yet the check is unknown, and every failed listing call of the
services behind the check's resource types is an unknown result naming the call, so a
region or account that could not be read never passes silently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, TypeVar

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity, check
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.attribution import UNATTRIBUTED, Attribution
from mamori.posture.schema import TYPES
from mamori.posture.snapshot import UNKNOWN_KEY, Resource, Snapshot

PASS = ResultStatus.PASS
FAIL = ResultStatus.FAIL
UNKNOWN = ResultStatus.UNKNOWN
NOT_APPLICABLE = ResultStatus.NOT_APPLICABLE

NO_PARAMS: Mapping[str, str | int] = MappingProxyType({})  # shared by results without any
T = TypeVar("T")

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
    # resource key -> the details every result about it carries, made once and shared
    _where: dict[str, dict[str, Any]] = field(default_factory=dict, repr=False, compare=False)
    # indexes several checks build from the same snapshot, made once (see `derived`)
    _derived: dict[str, Any] = field(default_factory=dict, repr=False, compare=False)

    def derived(self, name: str, build: Callable[[], T]) -> T:
        """`build()`, computed once for these facts and then shared under `name`.

        For indexes that several checks read (regions in use, each account's tenant):
        with 100,000 resources, building them once per check cost more than the checks.
        """
        if name not in self._derived:
            self._derived[name] = build()
        found: T = self._derived[name]
        return found

    def where(self, resource: Resource) -> dict[str, Any]:
        """Place, attribution and raw digests of `resource`: shared, never to be changed."""
        found = self._where.get(resource.key)
        if found is None:
            place = self.attribution.get(resource.key, UNATTRIBUTED)
            found = {
                "resource": resource.id,
                "type": resource.type,
                "provider": resource.provider,
                "account": resource.account,
                "region": resource.region,
                "service": place.service,
                "tenant": place.tenant,
                "raw": resource.raw,
            }
            self._where[resource.key] = found
        return found

    def resources(self, *types: str) -> list[Resource]:
        """The snapshot's resources of `types` (none without a snapshot)."""
        return self.snapshot.of_type(*types) if self.snapshot is not None else []

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
    """A result about `resource`, carrying its place, attribution and raw-response digests.

    Results without extra details share one details mapping per resource: a snapshot of
    100,000 resources gives several hundred thousand results.
    """
    where = facts._where.get(resource.key)
    if where is None:
        where = facts.where(resource)
    return Finding(
        status,
        resource.key,
        message,
        params or NO_PARAMS,
        {**where, **details} if details else where,
    )


def unknown_property(resource: Resource, *names: str) -> str | None:
    """Why the first of `names` that could not be read is unknown; None if all were read."""
    for name in names:
        value = resource.properties.get(name)
        if isinstance(value, dict) and UNKNOWN_KEY in value:  # see snapshot.is_unknown
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
POSTURE_CHECKS: dict[str, tuple[str, ...]] = {}  # check id -> resource types it reads


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
        POSTURE_CHECKS[id] = types
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


# Commitment parameters shared by the AWS and Azure checks ------------------------------

DEFAULT_ADMIN_PORTS = (22, 3389, 5985, 5986)
DEFAULT_PRODUCTION_TAGS = {"environment": ("production", "prod")}


def retention_days_required(context: CheckContext) -> int:
    """Days of log retention the promise needs: `log_retention_months` (12) as days.

    A year counts 365 days and a month 30, the steps the clouds offer (CloudWatch Logs:
    30, 90, 180, 365, 545 days), so 1, 3, 6, 12 and 18 months map onto real settings.
    """
    months = int(number(context, "log_retention_months", 12))
    return (months // 12) * 365 + (months % 12) * 30


def never_expire_ok(context: CheckContext) -> bool:
    """Whether "never expire" meets the promise (`log_never_expire_meets_policy`, true)."""
    return bool(context.parameters.get("log_never_expire_meets_policy", True))


def approved_images(context: CheckContext, provider: str) -> tuple[str, ...]:
    """Approved image patterns (fnmatch) for `provider` (`approved_images` parameter).

    AWS patterns match AMI ids; Azure patterns match `publisher:offer:sku`.
    """
    configured = context.parameters.get("approved_images")
    if isinstance(configured, Mapping):
        return tuple(str(pattern) for pattern in configured.get(provider) or ())
    return ()


def admin_ports(context: CheckContext) -> tuple[int, ...]:
    """Ports that must never be open to the internet (`admin_ports` parameter)."""
    configured = context.parameters.get("admin_ports")
    if isinstance(configured, list | tuple) and configured:
        return tuple(int(port) for port in configured)
    return DEFAULT_ADMIN_PORTS


def minimum_tls(context: CheckContext) -> tuple[int, int]:
    """The minimum TLS version as (major, minor), from `minimum_tls_version` ("1.2")."""
    return tls_version(str(context.parameters.get("minimum_tls_version", "1.2"))) or (1, 2)


def tls_version(text: str | None) -> tuple[int, int] | None:
    """(1, 2) from "1.2", "TLS1_2", "TLSv1.2_2021" or "TLS12"; (1, 0) from "TLSv1"; else None."""
    import re

    if not text:
        return None
    # The minor digit must stand alone: "TLSv1_2016" is TLS 1.0 of 2016, not 1.2.
    match = re.search(r"(?i)(?:tlsv?|^)\s*1(?:[._]?([0-3])(?!\d))?", str(text))
    return (1, int(match.group(1) or 0)) if match else None


def production_test(context: CheckContext) -> Callable[[Resource], bool]:
    """Whether a resource is production by its tags (`production_tags` parameter).

    Tag keys and values compare without regard to case.
    """
    configured = context.parameters.get("production_tags")
    chosen = configured if isinstance(configured, Mapping) else DEFAULT_PRODUCTION_TAGS
    wanted = {
        str(key).lower(): frozenset(str(value).lower() for value in values or ())
        for key, values in chosen.items()
    }

    def is_production(resource: Resource) -> bool:
        for key, value in resource.tags.items():
            values = wanted.get(key.lower())
            if values is not None and str(value).lower() in values:
                return True
        return False

    return is_production
