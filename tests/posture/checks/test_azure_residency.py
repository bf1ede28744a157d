"""Azure residency checks: resource regions, geo-redundant pairs, backup vault pairs."""

from __future__ import annotations

from mamori.posture.snapshot import unknown
from tests.posture.azure_recordings import collected, outcomes
from tests.posture.support import azure, run_check, snapshot_of

JAPAN_AND_US = {"allowed_regions": {"azure": ["japaneast", "japanwest", "eastus"]}}


def test_a_resource_outside_japan_fails_and_its_twin_passes() -> None:
    found = outcomes(run_check("azure_resource_region_allowed", collected()))
    assert found["steastus"] == "fail" and found["rg-us"] == "fail"
    assert found["stjpok"] == "pass" and found["vm-ok"] == "pass"
    assert "fd-waf" not in found  # global services have no region to judge


def test_allowed_regions_parameter_changes_the_outcome() -> None:
    found = outcomes(run_check("azure_resource_region_allowed", collected(), JAPAN_AND_US))
    assert found["steastus"] == "pass"


def test_geo_pair_outside_japan_fails() -> None:
    found = outcomes(run_check("azure_storage_geo_pair_allowed", collected()))
    assert (found["stgrsbad"], found["stgrsok"], found["stjpok"]) == ("fail", "pass", "pass")
    params = {"allowed_regions": {"azure": ["japaneast", "japanwest", "koreacentral"]}}
    assert (
        outcomes(run_check("azure_storage_geo_pair_allowed", collected(), params))["stgrsbad"]
        == "pass"
    )


def test_geo_pair_unknown_is_unknown() -> None:
    account = azure("storage.account", "st", secondary_location=unknown("AuthorizationFailed: no"))
    assert outcomes(run_check("azure_storage_geo_pair_allowed", snapshot_of([account]))) == {
        "st": "unknown"
    }


def test_vault_pairs() -> None:
    assert outcomes(run_check("azure_backup_vault_redundancy_allowed", collected())) == {
        "rsv-jp": "pass"
    }
    vaults = [
        azure(
            "recoveryservices.vault", "us-grs", region="eastus", storage_redundancy="GeoRedundant"
        ),
        azure("recoveryservices.vault", "jp-lrs", storage_redundancy="LocallyRedundant"),
        azure(
            "recoveryservices.vault", "odd", region="brazilsouth", storage_redundancy="GeoRedundant"
        ),
        azure("recoveryservices.vault", "unread", storage_redundancy=unknown("NotFound: x")),
    ]
    found = outcomes(run_check("azure_backup_vault_redundancy_allowed", snapshot_of(vaults)))
    assert found == {"us-grs": "fail", "jp-lrs": "pass", "odd": "unknown", "unread": "unknown"}
    wider = {"allowed_regions": {"azure": ["eastus", "westus"]}}
    assert outcomes(
        run_check("azure_backup_vault_redundancy_allowed", snapshot_of(vaults[:1]), wider)
    ) == {"us-grs": "pass"}


def test_a_geo_sku_without_a_reported_secondary_is_unknown() -> None:
    account = azure("storage.account", "grs", sku="Standard_GRS", secondary_location=None)
    assert outcomes(run_check("azure_storage_geo_pair_allowed", snapshot_of([account]))) == {
        "grs": "unknown"
    }
