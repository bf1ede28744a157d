"""Benchmark portal pages with 1,000 tenants and 10,000 users through the real server.

Prints `<name>: <value> <unit>` lines; see docs/benchmarks.md for what each figure means.
Run with `make bench-portal` or `uv run python bench/bench_portal.py --help`.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Literal

# Run as a script (`python bench/bench_portal.py`), only bench/ is on sys.path;
# the repository root is needed for `bench._common`.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import pyotp
from sqlalchemy import func, insert, select

from bench._common import emit, emit_ratio, make_parser, note, positive_int, scratch_dir, timed
from bench.bench_commitments import (
    OCCUPIED,
    OccupiedDatabaseError,
    demo_provider,
    generated_tenants,
)
from mamori.commitments.service import CommitmentsService
from mamori.core.audit import AuditRecord
from mamori.core.clock import utcnow
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.passwords import hash_password
from mamori.core.settings import Settings
from mamori.ledger.audit import audit_event
from mamori.ledger.records import Attributed
from mamori.ledger.store import LedgerWriter, log_signer
from mamori.tenants.models import AccessGrant, GrantAccess, Tenant, User
from mamori.tenants.permissions import Role
from mamori.tenants.service import TenantsService
from mamori.tenants.service.context import TOTP_KEY_PURPOSE

FULL_TENANTS = 1000  # the sizes
FULL_USERS = 10_000
FULL_REQUESTS = 2000  # timed requests in all, spread evenly over the pages
DEFAULT_REQUESTS = 300  # 30 a page; with DEFAULT_TIME_LIMIT the run stays under a minute
DEFAULT_TIME_LIMIT = 20.0  # seconds of timed requests by default; none with --full
P95_TARGET_MS = 50.0

PASSWORD = "bench password 2026"  # noqa: S105 - a throwaway account in a scratch database
STAFF_ROLES: tuple[Role, ...] = (
    Role.ADMINISTRATOR,
    Role.SECURITY_OFFICER,
    Role.OPERATOR,
    Role.AUDITOR,
)
STAFF_PER_ROLE = 5  # 20 staff accounts; they count towards --users
GRANT_STATUSES = ("active", "ended", "pending", "denied", "awaiting_tenant")
ACCESSES_PER_GRANT = 2  # reads recorded under each active or ended grant
READY_TIMEOUT_SECONDS = 60.0
CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')

Who = Literal["staff", "customer"]


@dataclass(frozen=True)
class Page:
    """One timed page: its figure name, path and the account that requests it."""

    name: str
    path: str
    who: Who


# Staff sign in as a security officer: it may see every tenant, every grant and the
# whole audit trail. Customers sign in as the tenant administrator of one tenant.
PAGES: tuple[Page, ...] = (
    Page("staff_dashboard", "/dashboard", "staff"),
    Page("staff_tenants", "/tenants", "staff"),
    Page("staff_users", "/users", "staff"),
    Page("staff_audit", "/audit", "staff"),
    Page("staff_grants", "/grants", "staff"),
    Page("customer_dashboard", "/dashboard", "customer"),
    Page("customer_my_tenant", "/my-tenant", "customer"),
    Page("customer_users", "/users", "customer"),
    Page("customer_transparency", "/transparency", "customer"),
    Page("api_tenants", "/api/v1/tenants", "staff"),
)


@dataclass(frozen=True)
class Population:
    """What was generated, and the two accounts the benchmark signs in with."""

    tenants: int
    users: int
    grants: int
    audit_events: int
    staff_email: str
    staff_totp_secret: str
    customer_email: str


@dataclass
class Samples:
    """Latencies (ms) and body sizes (bytes) of one page's timed requests."""

    millis: list[float] = field(default_factory=list)
    sizes: list[int] = field(default_factory=list)


# generation


def grow_tenants(database: Database, tenants: int, seed: int) -> list[str]:
    """Add generated tenants until there are `tenants` in all; every tenant id, sorted."""
    with database.session() as session:
        directory = TenantsService(session)
        existing = len(directory.tenants())
        service_ids = [service.id for service in directory.services()]
        extra = generated_tenants(max(tenants - existing, 0), service_ids, random.Random(seed))
        directory.put_tenants(extra)
    with database.session() as session:
        return list(session.scalars(select(Tenant.id).order_by(Tenant.id)))


