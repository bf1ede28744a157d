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
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
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
    """An event's stored parts (UTF-8 JSON bytes) before it has a position."""

    tenant_id: str | None
    event_class: str
    head_fields: dict[str, Any]
    subject: bytes
    content: bytes
    dedup: bytes


def timestamp(moment: datetime | None) -> str | None:
    """UTC with microseconds and a Z, the one time format inside records."""
    if moment is None:
        return None
    utc = moment if moment.tzinfo is UTC else as_utc(moment)
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


def _json_bytes(value: Mapping[str, Any]) -> bytes:
    return orjson.dumps(value, option=SORTED)


def encode(item: Attributed) -> Encoded:
    """The parts of `item` that do not depend on its position."""
    event = item.event
    event_class = item.event_class  # a StrEnum: orjson and f-strings see its value
    subject = _json_bytes({"actor": event.actor, "source_address": event.source_address})
    content = _json_bytes(
        {"labels": dict(event.labels), "message": event.message, "original": event.original}
    )
    dedup = dedup_key_of(item.tenant_id, event_class, content)
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
    return dedup_key_of(tenant_id, event_class, content.encode())


def dedup_key_of(tenant_id: str | None, event_class: str, content: bytes) -> bytes:
    """`dedup_key` of stored content bytes."""
    return hashlib.blake2b(_dedup_scope(tenant_id, event_class) + content, digest_size=16).digest()


@lru_cache(maxsize=4096)
def _dedup_scope(tenant_id: str | None, event_class: str) -> bytes:
    return f"{tenant_id or '-'}|{event_class}|".encode()


def head_text(fields: Mapping[str, Any], seq: int, received_at: str) -> str:
    """The head of the event at `seq`."""
    return _json({**fields, "received_at": received_at, "seq": seq})


def head_bytes(fields: Mapping[str, Any], seq: int, received_at: str) -> bytes:
    """`head_text` as the stored bytes."""
    return _json_bytes({**fields, "received_at": received_at, "seq": seq})


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
    return event_leaf_of(secret, seq, head.encode(), subject.encode(), content.encode())


def event_leaf_of(secret: bytes, seq: int, head: bytes, subject: bytes, content: bytes) -> bytes:
    """`event_leaf` of the stored bytes: the ingest and verify path."""
    both = hashlib.blake2b(seq.to_bytes(8, "big"), key=secret, digest_size=64).digest()
    sha = hashlib.sha256
    return sha(
        b"".join(
            (
                b"\x00",
                head,
                b"\n",
                sha(both[:32] + subject).digest(),
                sha(both[32:] + content).digest(),
            )
        )
    ).digest()


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
