"""Fluent Bit's `http` output with `format msgpack` (its default).

The body is msgpack objects back to back, one per record: `[timestamp, record]` from
Fluent Bit 1.x, or `[[timestamp, metadata], record]` from 2.0 on. The timestamp is an
integer or float of epoch seconds, or Fluentd's EventTime (msgpack extension type 0:
big-endian uint32 seconds then uint32 nanoseconds). Fluent Bit 3+ may add group markers
(timestamp seconds -1 and -2) around records that share attributes; they carry no event
and are skipped.
"""

from __future__ import annotations

import base64
import struct
from datetime import datetime
from typing import Any

import msgpack  # type: ignore[import-untyped]

from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError
from mamori.ledger.formats.base import (
    Format,
    from_unix_nanos,
    json_safe,
    parse_time,
    record_to_event,
)

EVENT_TIME_EXT = 0
"""Fluentd's EventTime msgpack extension type."""


class _GroupMarker:
    """The timestamp of a Fluent Bit group start or end record."""


_GROUP_MARKER = _GroupMarker()
# As unsigned 32-bit seconds, -1 and -2 read as these.
_MARKER_SECONDS = (0xFFFFFFFF, 0xFFFFFFFE)


def _ext_hook(code: int, data: bytes) -> Any:
    """EventTime as a datetime (or the group marker); other extensions kept as base64."""
    if code == EVENT_TIME_EXT and len(data) == 8:
        seconds, nanos = struct.unpack(">II", data)
        if seconds in _MARKER_SECONDS:
            return _GROUP_MARKER
        return from_unix_nanos(seconds * 1_000_000_000 + nanos)
    return {"ext": code, "data": base64.b64encode(data).decode("ascii")}


def _unpacker(size: int) -> Any:
    # Nesting and element counts are bounded by msgpack relative to max_buffer_size.
    return msgpack.Unpacker(
        raw=False,
        use_list=False,
        strict_map_key=False,
        unicode_errors="replace",
        ext_hook=_ext_hook,
        timestamp=3,
        max_buffer_size=max(size, 1),
    )


def parse_msgpack_records(body: bytes) -> list[IncomingEvent]:
    """The events of a Fluent Bit msgpack body; errors name the 1-based record number."""
    unpacker = _unpacker(len(body))
    unpacker.feed(body)
    events: list[IncomingEvent] = []
    number = 0
    while True:
        # tell() moves past a partial object too, so note where each one starts.
        start = unpacker.tell()
        try:
            entry = unpacker.unpack()
        except msgpack.OutOfData:
            if start != len(body):
                raise IngestFormatError(
                    N_("record %(record)s is cut short"), params={"record": number + 1}
                ) from None
            return events
        except (ValueError, TypeError, msgpack.UnpackException) as exc:
            raise _bad_record(number + 1, str(exc) or type(exc).__name__) from None
        number += 1
        event = _entry_event(number, entry)
        if event is not None:
            events.append(event)


def _entry_event(number: int, entry: Any) -> IncomingEvent | None:
    """The event of one `[head, record]` entry; None for a group marker."""
    if not (isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[1], dict)):
        raise IngestFormatError(
            N_("record %(record)s is not a [timestamp, record] pair"),
            params={"record": number},
        )
    head, record = entry
    metadata: Any = None
    if isinstance(head, tuple) and len(head) == 2:
        head, metadata = head
    if head is _GROUP_MARKER or (isinstance(head, int) and head in (-1, -2)):
        return None
    occurred_at = _timestamp(number, head)
    original: dict[str, Any] = {
        "time": occurred_at.isoformat() if occurred_at else None,
        "record": json_safe(record),
    }
    if metadata:
        original["metadata"] = json_safe(metadata)
    return record_to_event(record, original=original, occurred_at=occurred_at)


def _timestamp(number: int, value: Any) -> datetime | None:
    if isinstance(value, datetime):
        return parse_time(value)
    if isinstance(value, int | float) and not isinstance(value, bool):
        moment = parse_time(value)
        if moment is not None:
            return moment
    raise IngestFormatError(
        N_("record %(record)s has a timestamp that cannot be read: %(value)s"),
        field="timestamp",
        params={"record": number, "value": repr(value)},
    )


def _bad_record(number: int, reason: str) -> IngestFormatError:
    return IngestFormatError(
        N_("record %(record)s is not valid msgpack: %(reason)s"),
        params={"record": number, "reason": reason},
    )


class MsgpackRecordsFormat(Format):
    """Fluent Bit msgpack records (`[time, record]` or `[[time, metadata], record]`)."""

    name = "msgpack"
    content_types = ("application/msgpack", "application/x-msgpack", "application/vnd.msgpack")

    def parse(self, body: bytes, content_type: str | None = None) -> list[IncomingEvent]:
        """The events in `body`."""
        return parse_msgpack_records(body)
