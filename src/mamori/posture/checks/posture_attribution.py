"""Every cloud resource belongs to a service and to a tenant or "shared"."""

from __future__ import annotations

from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import FAIL, PASS, PostureFacts, posture_check, result
from mamori.posture.schema import TYPES

# Records of settings, findings and attestations are not resources anyone owns.
NOT_OWNED = frozenset(
    {
        "aws.account",
        "aws.ec2.region_settings",
        "aws.config.rule",
        "aws.securityhub.finding",
        "azure.security.pricing",
        "azure.policy.state",
    }
)
OWNED = tuple(kind for kind in TYPES if kind not in NOT_OWNED)


@posture_check(
    id="posture_resources_attributed",
    title=LText(
        ja="すべてのクラウドリソースがサービスとテナント（または共用）に割り当てられている",
        en="Every cloud resource is assigned to a service and a tenant (or shared)",
    ),
    rationale=LText(
        ja="どの顧客のものか分からないリソースは、分離も削除も確かめられません。",
        en="A resource nobody can place cannot be shown to be segregated, kept or erased.",
    ),
    remediation=LText(
        ja="タグ mamori:service と mamori:tenant を付けるか、割り当てルールを追加してください。",
        en="Tag it with mamori:service and mamori:tenant, or add an attribution rule.",
    ),
    severity=Severity.MEDIUM,
    commitments=("asset-inventory", "virtual-environment-segregation"),
    types=OWNED,
)
def resources_attributed(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """One result per owned resource: attributed, or which part is missing."""
    shared_params: dict[tuple[str, str, str], dict[str, str | int]] = {}
    for resource in facts.resources(*OWNED):
        place = facts.of(resource)
        if place.complete:
            named = (place.service or "", place.tenant or "", place.rule)
            params = shared_params.get(named)
            if params is None:  # one mapping per place, not per resource
                params = shared_params[named] = dict(
                    zip(("service", "tenant", "rule"), named, strict=True)
                )
            yield result(
                facts,
                PASS,
                resource,
                N_("Service %(service)s, tenant %(tenant)s (%(rule)s)."),
                params,
            )
        else:
            missing = [
                name
                for name, value in (("service", place.service), ("tenant", place.tenant))
                if value is None
            ]
            yield result(
                facts,
                FAIL,
                resource,
                N_("Not attributed: no %(missing)s."),
                {"missing": " / ".join(missing)},
            )
