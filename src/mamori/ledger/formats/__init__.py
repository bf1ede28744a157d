"""Ingest formats: how shippers' bytes become `IncomingEvent`s.

One module per wire format, each a `Format` (see `base`): generic JSON records,
Fluent Bit msgpack, OTLP/HTTP logs, Loki push and syslog. File imports (CloudTrail,
Azure Activity Log, JSON lines) are generator functions over binary file objects in
`cloudtrail`, `azure_activity` and `json_records`. Everything here is pure: no
database, no HTTP, no clock except RFC 3164's missing year.

An HTTP handler undoes the Content-Encoding with `decompress()`, picks the format by
its endpoint or with `format_for_content_type()`, and calls `parse(body, content_type)`.
"""

from __future__ import annotations

from collections.abc import Iterable

from mamori.core.i18n import N_
from mamori.ledger.formats.base import (
    MAX_DECOMPRESSED_BYTES,
    Format,
    PayloadTooLargeError,
    UnsupportedMediaError,
    decompress,
    media_type,
)
from mamori.ledger.formats.json_records import JsonRecordsFormat
from mamori.ledger.formats.loki import LokiPushFormat
from mamori.ledger.formats.msgpack_records import MsgpackRecordsFormat
from mamori.ledger.formats.otlp import OtlpLogsFormat
from mamori.ledger.formats.syslog import SyslogFormat

FORMATS: dict[str, Format] = {
    fmt.name: fmt
    for fmt in (
        JsonRecordsFormat(),
        MsgpackRecordsFormat(),
        SyslogFormat(),
        OtlpLogsFormat(),
        LokiPushFormat(),
    )
}
"""Every format by name. Order matters for `format_for_content_type()`: the generic
formats come first, so `application/json` means JSON records unless narrowed."""


def format_for_content_type(content_type: str | None, among: Iterable[str] | None = None) -> Format:
    """The first format (of `among`, by name, else of all) reading this Content-Type.

    An endpoint dedicated to one protocol narrows the choice, e.g. `among=("otlp",)`
    on `/v1/logs`. Raises `UnsupportedMediaError` (HTTP 415) when none does.
    """
    names = list(FORMATS) if among is None else list(among)
    for name in names:
        fmt = FORMATS.get(name)
        if fmt is not None and fmt.accepts(content_type):
            return fmt
    raise UnsupportedMediaError(
        N_("the content type %(content_type)s is not supported here"),
        field="Content-Type",
        params={"content_type": media_type(content_type) or "-"},
    )


__all__ = [
    "FORMATS",
    "MAX_DECOMPRESSED_BYTES",
    "Format",
    "PayloadTooLargeError",
    "UnsupportedMediaError",
    "decompress",
    "format_for_content_type",
]
