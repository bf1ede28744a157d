"""What every ingest format produces: events in one normalised shape.

A format parser turns bytes from a shipper into `IncomingEvent`s. Attribution to a
service and a tenant, de-duplication and hashing happen later, in the ledger itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from typing import Any

from mamori.core.errors import InputError


class Severity(StrEnum):
    """Syslog's eight levels (RFC 5424 section 6.2.1), the scale every format maps to."""

    EMERGENCY = "emergency"
    ALERT = "alert"
    CRITICAL = "critical"
    ERROR = "error"
    WARNING = "warning"
    NOTICE = "notice"
    INFO = "info"
    DEBUG = "debug"


class Outcome(StrEnum):
    """Whether the recorded action succeeded."""

    SUCCESS = "success"
    FAILURE = "failure"
    UNKNOWN = "unknown"


@dataclass(frozen=True)
class IncomingEvent:
    """One event as a shipper sent it, normalised; times are timezone-aware UTC or None.

    `original` is the record as received (JSON-compatible values only), kept so the
    normalisation can always be checked against the source. `labels` are the string
    attributes attribution rules may match on (for example a service name, a host, a
    stream label or a cloud account id).
    """

    original: Mapping[str, Any]
    occurred_at: datetime | None = None
    severity: Severity = Severity.INFO
    actor: str = ""
    action: str = ""
    source_address: str = ""
    outcome: Outcome = Outcome.UNKNOWN
    message: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)


class IngestFormatError(InputError):
    """Data a format cannot read; names the line (1-based) or record where it broke."""