def _user_row(
    *, email: str, role: Role, tenant_id: str | None, password_hash: str, now: datetime
) -> dict[str, Any]:
    return {
        "id": str(uuid.uuid4()),
        "tenant_id": tenant_id,
        "email": email,
        "display_name": email.split("@")[0],
        "role": role.value,
        "language": None,
        "password_hash": password_hash,
        "totp_secret": None,
        "totp_enabled": False,
        "totp_last_step": 0,
        "failed_logins": 0,
        "locked_until": None,
        "disabled": False,
        "created_at": now,
        "last_login_at": None,
    }


def staff_rows(password_hash: str, now: datetime) -> list[dict[str, Any]]:
    """STAFF_PER_ROLE accounts of each provider role, without a tenant."""
    return [
        _user_row(
            email=f"{role.value.replace('_', '-')}-{number:02d}@provider.example.jp",
            role=role,
            tenant_id=None,
            password_hash=password_hash,
            now=now,
        )
        for role in STAFF_ROLES
        for number in range(1, STAFF_PER_ROLE + 1)
    ]


def customer_rows(
    count: int, tenant_ids: Sequence[str], password_hash: str, now: datetime
) -> list[dict[str, Any]]:
    """`count` customer accounts dealt round-robin over the tenants.

    The first account of each tenant is its administrator, the others are members.
    """
    return [
        _user_row(
            email=f"user-{number:05d}@{tenant_ids[number % len(tenant_ids)]}.example.jp",
            role=Role.TENANT_ADMIN if number < len(tenant_ids) else Role.TENANT_MEMBER,
            tenant_id=tenant_ids[number % len(tenant_ids)],
            password_hash=password_hash,
            now=now,
        )
        for number in range(count)
    ]


