# ruff: noqa: E501 - recorded ARM bodies keep their long ids on one line
"""Recorded ARM answers for one subscription with planted violations and compliant twins.

The bodies are in the REST shapes Azure Resource Manager returns (`value` arrays,
`nextLink` / `@odata.nextLink` paging, `properties` nested). `serve(rsps)` answers every
management.azure.com request from `ANSWERS` by path (api-version and other query strings
accepted), with ARM's 404 for anything not recorded and a 403 AuthorizationFailed for the
resource providers named in `forbidden`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import parse_qs, urlparse

import responses
from azure.core.credentials import AccessToken

BASE = "https://management.azure.com"
SUB = "00000000-0000-0000-0000-0000000000aa"
S = f"/subscriptions/{SUB}"
RG = f"{S}/resourceGroups/rg-app"
RG_US = f"{S}/resourceGroups/rg-us"
ALLOWED_LOCATIONS = (
    "/providers/Microsoft.Authorization/policyDefinitions/e56962a6-4747-49cd-b67b-bf8b01975c4c"
)
ISO_INITIATIVE = "/providers/Microsoft.Authorization/policySetDefinitions/iso27017-builtin"


class FakeCredential:
    """A TokenCredential returning a fixed token, as the SDK pipelines ask for one."""

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        """A token valid for an hour past any test clock."""
        return AccessToken("fake-token", 4_102_444_800)


def rid(group: str, provider: str, name: str) -> str:
    """A full resource id in `group`."""
    return f"{group}/providers/{provider}/{name}"


def storage(name: str, location: str, sku: str, **props: Any) -> dict[str, Any]:
    """A storage account as `storageAccounts` lists it."""
    group = RG_US if location == "eastus" else RG
    body = {
        "id": rid(group, "Microsoft.Storage/storageAccounts", name),
        "name": name,
        "type": "Microsoft.Storage/storageAccounts",
        "location": location,
        "kind": "StorageV2",
        "sku": {"name": sku, "tier": "Standard"},
        "tags": {},
        "properties": {
            "primaryLocation": location,
            "statusOfPrimary": "available",
            "supportsHttpsTrafficOnly": True,
            "minimumTlsVersion": "TLS1_2",
            "allowBlobPublicAccess": False,
            "encryption": {
                "keySource": "Microsoft.Storage",
                "services": {
                    "blob": {"enabled": True, "keyType": "Account"},
                    "file": {"enabled": True, "keyType": "Account"},
                },
            },
            **props,
        },
    }
    return body


ST_OK = storage("stjpok", "japaneast", "Standard_LRS")
ST_US = storage("steastus", "eastus", "Standard_LRS")
ST_GRS_BAD = storage(
    "stgrsbad",
    "japaneast",
    "Standard_GRS",
    secondaryLocation="koreacentral",
    statusOfSecondary="available",
)
ST_GRS_OK = storage(
    "stgrsok",
    "japaneast",
    "Standard_RAGRS",
    secondaryLocation="japanwest",
    statusOfSecondary="available",
)
ST_HTTP = storage(
    "sthttp",
    "japaneast",
    "Standard_LRS",
    supportsHttpsTrafficOnly=False,
    minimumTlsVersion="TLS1_0",
)

VM_BAD_ID = rid(RG, "Microsoft.Compute/virtualMachines", "vm-bad")
VM_OK_ID = rid(RG, "Microsoft.Compute/virtualMachines", "vm-ok")
NSG_RDP_ID = rid(RG, "Microsoft.Network/networkSecurityGroups", "nsg-rdp")
NSG_WEB_ID = rid(RG, "Microsoft.Network/networkSecurityGroups", "nsg-web")
VNET_A_ID = rid(RG, "Microsoft.Network/virtualNetworks", "vnet-a")
VNET_B_ID = rid(RG, "Microsoft.Network/virtualNetworks", "vnet-b")
VNET_SHARED_ID = rid(RG, "Microsoft.Network/virtualNetworks", "vnet-shared")
VAULT_ID = rid(RG, "Microsoft.RecoveryServices/vaults", "rsv-jp")
WORKSPACE_ID = rid(RG, "Microsoft.OperationalInsights/workspaces", "law-365")


def disk(name: str, encryption: dict[str, Any] | None, managed_by: str | None) -> dict[str, Any]:
    """A managed disk; `encryption` None plants one without encryption settings."""
    props: dict[str, Any] = {
        "diskSizeGB": 30,
        "diskState": "Attached",
        "provisioningState": "Succeeded",
    }
    if encryption is not None:
        props["encryption"] = encryption
    body: dict[str, Any] = {
        "id": rid(RG, "Microsoft.Compute/disks", name),
        "name": name,
        "type": "Microsoft.Compute/disks",
        "location": "japaneast",
        "sku": {"name": "Premium_LRS"},
        "properties": props,
    }
    if managed_by:
        body["managedBy"] = managed_by
    return body


def vm(name: str, image: dict[str, str], trusted: bool, nic: str) -> dict[str, Any]:
    """A virtual machine tagged production."""
    props: dict[str, Any] = {
        "vmId": f"{name}-0000",
        "hardwareProfile": {"vmSize": "Standard_D2s_v5"},
        "storageProfile": {
            "imageReference": {**image, "version": "latest"},
            "osDisk": {"osType": "Linux"},
        },
        "osProfile": {
            "computerName": name,
            "adminUsername": "azureuser",
            "linuxConfiguration": {"patchSettings": {"patchMode": "AutomaticByPlatform"}},
        },
        "networkProfile": {"networkInterfaces": [{"id": nic}]},
        "provisioningState": "Succeeded",
    }
    if trusted:
        props["securityProfile"] = {
            "securityType": "TrustedLaunch",
            "uefiSettings": {"secureBootEnabled": True, "vTpmEnabled": True},
        }
    return {
        "id": rid(RG, "Microsoft.Compute/virtualMachines", name),
        "name": name,
        "type": "Microsoft.Compute/virtualMachines",
        "location": "japaneast",
        "tags": {"environment": "production"},
        "properties": props,
    }


def nsg_rule(
    name: str, port: str, source: str, priority: int, access: str = "Allow"
) -> dict[str, Any]:
    """A security rule as NSGs carry it."""
    return {
        "name": name,
        "id": f"{NSG_RDP_ID}/securityRules/{name}",
        "properties": {
            "protocol": "Tcp" if port != "*" else "*",
            "sourcePortRange": "*",
            "destinationPortRange": port,
            "sourceAddressPrefix": source,
            "destinationAddressPrefix": "*",
            "access": access,
            "priority": priority,
            "direction": "Inbound",
        },
    }


DEFAULT_RULES = [
    nsg_rule("AllowVnetInBound", "*", "VirtualNetwork", 65000),
    nsg_rule("AllowAzureLoadBalancerInBound", "*", "AzureLoadBalancer", 65001),
    nsg_rule("DenyAllInBound", "*", "*", 65500, access="Deny"),
]


def nsg(name: str, rules: list[dict[str, Any]], nics: Iterable[str] = ()) -> dict[str, Any]:
    """A network security group."""
    return {
        "id": rid(RG, "Microsoft.Network/networkSecurityGroups", name),
        "name": name,
        "type": "Microsoft.Network/networkSecurityGroups",
        "location": "japaneast",
        "etag": 'W/"1"',
        "properties": {
            "securityRules": rules,
            "defaultSecurityRules": DEFAULT_RULES,
            "networkInterfaces": [{"id": nic} for nic in nics],
        },
    }


def vnet(name: str, tenant: str, cidr: str, remotes: Iterable[str]) -> dict[str, Any]:
    """A virtual network tagged with its tenant, peered with `remotes`."""
    vnet_id = rid(RG, "Microsoft.Network/virtualNetworks", name)
    return {
        "id": vnet_id,
        "name": name,
        "type": "Microsoft.Network/virtualNetworks",
        "location": "japaneast",
        "tags": {"mamori:tenant": tenant, "mamori:service": "app"},
        "properties": {
            "addressSpace": {"addressPrefixes": [cidr]},
            "subnets": [
                {
                    "id": f"{vnet_id}/subnets/default",
                    "name": "default",
                    "properties": {"addressPrefix": cidr},
                }
            ],
            "virtualNetworkPeerings": [
                {
                    "id": f"{vnet_id}/virtualNetworkPeerings/to-{remote.rsplit('/', 1)[-1]}",
                    "name": f"to-{remote.rsplit('/', 1)[-1]}",
                    "properties": {
                        "peeringState": "Connected",
                        "remoteVirtualNetwork": {"id": remote},
                        "allowVirtualNetworkAccess": True,
                    },
                }
                for remote in remotes
            ],
        },
    }


def app_gateway(name: str, waf: bool) -> dict[str, Any]:
    """A public application gateway, with or without WAF."""
    props: dict[str, Any] = {
        "sku": {
            "name": "WAF_v2" if waf else "Standard_v2",
            "tier": "WAF_v2" if waf else "Standard_v2",
        },
        "frontendIPConfigurations": [
            {
                "name": "public",
                "properties": {
                    "publicIPAddress": {
                        "id": f"{RG}/providers/Microsoft.Network/publicIPAddresses/{name}-ip"
                    }
                },
            }
        ],
    }
    if waf:
        props["webApplicationFirewallConfiguration"] = {
            "enabled": True,
            "firewallMode": "Prevention",
            "ruleSetType": "OWASP",
            "ruleSetVersion": "3.2",
        }
    return {
        "id": rid(RG, "Microsoft.Network/applicationGateways", name),
        "name": name,
        "type": "Microsoft.Network/applicationGateways",
        "location": "japaneast",
        "properties": props,
    }


def front_door(name: str, waf: str | None) -> dict[str, Any]:
    """A (classic) Front Door with one frontend endpoint."""
    endpoint: dict[str, Any] = {"hostName": f"{name}.azurefd.net"}
    if waf:
        endpoint["webApplicationFirewallPolicyLink"] = {"id": waf}
    return {
        "id": rid(RG, "Microsoft.Network/frontDoors", name),
        "name": name,
        "type": "Microsoft.Network/frontDoors",
        "location": "Global",
        "properties": {"frontendEndpoints": [{"name": "default", "properties": endpoint}]},
    }


def site(name: str, https_only: bool) -> dict[str, Any]:
    """An App Service site as `sites` lists it."""
    return {
        "id": rid(RG, "Microsoft.Web/sites", name),
        "name": name,
        "type": "Microsoft.Web/sites",
        "kind": "app",
        "location": "Japan East",
        "properties": {
            "state": "Running",
            "httpsOnly": https_only,
            "defaultHostName": f"{name}.azurewebsites.net",
        },
    }


def sql_server(name: str, tls: str) -> dict[str, Any]:
    """A logical SQL server."""
    return {
        "id": rid(RG, "Microsoft.Sql/servers", name),
        "name": name,
        "type": "Microsoft.Sql/servers",
        "location": "japaneast",
        "properties": {"version": "12.0", "minimalTlsVersion": tls, "state": "Ready"},
    }


def database(server: str, name: str) -> dict[str, Any]:
    """A database of `server`."""
    return {
        "id": rid(RG, "Microsoft.Sql/servers", f"{server}/databases/{name}"),
        "name": name,
        "type": "Microsoft.Sql/servers/databases",
        "location": "japaneast",
        "sku": {"name": "S0", "tier": "Standard"},
        "properties": {"status": "Online"},
    }


def tde(server: str, name: str, state: str) -> dict[str, Any]:
    """The `transparentDataEncryption/current` of a database."""
    return {
        "id": rid(
            RG,
            "Microsoft.Sql/servers",
            f"{server}/databases/{name}/transparentDataEncryption/Current",
        ),
        "name": "Current",
        "type": "Microsoft.Sql/servers/databases/transparentDataEncryption",
        "properties": {"state": state},
    }


def pricing(plan: str, tier: str) -> dict[str, Any]:
    """A Defender for Cloud plan."""
    return {
        "id": f"{S}/providers/Microsoft.Security/pricings/{plan}",
        "name": plan,
        "type": "Microsoft.Security/pricings",
        "properties": {"pricingTier": tier, "freeTrialRemainingTime": "PT0S"},
    }


def diagnostic(target: str, name: str) -> dict[str, Any]:
    """A diagnostic setting sending to the workspace."""
    return {
        "id": f"{target}/providers/microsoft.insights/diagnosticSettings/{name}",
        "name": name,
        "type": "Microsoft.Insights/diagnosticSettings",
        "properties": {
            "workspaceId": WORKSPACE_ID,
            "logs": [{"categoryGroup": "allLogs", "enabled": True}],
        },
    }


def alert(name: str, operation: str, enabled: bool) -> dict[str, Any]:
    """An activity-log alert on an administrative operation."""
    return {
        "id": rid(RG, "Microsoft.Insights/activityLogAlerts", name),
        "name": name,
        "type": "Microsoft.Insights/ActivityLogAlerts",
        "location": "Global",
        "properties": {
            "scopes": [S],
            "enabled": enabled,
            "condition": {
                "allOf": [
                    {"field": "category", "equals": "Administrative"},
                    {"field": "operationName", "equals": operation},
                ]
            },
            "actions": {"actionGroups": []},
        },
    }


def workspace(name: str, days: int) -> dict[str, Any]:
    """A Log Analytics workspace."""
    return {
        "id": rid(RG, "Microsoft.OperationalInsights/workspaces", name),
        "name": name,
        "type": "Microsoft.OperationalInsights/workspaces",
        "location": "japaneast",
        "properties": {
            "retentionInDays": days,
            "sku": {"name": "PerGB2018"},
            "provisioningState": "Succeeded",
        },
    }


def backup_item(vm_id: str, last: str) -> dict[str, Any]:
    """A protected VM of the vault."""
    name = vm_id.rsplit("/", 1)[-1]
    return {
        "id": f"{VAULT_ID}/backupFabrics/Azure/protectionContainers/iaasvmcontainerv2;rg-app;{name}/protectedItems/vm;iaasvmcontainerv2;rg-app;{name}",
        "name": f"vm;iaasvmcontainerv2;rg-app;{name}",
        "type": "Microsoft.RecoveryServices/vaults/backupFabrics/protectionContainers/protectedItems",
        "properties": {
            "protectedItemType": "Microsoft.Compute/virtualMachines",
            "friendlyName": name,
            "virtualMachineId": vm_id,
            "sourceResourceId": vm_id,
            "protectionStatus": "Healthy",
            "lastBackupStatus": "Completed",
            "lastBackupTime": last,
            "workloadType": "VM",
        },
    }


def policy_state(
    resource: str,
    assignment: str,
    definition: str,
    state: str,
    initiative: str = "",
    reference: str = "",
) -> dict[str, Any]:
    """One latest policy state as Policy Insights returns it."""
    return {
        "@odata.id": None,
        "@odata.context": "https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#latest/$entity",
        "timestamp": "2026-11-27T01:00:00Z",
        "resourceId": resource,
        "policyAssignmentId": f"{S}/providers/Microsoft.Authorization/policyAssignments/{assignment}",
        "policyDefinitionId": definition,
        "effectiveParameters": "",
        "isCompliant": state == "Compliant",
        "subscriptionId": SUB,
        "resourceType": "Microsoft.Storage/storageAccounts",
        "resourceLocation": "japaneast",
        "resourceGroup": "rg-app",
        "policyAssignmentName": assignment,
        "policyAssignmentScope": S,
        "policyDefinitionName": definition.rsplit("/", 1)[-1],
        "policyDefinitionAction": "deny",
        "policySetDefinitionId": initiative,
        "policySetDefinitionName": initiative.rsplit("/", 1)[-1] if initiative else "",
        "policyDefinitionReferenceId": reference,
        "complianceState": state,
    }


def sub_path(path: str) -> str:
    """A subscription-level provider path."""
    return f"{S}/providers/{path}"


PAGE2 = "page2"
ANSWERS: dict[str, Any] = {
    f"{S}/resourcegroups": {
        "value": [
            {
                "id": RG,
                "name": "rg-app",
                "type": "Microsoft.Resources/resourceGroups",
                "location": "japaneast",
                "properties": {"provisioningState": "Succeeded"},
            },
            {
                "id": RG_US,
                "name": "rg-us",
                "type": "Microsoft.Resources/resourceGroups",
                "location": "eastus",
                "properties": {"provisioningState": "Succeeded"},
            },
        ]
    },
    sub_path("Microsoft.Storage/storageAccounts"): {
        "value": [ST_OK, ST_US, ST_GRS_BAD],
        "nextLink": f"{BASE}{S}/providers/Microsoft.Storage/storageAccounts?api-version=2025-01-01&$skipToken={PAGE2}",
    },
    sub_path("Microsoft.Storage/storageAccounts") + f"#{PAGE2}": {"value": [ST_GRS_OK, ST_HTTP]},
    sub_path("Microsoft.Compute/disks"): {
        "value": [
            disk("disk-ok", {"type": "EncryptionAtRestWithPlatformKey"}, VM_OK_ID),
            disk("disk-plain", None, VM_BAD_ID),
        ]
    },
    sub_path("Microsoft.Compute/virtualMachines"): {
        "value": [
            vm(
                "vm-bad",
                {"publisher": "Canonical", "offer": "UbuntuServer", "sku": "16.04-LTS"},
                False,
                f"{RG}/providers/Microsoft.Network/networkInterfaces/nic-bad",
            ),
            vm(
                "vm-ok",
                {
                    "publisher": "Canonical",
                    "offer": "0001-com-ubuntu-server-jammy",
                    "sku": "22_04-lts-gen2",
                },
                True,
                f"{RG}/providers/Microsoft.Network/networkInterfaces/nic-ok",
            ),
        ]
    },
    sub_path("Microsoft.Sql/servers"): {
        "value": [sql_server("sql-jp", "1.2"), sql_server("sql-old", "1.0")]
    },
    f"{RG}/providers/Microsoft.Sql/servers/sql-jp/databases": {
        "value": [
            database("sql-jp", "master"),
            database("sql-jp", "db-ok"),
            database("sql-jp", "db-plain"),
        ]
    },
    f"{RG}/providers/Microsoft.Sql/servers/sql-old/databases": {"value": []},
    f"{RG}/providers/Microsoft.Sql/servers/sql-jp/databases/db-ok/transparentDataEncryption/current": tde(
        "sql-jp", "db-ok", "Enabled"
    ),
    f"{RG}/providers/Microsoft.Sql/servers/sql-jp/databases/db-plain/transparentDataEncryption/current": tde(
        "sql-jp", "db-plain", "Disabled"
    ),
    sub_path("Microsoft.Web/sites"): {"value": [site("app-ok", True), site("app-http", False)]},
    f"{RG}/providers/Microsoft.Web/sites/app-ok/config/web": {
        "id": f"{RG}/providers/Microsoft.Web/sites/app-ok/config/web",
        "name": "app-ok",
        "properties": {"minTlsVersion": "1.2", "ftpsState": "Disabled"},
    },
    f"{RG}/providers/Microsoft.Web/sites/app-http/config/web": {
        "id": f"{RG}/providers/Microsoft.Web/sites/app-http/config/web",
        "name": "app-http",
        "properties": {"minTlsVersion": "1.0", "ftpsState": "AllAllowed"},
    },
    sub_path("Microsoft.Network/networkSecurityGroups"): {
        "value": [
            nsg(
                "nsg-rdp",
                [nsg_rule("allow-rdp", "3389", "Internet", 100)],
                [f"{RG}/providers/Microsoft.Network/networkInterfaces/nic-bad"],
            ),
            nsg("nsg-web", [nsg_rule("allow-https", "443", "Internet", 100)]),
        ]
    },
    sub_path("Microsoft.Network/virtualNetworks"): {
        "value": [
            vnet("vnet-a", "tenant-a", "10.1.0.0/16", [VNET_B_ID]),
            vnet("vnet-b", "tenant-b", "10.2.0.0/16", [VNET_A_ID]),
            vnet("vnet-shared", "shared", "10.9.0.0/16", [VNET_A_ID]),
        ]
    },
    sub_path("Microsoft.Network/networkInterfaces"): {
        "value": [
            {
                "id": f"{RG}/providers/Microsoft.Network/networkInterfaces/nic-bad",
                "name": "nic-bad",
                "location": "japaneast",
                "properties": {
                    "ipConfigurations": [
                        {
                            "name": "ipconfig1",
                            "properties": {
                                "subnet": {"id": f"{VNET_A_ID}/subnets/default"},
                                "publicIPAddress": {
                                    "id": f"{RG}/providers/Microsoft.Network/publicIPAddresses/pip-bad"
                                },
                            },
                        }
                    ],
                    "networkSecurityGroup": {"id": NSG_RDP_ID},
                    "virtualMachine": {"id": VM_BAD_ID},
                },
            }
        ]
    },
    sub_path("Microsoft.Network/applicationGateways"): {
        "value": [app_gateway("agw-open", False), app_gateway("agw-waf", True)]
    },
    sub_path("Microsoft.Network/frontDoors"): {
        "value": [
            front_door(
                "fd-waf",
                f"{RG}/providers/Microsoft.Network/frontdoorWebApplicationFirewallPolicies/wafpolicy",
            ),
            front_door("fd-open", None),
        ]
    },
    sub_path("Microsoft.Security/pricings"): {
        "value": [
            pricing("VirtualMachines", "Free"),
            pricing("StorageAccounts", "Standard"),
            pricing("SqlServers", "Standard"),
        ]
    },
    sub_path("Microsoft.Insights/diagnosticSettings"): {
        "value": [diagnostic(S, "activity-to-law")]
    },
    ST_OK["id"] + "/providers/Microsoft.Insights/diagnosticSettings": {
        "value": [diagnostic(ST_OK["id"], "blob-to-law")]
    },
    sub_path("Microsoft.Insights/activityLogAlerts"): {
        "value": [
            alert("alert-policy", "Microsoft.Authorization/policyAssignments/write", True),
            alert("alert-nsg", "Microsoft.Network/networkSecurityGroups/write", False),
        ]
    },
    sub_path("Microsoft.OperationalInsights/workspaces"): {
        "value": [workspace("law-30", 30), workspace("law-365", 365)]
    },
    f"{S}/resources": {
        "value": [
            {
                "id": VAULT_ID,
                "name": "rsv-jp",
                "type": "Microsoft.RecoveryServices/vaults",
                "location": "japaneast",
                "sku": {"name": "RS0", "tier": "Standard"},
            }
        ]
    },
    f"{VAULT_ID}/backupstorageconfig/vaultstorageconfig": {
        "id": f"{VAULT_ID}/backupstorageconfig/vaultstorageconfig",
        "name": "vaultstorageconfig",
        "type": "Microsoft.RecoveryServices/vaults/backupstorageconfig",
        "properties": {
            "storageModelType": "GeoRedundant",
            "storageType": "GeoRedundant",
            "storageTypeState": "Locked",
            "crossRegionRestoreFlag": False,
        },
    },
    f"{VAULT_ID}/backupProtectedItems": {
        "value": [
            backup_item(VM_BAD_ID, "2026-11-17T02:00:00.1234567Z"),
            backup_item(VM_OK_ID, "2026-11-26T02:00:00.1234567Z"),
        ]
    },
    sub_path("Microsoft.PolicyInsights/policyStates/latest/queryResults"): {
        "@odata.context": "https://management.azure.com/providers/Microsoft.PolicyInsights/policyStates/$metadata#latest",
        "@odata.count": 2,
        "@odata.nextLink": f"{BASE}{S}/providers/Microsoft.PolicyInsights/policyStates/latest/queryResults?api-version=2019-10-01&$skiptoken={PAGE2}",
        "value": [
            policy_state(ST_US["id"], "allowed-locations", ALLOWED_LOCATIONS, "NonCompliant"),
            policy_state(ST_OK["id"], "allowed-locations", ALLOWED_LOCATIONS, "Compliant"),
        ],
    },
    sub_path("Microsoft.PolicyInsights/policyStates/latest/queryResults") + f"#{PAGE2}": {
        "@odata.count": 2,
        "value": [
            policy_state(
                ST_HTTP["id"],
                "iso27017",
                "/providers/Microsoft.Authorization/policyDefinitions/secure-transfer",
                "NonCompliant",
                ISO_INITIATIVE,
                "secureTransfer",
            ),
            policy_state(
                ST_OK["id"],
                "iso27017",
                "/providers/Microsoft.Authorization/policyDefinitions/secure-transfer",
                "Compliant",
                ISO_INITIATIVE,
                "secureTransfer",
            ),
        ],
    },
    ISO_INITIATIVE: {
        "id": ISO_INITIATIVE,
        "name": "iso27017-builtin",
        "type": "Microsoft.Authorization/policySetDefinitions",
        "properties": {"displayName": "ISO/IEC 27017:2015", "policyType": "BuiltIn"},
    },
    "/subscriptions": {
        "value": [{"id": S, "subscriptionId": SUB, "displayName": "prod", "state": "Enabled"}]
    },
}
ANSWERS = {key.lower(): value for key, value in ANSWERS.items()}
for _account in (ST_OK, ST_US, ST_GRS_BAD, ST_GRS_OK, ST_HTTP):
    ANSWERS.setdefault(
        f"{_account['id']}/blobServices/default".lower(),
        {
            "id": f"{_account['id']}/blobServices/default",
            "name": "default",
            "type": "Microsoft.Storage/storageAccounts/blobServices",
            "properties": {"deleteRetentionPolicy": {"enabled": True, "days": 7}},
        },
    )
    ANSWERS.setdefault(
        f"{_account['id']}/providers/Microsoft.Insights/diagnosticSettings".lower(), {"value": []}
    )


def _error(status: int, code: str, message: str) -> tuple[int, dict[str, str], str]:
    return (
        status,
        {"Content-Type": "application/json"},
        json.dumps({"error": {"code": code, "message": message}}),
    )


def serve(
    rsps: responses.RequestsMock, forbidden: Iterable[str] = (), seen: list[str] | None = None
) -> None:
    """Answer ARM requests from `ANSWERS`; providers in `forbidden` answer 403."""
    blocked = [name.lower() for name in forbidden]

    def answer(request: Any) -> tuple[int, dict[str, str], str]:
        url = urlparse(request.url)
        path = url.path.rstrip("/").lower()
        query = {key.lower(): values for key, values in parse_qs(url.query).items()}
        if seen is not None:
            seen.append(f"{request.method} {url.path}?{url.query}")
        if any(f"/providers/{name}/" in path + "/" for name in blocked):
            return _error(
                403,
                "AuthorizationFailed",
                f"The client 'mamori' does not have authorization to perform action over scope '{url.path}'.",
            )
        token = (query.get("$skiptoken") or [""])[0]
        key = f"{path}#{token}" if token else path
        if key not in ANSWERS:
            return _error(404, "ResourceNotFound", f"The resource '{url.path}' was not found.")
        return 200, {"Content-Type": "application/json"}, json.dumps(ANSWERS[key])

    pattern = re.compile(re.escape(BASE) + r"/.*")
    for method in (responses.GET, responses.POST):
        rsps.add_callback(method, pattern, callback=answer)


_COLLECTED: dict[str, Any] = {}


def collected() -> Any:
    """The recorded subscription collected once per test run (a `Snapshot`; do not mutate)."""
    if "snapshot" not in _COLLECTED:
        from mamori.posture.collectors.azure import AzureCollector
        from mamori.posture.collectors.base import SnapshotBuilder
        from tests.posture.support import NOW

        with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
            serve(rsps)
            builder = SnapshotBuilder(NOW)
            collector = AzureCollector(FakeCredential(), [SUB], client_options={"retry_total": 0})
            collector.collect(builder)
        _COLLECTED["snapshot"] = builder.snapshot
    return _COLLECTED["snapshot"]


def outcomes(findings: Iterable[Any]) -> dict[str, str]:
    """Resource name (the last part of the subject) -> status, for the findings given."""
    return {str(f.subject).rsplit("/", 1)[-1]: str(f.status) for f in findings}
