"""The ingest format interface, request-body decompression, and record normalisation.

Every format turns a decompressed request body into `IncomingEvent`s. The helpers
here are shared: `decompress()` undoes a `Content-Encoding` within a size limit, and
`record_to_event()` maps a free-form JSON-like record (the shape most shippers send)
onto the normalised event, so each format only adds what its wire shape knows better.
"""

from __future__ import annotations

import base64
import json
import math
import re
import zlib
from abc import ABC, abstractmethod
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, date, datetime, timedelta
from functools import lru_cache
from typing import Any, ClassVar

import cramjam

from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError, Outcome, Severity
from mamori.ledger.hashing import NATIVE_MODULE

MAX_DECOMPRESSED_BYTES = 64 * 1024 * 1024
"""Largest body a request may inflate to (64 MiB); more is refused as a likely zip bomb."""

_INFLATE_STEP = 256 * 1024
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class UnsupportedMediaError(IngestFormatError):
    """A Content-Type or Content-Encoding no format understands (HTTP 415)."""


class PayloadTooLargeError(IngestFormatError):
    """A body larger than the ingest limit, before or after decompression (HTTP 413)."""


class Format(ABC):
    """One wire format that shippers send events in."""

    name: ClassVar[str]
    content_types: ClassVar[tuple[str, ...]]
    """Media types (lower case, without parameters) this format reads."""

    def accepts(self, content_type: str | None) -> bool:
        """Whether a request with this Content-Type header is in this format."""
        return media_type(content_type) in self.content_types

    @abstractmethod
    def parse(self, body: bytes, content_type: str | None = None) -> list[IncomingEvent]:
        """The events in an already decompressed `body`.

        `content_type` picks the variant for formats with several encodings (OTLP and
        Loki: protobuf or JSON); formats with one encoding ignore it.
        """


def media_type(content_type: str | None) -> str:
    """`application/json; charset=utf-8` → `application/json`."""
    return (content_type or "").split(";", 1)[0].strip().lower()


# --- decompression -------------------------------------------------------------------


def decompress(
    body: bytes, content_encoding: str | None, *, limit: int = MAX_DECOMPRESSED_BYTES
) -> bytes:
    """`body` with its Content-Encoding (gzip, deflate, snappy or identity) undone.

    Inflation is streamed and stops as soon as the output passes `limit`, so a small
    zip bomb cannot exhaust memory. Several codings (`gzip, identity`) are undone in
    reverse order, as RFC 9110 section 8.4 lists them in the order they were applied.
    """
    codings = [part.strip().lower() for part in (content_encoding or "").split(",")]
    for coding in reversed([c for c in codings if c]):
        body = _undo(body, coding, limit)
    if len(body) > limit:
        raise _too_large(limit)
    return body


def _undo(body: bytes, coding: str, limit: int) -> bytes:
    if coding == "identity":
        return body
    if coding in ("gzip", "x-gzip"):
        return _inflate(body, zlib.MAX_WBITS | 16, limit)
    if coding == "deflate":
        # RFC 9110 means the zlib wrapper, but some clients send raw deflate.
        zlib_header = len(body) >= 2 and body[0] & 0x0F == 8 and (body[0] * 256 + body[1]) % 31 == 0
        return _inflate(body, zlib.MAX_WBITS if zlib_header else -zlib.MAX_WBITS, limit)
    if coding in ("snappy", "x-snappy"):
        return snappy_block_decompress(body, limit=limit)
    raise UnsupportedMediaError(
        N_("the content encoding %(encoding)s is not supported"),
        field="Content-Encoding",
        params={"encoding": coding},
    )


def _inflate(data: bytes, wbits: int, limit: int) -> bytes:
    """Inflate every member of a zlib/gzip/deflate stream, refusing output over `limit`."""
    out = bytearray()
    while data:
        inflater = zlib.decompressobj(wbits)
        pending = data
        try:
            while not inflater.eof:
                before = len(out)
                out += inflater.decompress(pending, _INFLATE_STEP)
                pending = inflater.unconsumed_tail
                if len(out) > limit:
                    raise _too_large(limit)
                if not pending and len(out) == before and not inflater.eof:
                    raise zlib.error("the compressed data is cut short")
        except zlib.error as exc:
            raise IngestFormatError(
                N_("the body cannot be decompressed: %(reason)s"), params={"reason": str(exc)}
            ) from None
        # gzip allows several members back to back; trailing zero padding is not one.
        data = inflater.unused_data if wbits > zlib.MAX_WBITS else b""
        if not data.strip(b"\x00"):
            break
    return bytes(out)


