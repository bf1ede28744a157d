"""OpenTelemetry OTLP/HTTP logs (`POST /v1/logs`), in protobuf or JSON.

Protobuf bodies are an `ExportLogsServiceRequest`. JSON bodies use the OTLP JSON
encoding: the protobuf JSON mapping with lowerCamelCase keys, 64-bit integers as
strings, enums as numbers, but trace and span ids in hex rather than base64. Both are
decoded into the same message classes, so one mapping serves both.

Each log record becomes one event: its time (or observed time), severity, body and
attributes; resource attributes such as `service.name`, `host.name` or
`cloud.account.id` become labels. `export_response()` builds the success reply.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format  # type: ignore[import-untyped]
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]
from opentelemetry.proto.collector.logs.v1 import logs_service_pb2

from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError, Outcome, Severity
from mamori.ledger.formats.base import (
    ACTION_KEYS,
    ACTOR_KEYS,
    MESSAGE_KEYS,
    OUTCOME_KEYS,
    SOURCE_KEYS,
    Format,
    first_value,
    from_unix_nanos,
    media_type,
    outcome_from,
    severity_from,
    text_of,
)
from mamori.ledger.formats.json_records import json_body

PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPE = "application/json"

ACTOR_ATTRIBUTES = ("enduser.id", "user.name", "user.id", "enduser.pseudo.id", *ACTOR_KEYS)
ACTION_ATTRIBUTES = ("event.name", *ACTION_KEYS)
SOURCE_ATTRIBUTES = (
    "client.address",
    "source.address",
    "net.peer.ip",
    "network.peer.address",
    *SOURCE_KEYS,
)
OUTCOME_ATTRIBUTES = ("event.outcome", "http.response.status_code", *OUTCOME_KEYS)

# OTel severity numbers run 1–24 in six bands of four (TRACE … FATAL). The split
# inside INFO, ERROR and FATAL follows common logging APIs (PSR-3 sends NOTICE as 10,
# CRITICAL as 18, ALERT as 21 and EMERGENCY as 22), so their levels come back intact.
_OTEL_SEVERITY_BANDS: tuple[tuple[int, Severity], ...] = (
    (8, Severity.DEBUG),
    (9, Severity.INFO),
    (12, Severity.NOTICE),
    (16, Severity.WARNING),
    (17, Severity.ERROR),
    (20, Severity.CRITICAL),
    (21, Severity.ALERT),
    (24, Severity.EMERGENCY),
)


def otel_severity(number: int, text: str = "") -> Severity:
    """The syslog level of an OTel severity number, else of its text; INFO if neither."""
    if number > 0:
        for upper, severity in _OTEL_SEVERITY_BANDS:
            if number <= upper:
                return severity
    return severity_from(text) or Severity.INFO


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as plain JSON data (bytes as base64)."""
    kind = value.WhichOneof("value")
    if kind is None:
        return None
    if kind == "array_value":
        return [any_value(item) for item in value.array_value.values]
    if kind == "kvlist_value":
        return attributes(value.kvlist_value.values)
    if kind == "bytes_value":
        return base64.b64encode(value.bytes_value).decode("ascii")
    return getattr(value, kind)


def attributes(pairs: Iterable[Any]) -> dict[str, Any]:
    """OTLP KeyValue list as a dict."""
    return {pair.key: any_value(pair.value) for pair in pairs}


def _labels(resource: Mapping[str, Any]) -> dict[str, str]:
    return {
        key: text_of(value)
        for key, value in resource.items()
        if isinstance(value, str | int | float | bool)
    }


def _original(record: Any, body: Any, attrs: dict[str, Any], context: dict[str, Any]) -> Any:
    original: dict[str, Any] = {
        **context,
        "timeUnixNano": str(record.time_unix_nano),
        "observedTimeUnixNano": str(record.observed_time_unix_nano),
        "severityNumber": record.severity_number,
        "severityText": record.severity_text,
        "body": body,
        "attributes": attrs,
    }
    if record.event_name:
        original["eventName"] = record.event_name
    if record.trace_id or record.span_id:
        original.update(traceId=record.trace_id.hex(), spanId=record.span_id.hex())
        original["flags"] = record.flags
    return original


def record_event(record: Any, resource: dict[str, Any], context: dict[str, Any]) -> IncomingEvent:
    """The event of one LogRecord; `context` holds its resource and scope for `original`."""
    body = any_value(record.body)
    attrs = attributes(record.attributes)
    fields = {**body, **attrs} if isinstance(body, dict) else attrs
    message = first_value(body, MESSAGE_KEYS) if isinstance(body, dict) else None
    nanos = record.time_unix_nano or record.observed_time_unix_nano
    return IncomingEvent(
        original=_original(record, body, attrs, context),
        occurred_at=from_unix_nanos(nanos) if nanos else None,
        severity=otel_severity(record.severity_number, record.severity_text),
        actor=text_of(first_value(fields, ACTOR_ATTRIBUTES)),
        action=record.event_name or text_of(first_value(fields, ACTION_ATTRIBUTES)),
        source_address=text_of(first_value(fields, SOURCE_ATTRIBUTES)),
        outcome=outcome_from(first_value(fields, OUTCOME_ATTRIBUTES)) or Outcome.UNKNOWN,
        message=text_of(body if message is None else message),
        labels=_labels(resource),
    )


