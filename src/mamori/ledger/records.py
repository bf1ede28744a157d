"""How an event becomes stored bytes, salted digests and a Merkle leaf.

Stored parts are UTF-8 JSON with sorted keys (orjson). The leaf of event `seq` is

    leaf data = head || 0x0A || SHA-256(s1 || subject) || SHA-256(s2 || content)
    s1 || s2  = BLAKE2b-512(key = chunk secret, message = seq as 8 bytes big-endian)

so the subject and the content can each be withheld (redacted) behind their digest, and
a digest reveals nothing without its salt. Chunks are leaves of the global log:

    chunk leaf data = JSON {class, first_seq, index, received_at, root (hex), size, tenant}
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

import orjson

from mamori.core.clock import as_utc
from mamori.ledger.events import IncomingEvent

SORTED = orjson.OPT_SORT_KEYS
RECORD_VERSION = 1


class EventClass(StrEnum):
    """What kind of event: each class has its own retention rule."""

    LOG = "log"  # shipped by the provider's systems
    AUDIT = "audit"  # mamori's own administrative actions
    EVIDENCE = "evidence"  # check results
    LEDGER = "ledger"  # the ledger's own operations (purges, holds)


@dataclass(frozen=True)
class Attributed:
    """An incoming event with its place: tenant (None: the provider), service and class."""

    event: IncomingEvent
    tenant_id: str | None
    service_id: str | None
    event_class: EventClass


@dataclass(slots=True)  # not frozen: made once per event on the ingest path
class Encoded:
    """An event's stored parts before it has a position."""

    tenant_id: str | None
    event_class: str
    head_fields: dict[str, Any]
    subject: str
    content: str
    dedup: bytes


def timestamp(moment: datetime | None) -> str | None:
    """UTC with microseconds and a Z, the one time format inside records."""
    if moment is None:
        return None
    utc = as_utc(moment)
    # Formatting the fields directly is about three times faster than strftime.
    return "%04d-%02d-%02dT%02d:%02d:%02d.%06dZ" % (  # noqa: UP031 - see above
        utc.year,
        utc.month,
        utc.day,
        utc.hour,
        utc.minute,
        utc.second,
        utc.microsecond,
    )


def _json(value: Mapping[str, Any]) -> str:
    return orjson.dumps(value, option=SORTED).decode()


def encode(item: Attributed) -> Encoded:
    """The parts of `item` that do not depend on its position."""
    event = item.event
    event_class = item.event_class  # a StrEnum: orjson and f-strings see its value
    subject = _json({"actor": event.actor, "source_address": event.source_address})
    content = _json(
        {"labels": dict(event.labels), "message": event.message, "original": event.original}
    )
    dedup = dedup_key(item.tenant_id, event_class, content)
    head = {
        "action": event.action,
        "class": event_class,
        "occurred_at": timestamp(event.occurred_at),
        "outcome": event.outcome,
        "service": item.service_id,
        "severity": event.severity,
        "tenant": item.tenant_id,
        "v": RECORD_VERSION,
    }
    return Encoded(item.tenant_id, event_class, head, subject, content, dedup)


def dedup_key(tenant_id: str | None, event_class: str, content: str) -> bytes:
    """What makes two events the same delivery: tenant, class and identical content.

    Derived only from what the chunk and the event store, so `verify` can recompute it.
    """
    scope = f"{tenant_id or '-'}|{event_class}|".encode()
    return hashlib.blake2b(scope + content.encode(), digest_size=16).digest()


def head_text(fields: Mapping[str, Any], seq: int, received_at: str) -> str:
    """The head of the event at `seq`."""
    return _json({**fields, "received_at": received_at, "seq": seq})


def salts(secret: bytes, seq: int) -> tuple[bytes, bytes]:
    """The subject and content salts of event `seq` in a chunk with `secret`."""
    both = hashlib.blake2b(seq.to_bytes(8, "big"), key=secret, digest_size=64).digest()
    return both[:32], both[32:]


def part_digest(salt: bytes, text: str) -> bytes:
    """The digest that stands for a subject or content part."""
    return hashlib.sha256(salt + text.encode()).digest()


def event_leaf_data(head: str, subject_digest: bytes, content_digest: bytes) -> bytes:
    """The leaf data of an event."""
    return head.encode() + b"\n" + subject_digest + content_digest


def event_leaf(secret: bytes, seq: int, head: str, subject: str, content: str) -> bytes:
    """The leaf hash of a stored event (RFC 9162 leaf hash of its leaf data)."""
    s1, s2 = salts(secret, seq)
    sha = hashlib.sha256
    subject_digest = sha(s1 + subject.encode()).digest()
    content_digest = sha(s2 + content.encode()).digest()
    return sha(b"\x00" + event_leaf_data(head, subject_digest, content_digest)).digest()


def chunk_leaf_data(
    index: int,
    tenant_id: str | None,
    event_class: str,
    first_seq: int,
    size: int,
    received_at: datetime,
    root: bytes,
) -> bytes:
    """The leaf data of a chunk in the global log."""
    return orjson.dumps(
        {
            "class": event_class,
            "first_seq": first_seq,
            "index": index,
            "received_at": timestamp(received_at),
            "root": root.hex(),
            "size": size,
            "tenant": tenant_id,
        },
        option=SORTED,
    )
