"""Azure data residency (commitment 3): where resources, geo-replicas and backups live.

Parameters: `allowed_regions` ({"azure": [...]}, default japaneast/japanwest).
"""

from __future__ import annotations

from collections.abc import Iterator

from mamori.commitments.registry import CheckContext, Finding, ResultStatus, Severity
from mamori.core.i18n import N_
from mamori.core.text import LText
from mamori.posture.checks.base import (
    FAIL,
    PASS,
    UNKNOWN,
    PostureFacts,
    allowed_regions,
    posture_check,
    result,
    unknown_property,
)
from mamori.posture.snapshot import GLOBAL_REGION

# Types whose location is their own choice; states, settings and backup items take
# theirs from another resource and are judged there.
PLACED_TYPES = (
    "azure.resource_group",
    "azure.storage.account",
    "azure.compute.disk",
    "azure.compute.vm",
    "azure.sql.server",
    "azure.sql.database",
    "azure.web.site",
    "azure.network.nsg",
    "azure.network.vnet",
    "azure.network.nic",
    "azure.network.application_gateway",
    "azure.loganalytics.workspace",
    "azure.recoveryservices.vault",
)

# Azure's paired regions, which geo-redundant (GRS) backup storage replicates to.
PAIRED_REGIONS = {
    "japaneast": "japanwest",
    "japanwest": "japaneast",
    "koreacentral": "koreasouth",
    "koreasouth": "koreacentral",
    "eastasia": "southeastasia",
    "southeastasia": "eastasia",
    "australiaeast": "australiasoutheast",
    "australiasoutheast": "australiaeast",
    "eastus": "westus",
    "westus": "eastus",
    "eastus2": "centralus",
    "centralus": "eastus2",
    "northeurope": "westeurope",
    "westeurope": "northeurope",
}


@posture_check(
    id="azure_resource_region_allowed",
    title=LText(
        ja="Azure のリソースが許可されたリージョンにある",
        en="Azure resources are in the allowed regions",
    ),
    rationale=LText(
        ja="データの保管場所は約束の一部です。許可外のリージョンにあるリソースは約束違反になります。",
        en="Where data is kept is part of the promise; a resource elsewhere breaks it.",
    ),
    remediation=LText(
        ja="リソースを許可されたリージョンへ移すか、削除してください。",
        en="Move the resource to an allowed region, or delete it.",
    ),
    severity=Severity.HIGH,
    commitments=("data-storage-location",),
    types=PLACED_TYPES,
)
def resource_region(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """Every placed Azure resource's location is allowed; global services are skipped."""
    allowed = allowed_regions(context, "azure")
    for resource in facts.resources(*PLACED_TYPES):
        if resource.region == GLOBAL_REGION:
            continue
        ok = resource.region in allowed
        message = (
            N_("%(name)s is in %(region)s, an allowed region.")
            if ok
            else N_("%(name)s is in %(region)s, outside the allowed regions (%(allowed)s).")
        )
        params = {
            "name": resource.name,
            "region": resource.region,
            "allowed": ", ".join(sorted(allowed)),
        }
        yield result(facts, PASS if ok else FAIL, resource, message, params)


@posture_check(
    id="azure_storage_geo_pair_allowed",
    title=LText(
        ja="ストレージの geo 冗長コピー先が許可されたリージョンにある",
        en="Geo-redundant storage replicates only to allowed regions",
    ),
    rationale=LText(
        ja="GRS のセカンダリにもデータの完全なコピーが置かれます。",
        en="The secondary region of a GRS account holds a full copy of the data.",
    ),
    remediation=LText(
        ja="冗長性を LRS/ZRS に変更するか、ペアが許可リージョンになる場所にアカウントを置いてください。",  # noqa: E501 - one message id
        en="Switch the account to LRS/ZRS, or keep it where its pair is an allowed region.",
    ),
    severity=Severity.HIGH,
    commitments=("data-storage-location",),
    types=("azure.storage.account",),
)
def storage_geo_pair(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """A storage account's secondary location, when it has one, is allowed."""
    allowed = allowed_regions(context, "azure")
    for account in facts.resources("azure.storage.account"):
        why = unknown_property(account, "secondary_location")
        secondary = account.properties.get("secondary_location")
        params = {
            "name": account.name,
            "region": str(secondary),
            "allowed": ", ".join(sorted(allowed)),
        }
        if why:
            yield result(
                facts,
                UNKNOWN,
                account,
                N_("The replica location of %(name)s could not be read: %(error)s"),
                {**params, "error": why},
            )
        elif not secondary and "GRS" in str(account.properties.get("sku") or "").upper():
            # a geo-redundant SKU always has a secondary; not seeing it is not a pass
            message = N_("%(name)s is geo-redundant but its secondary location was not reported.")
            yield result(facts, UNKNOWN, account, message, params)
        elif not secondary:
            yield result(facts, PASS, account, N_("%(name)s keeps no geo-redundant copy."), params)
        elif secondary in allowed:
            yield result(
                facts,
                PASS,
                account,
                N_("%(name)s replicates to %(region)s, an allowed region."),
                params,
            )
        else:
            yield result(
                facts,
                FAIL,
                account,
                N_("%(name)s replicates to %(region)s, outside the allowed regions (%(allowed)s)."),
                params,
            )


@posture_check(
    id="azure_backup_vault_redundancy_allowed",
    title=LText(
        ja="バックアップの geo 冗長コピー先が許可されたリージョンにある",
        en="Backup vaults replicate only to allowed regions",
    ),
    rationale=LText(
        ja="geo 冗長の Recovery Services コンテナーはペアリージョンにバックアップを複製します。",
        en="A geo-redundant Recovery Services vault copies backups to its paired region.",
    ),
    remediation=LText(
        ja="コンテナーをペアも許可されたリージョン（東日本と西日本など）に置くか、ローカル冗長にしてください。",
        en="Keep the vault where its pair is allowed too (Japan East/West), or use locally redundant storage.",  # noqa: E501 - one message id
    ),
    severity=Severity.HIGH,
    commitments=("data-storage-location",),
    types=("azure.recoveryservices.vault",),
)
def vault_redundancy(context: CheckContext, facts: PostureFacts) -> Iterator[Finding]:
    """A GeoRedundant vault's paired region is allowed (unknown pairs are unknown)."""
    allowed = allowed_regions(context, "azure")
    for vault in facts.resources("azure.recoveryservices.vault"):
        why = unknown_property(vault, "storage_redundancy")
        pair = PAIRED_REGIONS.get(vault.region)
        params = {
            "name": vault.name,
            "region": str(pair),
            "redundancy": str(vault.properties.get("storage_redundancy")),
            "allowed": ", ".join(sorted(allowed)),
            "error": why or "",
        }
        status, message = _vault_verdict(why, params["redundancy"], pair, allowed)
        yield result(facts, status, vault, message, params)


def _vault_verdict(
    why: str | None, redundancy: str, pair: str | None, allowed: frozenset[str]
) -> tuple[ResultStatus, str]:
    if why:
        return UNKNOWN, N_("The storage redundancy of %(name)s could not be read: %(error)s")
    if redundancy != "GeoRedundant":
        return PASS, N_("%(name)s keeps its backups in its own region (%(redundancy)s).")
    if pair is None:
        return UNKNOWN, N_(
            "%(name)s is geo-redundant and the paired region of its location is not known."
        )
    if pair in allowed:
        return PASS, N_("%(name)s replicates its backups to %(region)s, an allowed region.")
    return FAIL, N_(
        "%(name)s replicates its backups to %(region)s, outside the allowed regions (%(allowed)s)."
    )
