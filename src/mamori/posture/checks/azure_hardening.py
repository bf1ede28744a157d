"""Azure virtual machine hardening (commitment 8): images, trusted launch, admin ports.

Parameters: `approved_images` ({"azure": ["publisher:offer:sku" patterns]}),
`admin_ports` ([22, 3389, 5985, 5986]).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from mamori.commitments.registry import CheckContext, Finding, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import (
    FAIL,
    NOT_APPLICABLE,
    PASS,
    UNKNOWN,
    PostureFacts,
    admin_ports,
    approved_images,
    posture_check,
    result,
    unknown_property,
)

INTERNET_SOURCES = {"*", "internet", "any", "0.0.0.0/0", "0.0.0.0", "::/0"}  # noqa: S104 - a CIDR, not a bind


def from_internet(rule: Mapping[str, Any]) -> bool:
    """Whether an inbound rule applies to traffic from anywhere on the internet."""
    return any(str(source).lower() in INTERNET_SOURCES for source in rule.get("sources") or [])


def covers(rule: Mapping[str, Any], port: int) -> bool:
    """Whether a TCP (or any-protocol) rule covers `port`."""
    if rule.get("protocol") not in ("tcp", "all"):
        return False
    low, high = rule.get("from_port"), rule.get("to_port")
    return low is None or (int(low) <= port <= int(high if high is not None else low))


def open_to_internet(rules: Iterable[Mapping[str, Any]], port: int) -> bool:
    """NSG semantics: the lowest-priority-number inbound internet rule covering `port` wins."""
    inbound = [rule for rule in rules if rule.get("direction") == "inbound" and from_internet(rule)]
    inbound.sort(key=_priority)
    for rule in inbound:
        if covers(rule, port):
            return rule.get("action") == "allow"
    return False


def _priority(rule: Mapping[str, Any]) -> int:
    value = rule.get("priority")
    return int(value) if value is not None else 1 << 30  # unnumbered rules last


@posture_check(
    id="azure_vm_image_approved",
    title=LText(ja="VM が承認済みイメージから作られている", en="VMs run approved images"),
    rationale=LText(
        ja="承認済みイメージは堅牢化と更新が確認されたものです。",
        en="Approved images are the hardened, maintained ones.",
    ),
    remediation=LText(
        ja="承認済みイメージから VM を作り直してください。",
        en="Rebuild the VM from an approved image.",
    ),
    severity=Severity.MEDIUM,
    commitments=("virtual-machine-hardening",),
    types=("azure.compute.vm",),
)
def vm_image(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """`publisher:offer:sku` (or the image id) matches an `approved_images` pattern."""
    patterns = approved_images(context, "azure")
    for vm in facts.resources("azure.compute.vm"):
        why = unknown_property(vm, "image")
        image = vm.properties.get("image") or {}
        name = ":".join(str(image.get(key) or "") for key in ("publisher", "offer", "sku"))
        if image.get("id") and name == "::":
            name = str(image["id"])
        params = {"name": vm.name, "image": name}
        if why:
            yield result(
                facts,
                UNKNOWN,
                vm,
                N_("The image of %(name)s could not be read: %(error)s"),
                {**params, "error": why},
            )
        elif not patterns:
            yield result(
                facts,
                NOT_APPLICABLE,
                vm,
                N_("No approved images are configured for Azure; %(name)s runs %(image)s."),
                params,
            )
        elif any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns):
            yield result(facts, PASS, vm, N_("%(name)s runs the approved image %(image)s."), params)
        else:
            yield result(
                facts,
                FAIL,
                vm,
                N_("%(name)s runs %(image)s, which is not an approved image."),
                params,
            )


@posture_check(
    id="azure_vm_trusted_launch",
    title=LText(ja="VM がトラステッド起動で動いている", en="VMs use trusted launch"),
    rationale=LText(
        ja="セキュア ブートと vTPM はブートキットやルートキットを防ぎます。",
        en="Secure boot and vTPM stop boot kits and root kits.",
    ),
    remediation=LText(
        ja="トラステッド起動（または機密 VM）で VM を作り直してください。",
        en="Recreate the VM with trusted launch (or as a confidential VM).",
    ),
    severity=Severity.MEDIUM,
    commitments=("virtual-machine-hardening",),
    types=("azure.compute.vm",),
)
def vm_trusted_launch(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """The security type is TrustedLaunch or ConfidentialVM."""
    for vm in facts.resources("azure.compute.vm"):
        why = unknown_property(vm, "security_type")
        kind = vm.properties.get("security_type")
        params = {"name": vm.name, "type": str(kind)}
        if why:
            yield result(
                facts,
                UNKNOWN,
                vm,
                N_("The security type of %(name)s could not be read: %(error)s"),
                {**params, "error": why},
            )
        elif kind in ("TrustedLaunch", "ConfidentialVM"):
            yield result(facts, PASS, vm, N_("%(name)s runs with %(type)s."), params)
        else:
            yield result(facts, FAIL, vm, N_("%(name)s runs without trusted launch."), params)


@posture_check(
    id="azure_nsg_admin_ports_closed",
    title=LText(
        ja="管理ポートがインターネットに開いていない",
        en="No NSG opens an admin port to the internet",
    ),
    rationale=LText(
        ja="SSH や RDP をインターネットに開くと総当たり攻撃の的になります。",
        en="SSH or RDP open to the internet invites brute-force attacks.",
    ),
    remediation=LText(
        ja="該当ルールを削除し、Bastion や VPN 経由で管理してください。",
        en="Remove the rule and administer through Bastion or a VPN.",
    ),
    severity=Severity.HIGH,
    commitments=("virtual-machine-hardening",),
    types=("azure.network.nsg",),
)
def nsg_admin_ports(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """No admin port (`admin_ports`) is reachable from Internet, * or 0.0.0.0/0."""
    ports = admin_ports(context)
    for nsg in facts.resources("azure.network.nsg"):
        why = unknown_property(nsg, "rules")
        if why:
            yield result(
                facts,
                UNKNOWN,
                nsg,
                N_("The rules of %(name)s could not be read: %(error)s"),
                {"name": nsg.name, "error": why},
            )
            continue
        exposed = [
            port for port in ports if open_to_internet(nsg.properties.get("rules") or [], port)
        ]
        params = {"name": nsg.name, "ports": ", ".join(str(port) for port in exposed)}
        if exposed:
            yield result(
                facts,
                FAIL,
                nsg,
                N_("%(name)s opens admin ports %(ports)s to the internet."),
                params,
                ports=exposed,
            )
        else:
            yield result(
                facts, PASS, nsg, N_("%(name)s opens no admin port to the internet."), params
            )
