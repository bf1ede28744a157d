"""Azure log retention (13) and VM backups (12)."""

from __future__ import annotations

from mamori.posture.snapshot import unknown
from tests.posture.azure_recordings import collected, outcomes
from tests.posture.support import azure, run_check, snapshot_of


def test_short_retention_fails() -> None:
    assert outcomes(run_check("azure_log_analytics_retention", collected())) == {
        "law-30": "fail",
        "law-365": "pass",
    }
    two_years = {"log_retention_months": 24}  # 730 days
    assert (
        outcomes(run_check("azure_log_analytics_retention", collected(), two_years))["law-365"]
        == "fail"
    )


def test_never_expire_and_unknown() -> None:
    forever = azure("loganalytics.workspace", "forever", retention_days=None)
    unread = azure(
        "loganalytics.workspace", "unread", retention_days=unknown("AuthorizationFailed: no")
    )
    snapshot = snapshot_of([forever, unread])
    assert outcomes(run_check("azure_log_analytics_retention", snapshot)) == {
        "forever": "pass",
        "unread": "unknown",
    }
    strict = {"log_never_expire_meets_policy": False}
    assert (
        outcomes(run_check("azure_log_analytics_retention", snapshot, strict))["forever"] == "fail"
    )


def test_old_backup_fails_and_recent_passes() -> None:
    assert outcomes(run_check("azure_vm_backup_recent", collected())) == {
        "vm-bad": "fail",
        "vm-ok": "pass",
    }
    patient = {"maximum_backup_age_days": 14}
    assert outcomes(run_check("azure_vm_backup_recent", collected(), patient))["vm-bad"] == "pass"


def test_backup_edge_cases() -> None:
    prod = {"environment": "production"}
    vms = [azure("compute.vm", n, tags=prod) for n in ("none", "unread")] + [
        azure("compute.vm", "dev")
    ]
    item = azure(
        "recoveryservices.backup_item",
        "i",
        source=vms[1].id,
        last_backup_time=unknown("x: y"),
        vault="v",
    )
    found = outcomes(run_check("azure_vm_backup_recent", snapshot_of([*vms, item])))
    assert found == {"none": "fail", "unread": "unknown"}  # dev is not production


def test_a_failed_item_listing_makes_missing_backups_unknown() -> None:
    from mamori.posture.snapshot import CoverageEntry

    vm = azure("compute.vm", "p", tags={"environment": "prod"})
    failed = CoverageEntry(
        "azure",
        "sub-1",
        "japaneast",
        "recoveryservices",
        "backup_protected_items.list",
        False,
        "AuthorizationFailed",
        "no",
        "/vault",
    )
    assert outcomes(run_check("azure_vm_backup_recent", snapshot_of([vm], [failed]))) == {
        "p": "unknown"
    }
