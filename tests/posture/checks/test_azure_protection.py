"""Azure protection: NSG default deny, Defender, WAF, diagnostic settings, alerts."""

from __future__ import annotations

from mamori.posture.snapshot import CoverageEntry
from tests.posture.azure_recordings import SUB, collected, outcomes
from tests.posture.support import azure, run_check, snapshot_of


def test_nsg_allow_all_from_internet_fails() -> None:
    assert set(outcomes(run_check("azure_nsg_default_deny", collected())).values()) == {"pass"}
    allow_all = {
        "direction": "inbound",
        "action": "allow",
        "protocol": "all",
        "from_port": None,
        "to_port": None,
        "sources": ["Internet"],
        "source_groups": [],
        "priority": 100,
    }
    nsg = azure("network.nsg", "open", rules=[allow_all], attached_to=[])
    assert outcomes(run_check("azure_nsg_default_deny", snapshot_of([nsg]))) == {"open": "fail"}


def test_defender_free_fails_and_the_plan_list_is_a_parameter() -> None:
    found = outcomes(run_check("azure_defender_plans", collected()))
    assert found == {"VirtualMachines": "fail", "StorageAccounts": "pass", "SqlServers": "pass"}
    params = {"defender_plans": ["StorageAccounts", "KeyVaults"]}
    assert outcomes(run_check("azure_defender_plans", collected(), params)) == {
        "StorageAccounts": "pass",
        "KeyVaults": "fail",
    }


def test_gateway_and_front_door_waf() -> None:
    assert outcomes(run_check("azure_app_gateway_waf", collected())) == {
        "agw-open": "fail",
        "agw-waf": "pass",
    }
    private = azure("network.application_gateway", "inner", waf_enabled=False, public=False)
    assert outcomes(run_check("azure_app_gateway_waf", snapshot_of([private]))) == {"inner": "pass"}
    assert outcomes(run_check("azure_front_door_waf", collected())) == {
        "fd-waf": "pass",
        "fd-open": "fail",
    }


def test_diagnostic_settings() -> None:
    found = outcomes(run_check("azure_diagnostic_settings", collected()))
    assert found["stjpok"] == "pass" and found["sthttp"] == "fail" and found[SUB] == "pass"


def test_diagnostic_settings_unreadable_are_unknown() -> None:
    account = azure("storage.account", "st")
    failed = CoverageEntry(
        "azure",
        "sub-1",
        "japaneast",
        "monitor",
        "diagnostic_settings.list",
        False,
        "AuthorizationFailed",
        "no",
        account.id,
    )
    assert outcomes(run_check("azure_diagnostic_settings", snapshot_of([account], [failed]))) == {
        "st": "unknown"
    }


def test_activity_log_alerts() -> None:
    findings = run_check("azure_activity_log_alerts", collected())
    status = {str(f.params["operation"]): str(f.status) for f in findings}
    assert status == {
        "Microsoft.Authorization/policyAssignments/write": "pass",
        "Microsoft.Network/networkSecurityGroups/write": "fail",  # the alert is disabled
    }
    params = {"alert_operations": ["Microsoft.KeyVault/vaults/delete"]}
    assert [str(f.status) for f in run_check("azure_activity_log_alerts", collected(), params)] == [
        "fail"
    ]
