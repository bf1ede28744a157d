"""Azure VM hardening: images, trusted launch, admin ports."""

from __future__ import annotations

from mamori.posture.snapshot import unknown
from tests.posture.azure_recordings import collected, outcomes
from tests.posture.support import azure, run_check, snapshot_of

APPROVED = {"approved_images": {"azure": ["Canonical:0001-com-ubuntu-server-jammy:22_04-*"]}}


def test_images_without_patterns_are_not_applicable() -> None:
    found = run_check("azure_vm_image_approved", collected())
    assert {str(f.status) for f in found} == {"not_applicable"}
    assert "No approved images" in found[0].message


def test_unapproved_image_fails_and_twin_passes() -> None:
    found = outcomes(run_check("azure_vm_image_approved", collected(), APPROVED))
    assert found == {"vm-bad": "fail", "vm-ok": "pass"}
    wide = {"approved_images": {"azure": ["Canonical:*"]}}
    assert set(outcomes(run_check("azure_vm_image_approved", collected(), wide)).values()) == {
        "pass"
    }


def test_trusted_launch() -> None:
    assert outcomes(run_check("azure_vm_trusted_launch", collected())) == {
        "vm-bad": "fail",
        "vm-ok": "pass",
    }
    vm = azure("compute.vm", "v", security_type=unknown("AuthorizationFailed: no"))
    assert outcomes(run_check("azure_vm_trusted_launch", snapshot_of([vm]))) == {"v": "unknown"}


def test_admin_port_open_to_internet_fails() -> None:
    assert outcomes(run_check("azure_nsg_admin_ports_closed", collected())) == {
        "nsg-rdp": "fail",
        "nsg-web": "pass",
    }
    only_ssh = {"admin_ports": [22]}
    assert (
        outcomes(run_check("azure_nsg_admin_ports_closed", collected(), only_ssh))["nsg-rdp"]
        == "pass"
    )


def rule(port: int | None, source: str, action: str, priority: int) -> dict[str, object]:
    """An inbound TCP rule."""
    return {
        "direction": "inbound",
        "action": action,
        "protocol": "tcp",
        "from_port": port,
        "to_port": port,
        "sources": [source],
        "source_groups": [],
        "priority": priority,
    }


def test_a_higher_priority_deny_shadows_the_allow() -> None:
    shadowed = azure(
        "network.nsg",
        "n",
        rules=[rule(22, "*", "deny", 100), rule(22, "0.0.0.0/0", "allow", 200)],
        attached_to=[],
    )
    assert outcomes(run_check("azure_nsg_admin_ports_closed", snapshot_of([shadowed]))) == {
        "n": "pass"
    }
    unread = azure("network.nsg", "u", rules=unknown("AuthorizationFailed: no"), attached_to=[])
    assert outcomes(run_check("azure_nsg_admin_ports_closed", snapshot_of([unread]))) == {
        "u": "unknown"
    }
