"""Recovery Services vaults and their backup items (commitments 3 and 12).

No installed SDK lists vaults (azure-mgmt-recoveryservices is not a dependency), so they
come from the generic resources listing filtered by type; the backup SDK then reads each
vault's storage redundancy and protected items.
"""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING, Any

from azure.mgmt.recoveryservicesbackup import RecoveryServicesBackupClient
from azure.mgmt.resource.resources import ResourceManagementClient

from mamori.posture.collectors import azure_normalise as norm
from mamori.posture.collectors.azure_calls import Answer, Failure, listed, resource_group

if TYPE_CHECKING:
    from mamori.posture.collectors.azure import SubscriptionCollector

VAULT_FILTER = "resourceType eq 'Microsoft.RecoveryServices/vaults'"


def collect_vaults(collector: SubscriptionCollector) -> None:
    """Recovery Services vaults, their storage redundancy and their backup items."""
    resources = collector.client(ResourceManagementClient)
    backup = collector.client(RecoveryServicesBackupClient)
    for vault, digest in collector.listing(
        "recoveryservices",
        "resources.list(vaults)",
        lambda: resources.resources.list(filter=VAULT_FILTER),
    ):
        group, name = resource_group(vault), str(vault.get("name"))
        answer = collector.detail(
            "recoveryservices",
            "backup_resource_storage_configs_non_crr.get",
            partial(backup.backup_resource_storage_configs_non_crr.get, name, group),
            vault,
        )
        if isinstance(answer, Failure):
            properties: dict[str, Any] = {"storage_redundancy": answer.unknown()}
            collector.add("azure.recoveryservices.vault", vault, properties, digest)
        else:
            properties = {"storage_redundancy": norm.storage_redundancy(answer.body)}
            collector.add("azure.recoveryservices.vault", vault, properties, digest, answer.digest)
        backup_items(collector, backup, vault)


def backup_items(collector: SubscriptionCollector, backup: Any, vault: dict[str, Any]) -> None:
    """The protected items of one vault (their location is the vault's)."""
    group, name = resource_group(vault), str(vault.get("name"))
    answer = collector.detail(
        "recoveryservices",
        "backup_protected_items.list",
        partial(listed, backup.backup_protected_items.list, name, group),
        vault,
    )
    if isinstance(answer, Answer):
        for item in answer.body.get("value") or []:
            item = {**item, "location": vault.get("location")}
            properties = norm.backup_item(item, str(vault.get("id")))
            collector.add("azure.recoveryservices.backup_item", item, properties, answer.digest)
