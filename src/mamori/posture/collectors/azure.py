"""The Azure collector: reads each subscription's configuration with the azure-mgmt SDKs.

Every call goes through `azure_calls.Calls`, which records the answer (kept in ARM JSON
form, digested for `Resource.raw`) or the failure with its ARM error code. A failed
listing produces no resources of its kind (the checks report it as unknown); a failed
per-resource call leaves an `unknown(...)` in the property it would have filled.
Subscriptions are given, or discovered with the subscriptions API.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any

from azure.core.credentials import TokenCredential
from azure.mgmt.compute import ComputeManagementClient
from azure.mgmt.frontdoor import FrontDoorManagementClient
from azure.mgmt.loganalytics import LogAnalyticsManagementClient
from azure.mgmt.monitor import MonitorManagementClient
from azure.mgmt.network import NetworkManagementClient
from azure.mgmt.resource.resources import ResourceManagementClient
from azure.mgmt.security import SecurityCenter
from azure.mgmt.sql import SqlManagementClient
from azure.mgmt.storage import StorageManagementClient
from azure.mgmt.web import WebSiteManagementClient

from mamori.posture.collectors import azure_normalise as norm
from mamori.posture.collectors.azure_calls import (
    PROVIDER,
    Answer,
    Calls,
    Failure,
    listed,
    raw_get,
    resource_group,
)
from mamori.posture.collectors.azure_policy import collect_policy_states
from mamori.posture.collectors.azure_recovery import collect_vaults
from mamori.posture.collectors.base import Collector, SnapshotBuilder
from mamori.posture.snapshot import GLOBAL_REGION, Resource

DEFAULT_BASE_URL = "https://management.azure.com"
SUBSCRIPTIONS_API = "2022-12-01"
DIAGNOSTICS_API = "2021-05-01-preview"


class AzureCollector(Collector):
    """Collects the `azure.*` resource types of one or more subscriptions."""

    provider = PROVIDER

    def __init__(
        self,
        credential: TokenCredential,
        subscriptions: Iterable[str] = (),
        base_url: str = DEFAULT_BASE_URL,
        client_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.credential = credential
        self.subscriptions = tuple(subscriptions)
        self.base_url = base_url.rstrip("/")
        # passed to every SDK client, e.g. {"retry_total": 0} in tests
        self.client_options = dict(client_options or {})

    def client(self, kind: Callable[..., Any], subscription: str) -> Any:
        """An SDK client of `kind` for `subscription` against this collector's cloud."""
        return kind(
            self.credential,
            subscription,
            base_url=self.base_url,
            credential_scopes=[f"{self.base_url}/.default"],
            **self.client_options,
        )

    def collect(self, builder: SnapshotBuilder) -> None:
        """Collect every subscription (discovered when none were given)."""
        for subscription in self.subscriptions or self.discover(builder):
            SubscriptionCollector(self, builder, subscription).collect()

    def discover(self, builder: SnapshotBuilder) -> tuple[str, ...]:
        """The enabled subscriptions the credential can read (none if the call fails)."""
        # no subscription yet: any client's pipeline will do for a tenant-level call
        client = self.client(ResourceManagementClient, "00000000-0000-0000-0000-000000000000")
        calls = Calls(builder, "")
        answer = calls.call(
            "resources",
            "subscriptions.list",
            lambda: raw_get(
                client, f"{self.base_url}/subscriptions?api-version={SUBSCRIPTIONS_API}"
            ),
        )
        if isinstance(answer, Failure):
            return ()
        return tuple(
            str(item["subscriptionId"])
            for item in answer.body.get("value") or []
            if item.get("subscriptionId") and item.get("state", "Enabled") == "Enabled"
        )


