"""Generic JSON records: arrays, NDJSON and concatenated objects, over HTTP and from files."""

from __future__ import annotations

import gzip
import io
import json
from datetime import UTC, datetime
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamori.ledger.events import IngestFormatError, Severity
from mamori.ledger.formats import FORMATS
from mamori.ledger.formats.json_records import (
    JsonRecordsFormat,
    JsonScanner,
    iter_json_lines_file,
    parse_json_records,
)

# What Vector's http sink sends with `codec = "json"`: its log events as objects.
VECTOR_EVENTS = [
    {
        "host": "web-1",
        "message": "GET /health 200",
        "source_type": "file",
        "file": "/var/log/nginx/access.log",
        "timestamp": "2024-05-01T08:00:00.123456789Z",
    },
    {
        "host": "web-1",
        "message": "login failed",
        "level": "warn",
        "user": "mallory",
        "client_ip": "203.0.113.50",
        "timestamp": "2024-05-01T08:00:01Z",
    },
]

# Fluent Bit's http output in a json format: the time is under `date` (epoch seconds,
# a double) unless json_date_key/json_date_format say otherwise.
FLUENT_BIT_RECORDS = [
    {"date": 1714550400.25, "log": "Core: initialization", "container_name": "api"},
    {"date": 1714550401.5, "log": "Initial import.", "level": "debug"},
]


def test_vector_json_array() -> None:
    events = FORMATS["json"].parse(json.dumps(VECTOR_EVENTS).encode(), "application/json")
    assert [e.message for e in events] == ["GET /health 200", "login failed"]
    first, second = events
    assert first.occurred_at == datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert first.labels == {"host.name": "web-1"}
    assert first.original == VECTOR_EVENTS[0]
    assert (second.severity, second.actor, second.source_address) == (
        Severity.WARNING,
        "mallory",
        "203.0.113.50",
    )


def test_vector_newline_delimited() -> None:
    body = b"".join(json.dumps(e).encode() + b"\n" for e in VECTOR_EVENTS)
    assert [e.original for e in parse_json_records(body)] == VECTOR_EVENTS


def _fluent_bit_body(fmt: str) -> bytes:
    compact = [json.dumps(r, separators=(",", ":")) for r in FLUENT_BIT_RECORDS]
    if fmt == "json":
        return ("[" + ",".join(compact) + "]").encode()
    if fmt == "json_lines":
        return ("\n".join(compact) + "\n").encode()
    return "".join(compact).encode()  # json_stream: no separator at all


@pytest.mark.parametrize("fmt", ["json", "json_lines", "json_stream"])
def test_fluent_bit_json_formats(fmt: str) -> None:
    events = JsonRecordsFormat().parse(_fluent_bit_body(fmt))
    assert [e.message for e in events] == ["Core: initialization", "Initial import."]
    assert events[0].occurred_at == datetime(2024, 5, 1, 8, 0, 0, 250000, tzinfo=UTC)
    assert events[1].severity is Severity.DEBUG


def test_whitespace_byte_order_mark_and_empty_bodies() -> None:
    assert parse_json_records(b"") == []
    assert parse_json_records(b"  \n[]\n") == []
    body = b'\xef\xbb\xbf\n\n  {"msg": "a"}  \r\n\n{"msg": "b"}'
    assert [e.message for e in parse_json_records(body)] == ["a", "b"]


def test_not_a_number_is_kept_as_text() -> None:
    (event,) = parse_json_records(b'{"msg": "x", "ratio": NaN}')
    assert event.original == {"msg": "x", "ratio": "NaN"}


