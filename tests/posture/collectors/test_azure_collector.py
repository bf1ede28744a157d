"""The Azure collector against recorded ARM answers, through the real azure-mgmt SDKs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import responses

from mamori.posture.attribution import Attribution
from mamori.posture.collectors.azure import AzureCollector
from mamori.posture.collectors.base import SnapshotBuilder
from mamori.posture.schema import TYPES
from mamori.posture.snapshot import Resource, Snapshot, is_unknown, read_snapshot, snapshot_bytes
from tests.posture.azure_recordings import SUB, FakeCredential, serve
from tests.posture.support import NOW, run_check

OPTIONS = {"retry_total": 0}  # an unrecorded call fails at once instead of retrying


def collect(
    forbidden: tuple[str, ...] = (), seen: list[str] | None = None, **kwargs: object
) -> Snapshot:
    """A snapshot of the recorded subscription."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as rsps:
        serve(rsps, forbidden, seen)
        builder = SnapshotBuilder(NOW)
        subscriptions = kwargs.get("subscriptions", [SUB])
        assert isinstance(subscriptions, list)
        AzureCollector(FakeCredential(), subscriptions, client_options=OPTIONS).collect(builder)
    return builder.snapshot


@pytest.fixture(scope="module")
def snapshot() -> Snapshot:
    """The recorded subscription, collected once for the module."""
    return collect()


def named(snapshot: Snapshot, kind: str, name: str) -> Resource:
    """The resource of `kind` called `name`."""
    found = [r for r in snapshot.of_type(kind) if r.name == name]
    assert len(found) == 1, f"{kind} {name}: {len(found)} found"
    return found[0]


def tags_attribution(snapshot: Snapshot) -> dict[str, Attribution]:
    """Tenants from `mamori:tenant` tags, as the attribution step would decide."""
    return {
        r.key: Attribution(r.tags.get("mamori:service"), r.tags["mamori:tenant"], "tag")
        for r in snapshot.resources
        if "mamori:tenant" in r.tags
    }


def test_planted_resources_have_their_properties(snapshot: Snapshot) -> None:
    assert named(snapshot, "azure.storage.account", "steastus").region == "eastus"
    grs = named(snapshot, "azure.storage.account", "stgrsbad").properties
    assert grs["secondary_location"] == "koreacentral" and grs["sku"] == "Standard_GRS"
    http = named(snapshot, "azure.storage.account", "sthttp").properties
    assert http["https_only"] is False and http["minimum_tls_version"] == "TLS1_0"
    assert named(snapshot, "azure.compute.disk", "disk-plain").properties["encryption_type"] is None
    assert named(snapshot, "azure.sql.database", "db-plain").properties["tde_enabled"] is False
    assert not [r for r in snapshot.of_type("azure.sql.database") if r.name == "master"]
    site = named(snapshot, "azure.web.site", "app-http").properties
    assert site == {"https_only": False, "min_tls_version": "1.0"}
    assert named(snapshot, "azure.web.site", "app-ok").region == "japaneast"  # "Japan East"
    rdp = named(snapshot, "azure.network.nsg", "nsg-rdp").properties["rules"][0]
    assert (rdp["from_port"], rdp["sources"], rdp["action"]) == (3389, ["Internet"], "allow")
    vm = named(snapshot, "azure.compute.vm", "vm-bad").properties
    assert vm["image"]["offer"] == "UbuntuServer" and vm["security_type"] is None
    assert named(snapshot, "azure.security.pricing", "VirtualMachines").properties["tier"] == "Free"
    days = {
        r.name: r.properties["retention_days"]
        for r in snapshot.of_type("azure.loganalytics.workspace")
    }
    assert days == {"law-30": 30, "law-365": 365}
    vault = named(snapshot, "azure.recoveryservices.vault", "rsv-jp")
    assert vault.properties["storage_redundancy"] == "GeoRedundant"
    times = sorted(
        str(r.properties["last_backup_time"])
        for r in snapshot.of_type("azure.recoveryservices.backup_item")
    )
    assert times == ["2026-11-17T02:00:00.123456Z", "2026-11-26T02:00:00.123456Z"]
    vnet = named(snapshot, "azure.network.vnet", "vnet-a")
    assert (
        vnet.tags["mamori:tenant"] == "tenant-a"
        and vnet.properties["peerings"][0]["state"] == "Connected"
    )


def test_policy_states_carry_assignment_and_initiative(snapshot: Snapshot) -> None:
    states = snapshot.of_type("azure.policy.state")
    assert len(states) == 4  # two pages
    located = [s for s in states if s.properties["assignment_name"] == "allowed-locations"]
    assert sorted(s.properties["compliance"] for s in located) == ["Compliant", "NonCompliant"]
    iso = [s for s in states if s.properties["initiative"] == "ISO/IEC 27017:2015"]
    assert len(iso) == 2 and len({s.id for s in states}) == 4