class SubscriptionCollector:
    """Collects one subscription: listings, then the per-resource details they need."""

    def __init__(self, parent: AzureCollector, builder: SnapshotBuilder, subscription: str) -> None:
        self.parent = parent
        self.builder = builder
        self.subscription = subscription
        self.calls = Calls(builder, subscription)
        self.regions: set[str] = set()
        self._clients: dict[Any, Any] = {}

    def client(self, kind: Callable[..., Any]) -> Any:
        """The (cached) SDK client of `kind` for this subscription."""
        if kind not in self._clients:
            self._clients[kind] = self.parent.client(kind, self.subscription)
        return self._clients[kind]

    def collect(self) -> None:
        """Collect everything, then record the locations seen as the scope."""
        for step in (
            self.resource_groups,
            self.storage,
            self.compute,
            self.sql,
            self.web,
            self.network,
            self.front_doors,
            self.security,
            self.monitor,
            self.workspaces,
        ):
            step()
        collect_vaults(self)
        collect_policy_states(self)
        self.builder.scope(PROVIDER, self.subscription, self.regions)

    def add(
        self, kind: str, item: dict[str, Any], properties: Mapping[str, Any], *raw: str
    ) -> Resource:
        """Add the resource an ARM item describes, citing the answers it was built from."""
        region = norm.region_of(item)
        if region != GLOBAL_REGION:
            self.regions.add(region)
        resource = Resource(
            PROVIDER,
            self.subscription,
            region,
            kind,
            str(item.get("id", "")),
            str(item.get("name", "")),
            {str(k): str(v) for k, v in (item.get("tags") or {}).items()},
            dict(properties),
            tuple(dict.fromkeys(raw)),
        )
        self.builder.add(resource)
        return resource

    def listing(
        self,
        service: str,
        operation: str,
        fetch: Callable[[], Iterable[Any]],
    ) -> list[tuple[dict[str, Any], str]]:
        """The items of a listing, each with the digest of the answer (none if it failed)."""
        found = self.calls.listing(service, operation, fetch)
        if found is None:
            return []
        items, digest = found
        return [(item, digest) for item in items]

    def detail(
        self, service: str, operation: str, fetch: Callable[[], Any], item: dict[str, Any]
    ) -> Answer | Failure:
        """A per-resource call about `item`, recorded with its id and location."""
        return self.calls.call(
            service, operation, fetch, resource=str(item.get("id", "")), region=norm.region_of(item)
        )

    def resource_groups(self) -> None:
        """`azure.resource_group` (their locations count as seen too)."""
        client = self.client(ResourceManagementClient)
        for item, digest in self.listing(
            "resources", "resource_groups.list", client.resource_groups.list
        ):
            self.add("azure.resource_group", item, {}, digest)

    def storage(self) -> None:
        """Storage accounts with their blob soft-delete retention and diagnostic settings."""
        client = self.client(StorageManagementClient)
        for item, digest in self.listing(
            "storage", "storage_accounts.list", client.storage_accounts.list
        ):
            group, name = resource_group(item), str(item.get("name"))
            answer = self.detail(
                "storage",
                "blob_services.get_service_properties",
                partial(client.blob_services.get_service_properties, group, name),
                item,
            )
            properties = norm.storage_account(item)
            if isinstance(answer, Failure):
                properties["blob_delete_retention_days"] = answer.unknown()
                self.add("azure.storage.account", item, properties, digest)
            else:
                properties["blob_delete_retention_days"] = norm.blob_retention(answer.body)
                self.add("azure.storage.account", item, properties, digest, answer.digest)
            self.diagnostic_settings(item)

    def compute(self) -> None:
        """Managed disks and virtual machines."""
        client = self.client(ComputeManagementClient)
        for item, digest in self.listing("compute", "disks.list", client.disks.list):
            self.add("azure.compute.disk", item, norm.disk(item), digest)
        for item, digest in self.listing(
            "compute", "virtual_machines.list_all", client.virtual_machines.list_all
        ):
            self.add("azure.compute.vm", item, norm.vm(item), digest)

    def sql(self) -> None:
        """SQL servers, and the TDE state of each user database."""
        client = self.client(SqlManagementClient)
        for server, digest in self.listing("sql", "servers.list", client.servers.list):
            self.add("azure.sql.server", server, norm.sql_server(server), digest)
            group, name = resource_group(server), str(server.get("name"))
            answer = self.detail(
                "sql",
                "databases.list_by_server",
                partial(listed, client.databases.list_by_server, group, name),
                server,
            )
            if isinstance(answer, Answer):
                for database in answer.body.get("value") or []:
                    self.database(client, server, database, answer.digest)

    def database(
        self, client: Any, server: dict[str, Any], database: dict[str, Any], digest: str
    ) -> None:
        """One database with its TDE state (`master` is Azure's own and has none)."""
        name = str(database.get("name"))
        if name.lower() == "master":
            return
        group, server_name = resource_group(server), str(server.get("name"))
        answer = self.detail(
            "sql",
            "transparent_data_encryptions.get",
            lambda: client.transparent_data_encryptions.get(group, server_name, name, "current"),
            database,
        )
        properties: dict[str, Any] = {"server": server.get("id")}
        if isinstance(answer, Failure):
            properties["tde_enabled"] = answer.unknown()
            self.add("azure.sql.database", database, properties, digest)
        else:
            properties["tde_enabled"] = norm.tde_enabled(answer.body)
            self.add("azure.sql.database", database, properties, digest, answer.digest)

    def web(self) -> None:
        """App Service sites with the minimum TLS version from their configuration."""
        client = self.client(WebSiteManagementClient)
        for item, digest in self.listing("web", "web_apps.list", client.web_apps.list):
            group, name = resource_group(item), str(item.get("name"))
            answer = self.detail(
                "web",
                "web_apps.get_configuration",
                partial(client.web_apps.get_configuration, group, name),
                item,
            )
            properties = norm.site(item)
            if isinstance(answer, Failure):
                properties["min_tls_version"] = answer.unknown()
                self.add("azure.web.site", item, properties, digest)
            else:
                tls = (answer.body.get("properties") or {}).get("minTlsVersion")
                properties["min_tls_version"] = tls or None
                self.add("azure.web.site", item, properties, digest, answer.digest)

    def network(self) -> None:
        """NSGs, virtual networks, network interfaces and application gateways."""
        client = self.client(NetworkManagementClient)
        kinds: tuple[tuple[str, str, Any, Callable[[dict[str, Any]], dict[str, Any]]], ...] = (
            (
                "azure.network.nsg",
                "network_security_groups.list_all",
                client.network_security_groups,
                norm.nsg,
            ),
            ("azure.network.vnet", "virtual_networks.list_all", client.virtual_networks, norm.vnet),
            (
                "azure.network.nic",
                "network_interfaces.list_all",
                client.network_interfaces,
                norm.nic,
            ),
            (
                "azure.network.application_gateway",
                "application_gateways.list_all",
                client.application_gateways,
                norm.application_gateway,
            ),
        )
        for kind, operation, operations, normalise in kinds:
            for item, digest in self.listing("network", operation, operations.list_all):
                self.add(kind, item, normalise(item), digest)

    def front_doors(self) -> None:
        """Front Door profiles and the WAF policy linked to their endpoints."""
        client = self.client(FrontDoorManagementClient)
        for item, digest in self.listing("frontdoor", "front_doors.list", client.front_doors.list):
            self.add("azure.frontdoor.profile", item, norm.front_door(item), digest)

    def security(self) -> None:
        """Defender for Cloud plans (pricings) of the subscription."""
        client = self.client(SecurityCenter)
        scope = f"subscriptions/{self.subscription}"
        for item, digest in self.listing(
            "security", "pricings.list", lambda: client.pricings.list(scope).value or []
        ):
            self.add("azure.security.pricing", item, norm.pricing(item), digest)

    def monitor(self) -> None:
        """The subscription's activity-log diagnostic settings and activity-log alerts."""
        self.diagnostic_settings(
            {"id": f"/subscriptions/{self.subscription}", "location": "global"}
        )
        client = self.client(MonitorManagementClient)
        for item, digest in self.listing(
            "monitor",
            "activity_log_alerts.list_by_subscription_id",
            client.activity_log_alerts.list_by_subscription_id,
        ):
            self.add(
                "azure.monitor.activity_log_alert", item, norm.activity_log_alert(item), digest
            )

    def diagnostic_settings(self, target: dict[str, Any]) -> None:
        """Diagnostic settings of one resource; no monitor SDK model has this call."""
        client = self.client(MonitorManagementClient)
        target_id = str(target.get("id"))
        url = f"{self.parent.base_url}{target_id}/providers/Microsoft.Insights/diagnosticSettings"
        answer = self.detail(
            "monitor",
            "diagnostic_settings.list",
            lambda: raw_get(client, f"{url}?api-version={DIAGNOSTICS_API}"),
            target,
        )
        if isinstance(answer, Answer):
            for item in answer.body.get("value") or []:
                item = {**item, "location": target.get("location")}
                properties = norm.diagnostic_setting(item, target_id)
                self.add("azure.monitor.diagnostic_setting", item, properties, answer.digest)

    def workspaces(self) -> None:
        """Log Analytics workspaces and their retention."""
        client = self.client(LogAnalyticsManagementClient)
        for item, digest in self.listing("loganalytics", "workspaces.list", client.workspaces.list):
            self.add("azure.loganalytics.workspace", item, norm.workspace(item), digest)
