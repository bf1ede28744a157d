"""Azure network segregation (commitment 7): no VNet peering between two tenants.

Tenants come from attribution (`mamori:tenant` tags or rules); a "shared" network may
peer with any tenant's. Azure NSG rules cannot name another tenant's network the way
AWS security-group references can, so only peerings are judged here.
"""

from __future__ import annotations

from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.attribution import SHARED
from mamori.posture.checks.base import FAIL, PASS, UNKNOWN, PostureFacts, posture_check, result


@posture_check(
    id="azure_vnet_peering_tenants",
    title=LText(
        ja="テナント間で VNet ピアリングしていない",
        en="No VNet peering joins two tenants' networks",
    ),
    rationale=LText(
        ja="異なるテナントの仮想ネットワークをつなぐと、テナント間の分離が崩れます。",
        en="Peering two tenants' virtual networks breaks the segregation between them.",
    ),
    remediation=LText(
        ja="テナントをまたぐピアリングを削除してください。",
        en="Remove the peering between the tenants' networks.",
    ),
    severity=Severity.CRITICAL,
    commitments=("virtual-environment-segregation",),
    types=("azure.network.vnet",),
)
def vnet_peering(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Each peering joins networks of one tenant, or a shared one (unknown ends: unknown)."""
    vnets = facts.resources("azure.network.vnet")
    by_id = {vnet.id.lower(): vnet for vnet in vnets}
    for vnet in vnets:
        for peering in vnet.properties.get("peerings") or []:
            remote_id = str(peering.get("remote_vnet") or "")
            remote = by_id.get(remote_id.lower())
            tenants = (facts.of(vnet).tenant, facts.of(remote).tenant if remote else None)
            params = {
                "name": vnet.name,
                "remote": remote_id.rsplit("/", 1)[-1],
                "tenant": str(tenants[0]),
                "remote_tenant": str(tenants[1]),
            }
            status, message = _verdict(*tenants)
            yield result(facts, status, vnet, message, params, remote=remote_id)


def _verdict(local: str | None, remote: str | None) -> tuple[ResultStatus, str]:
    if local is None or remote is None:
        return UNKNOWN, N_("%(name)s peers with %(remote)s, whose tenant is not known.")
    if SHARED in (local, remote) or local == remote:
        return PASS, N_(
            "%(name)s (%(tenant)s) peers with %(remote)s (%(remote_tenant)s), which is allowed."
        )
    return FAIL, N_(
        "%(name)s (tenant %(tenant)s) peers with %(remote)s of tenant %(remote_tenant)s."
    )
