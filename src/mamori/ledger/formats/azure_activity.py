"""Azure Activity Log exports, imported as a stream.

Diagnostic settings write hourly `PT1H.json` blobs to a storage account with one JSON
record per line; Event Hubs (and blobs written before November 2018) wrap the records
as `{"records": [...]}`. Both are read one record at a time. The REST API shape
(`operationName` and `status` as `{value, localizedValue}`, `caller`) is accepted too.

- time: `time` (or `eventTimestamp`); action: `operationName`;
- actor: `caller`, else the identity's UPN, name, application id or object id claim;
- source address: `callerIpAddress`; outcome: `resultType` (`Success`, `Failure`…);
- severity: `level` (Critical, Error, Warning, Information(al), Verbose);
- labels: `cloud.provider`, `cloud.account.id` (the subscription id) and
  `azure.resource_group` parsed from `resourceId`, `azure.category`, `cloud.region`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError, Outcome, Severity
from mamori.ledger.formats.base import (
    first_value,
    lookup,
    parse_time,
    severity_from,
    text_of,
)
from mamori.ledger.formats.json_records import JsonScanner, Readable, file_text_chunks

RECORDS_KEY = "records"
_WRAPPED = re.compile(r'\{\s*"records"\s*:\s*\[')
_RESOURCE_ID = re.compile(
    r"/subscriptions/(?P<subscription>[^/]+)(?:/resourcegroups/(?P<group>[^/]+))?", re.IGNORECASE
)
_CLAIMS = (
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/upn",
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name",
    "name",
    "appid",
    "http://schemas.microsoft.com/identity/claims/objectidentifier",
)
_OUTCOMES = {
    "success": Outcome.SUCCESS,
    "succeeded": Outcome.SUCCESS,
    "failure": Outcome.FAILURE,
    "failed": Outcome.FAILURE,
}


def _value(field: Any) -> Any:
    """The REST API wraps names as `{"value": …, "localizedValue": …}`; unwrap them."""
    return field.get("value") if isinstance(field, Mapping) else field


def azure_actor(record: Mapping[str, Any]) -> str:
    """Who acted: `caller`, else the most readable identity claim."""
    caller = first_value(record, ("caller",))
    if caller is not None:
        return text_of(caller)
    claims = lookup(record, "identity.claims") or lookup(record, "claims")
    if isinstance(claims, Mapping):
        return text_of(first_value(claims, _CLAIMS))
    return ""


def azure_outcome(record: Mapping[str, Any]) -> Outcome:
    """Success or failure from `resultType` (or REST `status`); starts and the like are unknown."""
    result = _value(record.get("resultType") or record.get("status"))
    return _OUTCOMES.get(str(result).strip().lower(), Outcome.UNKNOWN)


def _labels(record: Mapping[str, Any]) -> dict[str, str]:
    resource_id = text_of(first_value(record, ("resourceId",)))
    match = _RESOURCE_ID.search(resource_id)
    labels = {
        "cloud.provider": "azure",
        "cloud.account.id": match.group("subscription") if match else "",
        "azure.resource_group": (match.group("group") or "") if match else "",
        "azure.category": text_of(_value(record.get("category"))),
        "cloud.region": text_of(first_value(record, ("location",))),
    }
    if not labels["cloud.account.id"]:
        labels["cloud.account.id"] = text_of(first_value(record, ("subscriptionId",)))
    # resourceId is often upper-cased; subscription ids elsewhere are lower-case GUIDs.
    labels["cloud.account.id"] = labels["cloud.account.id"].lower()
    return {key: value for key, value in labels.items() if value}


def azure_activity_event(record: Mapping[str, Any]) -> IncomingEvent:
    """The event of one Activity Log record, as decoded from JSON (kept as `original`)."""
    action = text_of(_value(record.get("operationName")))
    message = first_value(record, ("properties.statusMessage", "properties.message"))
    return IncomingEvent(
        original=record,
        occurred_at=parse_time(record.get("time") or record.get("eventTimestamp")),
        severity=severity_from(_value(record.get("level"))) or Severity.INFO,
        actor=azure_actor(record),
        action=action,
        source_address=text_of(first_value(record, ("callerIpAddress",))),
        outcome=azure_outcome(record),
        message=text_of(message) if message is not None else action,
        labels=_labels(record),
    )


def iter_azure_activity(stream: Readable) -> Iterator[IncomingEvent]:
    """Events from an Activity Log export (gzipped or not), one record at a time."""
    scanner = JsonScanner(file_text_chunks(stream))
    records = scanner.items_under(RECORDS_KEY) if scanner.starts_with(_WRAPPED) else None
    for line, record in records if records is not None else scanner.records():
        if not isinstance(record, dict):
            raise IngestFormatError(
                N_("line %(line)s: a record must be a JSON object"),
                line=line,
                params={"line": line},
            )
        yield azure_activity_event(record)