def grant_rows(
    count: int, tenant_ids: Sequence[str], staff: Sequence[dict[str, Any]], now: datetime
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """`count` access grants spread over the tenants in every status, and reads under them.

    Grant 0 is on the first tenant (the customer's), so its transparency page has rows.
    """
    requesters = [row for row in staff if row["role"] in {"operator", "security_officer"}]
    approvers = [row for row in staff if row["role"] == "security_officer"]
    step = max(len(tenant_ids) // max(count, 1), 1)
    grants: list[dict[str, Any]] = []
    accesses: list[dict[str, Any]] = []
    for number in range(count):
        status = GRANT_STATUSES[number % len(GRANT_STATUSES)]
        tenant_id = tenant_ids[(number * step) % len(tenant_ids)]
        requester = requesters[number % len(requesters)]
        approver = next(row for row in approvers if row["id"] != requester["id"])
        requested = now - timedelta(hours=count - number)
        started = requested + timedelta(minutes=10) if status in {"active", "ended"} else None
        ended = started + timedelta(minutes=30) if status == "ended" and started else None
        grant_id = str(uuid.uuid4())
        grants.append(
            {
                "id": grant_id,
                "tenant_id": tenant_id,
                "requester_id": requester["id"],
                "reason": f"Benchmark: investigating support ticket BENCH-{number:05d}",
                "scope": "tenant_data",
                "duration_minutes": 60,
                "status": status,
                "requested_at": requested,
                "approver_id": approver["id"] if started else None,
                "approved_at": started,
                "tenant_approver_id": None,
                "tenant_approved_at": None,
                "starts_at": started,
                # An active grant still runs; an ended one stopped early.
                "expires_at": now + timedelta(minutes=50) if status == "active" else started,
                "ended_at": ended,
                "ended_by": requester["id"] if status == "ended" else None,
            }
        )
        if started is not None:
            accesses.extend(
                {
                    "grant_id": grant_id,
                    "tenant_id": tenant_id,
                    "user_id": requester["id"],
                    "at": started + timedelta(minutes=read + 1),
                    "resource": f"/tenants/{tenant_id}",
                }
                for read in range(ACCESSES_PER_GRANT)
            )
    return grants, accesses


def audit_rows(
    count: int, customers: Sequence[dict[str, Any]], staff: Sequence[dict[str, Any]], now: datetime
) -> list[Attributed]:
    """`count` audit events, one a minute up to now: staff inviting the customer accounts."""
    rows = []
    for number in range(count):
        actor = staff[number % len(staff)]
        target = customers[number % len(customers)] if customers else actor
        record = AuditRecord(
            action="user.invite",
            target_type="user",
            target_id=target["id"],
            tenant_id=target["tenant_id"],
            actor_id=actor["id"],
            actor_label=actor["email"],
            address="192.0.2.10",
            details={"email": target["email"], "role": target["role"]},
        )
        rows.append(audit_event(record, now - timedelta(minutes=count - number)))
    return rows


def populate(
    database: Database,
    box: SecretBox,
    writer: LedgerWriter,
    *,
    tenants: int,
    users: int,
    grants: int,
    audit_events: int,
    seed: int,
) -> Population:
    """Generate tenants (through the service), then users, grants and audit events.

    Users, grants and audit events are inserted directly, in bulk. Going through
    `accounts.create_user` would hash every password with argon2 (about 50 ms each,
    over 8 minutes for 10,000 users), so every account shares ONE precomputed hash
    of PASSWORD. The pages never look at the hash, so this does not change what
    they cost; only signing in verifies it.
    """
    tenant_ids = grow_tenants(database, tenants, seed)
    now = utcnow()
    shared_hash = hash_password(PASSWORD)
    staff = staff_rows(shared_hash, now)
    customers = customer_rows(max(users - len(staff), 0), tenant_ids, shared_hash, now)
    # The staff account that signs in has MFA set up, with a secret we know, so the
    # benchmark can answer the TOTP step the way an authenticator app would.
    officer = next(row for row in staff if row["role"] == Role.SECURITY_OFFICER.value)
    secret = pyotp.random_base32()
    officer["totp_secret"] = box.seal(secret, officer["id"])
    officer["totp_enabled"] = True
    grant_list, access_list = grant_rows(grants, tenant_ids, staff, now)
    with database.session() as session:
        session.execute(insert(User), [*staff, *customers])
        if grant_list:
            session.execute(insert(AccessGrant), grant_list)
        if access_list:
            session.execute(insert(GrantAccess), access_list)
    if audit_events:  # mamori's audit trail is kept in the ledger
        with database.engine.begin() as connection:
            writer.append(connection, audit_rows(audit_events, customers, staff, now))
    with database.session() as session:
        total_users = session.scalar(select(func.count()).select_from(User)) or 0
    return Population(
        tenants=len(tenant_ids),
        users=total_users,
        grants=len(grant_list),
        audit_events=audit_events,
        staff_email=officer["email"],
        staff_totp_secret=secret,
        customer_email=customers[0]["email"],  # the administrator of the first tenant
    )


# the server


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def start_server(port: int, log: Path) -> subprocess.Popen[bytes]:
    """`mamori serve` in its own process, so client and server never share a GIL."""
    # The environment (MAMORI_DATA_DIR, MAMORI_DATABASE_URL, MAMORI_CONFIG) was set
    # by main(); the server reads the same settings as this process.
    with log.open("wb") as output:
        return subprocess.Popen(  # noqa: S603 - our own interpreter and fixed arguments
            [sys.executable, "-m", "mamori", "serve", "--host", "127.0.0.1", "--port", str(port)],
            stdout=output,
            stderr=subprocess.STDOUT,
        )


def wait_until_ready(server: subprocess.Popen[bytes], base_url: str, log: Path) -> float:
    """Poll /healthz until the server answers; seconds it took."""
    start = time.perf_counter()
    while time.perf_counter() - start < READY_TIMEOUT_SECONDS:
        if server.poll() is not None:
            raise RuntimeError(f"the server exited early:\n{log.read_text(errors='replace')}")
        try:
            if httpx.get(f"{base_url}/healthz", timeout=1.0).status_code == 200:
                return time.perf_counter() - start
        except httpx.TransportError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"the server did not answer within {READY_TIMEOUT_SECONDS:.0f} s")


def stop_server(server: subprocess.Popen[bytes]) -> None:
    """Stop the server this benchmark started (SIGTERM, then SIGKILL)."""
    server.terminate()
    try:
        server.wait(timeout=10)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()


# the client


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_INPUT.search(html)
    if not found:
        raise RuntimeError("the page has no CSRF token")
    return found.group(1)


def sign_in(client: httpx.Client, email: str, totp_secret: str | None = None) -> None:
    """Sign in through the forms as a browser would, answering TOTP when asked."""
    form = client.get("/login")
    response = client.post(
        "/login", data={"email": email, "password": PASSWORD, "csrf_token": csrf_of(form.text)}
    )
    if response.headers.get("location") == "/login/mfa":
        if totp_secret is None:
            raise RuntimeError(f"{email} was asked for a TOTP code")
        mfa = client.get("/login/mfa")
        response = client.post(
            "/login/mfa",
            data={"code": pyotp.TOTP(totp_secret).now(), "csrf_token": csrf_of(mfa.text)},
        )
    if response.status_code != 303 or response.headers.get("location") != "/dashboard":
        raise RuntimeError(f"signing in as {email} failed: {response.status_code}")


def fetch(client: httpx.Client, path: str) -> tuple[float, int]:
    """One GET, read to the end: wall milliseconds and body bytes; refuses a non-200."""
    start = time.perf_counter()
    response = client.get(path)
    millis = (time.perf_counter() - start) * 1000
    if response.status_code != 200:
        raise RuntimeError(f"GET {path} answered {response.status_code}")
    return millis, len(response.content)


def percentile(values: Sequence[float], percent: int) -> float:
    """The `percent`th percentile (inclusive method; the maximum for a single value)."""
    if len(values) < 2:
        return max(values)
    return statistics.quantiles(values, n=100, method="inclusive")[percent - 1]


def emit_latency(name: str, millis: Sequence[float]) -> None:
    """`<name>_p50`, `<name>_p95` and `<name>_max`, in ms."""
    emit(f"{name}_p50", statistics.median(millis), "ms", digits=2)
    emit(f"{name}_p95", percentile(millis, 95), "ms", digits=2)
    emit(f"{name}_max", max(millis), "ms", digits=2)


def run_requests(
    clients: dict[Who, httpx.Client],
    chosen: Sequence[Page],
    per_page: int,
    warmup: int,
    time_limit: float | None,
) -> tuple[Samples, dict[str, Samples]]:
    """The healthz baseline and every page, `per_page` timed requests each.

    The pages take turns, one request each per round, so a burst of load on the
    machine spreads over all of them instead of landing on one. Once `time_limit`
    seconds have passed, no new round starts, so every page has the same count.
    """
    health = Samples()
    pages = {item.name: Samples() for item in chosen}
    # Untimed: the first requests compile templates and fill SQLAlchemy's caches.
    for _ in range(warmup):
        fetch(clients["staff"], "/healthz")
        for item in chosen:
            fetch(clients[item.who], item.path)
    start = time.perf_counter()
    for _ in range(per_page):
        if time_limit is not None and time.perf_counter() - start > time_limit:
            break
        millis, size = fetch(clients["staff"], "/healthz")
        health.millis.append(millis)
        health.sizes.append(size)
        for item in chosen:
            millis, size = fetch(clients[item.who], item.path)
            pages[item.name].millis.append(millis)
            pages[item.name].sizes.append(size)
    return health, pages


def page_list(text: str) -> tuple[Page, ...]:
    """An argparse type: comma-separated page names, in the order of PAGES."""
    names = {name.strip() for name in text.split(",") if name.strip()}
    unknown = names - {item.name for item in PAGES}
    if unknown or not names:
        raise argparse.ArgumentTypeError(f"unknown pages: {', '.join(sorted(unknown)) or '(none)'}")
    return tuple(item for item in PAGES if item.name in names)


def check_api_count(client: httpx.Client, tenants: int) -> int:
    """How many tenants the API lists to staff (should be every tenant)."""
    listed = client.get("/api/v1/tenants").json()
    if not isinstance(listed, list) or len(listed) != tenants:
        note(f"/api/v1/tenants listed {len(listed)} tenants, the database holds {tenants}")
    return len(listed)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; 0, 1 when a page fails, 2 for a bad database."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--tenants", type=positive_int, help=f"tenants in all (default {FULL_TENANTS})"
    )
    parser.add_argument(
        "--users", type=positive_int, help=f"users in all, 20 staff included (default {FULL_USERS})"
    )
    parser.add_argument(
        "--requests",
        type=positive_int,
        help="timed requests in all, spread evenly over the timed pages "
        f"(default {DEFAULT_REQUESTS}; {FULL_REQUESTS} with --full)",
    )
    parser.add_argument(
        "--time-limit",
        type=float,
        help="start no new round of requests after this many seconds "
        f"(default {DEFAULT_TIME_LIMIT:.0f}; no limit with --full or --requests; 0: no limit)",
    )
    parser.add_argument(
        "--warmup", type=int, default=2, help="untimed requests per page first (default 2)"
    )
    parser.add_argument(
        "--grants", type=int, default=100, help="generated access grants (default 100)"
    )
    parser.add_argument(
        "--audit-events", type=int, default=10_000, help="generated audit events (default 10000)"
    )
    parser.add_argument(
        "--pages",
        type=page_list,
        default=PAGES,
        help="comma-separated figure names of the pages to time (default: all): "
        + ", ".join(item.name for item in PAGES),
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated data")
    parser.add_argument(
        "--database-url",
        help="an empty, scratch database (e.g. postgresql+psycopg://...); "
        "default: a SQLite file in a temporary directory",
    )
    args = parser.parse_args(argv)
    tenants = args.tenants or FULL_TENANTS
    users = args.users or FULL_USERS
    if users <= STAFF_PER_ROLE * len(STAFF_ROLES):
        parser.error(f"--users must be more than the {STAFF_PER_ROLE * len(STAFF_ROLES)} staff")
    requests = args.requests or (FULL_REQUESTS if args.full else DEFAULT_REQUESTS)
    chosen: tuple[Page, ...] = args.pages
    per_page = max(requests // len(chosen), 1)
    limit = args.time_limit
    if limit is None:
        limit = 0.0 if args.full or args.requests else DEFAULT_TIME_LIMIT
    time_limit = limit if limit > 0 else None

    emit("cores", len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)
    with scratch_dir("mamori-bench-portal-") as tmp:
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        # The server is `mamori serve` in a child process; it inherits these, and no
        # mamori.toml from the working directory can change what either side reads.
        os.environ["MAMORI_DATA_DIR"] = str(tmp)
        os.environ["MAMORI_DATABASE_URL"] = url
        os.environ["MAMORI_CONFIG"] = str(tmp / "absent.toml")
        settings = Settings()
        try:
            with demo_provider(url) as (database, registry):
                with database.session() as session:
                    CommitmentsService(session, registry).evaluate(trigger="bench")
                box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
                generate_wall, population = timed(
                    lambda: populate(
                        database,
                        box,
                        LedgerWriter(log_signer(settings)),
                        tenants=tenants,
                        users=users,
                        grants=args.grants,
                        audit_events=args.audit_events,
                        seed=args.seed,
                    )
                )
        except OccupiedDatabaseError:
            note(OCCUPIED)
            return 2
        emit("tenants", population.tenants)
        emit("users", population.users)
        emit("grants", population.grants)
        emit("audit_events", population.audit_events)
        emit("generate_wall", generate_wall, "s")

        port, log = free_port(), tmp / "server.log"
        base_url = f"http://127.0.0.1:{port}"
        server = start_server(port, log)
        try:
            emit("server_start_wall", wait_until_ready(server, base_url, log), "s")
            with (
                httpx.Client(base_url=base_url, follow_redirects=False) as staff,
                httpx.Client(base_url=base_url, follow_redirects=False) as customer,
            ):
                sign_in(staff, population.staff_email, population.staff_totp_secret)
                sign_in(customer, population.customer_email)
                emit("api_tenants_listed", check_api_count(staff, population.tenants))
                clients: dict[Who, httpx.Client] = {"staff": staff, "customer": customer}
                run_wall, (health, pages) = timed(
                    lambda: run_requests(clients, chosen, per_page, max(args.warmup, 0), time_limit)
                )
        except RuntimeError as error:
            note(str(error))
            note(f"server log:\n{log.read_text(errors='replace')}")
            return 1
        finally:
            stop_server(server)

    done = len(health.millis)
    if done < per_page:
        note(f"time limit reached: {done} of {per_page} requests per page")
    emit("requests", done * len(chosen))
    emit("requests_per_page", done)
    emit("run_wall", run_wall, "s")
    emit_latency("healthz", health.millis)
    health_p95 = percentile(health.millis, 95)
    for name, samples in pages.items():
        emit_latency(name, samples.millis)
        emit_ratio(f"{name}_p95", percentile(samples.millis, 95), health_p95)
        emit(f"{name}_bytes", int(statistics.median(samples.sizes)), "B")
    every = [millis for samples in pages.values() for millis in samples.millis]
    emit_latency("overall", every)
    emit_ratio("overall_p95", percentile(every, 95), health_p95)
    emit("p95_target", P95_TARGET_MS, "ms", digits=0)
    missed = [name for name, s in pages.items() if percentile(s.millis, 95) > P95_TARGET_MS]
    if missed:
        note(f"over the p95 target: {', '.join(missed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
