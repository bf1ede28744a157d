"""Grafana Loki push API (`POST /loki/api/v1/push`), in JSON or snappy protobuf.

JSON: `{"streams": [{"stream": {labels}, "values": [["<ns>", "line", {metadata}?]]}]}`.
Protobuf: a `logproto.PushRequest`, snappy block compressed, sent as
`application/x-protobuf` without a Content-Encoding. Loki publishes no Python package
for its protos, so the few messages needed are declared here from Loki's `push.proto`.

Stream labels become the event's labels. A line that is itself a JSON object is
normalised like any free-form record (its level, user, action…); otherwise the line
is the message. Structured metadata is kept in `original`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from google.protobuf import (  # type: ignore[import-untyped]
    descriptor_pb2,
    descriptor_pool,
    message_factory,
    timestamp_pb2,
)
from google.protobuf.message import DecodeError  # type: ignore[import-untyped]

from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError
from mamori.ledger.formats.base import (
    MESSAGE_KEYS,
    Format,
    first_value,
    from_unix_nanos,
    media_type,
    record_to_event,
    snappy_block_decompress,
    text_of,
)
from mamori.ledger.formats.json_records import json_body

PROTOBUF_TYPES = ("application/x-protobuf", "application/protobuf")
JSON_TYPE = "application/json"

_Field = descriptor_pb2.FieldDescriptorProto


def _message_type(file: Any, name: str, fields: list[tuple[str, int, int, str, bool]]) -> None:
    """Declare message `name` with (name, number, type, message type, repeated) fields."""
    message = file.message_type.add(name=name)
    for field_name, number, kind, type_name, repeated in fields:
        field = message.field.add(name=field_name, number=number, type=kind)
        field.label = _Field.LABEL_REPEATED if repeated else _Field.LABEL_OPTIONAL
        if type_name:
            field.type_name = type_name


def _push_request_class() -> Any:
    """The `logproto.PushRequest` message class, built in a private descriptor pool."""
    pool = descriptor_pool.DescriptorPool()
    pool.AddSerializedFile(timestamp_pb2.DESCRIPTOR.serialized_pb)
    file = descriptor_pb2.FileDescriptorProto(
        name="mamori/ledger/loki_push.proto",
        package="logproto",
        syntax="proto3",
        dependency=["google/protobuf/timestamp.proto"],
    )
    string, message, uint64 = _Field.TYPE_STRING, _Field.TYPE_MESSAGE, _Field.TYPE_UINT64
    _message_type(
        file, "LabelPairAdapter", [("name", 1, string, "", False), ("value", 2, string, "", False)]
    )
    entry_fields = [
        ("timestamp", 1, message, ".google.protobuf.Timestamp", False),
        ("line", 2, string, "", False),
        ("structuredMetadata", 3, message, ".logproto.LabelPairAdapter", True),
    ]
    _message_type(file, "EntryAdapter", entry_fields)
    stream_fields = [
        ("labels", 1, string, "", False),
        ("entries", 2, message, ".logproto.EntryAdapter", True),
        ("hash", 3, uint64, "", False),
    ]
    _message_type(file, "StreamAdapter", stream_fields)
    _message_type(file, "PushRequest", [("streams", 1, message, ".logproto.StreamAdapter", True)])
    pool.Add(file)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("logproto.PushRequest"))


PushRequest = _push_request_class()
"""Loki's `logproto.PushRequest` (streams → entries with timestamp, line, metadata)."""


# --- label strings -------------------------------------------------------------------

_LABEL_PAIR = re.compile(
    r'\s*([A-Za-z_][A-Za-z0-9_.]*|"(?:[^"\\]|\\.)*")\s*=\s*"((?:[^"\\]|\\.)*)"\s*(,?)', re.DOTALL
)
_ESCAPE = re.compile(r"\\(x[0-9a-fA-F]{2}|u[0-9a-fA-F]{4}|U[0-9a-fA-F]{8}|[0-7]{3}|.)", re.DOTALL)
_SIMPLE_ESCAPES = {"a": "\a", "b": "\b", "f": "\f", "n": "\n", "r": "\r", "t": "\t", "v": "\v"}


def _unescape(text: str) -> str:
    """Undo Go string escapes (`\\"`, `\\\\`, `\\n`, `\\xHH`, `\\uHHHH` …)."""

    def replace(match: re.Match[str]) -> str:
        code = match.group(1)
        if code[0] in "xuU" and len(code) > 1:
            return chr(int(code[1:], 16))
        if len(code) == 3 and code.isdigit():
            return chr(int(code, 8))
        return _SIMPLE_ESCAPES.get(code, code)

    return _ESCAPE.sub(replace, text)


def parse_label_string(text: str) -> dict[str, str] | None:
    """Labels from Prometheus syntax `{a="b", c="d \\"e\\""}`; None if it is not valid."""
    body = text.strip()
    if not (body.startswith("{") and body.endswith("}")):
        return None
    labels: dict[str, str] = {}
    position, end = 1, len(body) - 1
    while body[position:end].strip():
        match = _LABEL_PAIR.match(body, position, end)
        if match is None:
            return None
        name, value, comma = match.groups()
        labels[_unescape(name[1:-1]) if name.startswith('"') else name] = _unescape(value)
        position = match.end()
        if not comma and body[position:end].strip():
            return None
    return labels