@pytest.mark.parametrize(
    ("body", "line", "text"),
    [
        (b'{"a": 1}\n{"b": 2}\n{"c": \n', 3, "line 3 is not JSON"),
        (b'{"a": 1}\n{"b": 2,}\n{"c": 3}\n', 2, "line 2 is not JSON"),
        (b'[\n {"a": 1},\n {"b": 2}\n {"c": 3}\n]', 4, "line 4: expected ','"),
        (b'[\n {"a": 1},\n "text"\n]', 3, "line 3: a record must be a JSON object"),
        (b'{"a": 1}\n42\n', 2, "line 2: a record must be a JSON object"),
        (b'{"a": 1}\n{"b": "\xff"}\n', 2, "line 2 is not valid UTF-8"),
    ],
)
def test_errors_name_the_line_of_the_record(body: bytes, line: int, text: str) -> None:
    with pytest.raises(IngestFormatError) as caught:
        parse_json_records(body)
    assert caught.value.line == line
    assert text in str(caught.value)


def test_deep_nesting_is_an_input_error() -> None:
    with pytest.raises(IngestFormatError, match="line 1"):
        parse_json_records(b"[" * 100_000 + b"]" * 100_000)


def test_json_lines_file_import_plain_and_gzip() -> None:
    lines = b"".join(json.dumps(e).encode() + b"\n" for e in VECTOR_EVENTS * 3)
    for data in (lines, gzip.compress(lines)):
        events = list(iter_json_lines_file(io.BytesIO(data)))
        assert [e.original for e in events] == VECTOR_EVENTS * 3


def test_json_lines_file_errors_name_the_line() -> None:
    data = gzip.compress(b'{"a": 1}\n\n{"b": 2}\n{oops}\n')
    events = iter_json_lines_file(io.BytesIO(data))
    assert next(events).original == {"a": 1}
    assert next(events).original == {"b": 2}
    with pytest.raises(IngestFormatError) as caught:
        next(events)
    assert caught.value.line == 4


def test_truncated_gzip_file_is_an_input_error() -> None:
    data = gzip.compress(b'{"a": 1}\n' * 1000)[:-30]
    with pytest.raises(IngestFormatError, match="cannot be decompressed"):
        list(iter_json_lines_file(io.BytesIO(data)))


def test_a_record_over_the_size_limit_is_refused() -> None:
    text = '{"a": 1}\n{"big": "' + "x" * 5000 + '"}\n'
    scanner = JsonScanner(_split(text, [100] * 100), max_record_chars=1000)
    records = scanner.records()
    assert next(records) == (1, {"a": 1})
    with pytest.raises(IngestFormatError, match="line 2: the record is longer than 1000"):
        next(records)


def test_items_under_streams_a_keyed_array_and_skips_other_members() -> None:
    text = '{"version": {"n": [1, 2]},\n "Records": [\n{"i": 1},\n{"i": 2}\n], "tail": null}'
    items = list(JsonScanner(_split(text, [3] * 100)).items_under("Records"))
    assert items == [(3, {"i": 1}), (4, {"i": 2})]


@pytest.mark.parametrize(
    "text",
    ['{"records": []}', '{"Records": {}}', '{"Records": []} {}', "[1]", '{"Records": [1'],
)
def test_items_under_refuses_other_shapes(text: str) -> None:
    with pytest.raises(IngestFormatError):
        list(JsonScanner([text]).items_under("Records"))


def _split(text: str, sizes: list[int]) -> list[str]:
    """`text` cut into pieces of the given sizes (the rest as one last piece)."""
    pieces, position = [], 0
    for size in sizes:
        pieces.append(text[position : position + size])
        position += size
    pieces.append(text[position:])
    return pieces


json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
    max_leaves=8,
)
records = st.lists(st.dictionaries(st.text(max_size=5), json_values, max_size=4), max_size=6)


@given(records=records, sizes=st.lists(st.integers(min_value=0, max_value=40), max_size=30))
def test_scanner_gives_the_same_records_however_the_text_is_chunked(
    records: list[dict[str, Any]], sizes: list[int]
) -> None:
    text = "\n".join(json.dumps(r, ensure_ascii=False) for r in records)
    scanned = list(JsonScanner(_split(text, sizes)).records())
    assert [value for _line, value in scanned] == records
    assert [line for line, _value in scanned] == list(range(1, len(records) + 1))
