"""Benchmark the ledger: bulk ingest, HTTP ingest, verify and the purge of an expired month.

Prints `<name>: <value> <unit>` lines; see docs/benchmarks.md for what each figure means.
Run with `make bench-ledger` or `uv run python bench/bench_ledger.py --help`.
"""

from __future__ import annotations

import gzip
import os
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Generator, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

# Run as a script (`python bench/bench_ledger.py`), only bench/ is on sys.path;
# the repository root is needed for `bench._common`.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson
from sqlalchemy import (
    BigInteger,
    Column,
    Engine,
    LargeBinary,
    MetaData,
    Table,
    Text,
    select,
)

from bench._common import (
    emit,
    emit_ratio,
    make_parser,
    median_wall,
    note,
    positive_int,
    scratch_dir,
)
from bench.bench_commitments import OCCUPIED, OccupiedDatabaseError, demo_provider
from bench.bench_portal import free_port, start_server, stop_server, wait_until_ready
from mamori.cli.support import audit_trail
from mamori.core.db import READ_ONLY, Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.formats.base import record_to_event
from mamori.ledger.hashing import NATIVE
from mamori.ledger.records import Attributed, EventClass
from mamori.ledger.service import LedgerService
from mamori.ledger.stored import events_between
from mamori.ledger.verify import (
    BLOCK_BATCH,
    BLOCKS_SQL,
    CHUNK_BATCH,
    CHUNKS_SQL,
    PARALLEL_MIN_EVENTS,
)
from mamori.tenants.models import TenantService
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from mamori.tenants.service.accounts import create_user
from mamori.tenants.service.auth import principal_for
from mamori.tenants.service.context import services_for

FULL_EVENTS = 10_000_000  # the size for verify and the purge
DEFAULT_EVENTS = 100_000  # with the rest, 40–55 s on the shared 2-core VM
DEFAULT_BATCH = 1000
HTTP_BATCH = 1000  # events per request, from the issue
DEFAULT_HTTP_REQUESTS = 60  # 60,000 events in all
FULL_HTTP_REQUESTS = 400  # 400,000 events; the bodies are written to files first
DEFAULT_HTTP_CLIENTS = 4
MONTHS = 13  # the bulk events' receipt times span 13 calendar months ending now

INGEST_TARGET = 200_000  # events/s
INGEST_RATIO_TARGET = 0.5  # of a plain insert of the same rows
HTTP_TARGET = 50_000  # events/s
VERIFY_TARGET = 500_000  # events/s
PURGE_TARGET_SECONDS = 10.0  # one expired month out of 10 million events
RSS_TARGET_MB = 300

READY_TIMEOUT_SECONDS = 60.0
BENCH_TABLE = "bench_plain_events"
BENCH_BLOCK_TABLE = "bench_plain_blocks"


# events


# Tenants get most events; the provider's own systems (tenant None) send the rest.
PROVIDER_SHARE = 0.1
ROUTES = (
    ("GET", "/api/v1/students/{id}/grades", "grades.read"),
    ("GET", "/api/v1/classes/{id}/attendance", "attendance.read"),
    ("POST", "/api/v1/classes/{id}/attendance", "attendance.update"),
    ("GET", "/api/v1/files/{id}", "file.download"),
    ("PUT", "/api/v1/files/{id}", "file.upload"),
    ("POST", "/login", "auth.login"),
    ("POST", "/logout", "auth.logout"),
    ("DELETE", "/api/v1/sessions/{id}", "session.revoke"),
)
STATUSES = (200, 200, 200, 200, 200, 200, 201, 204, 302, 401, 403, 404, 500)


@dataclass(frozen=True)
class Source:
    """Who sends: a tenant (None: the provider) and the services its events name."""

    tenant_id: str | None
    services: tuple[str, ...]


def sources_of(database: Database) -> list[Source]:
    """Every tenant with its subscribed services, and the provider with every service."""
    with database.session() as session:
        rows = session.execute(
            select(TenantService.tenant_id, TenantService.service_id).order_by(
                TenantService.tenant_id, TenantService.service_id
            )
        ).all()
    by_tenant: dict[str, list[str]] = {}
    for tenant_id, service_id in rows:
        by_tenant.setdefault(tenant_id, []).append(service_id)
    everything = tuple(sorted({service for _, service in rows}))
    tenants = [Source(tenant, tuple(services)) for tenant, services in by_tenant.items()]
    return [*tenants, Source(None, everything)]


