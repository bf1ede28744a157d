"""Generic JSON records over HTTP, and streamed JSON file import.

A body may be a JSON array of objects, newline-delimited JSON, or objects simply
concatenated (whitespace between them or none), which covers what Vector's `http` sink
(codec json, array or newline framing) and Fluent Bit's `http` output (`json`,
`json_lines`, `json_stream`) send. Errors name the line on which the bad record starts.

`JsonScanner` reads JSON values one by one from text arriving in chunks, so files of
any size are imported with a buffer of about one chunk plus the largest record.
"""

from __future__ import annotations

import codecs
import gzip
import io
import json
import re
import zlib
from collections.abc import Iterable, Iterator
from typing import Any, Protocol

import orjson

from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError
from mamori.ledger.formats.base import Format, record_to_event, records_to_events
from mamori.ledger.hashing import NATIVE_MODULE

READ_CHUNK_BYTES = 1024 * 1024
"""How much of a file is read at a time."""
MAX_RECORD_CHARS = 8 * 1024 * 1024
"""Longest single record a streamed import holds in memory."""

# Python reads NaN and Infinity, which are not JSON; keeping them as text means every
# decoded value is JSON-safe as it stands and can be stored as the original.
_DECODER = json.JSONDecoder(parse_constant=str)
_WHITESPACE = re.compile(r"[ \t\n\r]*")
_GZIP_MAGIC = b"\x1f\x8b"


class Readable(Protocol):
    """A binary file object: an open file, `io.BytesIO`, a gzip or HTTP response stream."""

    def read(self, size: int = -1, /) -> bytes:
        """Up to `size` bytes (all when negative); b"" at the end."""


class JsonScanner:
    """JSON values read one at a time from text chunks, with the line each starts on."""

    def __init__(self, chunks: Iterable[str], *, max_record_chars: int = MAX_RECORD_CHARS) -> None:
        self._chunks = iter(chunks)
        self._max = max_record_chars
        self._buf = ""
        self._pos = 0
        self._line = 1
        self._line_pos = 0
        self._eof = False

    def line(self) -> int:
        """The 1-based line of the cursor."""
        self._line += self._buf.count("\n", self._line_pos, self._pos)
        self._line_pos = self._pos
        return self._line

    def peek(self) -> str:
        """The next non-whitespace character, not consumed; '' at the end of input."""
        while True:
            self._pos = _WHITESPACE.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf):
                return self._buf[self._pos]
            if not self._fill():
                return ""

    def starts_with(self, pattern: re.Pattern[str], lookahead: int = 256) -> bool:
        """Whether the text at the cursor matches `pattern` (reading up to `lookahead`)."""
        self.peek()
        while len(self._buf) - self._pos < lookahead and self._fill():
            pass
        return pattern.match(self._buf, self._pos) is not None

    def value(self) -> tuple[int, Any]:
        """The JSON value at the cursor and the line it starts on."""
        self.peek()
        line = self.line()
        while True:
            try:
                value, end = _DECODER.raw_decode(self._buf, self._pos)
            except json.JSONDecodeError as exc:
                if self._incomplete(exc) and self._grow(line):
                    continue
                raise IngestFormatError(
                    N_("line %(line)s is not JSON: %(reason)s"),
                    line=line,
                    params={"line": line, "reason": exc.msg},
                ) from None
            except RecursionError:
                raise IngestFormatError(
                    N_("line %(line)s: the record is nested too deeply"),
                    line=line,
                    params={"line": line},
                ) from None
            # A number (or a record) ending exactly at the buffer end may go on.
            if end == len(self._buf) and self._grow(line):
                continue
            self._pos = end
            return line, value

    def expect(self, char: str) -> None:
        """Consume `char` (after whitespace) or fail naming the line."""
        if self.peek() != char:
            line = self.line()
            raise IngestFormatError(
                N_("line %(line)s: expected %(expected)s"),
                line=line,
                params={"line": line, "expected": repr(char)},
            )
        self._pos += 1

    def records(self) -> Iterator[tuple[int, Any]]:
        """Top-level values, with the items of top-level arrays taken one by one."""
        while next_char := self.peek():
            if next_char == "[":
                yield from self.array_items()
            else:
                yield self.value()

    def array_items(self) -> Iterator[tuple[int, Any]]:
        """The items of the array at the cursor, one by one."""
        self.expect("[")
        if self.peek() == "]":
            self._pos += 1
            return
        while True:
            yield self.value()
            if self.peek() == "]":
                self._pos += 1
                return
            self.expect(",")

    def items_under(self, key: str) -> Iterator[tuple[int, Any]]:
        """The items of the array at `key` of the top-level object (`{"Records": [...]}`).

        Other members are read and dropped; a missing list or trailing data is an error.
        """
        found = False
        members = 0
        self.expect("{")
        while self.peek() != "}":
            if members:
                self.expect(",")
            members += 1
            name = self._member_name()
            if name == key and self.peek() == "[":
                found = True
                yield from self.array_items()
            else:
                self.value()
        self.expect("}")
        if not found or self.peek():
            line = self.line()
            raise IngestFormatError(
                N_("line %(line)s: expected one object with a %(key)s list"),
                line=line,
                params={"line": line, "key": key},
            )

    def _member_name(self) -> str:
        if self.peek() != '"':
            self.expect('"')
        _line, name = self.value()
        self.expect(":")
        return str(name)

    def _incomplete(self, exc: json.JSONDecodeError) -> bool:
        # A value cut by the chunk boundary fails at (or just before) the buffer end;
        # a long string fails where it starts.
        return exc.msg.startswith("Unterminated string") or exc.pos >= len(self._buf) - 16

    def _grow(self, line: int) -> bool:
        if len(self._buf) - self._pos > self._max:
            raise IngestFormatError(
                N_("line %(line)s: the record is longer than %(limit)s characters"),
                line=line,
                params={"line": line, "limit": self._max},
            )
        return self._fill()

    def _fill(self) -> bool:
        """Append the next chunk, dropping what was consumed; False at the end."""
        if self._eof:
            return False
        for chunk in self._chunks:
            if chunk:
                self.line()
                self._buf = self._buf[self._pos :] + chunk
                self._pos = self._line_pos = 0
                return True
        self._eof = True
        return False


