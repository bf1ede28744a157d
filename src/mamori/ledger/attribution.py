"""Which tenant and service an incoming event belongs to.

A tenant's token can only write to that tenant: its events are the tenant's whatever
they say. A provider token's events go where the first matching rule says, else to the
provider itself. The service is the rule's, else a label naming a known service.
Rules are YAML (`MAMORI_LEDGER_ATTRIBUTION_FILE`):

    rules:
      - labels: {k8s.namespace: "midori-.*"}   # every label must match (full regex match)
        tenant: midori-city-boe                # or "provider"
        service: manabi-portal
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.core.yamlsource import YamlDocument, load_yaml
from mamori.ledger.events import IncomingEvent

PROVIDER = "provider"
SERVICE_LABELS = ("service", "service.name", "service_name", "app", "app_name")
MAX_PATTERN = 500


@dataclass(frozen=True)
class Rule:
    """Events whose labels all match go to `tenant_id` (None: the provider) and `service_id`."""

    labels: Mapping[str, re.Pattern[str]]
    tenant_id: str | None
    service_id: str | None

    def matches(self, labels: Mapping[str, str]) -> bool:
        """Whether every label pattern fully matches the event's label."""
        return all(
            key in labels and pattern.fullmatch(labels[key]) is not None
            for key, pattern in self.labels.items()
        )


@dataclass(frozen=True)
class Placement:
    """Where an event goes."""

    tenant_id: str | None
    service_id: str | None


class Attribution:
    """Places events by the sending principal, the rules and the known services."""

    def __init__(self, rules: Sequence[Rule], services: Collection[str]) -> None:
        self.rules = list(rules)
        self.services = frozenset(services)

    def place(self, principal: Principal, event: IncomingEvent) -> Placement:
        """The tenant and service of `event` sent by `principal`."""
        rule = next((r for r in self.rules if r.matches(event.labels)), None)
        service = rule.service_id if rule and rule.service_id else self._named(event.labels)
        if principal.tenant_id is not None:
            return Placement(principal.tenant_id, service)
        return Placement(rule.tenant_id if rule else None, service)

    def place_all(self, principal: Principal, events: Sequence[IncomingEvent]) -> list[Placement]:
        """`place` of each event; events with the same labels share one answer (a shipper's
        batch names a handful of services and hosts)."""
        known: dict[tuple[tuple[str, str], ...], Placement] = {}
        placements = []
        for event in events:
            key = tuple(event.labels.items())
            try:
                placement = known.get(key)
            except TypeError:  # a label value that is not hashable: placed on its own
                placement = self.place(principal, event)
            if placement is None:
                placement = known[key] = self.place(principal, event)
            placements.append(placement)
        return placements

    def _named(self, labels: Mapping[str, str]) -> str | None:
        for key in SERVICE_LABELS:
            if labels.get(key) in self.services:
                return labels[key]
        return None


def load_rules(path: Path, tenants: Collection[str], services: Collection[str]) -> list[Rule]:
    """The rules in `path`, checked against the known tenants and services."""
    document = load_yaml(path)
    data = document.data
    if not isinstance(data, Mapping) or not isinstance(data.get("rules"), list):
        raise document.error(N_("expected a list under 'rules'"), ("rules",))
    return [
        _rule(document, number, item, tenants, services)
        for number, item in enumerate(data["rules"])
    ]


def _rule(
    document: YamlDocument,
    number: int,
    item: Any,
    tenants: Collection[str],
    services: Collection[str],
) -> Rule:
    where: tuple[str | int, ...] = ("rules", number)
    if not isinstance(item, Mapping) or set(item) - {"labels", "tenant", "service"}:
        raise document.error(N_("a rule has only 'labels', 'tenant' and 'service'"), where)
    labels = item.get("labels") or {}
    if not isinstance(labels, Mapping) or not labels:
        raise document.error(N_("a rule needs labels to match"), (*where, "labels"))
    patterns = {}
    for key, text in labels.items():
        try:
            if len(str(text)) > MAX_PATTERN:
                raise re.error("pattern too long")
            patterns[str(key)] = re.compile(str(text))
        except re.error as exc:
            raise document.error(
                N_("not a valid pattern: %(reason)s"), (*where, "labels", key), reason=str(exc)
            ) from exc
    tenant = item.get("tenant")
    if tenant is None or (tenant != PROVIDER and tenant not in tenants):
        raise document.error(N_("unknown tenant"), (*where, "tenant"))
    service = item.get("service")
    if service is not None and service not in services:
        raise document.error(N_("unknown service"), (*where, "service"))
    return Rule(patterns, None if tenant == PROVIDER else str(tenant), service)
