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
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from enum import StrEnum
from functools import lru_cache
from typing import Any, NamedTuple

import orjson

from mamori.core.clock import as_utc
from mamori.ledger.blocks import DEDUP_SIZE
from mamori.ledger.events import IncomingEvent

SORTED = orjson.OPT_SORT_KEYS
RECORD_VERSION = 1
DEDUP_HOUR_SIZE = 4  # a de-duplication key starts with the hour its event occurred


class EventClass(StrEnum):
    """What kind of event: each class has its own retention rule."""

    LOG = "log"  # shipped by the provider's systems
    AUDIT = "audit"  # mamori's own administrative actions
    EVIDENCE = "evidence"  # check results
    LEDGER = "ledger"  # the ledger's own operations (purges, holds)


class Attributed(NamedTuple):
    """An incoming event with its place: tenant (None: the provider), service and class.

    A tuple: made once per event on the ingest path, where a frozen dataclass's
    constructor cost more than the rest of placing the event.
    """

    event: IncomingEvent
    tenant_id: str | None
    service_id: str | None
    event_class: EventClass


class Encoded(NamedTuple):
    """An event's stored parts (UTF-8 JSON bytes) and de-duplication key, before it has a
    position.

    Its head is kept in two pieces, `head_start` and `head_end`: the position and the
    receipt time go between them (`head_of`). `hour` is when it occurred
    (`occurred_hour`), the start of its key `dedup` (`dedup_key`). A tuple, so the native
    encoder (`hashing.encode_events`) can make the same thing without running Python.
    """

    tenant_id: str | None
    event_class: str
    head_start: bytes
    head_end: bytes
    subject: bytes
    content: bytes
    hour: int
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
    start, end = head_pieces(head)
    hour = occurred_hour(event.occurred_at)
    key = dedup_key(dedup_scope(item.tenant_id, event_class), hour, content)
    return Encoded(item.tenant_id, event_class, start, end, subject, content, hour, key)


_AFTER_POSITION = b',"service":'  # the first key after "received_at" and "seq"


def head_pieces(fields: Mapping[str, Any]) -> tuple[bytes, bytes]:
    """A head without its position and receipt time, cut where they go.

    `fields` are a head's fields as `encode` makes them. Sorted, "received_at" and "seq"
    fall between "outcome" and "service"; the first `,"service":` in the JSON is that
    key, since a quote inside a string is escaped.
    """
    whole = _json_bytes(fields)
    cut = whole.index(_AFTER_POSITION)
    return whole[:cut], whole[cut:]


def head_of(start: bytes, end: bytes, seq: int, received_at: bytes) -> bytes:
    """The stored head at `seq`: exactly `head_bytes` of the fields `start` and `end` hold."""
    return b'%s,"received_at":"%s","seq":%d%s' % (start, received_at, seq, end)


def dedup_scope(tenant_id: str | None, event_class: str) -> bytes:
    """What a de-duplication key is scoped to: the chunk's tenant and class.

    Two events are the same delivery when their scope, the hour they occurred and their
    content are the same (`hashing.dedup_keys`). A key starts with that hour, which keeps
    the index in time order: a batch's keys land on a few of its pages and a purged
    month's keys lie together, rather than all over it.
    """
    return _dedup_scope(tenant_id, event_class)


def dedup_key(scope: bytes, hour: int, content: bytes) -> bytes:
    """The de-duplication key: `hour` as 4 bytes big-endian, then BLAKE2b-96 of
    `scope` (`dedup_scope`) and the content."""
    digest = hashlib.blake2b(scope, digest_size=DEDUP_SIZE - DEDUP_HOUR_SIZE)
    digest.update(content)
    return hour.to_bytes(DEDUP_HOUR_SIZE, "big") + digest.digest()


@lru_cache(maxsize=4096)
def _dedup_scope(tenant_id: str | None, event_class: str) -> bytes:
    return f"{tenant_id or '-'}|{event_class}|".encode()


NO_HOUR = 0  # events without a time, or before 1970
_EPOCH_DAY = date(1970, 1, 1).toordinal()
_OCCURRED = b'"occurred_at":"'
_HOUR_TEXT = re.compile(rb"(\d{4})-(\d{2})-(\d{2})T(\d{2})")


def occurred_hour(moment: datetime | None) -> int:
    """Whole hours from 1970-01-01T00Z to `moment` (NO_HOUR when unknown or earlier)."""
    if moment is None:
        return NO_HOUR
    utc = moment if moment.tzinfo is UTC else as_utc(moment)
    if utc.year < 1970:
        return NO_HOUR
    return (utc.toordinal() - _EPOCH_DAY) * 24 + utc.hour


def hour_of_head(head: bytes) -> int:
    """`occurred_hour` of a stored head, read from its `occurred_at` text.

    The first `"occurred_at":"` in the head is the key itself (a quote inside a JSON
    string is escaped), followed by the time as `timestamp` writes it. Anything else
    (null, or text that is not such a time) gives NO_HOUR; the native hashing reads the
    same bytes by the same rule.
    """
    at = head.find(_OCCURRED)
    if at < 0:
        return NO_HOUR
    start = at + len(_OCCURRED)
    found = _HOUR_TEXT.fullmatch(head, start, start + 13)
    if found is None:
        return NO_HOUR
    year, month, day, hour = (int(part) for part in found.groups())
    if year < 1970 or not (1 <= month <= 12 and 1 <= day <= 31 and hour <= 23):
        return NO_HOUR
    return (days_from_civil(year, month, day) * 24) + hour


def days_from_civil(year: int, month: int, day: int) -> int:
    """Days from 1970-01-01 to a proleptic Gregorian date (any day number up to 31).

    Counted by arithmetic rather than `date`, so a day that a month lacks (31 April) is
    counted exactly as the native code counts it.
    """
    year -= month <= 2
    era = year // 400
    of_era = year - era * 400
    of_year = (153 * (month + (-3 if month > 2 else 9)) + 2) // 5 + day - 1
    of_cycle = of_era * 365 + of_era // 4 - of_era // 100 + of_year
    return era * 146097 + of_cycle - 719468


def head_bytes(fields: Mapping[str, Any], seq: int, received_at: str) -> bytes:
    """The stored head of the event at `seq` (what `head_of` assembles faster)."""
    return _json_bytes({**fields, "received_at": received_at, "seq": seq})


def salts(secret: bytes, seq: int) -> tuple[bytes, bytes]:
    """The subject and content salts of event `seq` in a chunk with `secret`."""
    both = hashlib.blake2b(seq.to_bytes(8, "big"), key=secret, digest_size=64).digest()
    return both[:32], both[32:]


def part_digest(salt: bytes, text: str) -> bytes:
    """The digest that stands for a subject or content part."""
    return hashlib.sha256(salt + text.encode()).digest()


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