# --- sources of text -----------------------------------------------------------------


def body_text(body: bytes) -> str:
    """A request body as text: UTF-8, an optional byte order mark dropped."""
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = body.count(b"\n", 0, exc.start) + 1
        raise IngestFormatError(
            N_("line %(line)s is not valid UTF-8"), line=line, params={"line": line}
        ) from None


def json_body(body: bytes) -> Any:
    """The JSON document in `body`; an error names the line where it stops being JSON."""
    try:
        return json.loads(body_text(body))
    except json.JSONDecodeError as exc:
        raise IngestFormatError(
            N_("line %(line)s is not JSON: %(reason)s"),
            line=exc.lineno,
            params={"line": exc.lineno, "reason": exc.msg},
        ) from None


def open_maybe_gzip(stream: Readable) -> Readable:
    """`stream`, transparently gunzipped when it starts with the gzip magic bytes."""
    head = b""
    while len(head) < 2 and (more := stream.read(2 - len(head))):
        head += more
    joined = _Prefixed(head, stream)
    if head == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=joined, mode="rb")
    return joined


class _Prefixed:
    """A readable stream: some bytes already read, then the rest of `stream`."""

    def __init__(self, head: bytes, stream: Readable) -> None:
        self._head = head
        self._stream = stream

    def read(self, size: int = -1, /) -> bytes:
        if not self._head:
            return self._stream.read(size)
        if size < 0:
            head, self._head = self._head, b""
            return head + self._stream.read(-1)
        head, self._head = self._head[:size], self._head[size:]
        return head if len(head) == size else head + self._stream.read(size - len(head))

    def seek(self, offset: int, /) -> int:
        """Streams are read once; gzip only seeks to rewind, which imports never do."""
        raise io.UnsupportedOperation("seek")


