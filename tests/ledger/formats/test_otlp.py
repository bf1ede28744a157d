"""OTLP/HTTP logs in protobuf (built with opentelemetry-proto) and in the OTLP JSON encoding."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import (
    ExportLogsServiceRequest,
    ExportLogsServiceResponse,
)
from opentelemetry.proto.common.v1.common_pb2 import (
    AnyValue,
    ArrayValue,
    InstrumentationScope,
    KeyValue,
    KeyValueList,
)
from opentelemetry.proto.logs.v1.logs_pb2 import LogRecord, ResourceLogs, ScopeLogs, SeverityNumber
from opentelemetry.proto.resource.v1.resource_pb2 import Resource

from mamori.ledger.events import IngestFormatError, Outcome, Severity
from mamori.ledger.formats import FORMATS
from mamori.ledger.formats.otlp import (
    export_response,
    otel_severity,
    parse_otlp_json,
    parse_otlp_protobuf,
)

NANOS = 1714550400_123456789  # 2024-05-01T08:00:00.123456789Z
TRACE_ID = bytes.fromhex("5b8efff798038103d269b633813fc60c")
SPAN_ID = bytes.fromhex("eee19b7ec3c1b174")


def kv(key: str, value: str | int | bool) -> KeyValue:
    if isinstance(value, bool):
        return KeyValue(key=key, value=AnyValue(bool_value=value))
    if isinstance(value, int):
        return KeyValue(key=key, value=AnyValue(int_value=value))
    return KeyValue(key=key, value=AnyValue(string_value=value))


def sample_request() -> ExportLogsServiceRequest:
    resource = Resource(
        attributes=[
            kv("service.name", "billing"),
            kv("host.name", "app-3"),
            kv("cloud.account.id", "123456789012"),
            kv("process.pid", 4711),
        ]
    )
    login = LogRecord(
        time_unix_nano=NANOS,
        observed_time_unix_nano=NANOS + 5_000_000,
        severity_number=SeverityNumber.SEVERITY_NUMBER_WARN,
        severity_text="WARN",
        body=AnyValue(string_value="sign-in failed"),
        attributes=[
            kv("enduser.id", "alice@example.com"),
            kv("event.name", "user.login"),
            kv("client.address", "198.51.100.23"),
            kv("event.outcome", "failure"),
        ],
        trace_id=TRACE_ID,
        span_id=SPAN_ID,
        flags=1,
    )
    structured_body = AnyValue(
        kvlist_value=KeyValueList(
            values=[
                kv("msg", "export done"),
                KeyValue(
                    key="files",
                    value=AnyValue(array_value=ArrayValue(values=[AnyValue(int_value=3)])),
                ),
                KeyValue(key="digest", value=AnyValue(bytes_value=b"\x01\x02")),
            ]
        )
    )
    export = LogRecord(
        observed_time_unix_nano=NANOS, severity_text="Information", body=structured_body
    )
    scope = ScopeLogs(
        scope=InstrumentationScope(name="billing.auth", version="1.2.0"),
        log_records=[login, export],
    )
    return ExportLogsServiceRequest(
        resource_logs=[ResourceLogs(resource=resource, scope_logs=[scope])]
    )


def test_protobuf_request() -> None:
    body = sample_request().SerializeToString()
    login, export = FORMATS["otlp"].parse(body, "application/x-protobuf")
    assert login.occurred_at == datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert login.severity is Severity.WARNING
    assert (login.actor, login.action, login.source_address) == (
        "alice@example.com",
        "user.login",
        "198.51.100.23",
    )
    assert login.outcome is Outcome.FAILURE
    assert login.message == "sign-in failed"
    assert login.labels == {
        "service.name": "billing",
        "host.name": "app-3",
        "cloud.account.id": "123456789012",
        "process.pid": "4711",
    }
    assert login.original["traceId"] == TRACE_ID.hex()
    assert login.original["scope"] == {"name": "billing.auth", "version": "1.2.0"}
    assert login.original["timeUnixNano"] == str(NANOS)
    json.dumps(login.original)

    # No time_unix_nano: the observed time stands in; severity from the text.
    assert export.occurred_at == datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert export.severity is Severity.INFO
    assert export.message == "export done"
    assert export.original["body"] == {"msg": "export done", "files": [3], "digest": "AQI="}


# The same request, written the way the OTLP JSON encoding specifies: lowerCamelCase,
# 64-bit integers as strings, enums as numbers, trace and span ids in hex.
OTLP_JSON = {
    "resourceLogs": [
        {
            "resource": {
                "attributes": [
                    {"key": "service.name", "value": {"stringValue": "billing"}},
                    {"key": "host.name", "value": {"stringValue": "app-3"}},
                    {"key": "cloud.account.id", "value": {"stringValue": "123456789012"}},
                    {"key": "process.pid", "value": {"intValue": "4711"}},
                ]
            },
            "scopeLogs": [
                {
                    "scope": {"name": "billing.auth", "version": "1.2.0"},
                    "logRecords": [
                        {
                            "timeUnixNano": str(NANOS),
                            "observedTimeUnixNano": str(NANOS + 5_000_000),
                            "severityNumber": 13,
                            "severityText": "WARN",
                            "body": {"stringValue": "sign-in failed"},
                            "attributes": [
                                {
                                    "key": "enduser.id",
                                    "value": {"stringValue": "alice@example.com"},
                                },
                                {"key": "event.name", "value": {"stringValue": "user.login"}},
                                {
                                    "key": "client.address",
                                    "value": {"stringValue": "198.51.100.23"},
                                },
                                {"key": "event.outcome", "value": {"stringValue": "failure"}},
                            ],
                            "traceId": TRACE_ID.hex(),
                            "spanId": SPAN_ID.hex(),
                            "flags": 1,
                        },
                        {
                            "observedTimeUnixNano": str(NANOS),
                            "severityText": "Information",
                            "body": {
                                "kvlistValue": {
                                    "values": [
                                        {"key": "msg", "value": {"stringValue": "export done"}},
                                        {
                                            "key": "files",
                                            "value": {
                                                "arrayValue": {"values": [{"intValue": "3"}]}
                                            },
                                        },
                                        {"key": "digest", "value": {"bytesValue": "AQI="}},
                                    ]
                                }
                            },
                            "unknownFutureField": True,
                        },
                    ],
                }
            ],
        }
    ]
}


def test_json_request_matches_protobuf() -> None:
    from_json = FORMATS["otlp"].parse(json.dumps(OTLP_JSON).encode(), "application/json")
    from_protobuf = parse_otlp_protobuf(sample_request().SerializeToString())
    assert from_json == from_protobuf


def test_content_type_can_be_left_to_sniffing() -> None:
    assert len(FORMATS["otlp"].parse(json.dumps(OTLP_JSON).encode())) == 2
    assert len(FORMATS["otlp"].parse(sample_request().SerializeToString())) == 2


def test_empty_requests() -> None:
    assert parse_otlp_json(b"{}") == []
    assert parse_otlp_protobuf(b"") == []


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (b'{"resourceLogs": [', "line 1 is not JSON"),
        (b"[]", "must be a JSON object"),
        (b'{"resourceLogs": {"no": "list"}}', "not valid"),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"traceId": "zz"}]}]}]}',
            "traceId is not hexadecimal",
        ),
        (
            b'{"resourceLogs": [{"scopeLogs": [{"logRecords": [{"timeUnixNano": "soon"}]}]}]}',
            "not valid",
        ),
    ],
)
def test_bad_json_requests(body: bytes, text: str) -> None:
    with pytest.raises(IngestFormatError, match=text):
        parse_otlp_json(body)


def test_bad_protobuf_request() -> None:
    with pytest.raises(IngestFormatError, match="not valid protobuf"):
        parse_otlp_protobuf(b"\x0a\xff\xff\xff\xff\x0f")


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        (1, Severity.DEBUG),
        (5, Severity.DEBUG),
        (8, Severity.DEBUG),
        (9, Severity.INFO),
        (10, Severity.NOTICE),
        (13, Severity.WARNING),
        (17, Severity.ERROR),
        (18, Severity.CRITICAL),
        (21, Severity.ALERT),
        (22, Severity.EMERGENCY),
        (24, Severity.EMERGENCY),
    ],
)
def test_otel_severity_numbers(number: int, expected: Severity) -> None:
    assert otel_severity(number) is expected


def test_otel_severity_falls_back_to_text() -> None:
    assert otel_severity(0, "ERROR") is Severity.ERROR
    assert otel_severity(0, "") is Severity.INFO


def test_export_responses() -> None:
    assert export_response("application/json") == (b"{}", "application/json")
    body, content_type = export_response("application/x-protobuf")
    assert (body, content_type) == (b"", "application/x-protobuf")

    body, _ = export_response("application/x-protobuf", rejected=2, error_message="no tenant")
    response = ExportLogsServiceResponse()
    response.ParseFromString(body)
    assert response.partial_success.rejected_log_records == 2
    assert response.partial_success.error_message == "no tenant"

    body, _ = export_response("application/json; charset=utf-8", rejected=2)
    assert json.loads(body) == {"partialSuccess": {"rejectedLogRecords": "2"}}