def iso(moment: datetime) -> str:
    """`2026-11-27T01:02:03.456789Z` for a UTC time, as shippers send times."""
    return moment.isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def record(number: int, source: Source, moment: datetime, rng: random.Random) -> dict[str, Any]:
    """One web access log record as Vector or Fluent Bit ships it (about 320 bytes of JSON).

    `number` makes it unique, so de-duplication keeps every event.
    """
    # One draw of random bits, taken apart field by field: randrange per field was
    # most of the generation time.
    bits = rng.getrandbits(128)
    bits, route = divmod(bits, len(ROUTES))
    bits, status_index = divmod(bits, len(STATUSES))
    bits, service_index = divmod(bits, len(source.services))
    bits, host = divmod(bits, 12)
    bits, item = divmod(bits, 100_000)
    bits, millis = divmod(bits, 898)
    bits, user = divmod(bits, 50_000)
    bits, address = divmod(bits, 254)
    method, path, action = ROUTES[route]
    status = STATUSES[status_index]
    service = source.services[service_index]
    domain = f"{source.tenant_id}.example.jp" if source.tenant_id else "provider.example.jp"
    return {
        "timestamp": iso(moment),
        "host": f"{service}-{host:02d}",
        "service": service,
        "level": "error" if status >= 500 else "warning" if status >= 400 else "info",
        "message": f"{method} {path.format(id=item)} {status} {millis + 2}ms",
        "user": f"u{user:05d}@{domain}",
        "client_ip": f"203.0.113.{address + 1}",
        "action": action,
        "outcome": "success" if status < 400 else "failure",
        "request_id": f"{number:012x}{bits % (1 << 48):012x}",
    }


def event_of(row: dict[str, Any], moment: datetime) -> IncomingEvent:
    """What `record_to_event` makes of `record()`'s output, without its generic key search.

    `check_event_shape` compares the two once per run, so the shortcut cannot drift.
    """
    return IncomingEvent(
        original=row,
        occurred_at=moment,
        severity=Severity(row["level"]),
        actor=row["user"],
        action=row["action"],
        source_address=row["client_ip"],
        outcome=Outcome(row["outcome"]),
        message=row["message"],
        labels={"service.name": row["service"], "host.name": row["host"]},
    )


def check_event_shape(sources: Sequence[Source]) -> None:
    """Refuse to run if `event_of` no longer matches what the ingest formats produce."""
    moment = datetime.now(UTC)
    row = record(0, sources[0], moment, random.Random(0))
    if event_of(row, moment) != record_to_event(row):
        raise RuntimeError("event_of() differs from record_to_event(); update the benchmark")


class BatchMaker:
    """Batches of attributed events, several tenants mixed in each, made on demand."""

    def __init__(self, sources: Sequence[Source], seed: int) -> None:
        self.tenants = [s for s in sources if s.tenant_id is not None]
        self.provider = next(s for s in sources if s.tenant_id is None)
        self.rng = random.Random(seed)
        self.count = 0

    def _source(self, draw: int) -> Source:
        """The sender for a random `draw` in [0, 1000)."""
        if draw < PROVIDER_SHARE * 1000 or not self.tenants:
            return self.provider
        return self.tenants[draw % len(self.tenants)]

    def batch(self, size: int, received: datetime) -> list[Attributed]:
        """`size` events that occurred up to a minute before `received`."""
        items = []
        rng = self.rng
        for _ in range(size):
            draw, offset = divmod(rng.getrandbits(40), 60_000_000)
            source = self._source(draw % 1000)
            moment = received - timedelta(microseconds=offset)
            row = record(self.count, source, moment, rng)
            self.count += 1
            items.append(
                Attributed(event_of(row, moment), source.tenant_id, row["service"], EventClass.LOG)
            )
        return items


