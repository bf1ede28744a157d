"""Azure VNet peering between tenants."""

from __future__ import annotations

from mamori.posture.attribution import Attribution
from mamori.posture.snapshot import Snapshot
from tests.posture.azure_recordings import collected, outcomes
from tests.posture.support import run_check


def tenants(snapshot: Snapshot) -> dict[str, Attribution]:
    """Attribution from the `mamori:tenant` tags."""
    return {
        r.key: Attribution("app", r.tags["mamori:tenant"], "tag")
        for r in snapshot.resources
        if "mamori:tenant" in r.tags
    }


def test_peering_between_two_tenants_fails_and_shared_passes() -> None:
    snapshot = collected()
    found = outcomes(
        run_check("azure_vnet_peering_tenants", snapshot, attribution=tenants(snapshot))
    )
    assert found == {"vnet-a": "fail", "vnet-b": "fail", "vnet-shared": "pass"}


def test_unattributed_networks_are_unknown() -> None:
    found = outcomes(run_check("azure_vnet_peering_tenants", collected()))
    assert set(found.values()) == {"unknown"}


def test_same_tenant_passes() -> None:
    snapshot = collected()
    same = {key: Attribution("app", "tenant-a", "tag") for key in tenants(snapshot)}
    assert set(
        outcomes(run_check("azure_vnet_peering_tenants", snapshot, attribution=same)).values()
    ) == {"pass"}