def request_events(request: Any) -> list[IncomingEvent]:
    """The events of an `ExportLogsServiceRequest`, in order."""
    events: list[IncomingEvent] = []
    for resource_logs in request.resource_logs:
        resource = attributes(resource_logs.resource.attributes)
        for scope_logs in resource_logs.scope_logs:
            scope = {"name": scope_logs.scope.name, "version": scope_logs.scope.version}
            context = {"resource": resource, "scope": scope}
            events.extend(record_event(r, resource, context) for r in scope_logs.log_records)
    return events


def parse_otlp_protobuf(body: bytes) -> list[IncomingEvent]:
    """The events of a protobuf `ExportLogsServiceRequest`."""
    request = logs_service_pb2.ExportLogsServiceRequest()
    try:
        request.ParseFromString(body)
    except DecodeError as exc:
        raise IngestFormatError(
            N_("the OTLP request is not valid protobuf: %(reason)s"), params={"reason": str(exc)}
        ) from None
    return request_events(request)


def parse_otlp_json(body: bytes) -> list[IncomingEvent]:
    """The events of an OTLP JSON `ExportLogsServiceRequest`."""
    payload = json_body(body)
    if not isinstance(payload, dict):
        raise IngestFormatError(N_("the OTLP request must be a JSON object"))
    _hex_ids_to_base64(payload)
    request = logs_service_pb2.ExportLogsServiceRequest()
    try:
        json_format.ParseDict(payload, request, ignore_unknown_fields=True)
    except (json_format.ParseError, RecursionError) as exc:
        raise IngestFormatError(
            N_("the OTLP request is not valid: %(reason)s"), params={"reason": str(exc)}
        ) from None
    return request_events(request)


def _children(node: Any, *keys: str) -> list[Any]:
    for key in keys:
        value = node.get(key) if isinstance(node, dict) else None
        if isinstance(value, list):
            return value
    return []


def _hex_ids_to_base64(payload: dict[str, Any]) -> None:
    """Rewrite OTLP JSON's hex trace and span ids into the base64 protobuf JSON expects."""
    for resource_logs in _children(payload, "resourceLogs", "resource_logs"):
        for scope_logs in _children(resource_logs, "scopeLogs", "scope_logs"):
            for record in _children(scope_logs, "logRecords", "log_records"):
                if not isinstance(record, dict):
                    continue
                for key in ("traceId", "trace_id", "spanId", "span_id"):
                    if isinstance(record.get(key), str):
                        record[key] = _hex_to_base64(key, record[key])


def _hex_to_base64(key: str, text: str) -> str:
    try:
        return base64.b64encode(bytes.fromhex(text)).decode("ascii")
    except (ValueError, binascii.Error):
        raise IngestFormatError(
            N_("the OTLP field %(field)s is not hexadecimal: %(value)s"),
            field=key,
            params={"field": key, "value": text[:64]},
        ) from None


def export_response(
    content_type: str | None, *, rejected: int = 0, error_message: str = ""
) -> tuple[bytes, str]:
    """The body and Content-Type of a successful export reply, in the request's encoding.

    With `rejected` records (or an `error_message`), the reply carries `partial_success`
    as the OTLP specification asks; otherwise it is an empty response.
    """
    response = logs_service_pb2.ExportLogsServiceResponse()
    if rejected or error_message:
        response.partial_success.rejected_log_records = rejected
        response.partial_success.error_message = error_message
    if media_type(content_type) == JSON_TYPE:
        return json.dumps(json_format.MessageToDict(response)).encode(), JSON_TYPE
    return response.SerializeToString(), PROTOBUF_TYPES[0]


class OtlpLogsFormat(Format):
    """OTLP/HTTP logs: protobuf (`application/x-protobuf`) or JSON (`application/json`)."""

    name = "otlp"
    content_types = (*PROTOBUF_TYPES, JSON_TYPE)

    def parse(self, body: bytes, content_type: str | None = None) -> list[IncomingEvent]:
        """The events in `body`; without a content type, JSON is recognised by its `{`."""
        kind = media_type(content_type)
        if kind == JSON_TYPE or (not kind and body.lstrip()[:1] == b"{"):
            return parse_otlp_json(body)
        return parse_otlp_protobuf(body)
