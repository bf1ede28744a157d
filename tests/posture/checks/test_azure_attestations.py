"""Azure Policy states as attestations."""

from __future__ import annotations

from tests.posture.azure_recordings import collected
from tests.posture.support import azure, run_check, snapshot_of


def test_allowed_locations_noncompliance_fails_naming_the_assignment() -> None:
    findings = run_check("azure_policy_allowed_locations", collected())
    by_resource = {str(f.params["resource"]): f for f in findings}
    assert (
        str(by_resource["steastus"].status) == "fail"
        and str(by_resource["stjpok"].status) == "pass"
    )
    assert by_resource["steastus"].params["assignment"] == "allowed-locations"


def test_iso27017_initiative() -> None:
    findings = run_check("azure_policy_iso27017", collected())
    assert {str(f.params["resource"]): str(f.status) for f in findings} == {
        "sthttp": "fail",
        "stjpok": "pass",
    }
    assert findings[0].params["definition"] == "secureTransfer"


def test_unknown_compliance_is_unknown() -> None:
    state = azure(
        "policy.state",
        "s",
        assignment="a",
        definition="/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c",
        initiative=None,
        compliance="Unknown",
        resource="r",
        assignment_name="a",
        definition_name="d",
        definition_reference=None,
    )
    assert [
        str(f.status) for f in run_check("azure_policy_allowed_locations", snapshot_of([state]))
    ] == ["unknown"]
