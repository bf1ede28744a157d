"""Fluent Bit msgpack bodies, built with the msgpack library the way Fluent Bit packs them."""

from __future__ import annotations

import struct
from datetime import UTC, datetime
from typing import Any

import msgpack  # type: ignore[import-untyped]
import pytest

from mamori.ledger.events import IngestFormatError, Severity
from mamori.ledger.formats import FORMATS
from mamori.ledger.formats.msgpack_records import parse_msgpack_records

SECONDS = 1714550400  # 2024-05-01T08:00:00Z


def event_time(seconds: int, nanos: int = 0) -> msgpack.ExtType:
    """Fluentd's EventTime: extension 0, big-endian uint32 seconds and nanoseconds."""
    return msgpack.ExtType(0, struct.pack(">II", seconds, nanos))


def pack(*entries: Any) -> bytes:
    return b"".join(msgpack.packb(entry) for entry in entries)


def test_fluent_bit_v2_records_with_metadata() -> None:
    body = pack(
        [[event_time(SECONDS, 123_456_789), {}], {"log": "started", "level": "info"}],
        [
            [event_time(SECONDS + 1), {"otlp": {"severity_number": 17}}],
            {"log": "denied", "level": "error", "user": "bob", "remote_addr": "192.0.2.9"},
        ],
    )
    started, denied = FORMATS["msgpack"].parse(body, "application/msgpack")
    assert started.occurred_at == datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert started.message == "started"
    assert started.original == {
        "time": "2024-05-01T08:00:00.123456+00:00",
        "record": {"log": "started", "level": "info"},
    }
    assert denied.severity is Severity.ERROR
    assert (denied.actor, denied.source_address) == ("bob", "192.0.2.9")
    assert denied.original["metadata"] == {"otlp": {"severity_number": 17}}


def test_fluent_bit_v1_records_with_event_time_integer_and_float() -> None:
    body = pack(
        [event_time(SECONDS, 500_000_000), {"log": "ext"}],
        [SECONDS, {"log": "int"}],
        [SECONDS + 0.25, {"log": "float"}],
    )
    events = parse_msgpack_records(body)
    assert [e.message for e in events] == ["ext", "int", "float"]
    assert [e.occurred_at for e in events] == [
        datetime(2024, 5, 1, 8, 0, 0, 500000, tzinfo=UTC),
        datetime(2024, 5, 1, 8, 0, 0, tzinfo=UTC),
        datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC),
    ]


def test_group_markers_are_skipped() -> None:
    start = event_time(0xFFFFFFFF)  # -1 as uint32
    end = event_time(0xFFFFFFFE)  # -2
    body = pack(
        [[start, {"schema": "otlp"}], {"resource": {"service.name": "api"}}],
        [[event_time(SECONDS), {}], {"log": "inside"}],
        [[end, {}], {}],
        [[-1, {}], {}],
    )
    assert [e.message for e in parse_msgpack_records(body)] == ["inside"]


def test_bytes_and_odd_keys_are_kept_json_safe() -> None:
    body = msgpack.packb([SECONDS, {b"raw": b"\xff\x00", 7: "seven", "text": b"utf8"}])
    (event,) = parse_msgpack_records(body)
    assert event.original["record"] == {"raw": "/wA=", "7": "seven", "text": "utf8"}


def test_empty_body_has_no_events() -> None:
    assert parse_msgpack_records(b"") == []


@pytest.mark.parametrize(
    ("body", "text"),
    [
        (pack([SECONDS, {"a": 1}], {"not": "a pair"}), "record 2 is not a [timestamp, record]"),
        (pack([SECONDS, {"a": 1}], [SECONDS, "text"]), "record 2 is not a [timestamp, record]"),
        (pack([SECONDS, {"a": 1}], ["soon", {"b": 2}]), "record 2 has a timestamp"),
        (pack([SECONDS, {"a": 1}], [SECONDS, {"b": 2}])[:-3], "record 2 is cut short"),
        (pack([SECONDS, {"a": 1}]) + b"\xc1", "record 2 is not valid msgpack"),
    ],
)
def test_errors_name_the_record(body: bytes, text: str) -> None:
    with pytest.raises(IngestFormatError, match=text.replace("[", r"\[")):
        parse_msgpack_records(body)


def test_declared_lengths_beyond_the_body_are_refused() -> None:
    # A map header claiming four billion entries must not allocate for them.
    with pytest.raises(IngestFormatError):
        parse_msgpack_records(b"\x92\x01\xdf\xff\xff\xff\xff")
