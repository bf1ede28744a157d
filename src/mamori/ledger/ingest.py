"""Ingest: from a shipper's request to events stored, with limits that say no clearly.

Limits, all explicit: the body size (`MAMORI_INGEST_MAX_BODY_BYTES`, 413), its size
once decompressed (64 MiB, 413), events per request (`MAMORI_INGEST_MAX_EVENTS`, 413),
requests per token per minute (429 with Retry-After) and requests admitted at once
(`MAMORI_INGEST_MAX_CONCURRENT`; a request waits up to two seconds for a slot, then
503 with Retry-After). Admitted requests are read one at a time per process, the next
while the previous one is stored; requests waiting for their turn to append are appended
and committed together.
A request is answered only after its events are committed.

A stored batch also notes, in the same transaction, when each (tenant, service) it came
from was last heard (`LedgerSource`), for the "stopped sending logs" detection rule: at
most once every `SOURCE_RESOLUTION` per source and process, as a busy source sends many
batches a second.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, insert, select, update

from mamori.core.db import Database
from mamori.core.errors import ForbiddenError, OverloadedError, RateLimitedError
from mamori.core.i18n import N_
from mamori.core.ratelimit import SlidingWindowLimiter
from mamori.core.scope import Principal
from mamori.core.settings import Settings
from mamori.ledger.attribution import Attribution, load_rules
from mamori.ledger.events import IncomingEvent
from mamori.ledger.formats import PayloadTooLargeError, decompress, format_for_content_type
from mamori.ledger.models import LedgerSource
from mamori.ledger.records import Attributed, EventClass
from mamori.ledger.service import LedgerService
from mamori.ledger.store import AppendResult, Prepared, aware_utc
from mamori.tenants.permissions import Permission
from mamori.tenants.repository import TenantsRepository

INGEST_SCOPE = "ingest:logs"
GENERIC_PATH, OTLP_PATH, LOKI_PATH = "/api/v1/ingest", "/v1/logs", "/loki/api/v1/push"
INGEST_PATHS = frozenset({GENERIC_PATH, OTLP_PATH, LOKI_PATH})
SLOT_WAIT_SECONDS = 2.0
RETRY_AFTER_BUSY = 1
UNKNOWN_SERVICE = "-"  # the service of a source whose events named none
SOURCE_QUERY_SLICE = 500
SOURCE_RESOLUTION = timedelta(seconds=10)  # how often a busy source's last_seen_at moves
MAX_HEARD_SOURCES = 100_000
# Events appended (about 1 KB of SQLite's WAL each) after which an appender checkpoints
# the WAL once its turn is over (`Database.checkpoint_wal`), well before a commit would.
CHECKPOINT_EVENTS = 1_000


class IngestGate:
    """At most `slots` ingest requests at once; the rest wait briefly, then are refused."""

    def __init__(self, slots: int, wait: float = SLOT_WAIT_SECONDS) -> None:
        self._slots = threading.BoundedSemaphore(slots)
        self.wait = wait
        self._count = threading.Lock()
        self._in_flight = 0  # requests holding or waiting for a slot

    @property
    def in_flight(self) -> int:
        """Requests holding or waiting for a slot now."""
        return self._in_flight

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold a slot for the block, or raise OverloadedError."""
        with self._count:
            self._in_flight += 1
        try:
            if not self._slots.acquire(timeout=self.wait):
                raise OverloadedError(
                    N_("mamori is busy storing other events; retry shortly"),
                    retry_after=RETRY_AFTER_BUSY,
                )
            try:
                yield
            finally:
                self._slots.release()
        finally:
            with self._count:
                self._in_flight -= 1


@dataclass(frozen=True)
class Request:
    """What a transport hands over: who sent what, in which format."""

    principal: Principal
    body: bytes
    content_type: str | None
    content_encoding: str | None
    formats: Sequence[str] | None = None  # an endpoint for one protocol narrows the choice


@dataclass
class _Waiting:
    """A request's batch waiting for the turn to append, then what became of it."""

    items: list[Attributed]
    prepared: Prepared
    done: bool = False
    result: AppendResult | None = None
    error: BaseException | None = None


