"""Loki push requests: JSON, and snappy-compressed protobuf encoded on the wire."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import cramjam
import pytest
from hypothesis import given
from hypothesis import strategies as st

from mamori.ledger.events import IngestFormatError, Outcome, Severity
from mamori.ledger.formats import FORMATS
from mamori.ledger.formats.loki import (
    PushRequest,
    parse_label_string,
    parse_loki_json,
    parse_loki_protobuf,
)

NANOS = 1714550400_123456789


def go_quote(text: str) -> str:
    """A label value quoted the way Prometheus' labels.String() (Go strconv.Quote) does."""
    escaped = text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
    return '"' + escaped.replace("\t", "\\t") + '"'


def protobuf_body(labels: str, entries: list[tuple[int, str, dict[str, str]]]) -> bytes:
    request = PushRequest()
    stream = request.streams.add(labels=labels)
    for nanos, line, metadata in entries:
        entry = stream.entries.add(line=line)
        entry.timestamp.seconds, entry.timestamp.nanos = divmod(nanos, 1_000_000_000)
        for name, value in metadata.items():
            entry.structuredMetadata.add(name=name, value=value)
    return bytes(cramjam.snappy.compress_raw(request.SerializeToString()))


def test_protobuf_push() -> None:
    labels = '{job="auth", host="idp-1", note=' + go_quote('say "hi"\\now') + "}"
    line = json.dumps({"level": "error", "user": "bob", "msg": "denied", "outcome": "failure"})
    body = protobuf_body(
        labels,
        [(NANOS, line, {"trace_id": "abc123"}), (NANOS + 1_000_000_000, "plain text line", {})],
    )
    structured, plain = FORMATS["loki"].parse(body, "application/x-protobuf")
    assert structured.occurred_at == datetime(2024, 5, 1, 8, 0, 0, 123456, tzinfo=UTC)
    assert structured.labels["job"] == "auth"
    assert structured.labels["note"] == 'say "hi"\\now'
    assert (structured.severity, structured.actor, structured.outcome) == (
        Severity.ERROR,
        "bob",
        Outcome.FAILURE,
    )
    assert structured.message == "denied"
    assert structured.original == {
        "labels": {"job": "auth", "host": "idp-1", "note": 'say "hi"\\now'},
        "line": line,
        "time": "2024-05-01T08:00:00.123456+00:00",
        "structured_metadata": {"trace_id": "abc123"},
    }
    assert plain.message == "plain text line"
    assert plain.severity is Severity.INFO
    assert plain.occurred_at == datetime(2024, 5, 1, 8, 0, 1, 123456, tzinfo=UTC)


def test_json_push() -> None:
    payload = {
        "streams": [
            {
                "stream": {"service_name": "api", "level": "warn"},
                "values": [
                    [str(NANOS), "slow request"],
                    [str(NANOS + 1), "with metadata", {"user": "carol"}],
                ],
            },
            {"stream": {}, "values": []},
        ]
    }
    first, second = FORMATS["loki"].parse(json.dumps(payload).encode(), "application/json")
    assert first.severity is Severity.WARNING
    assert first.labels["service_name"] == "api"
    assert first.message == "slow request"
    assert second.actor == "carol"
    assert second.original["structured_metadata"] == {"user": "carol"}


def test_push_without_content_type_is_protobuf() -> None:
    body = protobuf_body('{a="b"}', [(NANOS, "x", {})])
    assert [e.message for e in FORMATS["loki"].parse(body)] == ["x"]


@pytest.mark.parametrize(
    ("payload", "text"),
    [
        ({"nostreams": []}, "no streams list"),
        ({"streams": [{"stream": {"a": 1}, "values": []}]}, "stream 1 must have"),
        ({"streams": [{"stream": {}, "values": [["1"]]}]}, "stream 1 entry 1 must be"),
        (
            {"streams": [{"stream": {}, "values": [["1", "a"], ["2", "b", {"k": 1}]]}]},
            "stream 1 entry 2 must be",
        ),
        (
            {"streams": [{"stream": {}, "values": [["2024-05-01T08:00:00Z", "a"]]}]},
            "stream 1 entry 1: 2024-05-01T08:00:00Z is not a nanosecond timestamp",
        ),
    ],
)
def test_bad_json_pushes(payload: object, text: str) -> None:
    with pytest.raises(IngestFormatError, match=text):
        parse_loki_json(json.dumps(payload).encode())


def test_bad_protobuf_pushes() -> None:
    with pytest.raises(IngestFormatError, match="cannot be decompressed"):
        parse_loki_protobuf(b"\x05\xff\xff\xff\xff\xff\xff")
    garbage = bytes(cramjam.snappy.compress_raw(b"\x0a\xff\xff\xff\xff\x0f"))
    with pytest.raises(IngestFormatError, match="not valid protobuf"):
        parse_loki_protobuf(garbage)
    with pytest.raises(IngestFormatError, match="stream 1: the labels"):
        parse_loki_protobuf(protobuf_body('{a="b" c="d"}', [(NANOS, "x", {})]))


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("{}", {}),
        (' { a = "1" , b="2" , } ', {"a": "1", "b": "2"}),
        ('{a="x\\"y\\\\z\\n\\t\\u00e9"}', {"a": 'x"y\\z\n\té'}),
        ('{"service.name"="api"}', {"service.name": "api"}),
        ('{a="}, b=\\"c"}', {"a": '}, b="c'}),
        ('{a="1" b="2"}', None),
        ("{a=1}", None),
        ('a="1"', None),
        ('{a="1}', None),
    ],
)
def test_label_strings(text: str, expected: dict[str, str] | None) -> None:
    assert parse_label_string(text) == expected


label_names = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,10}", fullmatch=True)


@given(st.dictionaries(label_names, st.text(max_size=20), max_size=5))
def test_label_strings_round_trip_go_quoting(labels: dict[str, str]) -> None:
    text = "{" + ", ".join(f"{k}={go_quote(v)}" for k, v in labels.items()) + "}"
    parsed = parse_label_string(text)
    assert parsed is not None
    # go_quote escapes only what Prometheus must; other characters pass through raw.
    assert parsed == labels