# --- entries -------------------------------------------------------------------------


def entry_event(
    labels: Mapping[str, str],
    occurred_at: datetime | None,
    line: str,
    metadata: Mapping[str, str],
) -> IncomingEvent:
    """The event of one log line of a stream."""
    original: dict[str, Any] = {"labels": dict(labels), "line": line}
    if occurred_at is not None:
        original["time"] = occurred_at.isoformat()
    if metadata:
        original["structured_metadata"] = dict(metadata)
    fields: dict[str, Any] = {**labels, **metadata}
    message = line
    parsed = _json_object(line)
    if parsed is not None:
        fields.update(parsed)
        message = text_of(first_value(parsed, MESSAGE_KEYS) or line)
    return record_to_event(
        fields, original=original, occurred_at=occurred_at, labels=labels, message=message
    )


def _json_object(line: str) -> dict[str, Any] | None:
    """The line as a JSON object, if it is one."""
    if not line.lstrip().startswith("{"):
        return None
    try:
        parsed = json.loads(line)
    except (ValueError, RecursionError):
        return None
    return parsed if isinstance(parsed, dict) else None


def _entry_error(stream: int, entry: int) -> IngestFormatError:
    return IngestFormatError(
        N_("stream %(stream)s entry %(entry)s must be [timestamp, line, metadata?]"),
        params={"stream": stream, "entry": entry},
    )


def _json_entry(labels: dict[str, str], stream: int, entry: int, value: Any) -> IncomingEvent:
    if not (isinstance(value, list) and len(value) in (2, 3) and isinstance(value[1], str)):
        raise _entry_error(stream, entry)
    stamp, line = value[0], value[1]
    metadata = value[2] if len(value) == 3 else {}
    if not _is_string_map(metadata):
        raise _entry_error(stream, entry)
    nanos = str(stamp)
    occurred_at = from_unix_nanos(int(nanos)) if nanos.isascii() and nanos.isdigit() else None
    if occurred_at is None:
        raise IngestFormatError(
            N_("stream %(stream)s entry %(entry)s: %(value)s is not a nanosecond timestamp"),
            field="values",
            params={"stream": stream, "entry": entry, "value": nanos[:40]},
        )
    return entry_event(labels, occurred_at, line, metadata)


def _is_string_map(value: Any) -> bool:
    return isinstance(value, dict) and all(isinstance(v, str) for v in value.values())


def parse_loki_json(body: bytes) -> list[IncomingEvent]:
    """The events of a JSON push request."""
    payload = json_body(body)
    streams = payload.get("streams") if isinstance(payload, dict) else None
    if not isinstance(streams, list):
        raise IngestFormatError(N_("the push request has no streams list"), field="streams")
    events: list[IncomingEvent] = []
    for number, stream in enumerate(streams, start=1):
        labels, values = _stream_parts(number, stream)
        for entry, value in enumerate(values, start=1):
            events.append(_json_entry(labels, number, entry, value))
    return events


def _stream_parts(number: int, stream: Any) -> tuple[dict[str, str], list[Any]]:
    """The labels and values of a JSON stream."""
    if isinstance(stream, dict):
        labels, values = stream.get("stream", {}), stream.get("values", [])
        if _is_string_map(labels) and isinstance(values, list):
            return labels, values
    raise IngestFormatError(
        N_("stream %(stream)s must have a stream object of strings and a values list"),
        params={"stream": number},
    )


def parse_loki_protobuf(body: bytes) -> list[IncomingEvent]:
    """The events of a snappy-compressed protobuf push request."""
    request = PushRequest()
    try:
        request.ParseFromString(snappy_block_decompress(body))
    except DecodeError as exc:
        raise IngestFormatError(
            N_("the Loki push request is not valid protobuf: %(reason)s"),
            params={"reason": str(exc)},
        ) from None
    events: list[IncomingEvent] = []
    for number, stream in enumerate(request.streams, start=1):
        labels = parse_label_string(stream.labels)
        if labels is None:
            raise IngestFormatError(
                N_("stream %(stream)s: the labels %(labels)s cannot be read"),
                field="labels",
                params={"stream": number, "labels": stream.labels[:200]},
            )
        for entry in stream.entries:
            stamp = entry.timestamp
            occurred_at = from_unix_nanos(stamp.seconds * 1_000_000_000 + stamp.nanos)
            metadata = {pair.name: pair.value for pair in entry.structuredMetadata}
            events.append(entry_event(labels, occurred_at, entry.line, metadata))
    return events


class LokiPushFormat(Format):
    """Loki push: JSON (`application/json`) or snappy protobuf (`application/x-protobuf`)."""

    name = "loki"
    content_types = (*PROTOBUF_TYPES, JSON_TYPE)

    def parse(self, body: bytes, content_type: str | None = None) -> list[IncomingEvent]:
        """The events in `body`; without a content type, protobuf is assumed (Loki's default)."""
        if media_type(content_type) == JSON_TYPE:
            return parse_loki_json(body)
        return parse_loki_protobuf(body)