class IngestService:
    """Parses, attributes and stores what shippers send."""

    def __init__(
        self,
        ledger: LedgerService,
        settings: Settings,
        attribution: Callable[[], Attribution],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ledger = ledger
        self.settings = settings
        self.attribution = attribution
        self.gate = IngestGate(settings.ingest_max_concurrent)
        # Requests holding a slot are read one at a time: in one process they share one
        # interpreter lock, so reading several at once is no faster and holds more memory.
        # One request is read while the previous one is being stored: the database's work
        # and the commit's fsync run without the interpreter lock.
        self._reading = threading.Lock()
        self.limiter = SlidingWindowLimiter(settings.ingest_requests_per_minute, 60.0, clock)
        self._heard = HeardSources()
        self._waiting: list[_Waiting] = []  # batches waiting for this process's turn
        self._waiting_lock = threading.Lock()
        self._unchecked = 0  # events appended since this process last checkpointed the WAL

    def admit(self, principal: Principal) -> None:
        """Refuse callers without the ingest scope, and callers over their rate."""
        scopes = principal.token_scopes
        if scopes is None or INGEST_SCOPE not in scopes:
            raise ForbiddenError(N_("ingest needs an API token with the ingest:logs scope"))
        if not principal.can(Permission.INGEST_EVENTS):
            raise ForbiddenError(N_("you may not send events"))
        wait = self.limiter.hit(str(principal.extra.get("token_id") or principal.user_id))
        if wait:
            raise RateLimitedError(
                N_("too many ingest requests; retry in %(seconds)s s"),
                retry_after=wait,
                params={"seconds": wait},
            )

    def handle(self, request: Request) -> AppendResult:
        """Store the events of `request`; raises on anything wrong, storing nothing."""
        with self.gate.slot():
            with self._reading:
                body = decompress(request.body, request.content_encoding)
                parser = format_for_content_type(request.content_type, request.formats)
                events = parser.parse(body, request.content_type)
                items, prepared = self._prepare(request.principal, events)
            return self._store(items, prepared)

    def store(self, principal: Principal, events: Sequence[IncomingEvent]) -> AppendResult:
        """Attribute and append already parsed events."""
        return self._store(*self._prepare(principal, events))

    def _prepare(
        self, principal: Principal, events: Sequence[IncomingEvent]
    ) -> tuple[list[Attributed], Prepared]:
        """The events attributed, encoded and their keys looked up: all an append can do
        before its turn."""
        limit = self.settings.ingest_max_events
        if len(events) > limit:
            raise PayloadTooLargeError(
                N_("a request may carry at most %(limit)s events"), params={"limit": limit}
            )
        placements = self.attribution().place_all(principal, events)
        log = EventClass.LOG
        items = [
            Attributed(event, placement.tenant_id, placement.service_id, log)
            for event, placement in zip(events, placements, strict=True)
        ]
        # The keys are looked up now, outside the write lock, which then is held shorter.
        return items, self.ledger.looked_up(Prepared.of(items))

    def _store(self, items: list[Attributed], prepared: Prepared) -> AppendResult:
        """Append `prepared` in a transaction of its own or, when other requests of this
        process are waiting for their turn too, in one transaction with theirs: whichever
        gets the turn appends every batch waiting, each its own append, and commits them
        together (one fsync). Each request is answered once that commit is done."""
        waiting = _Waiting(items, prepared)
        with self._waiting_lock:
            self._waiting.append(waiting)
        checkpoint = False
        with self.ledger.turn():
            if not waiting.done:
                with self._waiting_lock:
                    group, self._waiting = self._waiting, []
                self._append_together(group)
                self._unchecked += sum(len(w.items) for w in group)
                checkpoint = self._unchecked >= CHECKPOINT_EVENTS
                if checkpoint:
                    self._unchecked = 0
        if checkpoint:  # after the turn: the next appends go on while this one copies
            self.ledger.database.checkpoint_wal()
        if waiting.result is None:
            raise waiting.error or RuntimeError("an ingest batch was left without an answer")
        return waiting.result

    def _append_together(self, group: list[_Waiting]) -> None:
        """Append every batch of `group` in one transaction; each gets its result, or the
        error that stopped the transaction (then none of them is stored)."""
        ledger = self.ledger
        try:
            now = aware_utc(ledger.clock())
            # Duplicates count too: a shipper resending a batch is still alive.
            items = [item for waiting in group for item in waiting.items]
            heard = self._heard.not_noted_since(items, now - SOURCE_RESOLUTION)
            with ledger.transaction_in_turn() as connection:
                results = [ledger.append_in(connection, w.prepared) for w in group]
                if heard:
                    record_sources(connection, heard, now)
        except BaseException as error:  # every request of the group is answered with it
            for waiting in group:
                waiting.error, waiting.done = error, True
            return
        self._heard.note(heard, now)
        for waiting, result in zip(group, results, strict=True):
            waiting.result, waiting.done = result, True


def source_key(tenant_id: str | None, service_id: str | None) -> str:
    """The `LedgerSource` key of a (tenant, service) pair: `<tenant or ->|<service or ->`."""
    return f"{tenant_id or '-'}|{service_id or UNKNOWN_SERVICE}"


class HeardSources:
    """When this process last noted each source as heard (`record_sources`).

    A source sending many requests a second is noted at most once per
    `SOURCE_RESOLUTION`: its `last_seen_at` lags by that much at most, where silences are
    measured in minutes or hours. A source heard again after longer is noted at once,
    which also ends a silence.
    """

    def __init__(self) -> None:
        self._noted: dict[tuple[str | None, str | None], datetime] = {}
        self._lock = threading.Lock()

    def not_noted_since(
        self, items: Sequence[Attributed], since: datetime
    ) -> list[tuple[str | None, str | None]]:
        """The (tenant, service) pairs of `items` not noted after `since`."""
        pairs = {(item.tenant_id, item.service_id) for item in items}
        with self._lock:
            noted = self._noted
            return [pair for pair in pairs if not noted.get(pair, since) > since]

    def note(self, pairs: Sequence[tuple[str | None, str | None]], now: datetime) -> None:
        """Remember that `pairs` were noted at `now` (after the commit that noted them)."""
        with self._lock:
            if len(self._noted) > MAX_HEARD_SOURCES:
                self._noted.clear()
            for pair in pairs:
                self._noted[pair] = now


def record_sources(
    connection: Connection, sources: Sequence[tuple[str | None, str | None]], now: datetime
) -> None:
    """Note in the caller's transaction that every (tenant, service) in `sources` was heard
    from at `now`.

    Hearing from a source again also ends its silence, so a later silence raises a new
    alert. Writers of the ledger run one at a time (they lock its head first), so the
    select-then-insert cannot race another ingest.
    """
    pairs = {
        source_key(tenant_id, service_id): (tenant_id, service_id)
        for tenant_id, service_id in set(sources)
    }
    keys = sorted(pairs)
    for start in range(0, len(keys), SOURCE_QUERY_SLICE):
        part = keys[start : start + SOURCE_QUERY_SLICE]
        known = set(connection.scalars(select(LedgerSource.key).where(LedgerSource.key.in_(part))))
        if known:
            connection.execute(
                update(LedgerSource)
                .where(LedgerSource.key.in_(sorted(known)))
                .values(last_seen_at=now, silent_alerted_at=None)
            )
        fresh = [
            {
                "key": key,
                "tenant_id": pairs[key][0],
                "service_id": pairs[key][1] or UNKNOWN_SERVICE,
                "first_seen_at": now,
                "last_seen_at": now,
            }
            for key in part
            if key not in known
        ]
        if fresh:
            connection.execute(insert(LedgerSource), fresh)


class CachedAttribution:
    """Attribution rebuilt from the database (tenants, services, rules) once a minute."""

    def __init__(
        self,
        load: Callable[[], Attribution],
        ttl: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.load = load
        self.ttl = ttl
        self.clock = clock
        self._value: Attribution | None = None
        self._at = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> Attribution:
        with self._lock:
            now = self.clock()
            if self._value is None or now - self._at > self.ttl:
                self._value, self._at = self.load(), now
            return self._value


def attribution_from_database(database: Database, settings: Settings) -> Attribution:
    """Attribution over the tenants and services stored now, with the configured rules."""
    with database.session() as session:
        repository = TenantsRepository(session)
        tenants = [t.id for t in repository.tenants()]
        services = [s.id for s in repository.services()]
    path = settings.ledger_attribution_file
    rules = load_rules(path, tenants, services) if path else []
    return Attribution(rules, services)