def test_every_type_and_property_is_declared(snapshot: Snapshot) -> None:
    produced = {r.type for r in snapshot.resources}
    assert produced == {name for name in TYPES if name.startswith("azure.")}
    for resource in snapshot.resources:
        declared = set(TYPES[resource.type].properties)
        assert set(resource.properties) == declared, resource.type
        assert resource.provider == "azure" and resource.account == SUB
        assert resource.id.startswith("/subscriptions/") or resource.id.startswith("/providers/")


def test_every_resource_cites_recorded_answers(snapshot: Snapshot) -> None:
    for resource in snapshot.resources:
        assert resource.raw, resource.id
        assert all(digest in snapshot.raw for digest in resource.raw)
    st = named(snapshot, "azure.storage.account", "stjpok")
    operations = {snapshot.raw[d].operation for d in st.raw}
    assert operations == {"storage_accounts.list", "blob_services.get_service_properties"}
    assert all(entry.ok for entry in snapshot.coverage)


def test_paging_is_followed() -> None:
    seen: list[str] = []
    snapshot = collect(seen=seen)
    assert len(snapshot.of_type("azure.storage.account")) == 5
    assert any("storageAccounts" in url and "skipToken=page2" in url for url in seen)
    assert any("queryResults" in url and "skiptoken=page2" in url for url in seen)


def test_scope_names_the_locations_seen(snapshot: Snapshot) -> None:
    assert snapshot.scope == {"azure": {SUB: ["eastus", "japaneast"]}}


def test_subscriptions_are_discovered_when_none_are_given() -> None:
    snapshot = collect(subscriptions=[])
    assert snapshot.scope["azure"].keys() == {SUB}
    assert any(e.operation == "subscriptions.list" and e.ok for e in snapshot.coverage)


def test_a_forbidden_provider_is_named_in_coverage_and_its_checks_are_unknown() -> None:
    snapshot = collect(forbidden=("Microsoft.Security", "Microsoft.Web"))
    failed = snapshot.failures("azure", "security")
    assert [(e.operation, e.error_code) for e in failed] == [
        ("pricings.list", "AuthorizationFailed")
    ]
    assert "does not have authorization" in failed[0].error_message
    assert not snapshot.of_type("azure.security.pricing")
    findings = run_check("azure_defender_plans", snapshot)
    assert [str(f.status) for f in findings] == ["unknown"]
    assert findings[0].params["call"] == "security:pricings.list"
    assert not snapshot.of_type("azure.web.site")
    assert {str(f.status) for f in run_check("azure_web_https_tls", snapshot)} == {"unknown"}


def test_a_failed_per_resource_call_leaves_the_property_unknown() -> None:
    snapshot = collect(forbidden=("Microsoft.Sql/servers/sql-jp/databases/db-plain",))
    database = named(snapshot, "azure.sql.database", "db-plain")
    assert is_unknown(database.properties["tde_enabled"])
    [entry] = snapshot.failures("azure", "sql")
    assert entry.resource == database.id and entry.error_code == "AuthorizationFailed"
    statuses = {f.subject: str(f.status) for f in run_check("azure_sql_tde_enabled", snapshot)}
    assert statuses == {
        database.key: "unknown",
        named(snapshot, "azure.sql.database", "db-ok").key: "pass",
    }


def results(snapshot: Snapshot) -> Iterator[tuple[str, str, str]]:
    """Every Azure check's findings over `snapshot`, as comparable tuples."""
    import mamori.posture.checks  # noqa: F401 - registers the checks
    from mamori.commitments.registry import registry

    for definition in registry:
        if definition.id.startswith("azure_"):
            for finding in run_check(
                definition.id, snapshot, attribution=tags_attribution(snapshot)
            ):
                yield definition.id, finding.subject, str(finding.status)


def test_snapshot_file_round_trip_evaluates_identically(snapshot: Snapshot) -> None:
    import io

    loaded = read_snapshot(io.BytesIO(snapshot_bytes(snapshot)))
    assert loaded.digest() == snapshot.digest()
    assert sorted(results(loaded)) == sorted(results(snapshot))
    assert any(status == "fail" for _, _, status in results(loaded))


def test_a_forbidden_raw_call_records_the_arm_error_code() -> None:
    snapshot = collect(forbidden=("Microsoft.Insights",))
    failed = snapshot.failures("azure", "monitor")
    assert {e.error_code for e in failed} == {"AuthorizationFailed"}
    assert f"/subscriptions/{SUB}" in {e.resource for e in failed}
    assert not snapshot.of_type("azure.monitor.diagnostic_setting")
    findings = run_check("azure_diagnostic_settings", snapshot)
    assert {str(f.status) for f in findings} == {"unknown"}
    alerts = run_check("azure_activity_log_alerts", snapshot)
    assert [str(f.status) for f in alerts] == ["unknown"]  # the failed listing, named
