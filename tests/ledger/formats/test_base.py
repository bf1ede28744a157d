"""Decompression limits, time and level parsing, and free-form record normalisation."""

from __future__ import annotations

import gzip
import json
import math
import os
import zlib
from datetime import UTC, datetime

import cramjam
import pytest

from mamori.ledger.events import IngestFormatError, Outcome, Severity
from mamori.ledger.formats import FORMATS, format_for_content_type
from mamori.ledger.formats.base import (
    PayloadTooLargeError,
    UnsupportedMediaError,
    decompress,
    json_safe,
    outcome_from,
    parse_time,
    record_to_event,
    severity_from,
)

PAYLOAD = b'{"message": "hello"}\n' * 1000


@pytest.mark.parametrize(
    ("encoding", "encoded"),
    [
        (None, PAYLOAD),
        ("identity", PAYLOAD),
        ("gzip", gzip.compress(PAYLOAD)),
        ("x-gzip", gzip.compress(PAYLOAD)),
        ("GZIP", gzip.compress(PAYLOAD)),
        ("deflate", zlib.compress(PAYLOAD)),
        ("snappy", bytes(cramjam.snappy.compress_raw(PAYLOAD))),
        ("gzip, identity", gzip.compress(PAYLOAD)),
    ],
)
def test_decompress_undoes_each_encoding(encoding: str | None, encoded: bytes) -> None:
    assert decompress(encoded, encoding) == PAYLOAD


def test_decompress_reads_raw_deflate_and_multi_member_gzip() -> None:
    raw = zlib.compressobj(wbits=-zlib.MAX_WBITS)
    assert decompress(raw.compress(PAYLOAD) + raw.flush(), "deflate") == PAYLOAD
    two_members = gzip.compress(b"first ") + gzip.compress(b"second")
    assert decompress(two_members, "gzip") == b"first second"


def test_decompress_applies_codings_in_reverse_order() -> None:
    both = gzip.compress(bytes(cramjam.snappy.compress_raw(PAYLOAD)))
    assert decompress(both, "snappy, gzip") == PAYLOAD


def test_gzip_bomb_is_refused_without_inflating_it_all() -> None:
    bomb = gzip.compress(b"\0" * (80 * 1024 * 1024))
    assert len(bomb) < 100 * 1024
    with pytest.raises(PayloadTooLargeError, match="67108864 bytes"):
        decompress(bomb, "gzip")


def test_limits_apply_to_every_encoding() -> None:
    with pytest.raises(PayloadTooLargeError):
        decompress(gzip.compress(PAYLOAD), "gzip", limit=1000)
    with pytest.raises(PayloadTooLargeError):
        decompress(bytes(cramjam.snappy.compress_raw(PAYLOAD)), "snappy", limit=1000)
    with pytest.raises(PayloadTooLargeError):
        decompress(PAYLOAD, None, limit=1000)


def test_broken_compressed_bodies_are_input_errors() -> None:
    with pytest.raises(IngestFormatError, match="cannot be decompressed"):
        decompress(gzip.compress(PAYLOAD)[:-20], "gzip")
    with pytest.raises(IngestFormatError, match="cannot be decompressed"):
        decompress(os.urandom(64), "gzip")
    with pytest.raises(IngestFormatError, match="cannot be decompressed"):
        decompress(b"\x05\xff\xff\xff\xff\xff\xff", "snappy")