def file_text_chunks(stream: Readable, chunk_bytes: int = READ_CHUNK_BYTES) -> Iterator[str]:
    """UTF-8 text of a (possibly gzipped) binary file, in chunks of about `chunk_bytes`."""
    source = open_maybe_gzip(stream)
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    lines = 1
    while True:
        try:
            raw = source.read(chunk_bytes)
        except (OSError, EOFError, zlib.error) as exc:
            raise IngestFormatError(
                N_("the file cannot be decompressed: %(reason)s"), params={"reason": str(exc)}
            ) from None
        try:
            yield decoder.decode(raw, final=not raw)
        except UnicodeDecodeError as exc:
            line = lines + raw.count(b"\n", 0, max(exc.start, 0))
            raise IngestFormatError(
                N_("line %(line)s is not valid UTF-8"), line=line, params={"line": line}
            ) from None
        if not raw:
            return
        lines += raw.count(b"\n")


# --- the format ----------------------------------------------------------------------


def json_record_event(line: int, value: Any) -> IncomingEvent:
    """The event of one free-form JSON record that started on `line`."""
    if not isinstance(value, dict):
        raise IngestFormatError(
            N_("line %(line)s: a record must be a JSON object"), line=line, params={"line": line}
        )
    return record_to_event(value, original=value)


def parse_json_records(body: bytes) -> list[IncomingEvent]:
    """The events of a JSON array, NDJSON or concatenated JSON objects body."""
    records = records_at_once(body)
    if records is not None:
        return records_to_events(records)
    scanner = JsonScanner([body_text(body)])
    return [json_record_event(line, value) for line, value in scanner.records()]


# A JSON string, skipped whole, or 19 ASCII digits in a row outside strings.
_STRING_OR_LONG_DIGITS = re.compile(rb'"(?:[^"\\]|\\.)*"|\d{19}', re.DOTALL)


def py_long_digit_run(body: bytes) -> int:
    """Where 19 digits in a row stand outside JSON strings in `body`, or -1.

    Every integer of 64 bits or more (which orjson reads as a float) has such a run; so
    do a few harmless others, a long fraction or exponent. The reference of the native
    module's `long_digit_run`, which is used when it was built.
    """
    for match in _STRING_OR_LONG_DIGITS.finditer(body):
        if not match[0].startswith(b'"'):
            return match.start()
    return -1


long_digit_run = NATIVE_MODULE.long_digit_run if NATIVE_MODULE else py_long_digit_run


def records_at_once(body: bytes) -> list[dict[str, Any]] | None:
    """The records of `body` read in one go, when it is a JSON array of objects, one object
    or one JSON value per line, exactly as `JsonScanner` would read them; else None.

    orjson reads a whole body several times faster than the scanner's record-by-record
    decoding. Anything it would read differently (a long integer, NaN, a byte order mark)
    or not at all, and any body holding something other than objects, is left to the
    scanner, whose errors name the line.
    """
    if long_digit_run(body) >= 0:
        return None
    try:
        values = [orjson.loads(body)]
    except orjson.JSONDecodeError:
        try:
            values = [orjson.loads(line) for line in body.split(b"\n") if line.strip(b" \t\r")]
        except orjson.JSONDecodeError:
            return None
    records: list[Any] = []
    for value in values:
        if type(value) is list:
            records.extend(value)
        else:
            records.append(value)
    if set(map(type, records)) <= {dict}:
        return records
    return None


def iter_json_lines_file(stream: Readable) -> Iterator[IncomingEvent]:
    """Events from a (possibly gzipped) file of JSON objects, one at a time.

    One object per line is the usual shape; arrays and concatenated objects also work.
    """
    scanner = JsonScanner(file_text_chunks(stream))
    for line, value in scanner.records():
        yield json_record_event(line, value)


class JsonRecordsFormat(Format):
    """Free-form JSON records: array, NDJSON or concatenated objects."""

    name = "json"
    content_types = (
        "application/json",
        "application/x-ndjson",
        "application/ndjson",
        "application/jsonl",
        "application/x-jsonlines",
    )

    def parse(self, body: bytes, content_type: str | None = None) -> list[IncomingEvent]:
        """The events in `body`; its shape is detected, whatever the content type says."""
        return parse_json_records(body)