def load_span() -> tuple[datetime, datetime]:
    """(end, start) of the bulk load's receipt times: now, and MONTHS calendar months before.

    The day is kept at most 28 so it exists in every month. With 12 months of retention,
    exactly the first calendar month of the load has expired at `end`.
    """
    now = datetime.now(UTC).replace(microsecond=0)
    end = now.replace(day=min(now.day, 28))
    months = end.year * 12 + end.month - 1 - MONTHS
    return end, end.replace(year=months // 12, month=months % 12 + 1)


class StepClock:
    """The ledger's clock during the bulk load: set once per batch by the benchmark."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


# figures


def rate(count: int, seconds: float) -> int:
    """Events per second, rounded."""
    return round(count / seconds) if seconds > 0 else 0


def percentile(values: Sequence[float], percent: int) -> float:
    """The `percent`th percentile (inclusive method; the maximum for a single value)."""
    if len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def durability(database: Database) -> str:
    """What a commit waits for, as a note: SQLite's journal and sync modes, or PostgreSQL's."""
    with database.engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            journal = connection.exec_driver_sql("PRAGMA journal_mode").scalar()
            sync = connection.exec_driver_sql("PRAGMA synchronous").scalar()
            names = {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}
            return f"sqlite: journal_mode={journal} synchronous={names.get(int(sync or 0), sync)}"
        if connection.dialect.name == "postgresql":
            fsync = connection.exec_driver_sql("SHOW fsync").scalar()
            commit = connection.exec_driver_sql("SHOW synchronous_commit").scalar()
            return f"postgresql: fsync={fsync} synchronous_commit={commit}"
    return f"{database.engine.dialect.name}: durability settings unknown"


def load_average() -> str:
    """The 1, 5 and 15 minute load averages (this machine is often shared)."""
    try:
        return " ".join(f"{value:.2f}" for value in os.getloadavg())
    except OSError:
        return "unknown"


def self_peak_rss_mb() -> float:
    """This process's peak resident set so far, in MB (Linux reports kB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants, from /proc (only `pid` where /proc is missing)."""
    found, queue = [], [pid]
    while queue:
        current = queue.pop()
        found.append(current)
        try:
            children = Path(f"/proc/{current}/task/{current}/children").read_text()
        except OSError:
            continue
        queue.extend(int(child) for child in children.split())
    return found


def cpu_ticks(pid: int) -> int | None:
    """User plus system CPU time of a process, in clock ticks; None when it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return int(fields[11]) + int(fields[12])


def tree_cpu_seconds(pid: int) -> float:
    """CPU seconds used so far by `pid` and its descendants."""
    ticks = [cpu_ticks(process) for process in process_tree(pid)]
    return sum(tick for tick in ticks if tick is not None) / os.sysconf("SC_CLK_TCK")


def wait_until_settled(pid: int, processes: int, timeout: float = 120.0) -> float:
    """Seconds until every server process has started: with several, the first answers
    /healthz while the others are still importing mamori, which would take CPU from the
    timed requests. Started means they all exist and none used CPU for half a second."""
    began = time.perf_counter()
    if processes == 1:
        return 0.0
    previous: dict[int, int | None] = {}
    while time.perf_counter() - began < timeout:
        tree = process_tree(pid)
        ticks = {child: cpu_ticks(child) for child in tree}
        if len(tree) > processes and ticks == previous:
            return time.perf_counter() - began
        previous = ticks
        time.sleep(0.5)
    raise RuntimeError(f"the server processes did not settle within {timeout:.0f} s")


def process_peak_rss_mb(pid: int) -> float | None:
    """Another process's peak resident set (VmHWM), in MB; None where /proc is missing."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return None
    for line in status.splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return None


@contextmanager
def one_core() -> Iterator[int]:
    """Pin this process to its first allowed CPU for the block; yields the CPUs it may use.

    The bulk ingest target is "on one core". The pin is undone afterwards, because a
    child process (the HTTP server) inherits it.
    """
    if not (hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity")):
        yield 1
        return
    allowed = os.sched_getaffinity(0)
    try:
        os.sched_setaffinity(0, {min(allowed)})
    except OSError:
        yield len(allowed)
        return
    try:
        yield len(os.sched_getaffinity(0))
    finally:
        os.sched_setaffinity(0, allowed)


@contextmanager
def every_core() -> Iterator[None]:
    """Undo `one_core` for the block: worker processes started in it may use every CPU."""
    if not hasattr(os, "sched_setaffinity"):
        yield
        return
    pinned = os.sched_getaffinity(0)
    with suppress(OSError):
        os.sched_setaffinity(0, set(range(os.cpu_count() or 1)))
    try:
        yield
    finally:
        os.sched_setaffinity(0, pinned)


# bulk ingest


@dataclass
class BulkRun:
    """What the bulk load stored and how long its appends took."""

    events: int = 0
    first_seq: int = 0
    append_wall: float = 0.0  # appends and commits only, generation excluded
    generate_wall: float = 0.0
    batch_millis: list[float] = field(default_factory=list)


def bulk_ingest(
    ledger: LedgerService,
    clock: StepClock,
    maker: BatchMaker,
    *,
    events: int,
    batch: int,
    start: datetime,
    end: datetime,
) -> BulkRun:
    """Append `events` in batches through `LedgerService.append`, one transaction each.

    Each batch is made before its append is timed. The clock moves evenly from `start`
    to `end` over the batches, so the chunks' receipt times span months.
    """
    run = BulkRun()
    batches = max((events + batch - 1) // batch, 1)
    step = (end - start) / batches
    for number, offset in enumerate(range(0, events, batch)):
        size = min(batch, events - offset)
        clock.now = start + step * number
        generated = time.perf_counter()
        items = maker.batch(size, clock.now)
        began = time.perf_counter()
        result = ledger.append(items)
        finished = time.perf_counter()
        if result.stored != size:
            raise RuntimeError(f"batch {number} stored {result.stored} of {size} events")
        if number == 0:
            run.first_seq = result.first_seq or 0
        run.generate_wall += began - generated
        run.append_wall += finished - began
        run.batch_millis.append((finished - began) * 1000)
        run.events += size
    return run


PLAIN_TABLE = Table(
    BENCH_TABLE,
    MetaData(),
    Column("seq", BigInteger),
    Column("chunk_index", BigInteger),
    Column("head", Text),
    Column("subject", Text),
    Column("content", Text),
    Column("leaf", LargeBinary),
    Column("dedup", LargeBinary),
)


PLAIN_INSERT = (  # a constant table name and parameter markers only
    "INSERT INTO bench_plain_events (seq, chunk_index, head, subject, content, leaf, dedup) "
    "VALUES ({marks})"
)


def plain_insert(engine: Engine, *, first_seq: int, events: int, batch: int) -> float:
    """Baseline: the same events stored the plain way, a row each, one commit per batch.

    The ledger keeps a chunk's events in one block row; a plain log table keeps each event
    in a row of its own (position, chunk, its three parts, leaf and key) with no index.
    Each batch is read back from the ledger (untimed), then inserted with a driver-level
    `executemany` in one transaction, as the ledger's append does. Returns the seconds
    spent inserting and committing.
    """
    PLAIN_TABLE.drop(engine, checkfirst=True)
    PLAIN_TABLE.create(engine)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    insert_sql = PLAIN_INSERT.format(marks=", ".join([mark] * 7))
    wall = 0.0
    for low in range(first_seq, first_seq + events, batch):
        high = min(low + batch, first_seq + events)
        with engine.connect() as reader:
            reading = reader.execution_options(**READ_ONLY)
            with reading.begin():
                rows = [
                    (e.seq, e.chunk_index, e.head, e.subject, e.content, e.leaf, e.dedup)
                    for e in events_between(reading, low, high)
                ]
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.exec_driver_sql(insert_sql, rows)
        wall += time.perf_counter() - began
    return wall


BLOCK_TABLE = Table(
    BENCH_BLOCK_TABLE,
    MetaData(),
    Column("chunk_index", BigInteger, primary_key=True, autoincrement=False),
    Column("body", LargeBinary),
)
BLOCK_WRITE = "INSERT INTO bench_plain_blocks (chunk_index, body) VALUES ({marks})"
BULK_CHUNKS = 'SELECT "index", size FROM ledger_chunks WHERE first_seq >= {mark} ORDER BY "index"'
BLOCK_BODIES = (
    "SELECT chunk_index, body FROM ledger_blocks"
    " WHERE chunk_index >= {mark} AND chunk_index <= {mark} ORDER BY chunk_index"
)


def block_write(engine: Engine, *, first_seq: int, batch: int) -> tuple[float, int, int]:
    """Floor: the bulk load's stored blocks written again, and nothing else.

    The blocks of the chunks from `first_seq` on are read back a batch at a time
    (untimed; about `batch` events each, whole chunks) and inserted as they are into a
    table of (chunk, body), one durable commit per batch, in the same database with the
    same settings. No encoding, hashing, de-duplication or signing: what the storage
    alone costs for these bytes, which every ledger append pays too. Returns the seconds
    spent inserting and committing, the events their blocks hold and the blocks' bytes.
    """
    BLOCK_TABLE.drop(engine, checkfirst=True)
    BLOCK_TABLE.create(engine)
    mark = "?" if engine.dialect.paramstyle == "qmark" else "%s"
    with engine.connect() as reader:
        chunks = reader.exec_driver_sql(BULK_CHUNKS.format(mark=mark), (first_seq,)).all()
    groups: list[list[int]] = [[]]
    held = 0
    for index, size in chunks:
        groups[-1].append(int(index))
        held += int(size)
        if held >= batch:
            groups.append([])
            held = 0
    insert_sql = BLOCK_WRITE.format(marks=f"{mark}, {mark}")
    wall = 0.0
    stored = 0
    for group in (g for g in groups if g):
        with engine.connect() as reader:
            bodies = reader.exec_driver_sql(
                BLOCK_BODIES.format(mark=mark), (group[0], group[-1])
            ).all()
        rows = [(int(index), bytes(body)) for index, body in bodies]
        stored += sum(len(body) for _, body in rows)
        began = time.perf_counter()
        with engine.begin() as connection:
            connection.exec_driver_sql(insert_sql, rows)
        wall += time.perf_counter() - began
    return wall, sum(int(size) for _, size in chunks), stored


def stored_bytes_per_event(database: Database, first_seq: int, sample: int) -> float:
    """Mean bytes of head, subject and content over the first `sample` bulk events."""
    with database.engine.connect() as connection:
        total = sum(
            len(event.head.encode()) + len(event.subject.encode()) + len(event.content.encode())
            for event in events_between(connection, first_seq, first_seq + sample)
        )
    return float(total) / sample


def sqlite_file_mb(url: str) -> float | None:
    """The SQLite file and its WAL, in MB; None for another database."""
    if not url.startswith("sqlite:///"):
        return None
    path = Path(url.removeprefix("sqlite:///"))
    files = [path, path.with_name(path.name + "-wal")]
    return sum(item.stat().st_size for item in files if item.exists()) / 1e6


# verify


def scan(database: Database) -> int:
    """Baseline for verify: read the same rows with the same queries, hashing nothing.

    The chunks and their blocks are read side by side in index order, as verify reads
    them; returns the events of the live chunks that have a block (what verify checks).
    """
    count = 0
    with database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        else:
            connection = connection.execution_options(**READ_ONLY)
        with connection.begin():
            raw: Any = connection.connection.driver_connection

            def rows(name: str, sql: str, batch: int) -> Generator[tuple[Any, ...]]:
                if connection.dialect.name == "postgresql":
                    cursor = raw.cursor(name=name)
                    cursor.itersize = batch
                else:
                    cursor = raw.cursor()
                try:
                    cursor.execute(sql)
                    while fetched := cursor.fetchmany(batch):
                        yield from fetched
                finally:
                    cursor.close()

            chunks = rows("bench_chunks", CHUNKS_SQL, CHUNK_BATCH)
            blocks = rows("bench_blocks", BLOCKS_SQL, BLOCK_BATCH)
            try:
                block = next(blocks, None)
                for index, _tenant, _class, _first, size, *_, secret, purged in chunks:
                    while block is not None and block[0] < index:
                        block = next(blocks, None)
                    if block is not None and block[0] == index:
                        block = next(blocks, None)
                        if purged is None and secret is not None:
                            count += size
            finally:
                chunks.close()
                blocks.close()
    return count


# HTTP ingest


PASSWORD = "bench password 2026"  # noqa: S105 - throwaway accounts in a scratch database


def ingest_tokens(
    database: Database, settings: Settings, sources: Sequence[Source], clients: int
) -> list[tuple[Source, str]]:
    """One tenant administrator and `ingest:logs` token per client, tenants taken in turn."""
    tenants = [source for source in sources if source.tenant_id is not None]
    made = []
    with database.session() as session:
        services = services_for(session, settings, MemoryNotifier(), audit_trail(settings))
        for number in range(clients):
            source = tenants[number % len(tenants)]
            user = create_user(
                services,
                email=f"bench-ingest-{number}@{source.tenant_id}.example.jp",
                display_name=f"bench ingest {number}",
                role=Role.TENANT_ADMIN,
                tenant_id=source.tenant_id,
                password=PASSWORD,
            )
            session.flush()
            principal = principal_for(user, address="127.0.0.1")
            token = tokens.create_token(
                services, principal, name=f"bench-{number}", scopes=["ingest:logs"], days=1
            )
            made.append((source, token.secret))
    return made


def write_bodies(
    folder: Path,
    sources: Sequence[Source],
    *,
    requests: int,
    seed: int,
    first_number: int,
    compress: bool,
) -> tuple[list[list[Path]], int]:
    """Request bodies (JSON arrays of HTTP_BATCH records), written to files before timing.

    Client `i` sends `sources[i]`'s events: its first file is its untimed warm-up, then
    its share of `requests`. Returns the files of each client and the median body size.
    """
    folder.mkdir()
    rng = random.Random(seed)
    number = first_number
    files: list[list[Path]] = [[] for _ in sources]
    sizes = []
    per_client = [
        requests // len(sources) + (i < requests % len(sources)) for i in range(len(sources))
    ]
    for client, source in enumerate(sources):
        for request in range(per_client[client] + 1):
            now = datetime.now(UTC)
            rows = []
            for _ in range(HTTP_BATCH):
                rows.append(record(number, source, now - timedelta(seconds=rng.random()), rng))
                number += 1
            body = orjson.dumps(rows)
            if compress:
                body = gzip.compress(body, compresslevel=6)
            path = folder / f"{client}-{request}.json"
            path.write_bytes(body)
            files[client].append(path)
            sizes.append(len(body))
    return files, int(statistics.median(sizes))


@dataclass
class HttpRun:
    """The timed HTTP requests."""

    wall: float = 0.0
    events: int = 0
    millis: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def send_all(
    base_url: str, clients: Sequence[tuple[str, list[Path]]], *, compress: bool
) -> HttpRun:
    """Every client on its own thread and keep-alive connection; wall from start to the last answer.

    Each client sends its first body untimed (the server's first request loads the
    attribution and warms its caches), waits for the others, then sends the rest in turn.
    """
    run = HttpRun()
    lock = threading.Lock()
    ready = threading.Barrier(len(clients) + 1)
    headers = {"Content-Type": "application/json"}
    if compress:
        headers["Content-Encoding"] = "gzip"

    def post(client: httpx.Client, path: Path) -> float:
        body = path.read_bytes()
        began = time.perf_counter()
        response = client.post("/api/v1/ingest", content=body)
        millis = (time.perf_counter() - began) * 1000
        if response.status_code != 200:
            raise RuntimeError(f"{path.name}: HTTP {response.status_code} {response.text[:300]}")
        accepted = response.json().get("accepted")
        if accepted != HTTP_BATCH:
            raise RuntimeError(f"{path.name}: accepted {accepted} of {HTTP_BATCH}")
        return millis

    def work(token: str, paths: list[Path]) -> None:
        auth = {**headers, "Authorization": f"Bearer {token}"}
        with httpx.Client(base_url=base_url, headers=auth, timeout=120.0) as client:
            try:
                post(client, paths[0])
            except (RuntimeError, httpx.HTTPError) as error:
                with lock:
                    run.errors.append(f"warm-up {error}")
            ready.wait()
            for path in paths[1:]:
                try:
                    millis = post(client, path)
                except (RuntimeError, httpx.HTTPError) as error:
                    with lock:
                        run.errors.append(str(error))
                    return
                with lock:
                    run.millis.append(millis)
                    run.events += HTTP_BATCH

    threads = [
        threading.Thread(target=work, args=(token, paths), name=f"bench-client-{number}")
        for number, (token, paths) in enumerate(clients)
    ]
    for thread in threads:
        thread.start()
    ready.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    run.wall = time.perf_counter() - began
    return run


# purge


def plain_delete(engine: Engine, *, first_seq: int, events: int) -> float:
    """Baseline for the purge: delete as many rows from the front of the plain table.

    On SQLite the rows go by rowid (the plain table's insertion order is seq order); on
    PostgreSQL by seq, which the unindexed table can only find by scanning it.
    """
    if engine.dialect.name == "sqlite":
        sql, parameters = "DELETE FROM bench_plain_events WHERE rowid <= ?", (events,)
    else:
        sql, parameters = "DELETE FROM bench_plain_events WHERE seq < %s", (first_seq + events,)
    began = time.perf_counter()
    with engine.begin() as connection:
        connection.exec_driver_sql(sql, parameters)
    return time.perf_counter() - began


def measure_purge(ledger: LedgerService, now: datetime, bulk: BulkRun) -> None:
    """Time `retention.purge` at `now`, when exactly the bulk load's first month has expired."""
    try:
        from mamori.ledger.retention import policy_from_catalog, purge
    except ImportError:
        emit_text("purge_month_s", "not measured (retention.purge missing)")
        return
    database = ledger.database
    with database.session() as session:
        policy = policy_from_catalog(session)
    note(f"retention: {policy.default_months} months by default, {dict(policy.by_class)} by class")
    began = time.perf_counter()
    with database.session() as session:
        result = purge(session, ledger.writer, policy, now)
    wall = time.perf_counter() - began
    emit("purge_month_chunks", result.chunks)
    emit("purge_month_events", result.events)
    emit("purge_month_s", wall, "s")
    if result.events:
        plain = plain_delete(database.engine, first_seq=bulk.first_seq, events=result.events)
        emit("plain_delete_month_s", plain, "s")
        emit_ratio("purge_month_s", wall, plain)
    emit("purge_month_s_target", PURGE_TARGET_SECONDS, "s", digits=0)


def emit_text(name: str, text: str) -> None:
    """A figure line whose value is text (a figure that could not be measured)."""
    print(f"{name}: {text}", flush=True)


# main


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; 0, 1 when ingest fails, 2 for a bad database."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--events",
        type=positive_int,
        help=f"events in the bulk load, then verified (default {DEFAULT_EVENTS}; "
        f"{FULL_EVENTS} with --full)",
    )
    parser.add_argument(
        "--batch",
        type=positive_int,
        default=DEFAULT_BATCH,
        help=f"events per append, one transaction each (default {DEFAULT_BATCH})",
    )
    parser.add_argument(
        "--http-requests",
        type=int,
        help=f"timed ingest requests of {HTTP_BATCH} events (default {DEFAULT_HTTP_REQUESTS}; "
        f"{FULL_HTTP_REQUESTS} with --full; 0 skips HTTP)",
    )
    parser.add_argument(
        "--clients",
        type=positive_int,
        default=DEFAULT_HTTP_CLIENTS,
        help=f"client threads, one tenant token each (default {DEFAULT_HTTP_CLIENTS})",
    )
    parser.add_argument(
        "--server-processes",
        type=positive_int,
        default=1,
        help="server processes of `mamori serve` (MAMORI_SERVE_PROCESSES, default 1)",
    )
    parser.add_argument("--gzip", action="store_true", help="gzip the HTTP request bodies")
    parser.add_argument(
        "--with-worker",
        action="store_true",
        help="keep the scheduled jobs (detection, retention, evaluation) running inside "
        "`mamori serve` during the HTTP phase, as they do by default in production",
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated events")
    parser.add_argument(
        "--database-url",
        help="an empty, scratch database (e.g. postgresql+psycopg://...); "
        "default: a SQLite file in a temporary directory",
    )
    args = parser.parse_args(argv)
    events: int = args.events or (FULL_EVENTS if args.full else DEFAULT_EVENTS)
    requests: int = (
        args.http_requests
        if args.http_requests is not None
        else FULL_HTTP_REQUESTS
        if args.full
        else DEFAULT_HTTP_REQUESTS
    )

    with scratch_dir("mamori-bench-ledger-") as tmp:
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        # The HTTP server is `mamori serve` in a child process; it inherits these, and no
        # mamori.toml from the working directory can change what either side reads.
        os.environ["MAMORI_DATA_DIR"] = str(tmp)
        os.environ["MAMORI_DATABASE_URL"] = url
        os.environ["MAMORI_CONFIG"] = str(tmp / "absent.toml")
        # Throughput, not the per-token rate limit, is measured (1,200 requests a minute
        # by default would cap each client at 20,000 events/s).
        os.environ["MAMORI_INGEST_REQUESTS_PER_MINUTE"] = "1000000"
        # `mamori serve` runs the scheduled jobs in a thread by default; its first
        # detection pass over the bulk load would compete with the ingest measured.
        os.environ["MAMORI_WORKER_IN_SERVE"] = "true" if args.with_worker else "false"
        os.environ["MAMORI_SERVE_PROCESSES"] = str(args.server_processes)
        if args.clients > Settings.model_fields["ingest_max_concurrent"].default:
            os.environ["MAMORI_INGEST_MAX_CONCURRENT"] = str(args.clients)
        settings = Settings()
        try:
            with demo_provider(url) as (database, _registry):
                return run(args, database, settings, url, tmp, events=events, requests=requests)
        except OccupiedDatabaseError:
            note(OCCUPIED)
            return 2


def run(
    args: Any,
    database: Database,
    settings: Settings,
    url: str,
    tmp: Path,
    *,
    events: int,
    requests: int,
) -> int:
    """Every phase, in order: bulk ingest, plain insert, verify, purge, HTTP ingest."""
    note(f"load average at the start: {load_average()}")
    note(durability(database))
    note(f"hashing: {'native (mamori.ledger._native)' if NATIVE else 'pure Python'}")
    sources = sources_of(database)
    check_event_shape(sources)
    emit("tenants", sum(1 for source in sources if source.tenant_id is not None))
    sample = BatchMaker(sources, args.seed).batch(1000, datetime.now(UTC))
    emit(
        "event_bytes",
        round(statistics.mean(len(orjson.dumps(i.event.original)) for i in sample)),
        "B",
    )
    emit("batch_size", args.batch)

    end, start = load_span()
    clock = StepClock(start)
    ledger = LedgerService(database, settings, clock=clock)
    with one_core() as cores:
        emit("cores", cores)
        bulk = bulk_ingest(
            ledger,
            clock,
            BatchMaker(sources, args.seed),
            events=events,
            batch=args.batch,
            start=start,
            end=end,
        )
        emit("events", bulk.events)
        emit(
            "stored_bytes_per_event",
            stored_bytes_per_event(database, bulk.first_seq, min(events, 10_000)),
            "B",
            digits=0,
        )
        emit("generate_wall", bulk.generate_wall, "s")
        emit("ingest_wall", bulk.append_wall, "s")
        ingest_rate = rate(bulk.events, bulk.append_wall)
        emit("ingest_rate", ingest_rate, "events/s")
        emit("ingest_batch_p50", statistics.median(bulk.batch_millis), "ms", digits=2)
        emit("ingest_batch_p95", percentile(bulk.batch_millis, 95), "ms", digits=2)
        # The dedup index grows with the ledger: the first and last tenth of the batches
        # show whether appends slow down as it does.
        tenth = max(len(bulk.batch_millis) // 10, 1)
        for name, part in (
            ("first", bulk.batch_millis[:tenth]),
            ("last", bulk.batch_millis[-tenth:]),
        ):
            emit(
                f"ingest_rate_{name}_tenth",
                rate(len(part) * args.batch, sum(part) / 1000),
                "events/s",
            )
        size = sqlite_file_mb(url)
        if size is not None:
            emit("database_mb", size, "MB", digits=0)

        plain_wall = plain_insert(
            database.engine, first_seq=bulk.first_seq, events=bulk.events, batch=args.batch
        )
        emit("plain_insert_wall", plain_wall, "s")
        plain_rate = rate(bulk.events, plain_wall)
        emit("plain_insert_rate", plain_rate, "events/s")
        emit_ratio("ingest_rate", ingest_rate, plain_rate)
        emit("ingest_rate_target", INGEST_TARGET, "events/s")
        emit("ingest_rate_ratio_target", INGEST_RATIO_TARGET, digits=1)
        # What is left of the target's time per event once the storage alone is paid.
        block_wall, block_events, block_bytes = block_write(
            database.engine, first_seq=bulk.first_seq, batch=args.batch
        )
        emit("block_bytes_per_event", block_bytes / max(block_events, 1), "B", digits=0)
        emit("block_write_rate", rate(block_events, block_wall), "events/s")
        block_micros = block_wall * 1e6 / max(block_events, 1)
        emit("block_write_per_event", block_micros, "us", digits=2)
        emit("ingest_per_event", bulk.append_wall * 1e6 / max(bulk.events, 1), "us", digits=2)
        emit("ingest_target_per_event", 1e6 / INGEST_TARGET, "us", digits=2)
        emit("ingest_target_left_after_storage", 1e6 / INGEST_TARGET - block_micros, "us", digits=2)

        verify_service = LedgerService(database, settings)
        verify_wall, report = median_wall(verify_service.verify, args.repeat)
        if not report.ok:
            note(f"verify found problems: {report.problems[:3]}")
        emit("verify_events", report.events)
        emit("verify_chunks", report.chunks)
        emit("verify_wall", verify_wall, "s")
        verify_rate = rate(report.events, verify_wall)
        emit("verify_rate", verify_rate, "events/s")
        scan_wall, scanned = median_wall(lambda: scan(database), args.repeat)
        emit("verify_scan_wall", scan_wall, "s")
        emit("verify_scan_rate", rate(scanned, scan_wall), "events/s")
        emit_ratio("verify_rate", verify_rate, rate(scanned, scan_wall))
        emit("verify_rate_target", VERIFY_TARGET, "events/s")
        jobs = os.cpu_count() or 1
        if jobs > 1 and report.events >= PARALLEL_MIN_EVENTS:
            # `mamori ledger verify --jobs N`: the chunks checked by N worker processes.
            with every_core():
                parallel_wall, parallel = median_wall(lambda: verify_service.verify(jobs=jobs), 1)
            emit("verify_jobs", jobs)
            emit("verify_parallel_rate", rate(parallel.events, parallel_wall), "events/s")
        else:
            note(f"parallel verify not measured: under {PARALLEL_MIN_EVENTS:,} events or 1 CPU")

        # Before the HTTP phase: with --with-worker, `mamori serve` runs the daily
        # retention job at start-up and would purge the month first.
        measure_purge(LedgerService(database, settings), end, bulk)

    failed = False
    if requests > 0:
        failed = not measure_http(args, database, settings, tmp, sources, requests, ingest_rate)

    if database.engine.dialect.name != "sqlite":
        # A database given with --database-url keeps the ledger (as the other benchmarks
        # leave their data), but not the baseline's copy of every event.
        PLAIN_TABLE.drop(database.engine, checkfirst=True)
        BLOCK_TABLE.drop(database.engine, checkfirst=True)
    note(f"load average at the end: {load_average()}")
    emit("peak_rss_mb", self_peak_rss_mb(), "MB", digits=0)
    emit("peak_rss_mb_target", RSS_TARGET_MB, "MB")
    return 1 if failed else 0


def measure_http(
    args: Any,
    database: Database,
    settings: Settings,
    tmp: Path,
    sources: Sequence[Source],
    requests: int,
    ingest_rate: int,
) -> bool:
    """Ingest over HTTP through `mamori serve`; False when a request failed."""
    made = ingest_tokens(database, settings, sources, args.clients)
    files, body_bytes = write_bodies(
        tmp / "bodies",
        [source for source, _ in made],
        requests=requests,
        seed=args.seed + 1,
        first_number=10**12,  # apart from the bulk load's numbers
        compress=args.gzip,
    )
    note(
        "mamori serve: scheduled jobs "
        + ("running (--with-worker)" if args.with_worker else "off (--with-worker runs them)")
    )
    emit("http_clients", args.clients)
    emit("http_server_processes", args.server_processes)
    emit("http_body_bytes", body_bytes, "B")
    port, log = free_port(), tmp / "server.log"
    base_url = f"http://127.0.0.1:{port}"
    server = start_server(port, log)
    try:
        emit("server_start_wall", wait_until_ready(server, base_url, log), "s")
        emit("server_settle_wall", wait_until_settled(server.pid, args.server_processes), "s")
        clients = [(token, paths) for (_, token), paths in zip(made, files, strict=True)]
        cpu_before = tree_cpu_seconds(server.pid)
        http = send_all(base_url, clients, compress=args.gzip)
        server_cpu = tree_cpu_seconds(server.pid) - cpu_before
        server_rss = [process_peak_rss_mb(pid) for pid in process_tree(server.pid)]
    except RuntimeError as error:
        note(str(error))
        note(f"server log:\n{log.read_text(errors='replace')}")
        return False
    finally:
        stop_server(server)
    if http.errors:
        note(f"{len(http.errors)} ingest requests failed; the first: {http.errors[0]}")
        note(f"server log:\n{log.read_text(errors='replace')[-3000:]}")
        return False
    emit("http_requests", len(http.millis))
    emit("http_events", http.events)
    emit("http_wall", http.wall, "s")
    http_rate = rate(http.events, http.wall)
    emit("http_rate", http_rate, "events/s")
    emit("http_request_p50", statistics.median(http.millis), "ms", digits=1)
    emit("http_request_p95", percentile(http.millis, 95), "ms", digits=1)
    # CPU the server processes spent per request: steadier than the rate on a shared VM.
    emit("server_cpu_per_request", server_cpu * 1000 / max(len(http.millis), 1), "ms", digits=1)
    emit_ratio("http_rate", http_rate, ingest_rate)
    emit("http_rate_target", HTTP_TARGET, "events/s")
    measured = [mb for mb in server_rss if mb is not None]
    if measured:  # per process, and of all of them (the parent, its server processes)
        emit("server_peak_rss_mb", max(measured), "MB", digits=0)
        emit("server_total_peak_rss_mb", sum(measured), "MB", digits=0)
    return True


if __name__ == "__main__":
    sys.exit(main())
