"""ARM JSON bodies to the properties of the `azure.*` types in `schema.py`.

Every function reads one ARM resource (as the wire shows it: `properties` nested, camel
case) and returns exactly the properties its type declares. Per-resource details that
need a further call (blob retention, TDE state, site TLS) are filled by the collector.
"""

from __future__ import annotations

from typing import Any

from mamori.posture.collectors.azure_calls import get, ids

# ARM protocol names -> the RULE vocabulary shared with AWS security groups
_PROTOCOLS = {"tcp": "tcp", "udp": "udp", "icmp": "icmp", "*": "all"}


def storage_account(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.storage.account` (retention is added by the collector)."""
    props = item.get("properties") or {}
    services = get(props, "encryption", "services") or {}
    blob_on = bool(get(services, "blob", "enabled"))
    file_on = bool(get(services, "file", "enabled"))
    return {
        "sku": get(item, "sku", "name"),
        "secondary_location": props.get("secondaryLocation") or None,
        # the default has been True since API 2019-04-01; absent means the default
        "https_only": bool(props.get("supportsHttpsTrafficOnly", True)),
        "minimum_tls_version": props.get("minimumTlsVersion") or "TLS1_0",
        "encryption_enabled": blob_on and file_on,
        "public_blob_access": bool(props.get("allowBlobPublicAccess", False)),
    }


def blob_retention(body: dict[str, Any]) -> int | None:
    """Days of blob soft delete from a blob service's properties; None when off."""
    policy = get(body, "properties", "deleteRetentionPolicy") or {}
    return int(policy["days"]) if policy.get("enabled") and policy.get("days") else None


def disk(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.compute.disk`."""
    return {
        "encryption_type": get(item, "properties", "encryption", "type") or None,
        "attached_to": item.get("managedBy") or None,
    }


def vm(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.compute.vm`."""
    props = item.get("properties") or {}
    image = get(props, "storageProfile", "imageReference") or {}
    os_profile = props.get("osProfile") or {}
    patch_mode = get(os_profile, "windowsConfiguration", "patchSettings", "patchMode") or get(
        os_profile, "linuxConfiguration", "patchSettings", "patchMode"
    )
    return {
        "image": {key: image.get(key) for key in ("publisher", "offer", "sku", "version", "id")},
        "security_type": get(props, "securityProfile", "securityType") or None,
        "network_interfaces": ids(get(props, "networkProfile", "networkInterfaces")),
        "patch_mode": patch_mode or None,
    }


def sql_server(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.sql.server`."""
    return {"minimal_tls_version": get(item, "properties", "minimalTlsVersion") or None}


def tde_enabled(body: dict[str, Any]) -> bool:
    """Whether a database's `transparentDataEncryption/current` says Enabled."""
    return str(get(body, "properties", "state") or "").lower() == "enabled"


def site(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.web.site` (the TLS version comes from its config)."""
    return {"https_only": bool(get(item, "properties", "httpsOnly"))}


def nsg(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.network.nsg`, default rules included (they decide defaults)."""
    props = item.get("properties") or {}
    rules: list[dict[str, Any]] = []
    for rule in [*(props.get("securityRules") or []), *(props.get("defaultSecurityRules") or [])]:
        rules += nsg_rule(rule.get("properties") or {}, subscription_of(item.get("id", "")))
    subnets, nics = ids(props.get("subnets")), ids(props.get("networkInterfaces"))
    return {"rules": rules, "attached_to": subnets + nics}


def nsg_rule(props: dict[str, Any], subscription: str) -> list[dict[str, Any]]:
    """One RULE entry per destination port range of an NSG rule."""
    ranges = [props["destinationPortRange"]] if props.get("destinationPortRange") else []
    ranges += props.get("destinationPortRanges") or []
    sources = [props["sourceAddressPrefix"]] if props.get("sourceAddressPrefix") else []
    sources += props.get("sourceAddressPrefixes") or []
    groups = [
        {"group_id": group_id, "account": subscription_of(group_id) or subscription}
        for group_id in ids(props.get("sourceApplicationSecurityGroups"))
    ]
    base = {
        "direction": str(props.get("direction", "")).lower(),
        "action": str(props.get("access", "")).lower(),
        "protocol": _PROTOCOLS.get(str(props.get("protocol", "*")).lower(), "all"),
        "sources": sources,
        "source_groups": groups,
        "priority": props.get("priority"),
    }
    return [{**base, **port_range(text)} for text in ranges or ["*"]]


def port_range(text: str) -> dict[str, int | None]:
    """`from_port`/`to_port` of "22", "1000-2000" or "*" (None: all ports)."""
    text = str(text).strip()
    if text in ("*", ""):
        return {"from_port": None, "to_port": None}
    low, _, high = text.partition("-")
    return {"from_port": int(low), "to_port": int(high or low)}


def vnet(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.network.vnet`."""
    props = item.get("properties") or {}
    return {
        "address_space": list(get(props, "addressSpace", "addressPrefixes") or []),
        "subnets": [
            {"id": subnet.get("id"), "nsg": get(subnet, "properties", "networkSecurityGroup", "id")}
            for subnet in props.get("subnets") or []
        ],
        "peerings": [
            {
                "remote_vnet": get(peering, "properties", "remoteVirtualNetwork", "id"),
                "state": get(peering, "properties", "peeringState"),
            }
            for peering in props.get("virtualNetworkPeerings") or []
        ],
    }


def nic(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.network.nic`."""
    props = item.get("properties") or {}
    configs = [config.get("properties") or {} for config in props.get("ipConfigurations") or []]
    subnets = [get(config, "subnet", "id") for config in configs if get(config, "subnet", "id")]
    return {
        "public_ip": any(config.get("publicIPAddress") for config in configs),
        "nsg": get(props, "networkSecurityGroup", "id"),
        "subnet": subnets[0] if subnets else None,
        "vm": get(props, "virtualMachine", "id"),
    }


def application_gateway(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.network.application_gateway`: WAF by config or by policy."""
    props = item.get("properties") or {}
    waf = bool(get(props, "webApplicationFirewallConfiguration", "enabled")) or bool(
        get(props, "firewallPolicy", "id")
    )
    frontends = [
        config.get("properties") or {} for config in props.get("frontendIPConfigurations") or []
    ]
    return {"waf_enabled": waf, "public": any(f.get("publicIPAddress") for f in frontends)}


def front_door(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.frontdoor.profile`: the first endpoint's WAF policy link."""
    endpoints = get(item, "properties", "frontendEndpoints") or []
    links = [
        get(endpoint, "properties", "webApplicationFirewallPolicyLink", "id")
        for endpoint in endpoints
    ]
    policies = [link for link in links if link]
    return {"waf_policy": policies[0] if policies else None}


def pricing(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.security.pricing`."""
    return {"plan": item.get("name"), "tier": get(item, "properties", "pricingTier")}


def diagnostic_setting(item: dict[str, Any], target: str) -> dict[str, Any]:
    """Properties of `azure.monitor.diagnostic_setting` for the resource it is set on."""
    props = item.get("properties") or {}
    return {
        "target": target,
        "workspace": props.get("workspaceId") or None,
        "storage_account": props.get("storageAccountId") or None,
    }


def activity_log_alert(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.monitor.activity_log_alert` from its allOf conditions."""
    props = item.get("properties") or {}
    found: dict[str, str] = {}
    for condition in get(props, "condition", "allOf") or []:
        field = str(condition.get("field", "")).lower()
        if field in ("operationname", "category") and condition.get("equals"):
            found.setdefault(field, str(condition["equals"]))
    return {
        "enabled": bool(props.get("enabled", True)),
        "operation": found.get("operationname"),
        "category": found.get("category"),
    }


def workspace(item: dict[str, Any]) -> dict[str, Any]:
    """Properties of `azure.loganalytics.workspace`."""
    days = get(item, "properties", "retentionInDays")
    return {"retention_days": int(days) if days is not None else None}


def storage_redundancy(body: dict[str, Any]) -> str | None:
    """A vault's backup storage type (GeoRedundant, LocallyRedundant, ZoneRedundant)."""
    value = get(body, "properties", "storageType") or get(body, "properties", "storageModelType")
    return str(value) if value else None


def backup_item(item: dict[str, Any], vault_id: str) -> dict[str, Any]:
    """Properties of `azure.recoveryservices.backup_item`."""
    props = item.get("properties") or {}
    return {
        "source": props.get("sourceResourceId") or props.get("virtualMachineId"),
        "last_backup_time": _utc_text(props.get("lastBackupTime")),
        "vault": vault_id,
    }


def _utc_text(value: Any) -> str | None:
    """ARM times ("2026-11-26T02:00:00.1234567Z") as ISO 8601 UTC ending in Z."""
    if not value:
        return None
    from datetime import datetime

    from mamori.core.clock import as_utc

    text = str(value).replace("Z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # Python 3.11 parses at most six fraction digits
        digits = "".join(ch for ch in rest if ch.isdigit())
        text = f"{head}.{digits[:6]}{rest[len(digits) :]}"
    moment = as_utc(datetime.fromisoformat(text))
    return moment.isoformat().replace("+00:00", "Z")


def subscription_of(resource_id: str) -> str:
    """The subscription id inside an Azure resource id ("" when none)."""
    parts = resource_id.split("/")
    lowered = [part.lower() for part in parts]
    if "subscriptions" in lowered:
        index = lowered.index("subscriptions")
        if index + 1 < len(parts):
            return parts[index + 1]
    return ""


def region_of(item: dict[str, Any]) -> str:
    """ARM `location` normalised ("Japan East" and "japaneast" alike); global otherwise."""
    location = str(item.get("location") or "global")
    return location.replace(" ", "").lower()
