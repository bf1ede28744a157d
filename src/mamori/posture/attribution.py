"""Which service and which tenant (or "shared") each cloud resource belongs to.

Tags `mamori:service` and `mamori:tenant` on a resource decide first. Then rules from a
YAML file (`MAMORI_POSTURE_ATTRIBUTION_FILE`, see docs/posture.md) are tried in order;
the service and the tenant are each taken from the first rule that gives one. A rule
matches on provider, accounts (or subscriptions), tag values, resource-group and name
patterns (shell-style, `*`), and may take the tenant from a tag's value. A resource left
without a service or a tenant is unattributed, itself a finding.
"""

from __future__ import annotations

import fnmatch
import re
from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mamori.core.i18n import N_
from mamori.core.yamlsource import YamlDocument, load_yaml
from mamori.posture.snapshot import Resource

SHARED = "shared"  # the tenant of resources serving every tenant
SERVICE_TAG = "mamori:service"
TENANT_TAG = "mamori:tenant"
NETWORK_POLICIES = ("dedicated", "shared")
RULE_KEYS = {"match", "service", "tenant", "tenant_from_tag"}
MATCH_KEYS = {"provider", "accounts", "tags", "resource_groups", "names", "types"}
_RESOURCE_GROUP = re.compile(r"/resourceGroups/([^/]+)", re.IGNORECASE)


@dataclass(frozen=True)
class Attribution:
    """Where a resource belongs; None means no rule or tag said."""

    service: str | None
    tenant: str | None  # a tenant id, SHARED, or None
    rule: str = ""  # what decided: "tag", "rule 3", ""

    @property
    def complete(self) -> bool:
        """True when both the service and the tenant are known."""
        return self.service is not None and self.tenant is not None

    @property
    def placement(self) -> str:
        """ "tenant", "shared" or "unattributed"."""
        if self.tenant is None:
            return "unattributed"
        return "shared" if self.tenant == SHARED else "tenant"


UNATTRIBUTED = Attribution(None, None)


@dataclass(frozen=True)
class Rule:
    """One attribution rule; every given condition must hold."""

    number: int
    provider: str | None = None
    accounts: tuple[str, ...] = ()
    tags: Mapping[str, str] = field(default_factory=dict)  # key -> value pattern
    resource_groups: tuple[str, ...] = ()
    names: tuple[str, ...] = ()
    types: tuple[str, ...] = ()
    service: str | None = None
    tenant: str | None = None
    tenant_from_tag: str | None = None

    def matches(self, resource: Resource) -> bool:
        """True when `resource` meets every condition of this rule."""
        if self.provider and resource.provider != self.provider:
            return False
        if self.accounts and resource.account not in self.accounts:
            return False
        if self.types and not _any_match(resource.type, self.types):
            return False
        for key, pattern in self.tags.items():
            value = resource.tags.get(key)
            if value is None or not fnmatch.fnmatchcase(value, pattern):
                return False
        if self.resource_groups:
            group = _RESOURCE_GROUP.search(resource.id)
            if group is None or not _any_match(group.group(1).lower(), self.resource_groups):
                return False
        return (
            not self.names
            or _any_match(resource.name, self.names)
            or _any_match(resource.id, self.names)
        )

    def tenant_of(self, resource: Resource) -> str | None:
        """The tenant this rule gives `resource` (from a tag when `tenant_from_tag`)."""
        if self.tenant_from_tag:
            return resource.tags.get(self.tenant_from_tag) or None
        return self.tenant


def _any_match(text: str, patterns: Iterable[str]) -> bool:
    return any(fnmatch.fnmatchcase(text, pattern) for pattern in patterns)


@dataclass(frozen=True)
class AttributionRules:
    """The rules and each service's network policy (dedicated or shared)."""

    rules: tuple[Rule, ...] = ()
    network_policy: Mapping[str, str] = field(default_factory=dict)

    def attribute(self, resource: Resource) -> Attribution:
        """Where `resource` belongs."""
        return Attribution(*self.place_of(resource))

    def place_of(self, resource: Resource) -> tuple[str | None, str | None, str]:
        """(service, tenant, what decided) of `resource`."""
        service = resource.tags.get(SERVICE_TAG) or None
        tenant = resource.tags.get(TENANT_TAG) or None
        decided = "tag" if service or tenant else ""
        for rule in self.rules:
            if service is not None and tenant is not None:
                break
            if not rule.matches(resource):
                continue
            if service is None and rule.service:
                service, decided = rule.service, decided or f"rule {rule.number}"
            given = rule.tenant_of(resource)
            if tenant is None and given:
                tenant, decided = given, decided or f"rule {rule.number}"
        return service, tenant, decided


