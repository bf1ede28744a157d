"""Syslog messages (RFC 5424, with an RFC 3164 fallback) and TCP framing (RFC 6587).

`parse_syslog()` reads one message. RFC 5424 is recognised by the version after the
priority (`<13>1 …`); anything else is read as the BSD format of RFC 3164, as far as
it can be (what util-linux `logger --rfc3164` and most local daemons write). RFC 3164
timestamps have no year and no zone: the year is the one that puts the time closest
before the moment of receipt, and the zone is taken as UTC.

`SyslogFramer` splits a TCP byte stream into messages, frame by frame either octet
counted (`<length> <message>`) or newline terminated, as RFC 6587 section 3.4 allows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from mamori.core.clock import utcnow
from mamori.core.i18n import N_
from mamori.ledger.events import IncomingEvent, IngestFormatError
from mamori.ledger.formats.base import SYSLOG_SEVERITIES, Format, parse_time

MAX_FRAME_BYTES = 64 * 1024
"""Longest syslog message a framer accepts (64 KiB)."""

FACILITIES = (
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron",
    "authpriv", "ftp", "ntp", "audit", "alert", "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
)  # fmt: skip
"""Facility names by number (RFC 5424 table 1, with the usual short names)."""

_PRI = re.compile(r"<(\d{1,3})>")
_VERSION = re.compile(r"([1-9]\d{0,2}) ")
_HEADER = re.compile(r"(\S+) (\S+) (\S+) (\S+) (\S+)(?: |$)")
_MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]
_BSD_TIME = re.compile(r"(" + "|".join(_MONTHS) + r") ([ \d]?\d) (\d\d):(\d\d):(\d\d) ")
_ISO_TIME = re.compile(r"(\d{4}-\d\d-\d\dT\S+) ")
_TAG = re.compile(r"([^\s:\[\]]{1,64})(?:\[([^\]\s]*)\])?: ?")
_BOM = "\ufeff"
_SD_NAME = re.compile(r'[^\s="\]]{1,32}')
_SD_VALUE = re.compile(r'((?:[^"\\]|\\.)*)"', re.DOTALL)
_SD_ESCAPE = re.compile(r'\\(["\\\]])')


@dataclass(frozen=True)
class SyslogMessage:
    """One syslog message, its fields as sent (`-` NILVALUEs as empty strings)."""

    facility: int
    severity: int
    version: int | None
    timestamp: datetime | None
    hostname: str = ""
    app_name: str = ""
    procid: str = ""
    msgid: str = ""
    structured_data: dict[str, dict[str, str | list[str]]] = field(default_factory=dict)
    message: str = ""


def parse_syslog(
    frame: bytes | str, *, number: int = 1, received_at: datetime | None = None
) -> SyslogMessage:
    """One RFC 5424 or RFC 3164 message; `number` names it in errors."""
    text = frame.decode("utf-8", "replace") if isinstance(frame, bytes) else frame
    text = text.rstrip("\r\n\x00")
    facility, severity = 1, 5  # RFC 3164 section 4.3.3: no PRI means user.notice
    match = _PRI.match(text)
    if match:
        value = int(match.group(1))
        if value > 191:
            raise IngestFormatError(
                N_("syslog message %(number)s: the priority %(value)s is not valid"),
                field="PRI",
                params={"number": number, "value": value},
            )
        facility, severity = divmod(value, 8)
        text = text[match.end() :]
    version = _VERSION.match(text) if match else None
    if version:
        return _parse_5424(text[version.end() :], facility, severity, int(version.group(1)), number)
    return _parse_3164(text, facility, severity, received_at or utcnow())


def _nil(value: str) -> str:
    return "" if value == "-" else value


def _parse_5424(
    rest: str, facility: int, severity: int, version: int, number: int
) -> SyslogMessage:
    header = _HEADER.match(rest)
    if header is None:
        raise IngestFormatError(
            N_("syslog message %(number)s: the header is incomplete"),
            params={"number": number},
        )
    stamp, hostname, app_name, procid, msgid = header.groups()
    timestamp = None if stamp == "-" else parse_time(stamp)
    if timestamp is None and stamp != "-":
        raise IngestFormatError(
            N_("syslog message %(number)s: the timestamp %(value)s is not valid"),
            field="TIMESTAMP",
            params={"number": number, "value": stamp[:64]},
        )
    data, rest = parse_structured_data(rest[header.end() :], number)
    return SyslogMessage(
        facility=facility,
        severity=severity,
        version=version,
        timestamp=timestamp,
        hostname=_nil(hostname),
        app_name=_nil(app_name),
        procid=_nil(procid),
        msgid=_nil(msgid),
        structured_data=data,
        message=rest.removeprefix(_BOM),
    )


def _parse_3164(rest: str, facility: int, severity: int, received_at: datetime) -> SyslogMessage:
    timestamp = None
    hostname = app_name = procid = ""
    if match := _BSD_TIME.match(rest):
        timestamp = _bsd_time(match, received_at)
    elif (match := _ISO_TIME.match(rest)) is not None:
        timestamp = parse_time(match.group(1))
    if match:
        rest = rest[match.end() :]
        host, _, after = rest.partition(" ")
        # Without a hostname the tag comes first; tags end with ':' or '[pid]:'.
        if host and after and ":" not in host and "[" not in host:
            hostname, rest = host, after
    if tag := _TAG.match(rest):
        app_name, procid = tag.group(1), tag.group(2) or ""
        rest = rest[tag.end() :]
    return SyslogMessage(
        facility=facility,
        severity=severity,
        version=None,
        timestamp=timestamp,
        hostname=hostname,
        app_name=app_name,
        procid=procid,
        message=rest,
    )


def _bsd_time(match: re.Match[str], received_at: datetime) -> datetime | None:
    month = _MONTHS.index(match.group(1)) + 1
    day, hour, minute, second = (int(group) for group in match.groups()[1:])
    for year in (received_at.year + 1, received_at.year, received_at.year - 1):
        try:
            moment = datetime(year, month, day, hour, minute, second, tzinfo=UTC)
        except ValueError:
            continue
        # A clock a little ahead of ours still counts as this year.
        if moment <= received_at + timedelta(days=1):
            return moment
    return None


def parse_structured_data(
    text: str, number: int = 1
) -> tuple[dict[str, dict[str, str | list[str]]], str]:
    """STRUCTURED-DATA at the start of `text` (`-` or `[id name="value" …]…`) and the MSG
    after it. A parameter named twice keeps all its values, as a list."""
    data: dict[str, dict[str, str | list[str]]] = {}
    position = 1 if text.startswith("-") else 0
    while text.startswith("[", position):
        position = _sd_element(text, position + 1, data, number)
    if position == 0 and text:
        raise _bad_sd(number)
    rest = text[position:]
    if rest and not rest.startswith(" "):
        raise _bad_sd(number)
    return data, rest[1:]


def _sd_element(
    text: str, position: int, data: dict[str, dict[str, str | list[str]]], number: int
) -> int:
    """Read one SD-ELEMENT after its `[` into `data`; the position after its `]`."""
    name = _SD_NAME.match(text, position)
    if name is None:
        raise _bad_sd(number)
    params = data.setdefault(name.group(), {})
    position = name.end()
    while text.startswith(" ", position):
        param = _SD_NAME.match(text, position + 1)
        if param is None or not text.startswith('="', param.end()):
            raise _bad_sd(number)
        value = _SD_VALUE.match(text, param.end() + 2)
        if value is None:
            raise _bad_sd(number)
        # RFC 5424 section 6.3.3: only '"', '\\' and ']' are escaped.
        unescaped = _SD_ESCAPE.sub(r"\1", value.group(1))
        previous = params.get(param.group())
        if previous is None:
            params[param.group()] = unescaped
        else:
            values = previous if isinstance(previous, list) else [previous]
            params[param.group()] = [*values, unescaped]
        position = value.end()
    if not text.startswith("]", position):
        raise _bad_sd(number)
    return position + 1


def _bad_sd(number: int) -> IngestFormatError:
    return IngestFormatError(
        N_("syslog message %(number)s: the structured data is not valid"),
        field="STRUCTURED-DATA",
        params={"number": number},
    )


def syslog_event(message: SyslogMessage, raw: str = "") -> IncomingEvent:
    """The normalised event of a parsed message; `raw` (the frame) is kept in `original`."""
    original = {
        "facility": message.facility,
        "severity": message.severity,
        "version": message.version,
        "timestamp": message.timestamp.isoformat() if message.timestamp else None,
        "hostname": message.hostname,
        "app_name": message.app_name,
        "procid": message.procid,
        "msgid": message.msgid,
        "structured_data": message.structured_data,
        "message": message.message,
        "raw": raw,
    }
    labels = {"facility": FACILITIES[message.facility]}
    labels |= {
        k: v for k, v in (("hostname", message.hostname), ("app_name", message.app_name)) if v
    }
    return IncomingEvent(
        original=original,
        occurred_at=message.timestamp,
        severity=SYSLOG_SEVERITIES[message.severity],
        action=message.msgid,
        message=message.message,
        labels=labels,
    )


class SyslogFramer:
    """Splits a syslog TCP stream into frames, whatever chunks it arrives in.

    Each frame is octet counted when it starts with a digit, else it ends at LF (a
    trailing CR is dropped). After an error the stream cannot be resynchronised, so
    the connection should be closed.
    """

    def __init__(self, max_frame_bytes: int = MAX_FRAME_BYTES) -> None:
        self._max = max_frame_bytes
        self._buffer = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        """The frames completed by `data`."""
        self._buffer += data
        frames: list[bytes] = []
        while (frame := self._next_frame()) is not None:
            if frame:
                frames.append(frame)
        return frames

    def close(self) -> list[bytes]:
        """The last frame when the stream ends without a final LF."""
        rest = bytes(self._buffer).rstrip(b"\r\n\x00")
        self._buffer.clear()
        # Complete octet-counted frames were taken by feed(); this one is cut short.
        if rest[:1].isdigit():
            raise IngestFormatError(N_("the stream ends in the middle of a syslog frame"))
        return [rest] if rest else []

    def _next_frame(self) -> bytes | None:
        """Take one frame off the buffer; b"" for a skipped blank line, None if incomplete."""
        buffer = self._buffer
        if not buffer:
            return None
        if buffer[0] in b"\n\r\x00 ":
            del buffer[:1]
            return b""
        if buffer[:1].isdigit():
            return self._octet_counted()
        end = buffer.find(b"\n", 0, self._max + 2)
        if end < 0:
            if len(buffer) > self._max + 1:
                raise self._too_long()
            return None
        frame = bytes(buffer[:end]).removesuffix(b"\r")
        del buffer[: end + 1]
        if len(frame) > self._max:
            raise self._too_long()
        return frame

    def _octet_counted(self) -> bytes | None:
        buffer = self._buffer
        width = len(str(self._max))
        head = bytes(buffer[: width + 1])
        digits = len(head) - len(head.lstrip(b"0123456789"))
        if digits == len(buffer) and digits <= width:
            return None
        if digits > width or buffer[digits : digits + 1] != b" ":
            raise IngestFormatError(
                N_("a syslog frame has an invalid octet count: %(value)s"),
                params={"value": bytes(buffer[:16]).decode("ascii", "replace")},
            )
        length = int(buffer[:digits])
        if length > self._max:
            raise self._too_long()
        if len(buffer) < digits + 1 + length:
            return None
        frame = bytes(buffer[digits + 1 : digits + 1 + length])
        del buffer[: digits + 1 + length]
        return frame

    def _too_long(self) -> IngestFormatError:
        return IngestFormatError(
            N_("a syslog frame is longer than %(limit)s bytes"), params={"limit": self._max}
        )


def parse_syslog_stream(body: bytes, *, received_at: datetime | None = None) -> list[IncomingEvent]:
    """The events of a body of syslog frames (LF-terminated or octet counted)."""
    framer = SyslogFramer()
    frames = framer.feed(body) + framer.close()
    moment = received_at or utcnow()
    return [
        syslog_event(
            parse_syslog(frame, number=n, received_at=moment), frame.decode("utf-8", "replace")
        )
        for n, frame in enumerate(frames, start=1)
    ]


class SyslogFormat(Format):
    """Syslog over HTTP: one message per line, or octet-counted frames."""

    name = "syslog"
    content_types = ("application/syslog", "text/syslog")

    def parse(self, body: bytes, content_type: str | None = None) -> list[IncomingEvent]:
        """The events in `body`."""
        return parse_syslog_stream(body)