def snappy_block_decompress(data: bytes, *, limit: int = MAX_DECOMPRESSED_BYTES) -> bytes:
    """Undo snappy block (raw) compression, checking the declared length first."""
    try:
        declared = cramjam.snappy.decompress_raw_len(data)
        if declared > limit:
            raise _too_large(limit)
        return bytes(cramjam.snappy.decompress_raw(data))
    except cramjam.DecompressionError as exc:
        raise IngestFormatError(
            N_("the body cannot be decompressed: %(reason)s"), params={"reason": str(exc)}
        ) from None


def _too_large(limit: int) -> PayloadTooLargeError:
    return PayloadTooLargeError(
        N_("the body is larger than %(limit)s bytes once decompressed"), params={"limit": limit}
    )


# --- JSON-safe originals -------------------------------------------------------------


def json_safe(value: Any) -> Any:
    """`value` made of JSON types only: bytes as UTF-8 text (else base64), times as ISO
    8601 strings, map keys as strings, tuples and sets as lists, non-finite floats as text.
    """
    # What decoded JSON is made of, by exact type first: most values of most records.
    kind = type(value)
    if kind is str or kind is int or kind is bool or value is None:
        return value
    if kind is dict:
        return {k if type(k) is str else _key(k): json_safe(v) for k, v in value.items()}
    if kind is list:
        return [json_safe(item) for item in value]
    if isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {_key(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [json_safe(item) for item in value]
    if isinstance(value, bytes | bytearray | memoryview):
        raw = bytes(value)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            return base64.b64encode(raw).decode("ascii")
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


def _key(key: Any) -> str:
    if isinstance(key, str):
        return key
    if isinstance(key, bytes):
        return key.decode("utf-8", "replace")
    return json.dumps(json_safe(key)) if isinstance(key, list | tuple | Mapping) else str(key)


# --- times ---------------------------------------------------------------------------

_ISO = re.compile(
    r"(\d{4}-\d{2}-\d{2})(?:[Tt ](\d{2}:\d{2}(?::\d{2})?)(?:[.,](\d+))?)?"
    r"\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?"
)


def from_unix_nanos(nanos: int) -> datetime | None:
    """A UTC time from nanoseconds since the epoch; None when out of range."""
    try:
        return _EPOCH + timedelta(microseconds=nanos // 1000)
    except OverflowError:
        return None


def parse_time(value: Any) -> datetime | None:
    """An aware UTC time from an RFC 3339/ISO 8601 string or an epoch number.

    Numbers (or numeric strings) are read as seconds, milliseconds, microseconds or
    nanoseconds by magnitude, as shippers use all four. Anything unreadable gives None.
    """
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, datetime):
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    if isinstance(value, int | float):
        return _from_epoch(value)
    if isinstance(value, str):
        text = value.strip()
        if text[4:5] == "-" and text[:4].isdigit():
            # Most shippers send ISO dates: skip the failing float() below.
            return _from_iso(text)
        try:
            return _from_epoch(int(text) if text.lstrip("-").isdigit() else float(text))
        except ValueError:
            return _from_iso(text)
    return None


def _from_epoch(number: float) -> datetime | None:
    if not math.isfinite(number):
        return None
    magnitude = abs(number)
    scale = 1 if magnitude < 1e11 else 1_000 if magnitude < 1e14 else 1_000_000
    if magnitude >= 1e17:
        scale = 1_000_000_000
    try:
        if isinstance(number, int):
            return _EPOCH + timedelta(microseconds=number * 1_000_000 // scale)
        return _EPOCH + timedelta(seconds=number / scale)
    except OverflowError:
        return None


def _from_iso(text: str) -> datetime | None:
    match = _ISO.fullmatch(text)
    if not match:
        return None
    day, clock, fraction, zone = match.groups()
    iso = day + ("T" + clock if clock else "")
    if fraction:
        # datetime keeps microseconds; Go and .NET send up to 9 and 7 digits.
        iso += "." + fraction[:6].ljust(6, "0")
    if zone and zone.upper() not in ("Z", "UTC"):
        digits = zone[1:].replace(":", "")
        iso += zone[0] + digits[:2] + ":" + (digits[2:4] or "00")
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


# --- severities and outcomes ---------------------------------------------------------

_SEVERITY_NAMES: dict[str, Severity] = {
    **dict.fromkeys(("emerg", "emergency", "panic"), Severity.EMERGENCY),
    "alert": Severity.ALERT,
    **dict.fromkeys(("crit", "critical", "fatal"), Severity.CRITICAL),
    **dict.fromkeys(("err", "error", "severe"), Severity.ERROR),
    **dict.fromkeys(("warn", "warning"), Severity.WARNING),
    "notice": Severity.NOTICE,
    **dict.fromkeys(("info", "information", "informational"), Severity.INFO),
    **dict.fromkeys(("debug", "trace", "verbose", "fine", "finer", "finest"), Severity.DEBUG),
}
SYSLOG_SEVERITIES: tuple[Severity, ...] = tuple(Severity)
"""Severity by syslog number 0–7 (the enum is declared in that order)."""

# pino and bunyan number their levels 10 (trace) to 60 (fatal).
_DECADE_LEVELS = {10: Severity.DEBUG, 20: Severity.DEBUG, 30: Severity.INFO}
_DECADE_LEVELS.update({40: Severity.WARNING, 50: Severity.ERROR, 60: Severity.CRITICAL})


def severity_from(value: Any) -> Severity | None:
    """A Severity from a level name (`warn`, `ERROR`, `Informational`) or number.

    Numbers 0–7 are syslog levels and 10–60 in tens the pino/bunyan scale; other
    numbers are ambiguous and give None.
    """
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        text = value.strip().lower()
        if text.isascii() and text.isdigit():  # isdigit() alone takes "²", int() refuses it
            return severity_from(int(text))
        return _SEVERITY_NAMES.get(text)
    if isinstance(value, int):
        if 0 <= value < len(SYSLOG_SEVERITIES):
            return SYSLOG_SEVERITIES[value]
        return _DECADE_LEVELS.get(value)
    return None


_SUCCESS_WORDS = {"success", "succeeded", "successful", "ok", "allow", "allowed", "accept"}
_SUCCESS_WORDS |= {"accepted", "pass", "passed", "true", "granted", "permit", "permitted"}
_FAILURE_WORDS = {"failure", "failed", "fail", "error", "denied", "deny", "reject", "rejected"}
_FAILURE_WORDS |= {"false", "blocked", "block", "drop", "dropped", "forbidden", "unauthorized"}


def outcome_from(value: Any) -> Outcome | None:
    """An Outcome from a word (`success`, `denied`), a boolean or an HTTP status."""
    if isinstance(value, bool):
        return Outcome.SUCCESS if value else Outcome.FAILURE
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value.strip())
    if isinstance(value, int):
        if 100 <= value < 600:
            return Outcome.SUCCESS if value < 400 else Outcome.FAILURE
        return None
    if isinstance(value, str):
        word = value.strip().lower()
        if word in _SUCCESS_WORDS:
            return Outcome.SUCCESS
        if word in _FAILURE_WORDS:
            return Outcome.FAILURE
    return None


# --- free-form records ---------------------------------------------------------------

TIME_KEYS = ("@timestamp", "timestamp", "time", "ts", "date", "datetime", "eventTime")
SEVERITY_KEYS = ("level", "severity", "log.level", "levelname", "severity_text", "loglevel")
ACTOR_KEYS = (
    "actor", "user.name", "user.id", "user", "username", "user_name", "userName",
    "enduser.id", "principal", "caller",
)  # fmt: skip
ACTION_KEYS = ("action", "event.action", "event.name", "event", "operation", "eventName")
SOURCE_KEYS = (
    "source.ip", "source.address", "client.ip", "client.address", "src_ip", "source_ip",
    "client_ip", "remote_addr", "remote_ip", "ip",
)  # fmt: skip
OUTCOME_KEYS = ("outcome", "event.outcome", "result", "success", "status")
MESSAGE_KEYS = ("message", "msg", "log", "MESSAGE", "text")
LABEL_KEYS: Mapping[str, tuple[str, ...]] = {
    "service.name": ("service.name", "service", "app", "application"),
    "host.name": ("host.name", "hostname", "host"),
}
"""Normalised label → the record keys it is taken from, first found wins."""


def lookup(record: Mapping[str, Any], path: str) -> Any:
    """`record[path]`, or the nested value at a dotted path (`source.ip`); None if absent."""
    if path in record:
        return record[path]
    return _walk(record, _parts(path))


@lru_cache(maxsize=1024)
def _parts(path: str) -> tuple[str, ...]:
    return tuple(path.split("."))


def _walk(node: Any, parts: tuple[str, ...]) -> Any:
    for part in parts:
        # Records are dicts; other mappings take the slower abstract check.
        if not (type(node) is dict or isinstance(node, Mapping)) or part not in node:
            return None
        node = node[part]
    return node


_SCALARS = (str, int, float, bool)


@lru_cache(maxsize=256)
def _plan(keys: tuple[str, ...]) -> tuple[tuple[str, tuple[str, ...] | None], ...]:
    """Each key with its dotted parts (None for a key without dots)."""
    return tuple((key, _parts(key) if "." in key else None) for key in keys)


def first_value(record: Mapping[str, Any], keys: Iterable[str]) -> Any:
    """The first present, non-empty scalar value among `keys`; None if there is none."""
    for key, parts in _plan(keys if isinstance(keys, tuple) else tuple(keys)):
        # Most keys are absent or top-level; only dotted ones whose first part is
        # present need the walk.
        if key in record:
            value = record[key]
        elif parts is not None and parts[0] in record:
            value = _walk(record, parts)
        else:
            continue
        if isinstance(value, _SCALARS) and value != "":
            return value
    return None


def text_of(value: Any) -> str:
    """A string for an event field: strings as they are, other values as compact JSON."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    return json.dumps(json_safe(value), ensure_ascii=False, separators=(",", ":"))


def record_to_event(
    record: Mapping[str, Any],
    *,
    original: Mapping[str, Any] | None = None,
    occurred_at: datetime | None = None,
    labels: Mapping[str, str] | None = None,
    message: str | None = None,
) -> IncomingEvent:
    """Normalise a free-form record by its well-known keys.

    `occurred_at`, `labels` and `message` given by the transport win over what the
    record says. `original` defaults to the record made JSON-safe.
    """
    found: dict[str, str] = {}
    for label, keys in LABEL_KEYS.items():
        value = first_value(record, keys)
        if value is not None:
            found[label] = text_of(value)
    found.update(labels or {})
    text = first_value(record, MESSAGE_KEYS)
    if message is not None:
        text = message
    elif text is None:
        text = lookup(record, "message")
    return IncomingEvent(
        original=json_safe(record) if original is None else original,
        occurred_at=occurred_at or _first_time(record),
        severity=severity_from(first_value(record, SEVERITY_KEYS)) or Severity.INFO,
        actor=text_of(first_value(record, ACTOR_KEYS)),
        action=text_of(first_value(record, ACTION_KEYS)),
        source_address=text_of(first_value(record, SOURCE_KEYS)),
        outcome=outcome_from(first_value(record, OUTCOME_KEYS)) or Outcome.UNKNOWN,
        message=text_of(text),
        labels=found,
    )


def records_to_events(records: Sequence[dict[str, Any]]) -> list[IncomingEvent]:
    """`record_to_event` of each record, each its own original.

    The native module does the same for the values shippers usually send, several times
    faster; a record it leaves alone goes to `record_to_event`, the reference.
    """
    if NATIVE_MODULE is None:  # pragma: no cover - only where no C compiler was available
        return [_own_original(record) for record in records]
    events: list[IncomingEvent] = NATIVE_MODULE.normalise_records(
        records, NATIVE_PLAN, _own_original
    )
    return events


def _own_original(record: dict[str, Any]) -> IncomingEvent:
    return record_to_event(record, original=record)


NATIVE_PLAN = (
    IncomingEvent,
    tuple((label, _plan(keys)) for label, keys in LABEL_KEYS.items()),
    _plan(MESSAGE_KEYS),
    _plan(TIME_KEYS),
    _plan(SEVERITY_KEYS),
    _plan(ACTOR_KEYS),
    _plan(ACTION_KEYS),
    _plan(SOURCE_KEYS),
    _plan(OUTCOME_KEYS),
    _SEVERITY_NAMES,
    SYSLOG_SEVERITIES,
    _DECADE_LEVELS,
    frozenset(_SUCCESS_WORDS),
    frozenset(_FAILURE_WORDS),
    Severity.INFO,
    Outcome.SUCCESS,
    Outcome.FAILURE,
    Outcome.UNKNOWN,
    "message",
)
"""What `_native.normalise_records` reads its keys and words from (native/normalising.h):
the rules stay written once, here."""


def _first_time(record: Mapping[str, Any]) -> datetime | None:
    for key in TIME_KEYS:
        moment = parse_time(lookup(record, key))
        if moment is not None:
            return moment
    return None