def attribute_all(rules: AttributionRules, resources: Iterable[Resource]) -> dict[str, Attribution]:
    """The attribution of every resource, by resource key.

    Resources placed alike share one Attribution: a snapshot has a few dozen places and
    may have 100,000 resources.
    """
    places: dict[tuple[str | None, str | None, str], Attribution] = {}
    found: dict[str, Attribution] = {}
    for resource in resources:
        named = rules.place_of(resource)
        place = places.get(named)
        if place is None:
            place = places[named] = Attribution(*named)
        found[resource.key] = place
    return found


def load_rules(path: Path, tenants: Collection[str], services: Collection[str]) -> AttributionRules:
    """The rules in `path`, checked against the known tenants and services.

    Raises InputError naming the file, line and field of anything wrong.
    """
    document = load_yaml(path)
    data = document.data if document.data is not None else {}
    if not isinstance(data, Mapping) or set(data) - {"rules", "services"}:
        raise document.error(N_("expected only 'rules' and 'services'"), ())
    items = data.get("rules") or []
    if not isinstance(items, list):
        raise document.error(N_("expected a list under 'rules'"), ("rules",))
    rules = tuple(
        _rule(document, number, item, tenants, services) for number, item in enumerate(items)
    )
    return AttributionRules(rules, _network_policy(document, data.get("services"), services))


def _strings(document: YamlDocument, value: Any, where: tuple[str | int, ...]) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str | int) for v in value):
        raise document.error(N_("expected a list of text values"), where)
    return tuple(str(v) for v in value)


def _rule(
    document: YamlDocument,
    number: int,
    item: Any,
    tenants: Collection[str],
    services: Collection[str],
) -> Rule:
    where: tuple[str | int, ...] = ("rules", number)
    if not isinstance(item, Mapping) or set(item) - RULE_KEYS:
        raise document.error(
            N_("a rule has only 'match', 'service', 'tenant' and 'tenant_from_tag'"), where
        )
    match = item.get("match")
    if not isinstance(match, Mapping) or not match or set(match) - MATCH_KEYS:
        raise document.error(
            N_("'match' needs one or more of: %(keys)s"),
            (*where, "match"),
            keys=", ".join(sorted(MATCH_KEYS)),
        )
    service, tenant = item.get("service"), item.get("tenant")
    if service is not None and service not in services:
        raise document.error(N_("unknown service"), (*where, "service"))
    if tenant is not None and tenant != SHARED and tenant not in tenants:
        raise document.error(N_("unknown tenant"), (*where, "tenant"))
    from_tag = item.get("tenant_from_tag")
    if service is None and tenant is None and from_tag is None:
        raise document.error(N_("a rule must give a service or a tenant"), where)
    tags = match.get("tags") or {}
    if not isinstance(tags, Mapping):
        raise document.error(N_("expected tag keys and value patterns"), (*where, "match", "tags"))
    provider = match.get("provider")
    if provider is not None and provider not in ("aws", "azure"):
        raise document.error(N_("provider must be aws or azure"), (*where, "match", "provider"))
    lists = {
        key: _strings(document, match[key], (*where, "match", key))
        for key in ("accounts", "resource_groups", "names", "types")
        if key in match
    }
    return Rule(
        number=number + 1,
        provider=provider,
        accounts=lists.get("accounts", ()),
        tags={str(k): str(v) for k, v in tags.items()},
        resource_groups=tuple(g.lower() for g in lists.get("resource_groups", ())),
        names=lists.get("names", ()),
        types=lists.get("types", ()),
        service=service,
        tenant=tenant,
        tenant_from_tag=str(from_tag) if from_tag is not None else None,
    )


def _network_policy(
    document: YamlDocument, value: Any, services: Collection[str]
) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise document.error(N_("expected services and their settings"), ("services",))
    policy = {}
    for service, settings in value.items():
        where: tuple[str | int, ...] = ("services", str(service))
        if service not in services:
            raise document.error(N_("unknown service"), where)
        network = settings.get("network") if isinstance(settings, Mapping) else None
        if network not in NETWORK_POLICIES:
            raise document.error(N_("network must be dedicated or shared"), (*where, "network"))
        policy[str(service)] = str(network)
    return policy
