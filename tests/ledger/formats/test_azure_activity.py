"""Azure Activity Log exports in the storage-account (`PT1H.json`) and Event Hubs shapes."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from mamori.ledger.events import IngestFormatError, Outcome, Severity
from mamori.ledger.formats.azure_activity import azure_activity_event, iter_azure_activity

SUBSCRIPTION = "6b4f9d3e-2a71-4c8e-9f0a-1d2c3b4a5e6f"
VM_ID = (
    f"/SUBSCRIPTIONS/{SUBSCRIPTION.upper()}/RESOURCEGROUPS/PROD-WEB"
    "/PROVIDERS/MICROSOFT.COMPUTE/VIRTUALMACHINES/WEB-01"
)
UPN = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn"

VM_WRITE: dict[str, Any] = {
    "RoleLocation": "Japan East",
    "time": "2024-05-01T08:15:02.4187734Z",
    "resourceId": VM_ID,
    "operationName": "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE",
    "category": "Administrative",
    "resultType": "Success",
    "resultSignature": "Succeeded.OK",
    "durationMs": "2341",
    "callerIpAddress": "198.51.100.30",
    "correlationId": "7d0f1c2e-5a4b-4c3d-9e8f-0a1b2c3d4e5f",
    "identity": {
        "authorization": {
            "scope": VM_ID.lower(),
            "action": "Microsoft.Compute/virtualMachines/write",
            "evidence": {"role": "Contributor", "principalType": "User"},
        },
        "claims": {
            "aud": "https://management.core.windows.net/",
            UPN: "operator@contoso.example",
            "http://schemas.microsoft.com/identity/claims/objectidentifier": "0f1e2d3c",
            "ipaddr": "198.51.100.30",
            "name": "Ops Operator",
        },
    },
    "level": "Information",
    "location": "japaneast",
    "properties": {
        "statusCode": "OK",
        "serviceRequestId": "b2c3d4e5-f6a7-4b8c-9d0e-1f2a3b4c5d6e",
        "eventCategory": "Administrative",
        "entity": VM_ID,
        "message": "Microsoft.Compute/virtualMachines/write",
        "hierarchy": "tenant/mg-root/" + SUBSCRIPTION,
    },
}

ROLE_ASSIGNMENT_DENIED: dict[str, Any] = {
    "time": "2024-05-01T08:16:10.0012345Z",
    "resourceId": f"/SUBSCRIPTIONS/{SUBSCRIPTION.upper()}/PROVIDERS"
    "/MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/1A2B3C4D",
    "operationName": "MICROSOFT.AUTHORIZATION/ROLEASSIGNMENTS/WRITE",
    "category": "Administrative",
    "resultType": "Failure",
    "resultSignature": "Failed.Forbidden",
    "callerIpAddress": "203.0.113.66",
    "identity": {"claims": {"appid": "11111111-2222-3333-4444-555555555555"}},
    "level": "Error",
    "properties": {"statusCode": "Forbidden", "statusMessage": "AuthorizationFailed"},
}

POLICY_START: dict[str, Any] = {
    "time": "2024-05-01T08:17:00.0000000Z",
    "resourceId": VM_ID,
    "operationName": "MICROSOFT.AUTHORIZATION/POLICIES/AUDIT/ACTION",
    "category": "Policy",
    "resultType": "Start",
    "level": "Warning",
}


def pt1h_json(records: list[dict[str, Any]]) -> bytes:
    """A storage-account blob: one JSON record per line."""
    return b"".join(json.dumps(r).encode() + b"\n" for r in records)


def test_storage_account_blob() -> None:
    events = list(iter_azure_activity(io.BytesIO(pt1h_json([VM_WRITE, ROLE_ASSIGNMENT_DENIED]))))
    write, denied = events
    assert write.occurred_at == datetime(2024, 5, 1, 8, 15, 2, 418773, tzinfo=UTC)
    assert write.actor == "operator@contoso.example"
    assert write.action == "MICROSOFT.COMPUTE/VIRTUALMACHINES/WRITE"
    assert write.source_address == "198.51.100.30"
    assert (write.outcome, write.severity) == (Outcome.SUCCESS, Severity.INFO)
    assert write.labels == {
        "cloud.provider": "azure",
        "cloud.account.id": SUBSCRIPTION,
        "azure.resource_group": "PROD-WEB",
        "azure.category": "Administrative",
        "cloud.region": "japaneast",
    }
    assert write.original == VM_WRITE

    assert denied.actor == "11111111-2222-3333-4444-555555555555"
    assert (denied.outcome, denied.severity) == (Outcome.FAILURE, Severity.ERROR)
    assert denied.message == "AuthorizationFailed"
    assert "azure.resource_group" not in denied.labels
    assert denied.labels["cloud.account.id"] == SUBSCRIPTION


def test_event_hubs_records_shape_and_gzip() -> None:
    wrapped = json.dumps({"records": [VM_WRITE, POLICY_START]}, indent=1).encode()
    for data in (wrapped, gzip.compress(wrapped)):
        write, policy = iter_azure_activity(io.BytesIO(data))
        assert write.actor == "operator@contoso.example"
        assert (policy.outcome, policy.severity) == (Outcome.UNKNOWN, Severity.WARNING)


def test_rest_api_shape() -> None:
    record = {
        "caller": "admin@contoso.example",
        "eventTimestamp": "2024-05-01T08:20:00.1234567Z",
        "operationName": {
            "value": "Microsoft.Storage/storageAccounts/listKeys/action",
            "localizedValue": "List Storage Account Keys",
        },
        "status": {"value": "Succeeded", "localizedValue": "Succeeded"},
        "level": "Informational",
        "subscriptionId": SUBSCRIPTION,
        "category": {"value": "Administrative", "localizedValue": "Administrative"},
    }
    event = azure_activity_event(record)
    assert event.actor == "admin@contoso.example"
    assert event.action == "Microsoft.Storage/storageAccounts/listKeys/action"
    assert event.outcome is Outcome.SUCCESS
    assert event.labels["cloud.account.id"] == SUBSCRIPTION
    assert event.labels["azure.category"] == "Administrative"
    assert event.occurred_at == datetime(2024, 5, 1, 8, 20, 0, 123456, tzinfo=UTC)


def test_errors_name_the_line() -> None:
    data = pt1h_json([VM_WRITE]) + b'{"time": "2024-05-01T08:15:02Z",\n' + pt1h_json([VM_WRITE])
    events = iter_azure_activity(io.BytesIO(data))
    next(events)
    with pytest.raises(IngestFormatError) as caught:
        next(events)
    assert caught.value.line == 2
    with pytest.raises(IngestFormatError, match="line 2: a record must be a JSON object"):
        list(iter_azure_activity(io.BytesIO(pt1h_json([VM_WRITE]) + b'"text"\n')))