def test_unknown_encodings_are_unsupported_media() -> None:
    with pytest.raises(UnsupportedMediaError) as caught:
        decompress(PAYLOAD, "br")
    assert caught.value.field == "Content-Encoding"
    assert "br" in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-03-01T12:34:56Z", datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)),
        ("2024-03-01T21:34:56+09:00", datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)),
        ("2024-03-01T21:34:56+0900", datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)),
        ("2024-03-01T12:34:56.123456789Z", datetime(2024, 3, 1, 12, 34, 56, 123456, tzinfo=UTC)),
        ("2018-01-29T20:42:31.3810679Z", datetime(2018, 1, 29, 20, 42, 31, 381067, tzinfo=UTC)),
        ("2024-03-01 12:34:56.5", datetime(2024, 3, 1, 12, 34, 56, 500000, tzinfo=UTC)),
        (1709296496, datetime(2024, 3, 1, 12, 34, 56, tzinfo=UTC)),
        (1709296496.25, datetime(2024, 3, 1, 12, 34, 56, 250000, tzinfo=UTC)),
        (1709296496250, datetime(2024, 3, 1, 12, 34, 56, 250000, tzinfo=UTC)),
        (1709296496250001, datetime(2024, 3, 1, 12, 34, 56, 250001, tzinfo=UTC)),
        (1709296496250001999, datetime(2024, 3, 1, 12, 34, 56, 250001, tzinfo=UTC)),
        ("1709296496250001999", datetime(2024, 3, 1, 12, 34, 56, 250001, tzinfo=UTC)),
        ("1709296496.5", datetime(2024, 3, 1, 12, 34, 56, 500000, tzinfo=UTC)),
        ("yesterday", None),
        ("2024-02-30T00:00:00Z", None),
        (True, None),
        (None, None),
        (math.inf, None),
        (10**30, None),
    ],
)
def test_parse_time(value: object, expected: datetime | None) -> None:
    assert parse_time(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("WARN", Severity.WARNING),
        ("Informational", Severity.INFO),
        ("Information", Severity.INFO),
        ("fatal", Severity.CRITICAL),
        ("emerg", Severity.EMERGENCY),
        ("trace", Severity.DEBUG),
        ("Verbose", Severity.DEBUG),
        (3, Severity.ERROR),
        ("5", Severity.NOTICE),
        (40, Severity.WARNING),
        (60, Severity.CRITICAL),
        (9, None),
        ("loud", None),
        (True, None),
    ],
)
def test_severity_from(value: object, expected: Severity | None) -> None:
    assert severity_from(value) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("success", Outcome.SUCCESS),
        ("Denied", Outcome.FAILURE),
        (True, Outcome.SUCCESS),
        (False, Outcome.FAILURE),
        (204, Outcome.SUCCESS),
        ("403", Outcome.FAILURE),
        ("pending", None),
        (7, None),
    ],
)
def test_outcome_from(value: object, expected: Outcome | None) -> None:
    assert outcome_from(value) == expected


def test_json_safe_makes_anything_serialisable() -> None:
    moment = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
    value = {
        1: b"text",
        b"raw": b"\xff\x00",
        "when": moment,
        "many": (1, 2.5, {3}),
        "odd": math.nan,
        (1, 2): None,
    }
    safe = json_safe(value)
    assert safe == {
        "1": "text",
        "raw": "/wA=",
        "when": "2024-01-02T03:04:05+00:00",
        "many": [1, 2.5, [3]],
        "odd": "nan",
        "[1, 2]": None,
    }
    json.dumps(safe, allow_nan=False)


def test_record_to_event_reads_common_keys() -> None:
    record = {
        "@timestamp": "2024-03-01T12:34:56.789Z",
        "log.level": "error",
        "user": {"name": "alice", "id": 42},
        "event": {"action": "login"},
        "source": {"ip": "198.51.100.7"},
        "event.outcome": "failure",
        "message": "bad password",
        "service": {"name": "portal"},
        "host": {"name": "web-1"},
    }
    event = record_to_event(record)
    assert event.occurred_at == datetime(2024, 3, 1, 12, 34, 56, 789000, tzinfo=UTC)
    assert event.severity is Severity.ERROR
    assert (event.actor, event.action, event.source_address) == ("alice", "login", "198.51.100.7")
    assert event.outcome is Outcome.FAILURE
    assert event.message == "bad password"
    assert event.labels == {"service.name": "portal", "host.name": "web-1"}
    assert event.original == record


def test_record_to_event_flat_keys_and_transport_overrides() -> None:
    record = {"ts": 1709296496, "msg": "hi", "src_ip": "192.0.2.1", "username": "bob"}
    given = datetime(2020, 1, 1, tzinfo=UTC)
    event = record_to_event(record, occurred_at=given, labels={"job": "x"}, message="line")
    assert event.occurred_at == given
    assert (event.actor, event.source_address, event.message) == ("bob", "192.0.2.1", "line")
    assert event.labels == {"job": "x"}
    assert event.severity is Severity.INFO and event.outcome is Outcome.UNKNOWN


def test_a_structured_message_is_kept_as_json_text() -> None:
    event = record_to_event({"message": {"a": 1}})
    assert event.message == '{"a":1}'


def test_format_lookup_by_content_type() -> None:
    assert format_for_content_type("application/json; charset=utf-8") is FORMATS["json"]
    assert format_for_content_type("application/x-ndjson") is FORMATS["json"]
    assert format_for_content_type("application/msgpack") is FORMATS["msgpack"]
    assert format_for_content_type("application/json", among=("otlp",)) is FORMATS["otlp"]
    assert format_for_content_type("application/x-protobuf", ["loki"]) is FORMATS["loki"]
    with pytest.raises(UnsupportedMediaError) as caught:
        format_for_content_type("application/x-protobuf", among=("json", "msgpack"))
    assert caught.value.field == "Content-Type"
    with pytest.raises(UnsupportedMediaError):
        format_for_content_type(None)
