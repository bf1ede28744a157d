"""Reading stored events back: decoded entries, streamed by tenant, class and time range.

Tenant scoping happens here, on the chunks (each chunk belongs to one tenant or to the
provider): a caller names a `TenantScope`, and only chunks inside it are read.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import orjson
from sqlalchemy import ColumnElement, and_, or_, select
from sqlalchemy.orm import Session

from mamori.core.clock import as_utc
from mamori.core.scope import TenantScope
from mamori.ledger.events import Outcome, Severity
from mamori.ledger.models import LedgerChunk
from mamori.ledger.stored import Place, events_of_chunks


@dataclass(frozen=True)
class Entry:
    """A stored event, decoded."""

    seq: int
    chunk_index: int
    tenant_id: str | None
    service_id: str | None
    event_class: str
    received_at: datetime
    occurred_at: datetime | None
    severity: Severity
    action: str
    outcome: Outcome
    actor: str
    source_address: str
    message: str
    labels: Mapping[str, str]
    original: Mapping[str, Any]

    @property
    def at(self) -> datetime:
        """When it happened, or when it arrived if the source gave no time."""
        return self.occurred_at or self.received_at


def _time(text: str | None) -> datetime | None:
    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00"))) if text else None


def decode(chunk_index: int, head: str, subject: str, content: str) -> Entry:
    """The entry stored as these three parts."""
    h, s, c = orjson.loads(head), orjson.loads(subject), orjson.loads(content)
    received = as_utc(datetime.fromisoformat(h["received_at"].replace("Z", "+00:00")))
    return Entry(
        seq=h["seq"],
        chunk_index=chunk_index,
        tenant_id=h["tenant"],
        service_id=h["service"],
        event_class=h["class"],
        received_at=received,
        occurred_at=_time(h["occurred_at"]),
        severity=Severity(h["severity"]),
        action=h["action"],
        outcome=Outcome(h["outcome"]),
        actor=s["actor"],
        source_address=s["source_address"],
        message=c["message"],
        labels=c["labels"],
        original=c["original"],
    )


@dataclass(frozen=True)
class Selection:
    """Which events to read: a scope, classes and an arrival time range [start, end)."""

    scope: TenantScope
    classes: frozenset[str] | None = None
    start: datetime | None = None
    end: datetime | None = None
    include_provider: bool = False  # provider chunks (tenant None) in a limited scope


def _matching(selection: Selection) -> ColumnElement[bool]:
    """Live (not purged) chunks matching `selection`."""
    conditions: list[ColumnElement[bool]] = [LedgerChunk.purged_at.is_(None)]
    if selection.scope.tenant_ids is not None:
        inside: ColumnElement[bool] = LedgerChunk.tenant_id.in_(sorted(selection.scope.tenant_ids))
        if selection.include_provider:
            inside = or_(inside, LedgerChunk.tenant_id.is_(None))
        conditions.append(inside)
    if selection.classes is not None:
        conditions.append(LedgerChunk.event_class.in_(sorted(selection.classes)))
    if selection.start is not None:
        conditions.append(LedgerChunk.received_at >= selection.start)
    if selection.end is not None:
        conditions.append(LedgerChunk.received_at < selection.end)
    return and_(*conditions)


def chunks(session: Session, selection: Selection) -> Iterator[LedgerChunk]:
    """Live (not purged) chunks matching `selection`, oldest first."""
    statement = select(LedgerChunk).where(_matching(selection))
    yield from session.scalars(statement.order_by(LedgerChunk.index))


def entries(session: Session, selection: Selection) -> Iterator[Entry]:
    """Decoded events matching `selection`, in order."""
    # Only where each chunk's events are, so even a long range costs little memory here;
    # the blocks are then read a few dozen at a time.
    places = [
        Place(index, first_seq, size)
        for index, first_seq, size in session.execute(
            select(LedgerChunk.index, LedgerChunk.first_seq, LedgerChunk.size)
            .where(_matching(selection))
            .order_by(LedgerChunk.index)
        )
    ]
    for event in events_of_chunks(session, places):
        yield decode(event.chunk_index, event.head, event.subject, event.content)
