"""Evaluate the posture checks over one snapshot without storing anything.

Used by `mamori posture evaluate --snapshot FILE` and by tests: the same checks the
spine's evaluation runs, with the same commitment parameters, on a snapshot at hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from mamori.commitments.catalog_loader import Catalog
from mamori.commitments.evaluation import cited_by, parameters_for, run_check
from mamori.commitments.models import Commitment, CommitmentCheck
from mamori.commitments.registry import CheckContext, CheckRegistry, Finding
from mamori.core.memory import collector_paused
from mamori.posture.attribution import AttributionRules, attribute_all
from mamori.posture.checks.base import POSTURE_CHECKS, PostureFacts
from mamori.posture.snapshot import Snapshot


@dataclass(frozen=True)
class PostureRecords:
    """The records posture checks read: only `extra["posture"]`."""

    extra: Mapping[str, Any] = field(default_factory=dict)


def facts_for(snapshot: Snapshot, rules: AttributionRules) -> PostureFacts:
    """Posture facts for a snapshot at hand, attributed with `rules`."""
    with collector_paused():
        attribution = attribute_all(rules, snapshot.resources)
    return PostureFacts(
        snapshot=snapshot, attribution=attribution, network_policy=dict(rules.network_policy)
    )


def evaluate_snapshot(
    facts: PostureFacts, registry: CheckRegistry, commitments: Sequence[Commitment]
) -> list[tuple[str, Finding]]:
    """(check id, finding) for every posture check, in registration order."""
    records = PostureRecords({"posture": facts})
    results: list[tuple[str, Finding]] = []
    with collector_paused():
        for definition in registry:
            if definition.id not in POSTURE_CHECKS:
                continue
            context = CheckContext(
                records=records,
                parameters=parameters_for(definition.id, commitments),
                cited_by=cited_by(definition.id, commitments),
            )
            results += [(definition.id, finding) for finding in run_check(definition, context)]
    return results


def commitments_of(catalog: Catalog) -> list[Commitment]:
    """Unsaved commitment rows (id, parameters, checks) of a catalog read from files."""
    rows = []
    for item in catalog.commitments.commitments:
        checks = catalog.resolved_checks.get(item.id, [])
        rows.append(
            Commitment(
                id=item.id,
                parameters=dict(item.parameters),
                checks=[
                    CommitmentCheck(commitment_id=item.id, check_id=check_id, position=number)
                    for number, check_id in enumerate(checks)
                ],
            )
        )
    return rows
