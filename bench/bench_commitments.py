"""Benchmark `mamori evaluate` over a generated provider (200 services, 2,000 tenants).

Prints `<name>: <value> <unit>` lines; see docs/benchmarks.md for what each figure means.
Run with `make bench-commitments` or `uv run python bench/bench_commitments.py --help`.
"""

from __future__ import annotations

import os
import random
import sys
from argparse import Namespace
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import cast

# Run as a script (`python bench/bench_commitments.py`), only bench/ is on sys.path;
# the repository root is needed for `bench._common`.
if not __package__:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sqlalchemy import func, select

from bench._common import (
    emit,
    emit_ratio,
    make_parser,
    median_wall,
    note,
    positive_int,
    scratch_dir,
    timed,
)
from mamori.commitments.catalog_loader import DEMO_CATALOG
from mamori.commitments.evaluation import EvaluationSummary
from mamori.commitments.registry import CheckRegistry, load_all_checks
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.migrations import upgrade
from mamori.core.settings import Settings
from mamori.core.text import LText, LTextIn
from mamori.tenants.models import Provider, Service
from mamori.tenants.schemas import Platform, ServiceIn, TenantContactIn, TenantIn
from mamori.tenants.service import TenantsService

FULL_SERVICES = 200  # the sizes
FULL_TENANTS = 2000
DEFAULT_SERVICES = FULL_SERVICES  # already well under a minute on 2 cores
DEFAULT_TENANTS = FULL_TENANTS
EVALUATE_TARGET_SECONDS = 2.0
# The default evidence age, read from the settings model so it cannot drift.
MAX_AGE = timedelta(hours=Settings.model_fields["evidence_max_age_hours"].default)

PLATFORMS: tuple[Platform, ...] = ("aws", "azure")
POLICY_REGIONS: dict[Platform, list[str]] = {
    "aws": ["ap-northeast-1", "ap-northeast-3"],
    "azure": ["japaneast", "japanwest"],
}
OUTSIDE_REGIONS: dict[Platform, str] = {"aws": "us-east-1", "azure": "eastus"}
# Every 20th generated service breaks one rule (5% each), so checks produce failures too.
RULE_BREAK_EVERY = 20


def pin_to_one_core() -> int:
    """Restrict this process to its first allowed CPU; the number of CPUs it may now use."""
    # The target is "on one core": pinned, nothing in this process (Python,
    # SQLite, psycopg) can borrow the second core of this machine.
    if hasattr(os, "sched_setaffinity") and hasattr(os, "sched_getaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})
        return len(os.sched_getaffinity(0))
    note("sched_setaffinity is unavailable; running unpinned")
    return os.cpu_count() or 1


def _text(ja: str, en: str) -> LTextIn:
    return LTextIn(ja=ja, en=en)


def _service_in(row: Service) -> ServiceIn:
    """A stored service as input, so `put_services` keeps it in the list."""

    def text(value: LText) -> LTextIn:
        return _text(value.ja, value.en)

    return ServiceIn(
        id=row.id,
        name=text(row.name),
        description=text(row.description),
        platforms=cast(list[Platform], list(row.platforms)),
        regions=list(row.regions),
        endpoints=list(row.endpoints),
    )


def generated_services(count: int, rng: random.Random) -> list[ServiceIn]:
    """`count` services on AWS or Azure in Japanese regions, 5% outside policy, 5% on http."""
    services = []
    for number in range(1, count + 1):
        platform = rng.choice(PLATFORMS)
        regions = POLICY_REGIONS[platform][: rng.randint(1, 2)]
        if number % RULE_BREAK_EVERY == 7:
            regions = [*regions, OUTSIDE_REGIONS[platform]]
        scheme = "http" if number % RULE_BREAK_EVERY == 13 else "https"
        services.append(
            ServiceIn(
                id=f"bench-svc-{number:04d}",
                name=_text(f"ベンチサービス {number}", f"Bench service {number}"),
                description=_text(
                    f"性能測定用に生成したサービス {number} です。",
                    f"Service {number}, generated for the benchmark.",
                ),
                platforms=[platform],
                regions=regions,
                endpoints=[f"{scheme}://svc-{number:04d}.bench.example.jp"],
            )
        )
    return services


def generated_tenants(count: int, service_ids: Sequence[str], rng: random.Random) -> list[TenantIn]:
    """`count` tenants, each subscribed to 1–5 services and with two contacts."""
    tenants = []
    for number in range(1, count + 1):
        tenant_id = f"bench-tenant-{number:05d}"
        domain = f"tenant-{number:05d}.example.jp"
        tenants.append(
            TenantIn(
                id=tenant_id,
                name=_text(f"ベンチ教育委員会 {number}", f"Bench Board of Education {number}"),
                services=rng.sample(list(service_ids), k=min(rng.randint(1, 5), len(service_ids))),
                contacts=[
                    TenantContactIn(
                        role="security",
                        name=_text(f"担当 {number}-1", f"Officer {number}-1"),
                        email=f"security@{domain}",
                        language="ja",
                    ),
                    TenantContactIn(
                        role="technical",
                        name=_text(f"担当 {number}-2", f"Officer {number}-2"),
                        email=f"tech@{domain}",
                        language="en" if number % 4 == 0 else "ja",
                    ),
                ],
            )
        )
    return tenants


def load_demo(database: Database, registry: CheckRegistry) -> None:
    """Load the bundled demo catalog (22 commitments, 6 services, 4 tenants)."""
    with database.session() as session:
        CommitmentsService(session, registry).load_catalog(DEMO_CATALOG)


def grow_provider(database: Database, *, services: int, tenants: int, seed: int) -> tuple[int, int]:
    """Add generated services and tenants until there are `services` and `tenants` in all.

    The demo's own services and tenants count towards the totals. Returns the totals.
    """
    rng = random.Random(seed)
    with database.session() as session:
        directory = TenantsService(session)
        kept = [_service_in(row) for row in directory.services()]
        extra = generated_services(max(services - len(kept), 0), rng)
        # put_services replaces the whole list, so the demo's services are passed again.
        directory.put_services([*kept, *extra])
        existing = len(directory.tenants())
        service_ids = [item.id for item in [*kept, *extra]]
        directory.put_tenants(generated_tenants(max(tenants - existing, 0), service_ids, rng))
    with database.session() as session:
        directory = TenantsService(session)
        return len(directory.services()), len(directory.tenants())


def evaluate_once(database: Database, registry: CheckRegistry) -> EvaluationSummary:
    """What `mamori evaluate` does: run every check, store results, derive every status.

    Returns the run's summary (result counts by status).
    """
    with database.session() as session:
        service = CommitmentsService(session, registry)
        summary = service.evaluate(trigger="bench")
        service.states(max_age=MAX_AGE)
    return summary


def has_provider(database: Database) -> bool:
    """Whether the database already holds a provider (someone's data, not ours to replace)."""
    with database.session() as session:
        return bool(session.scalar(select(func.count()).select_from(Provider)))


class OccupiedDatabaseError(Exception):
    """The benchmark database already holds a provider."""


@contextmanager
def demo_provider(url: str) -> Iterator[tuple[Database, CheckRegistry]]:
    """A migrated database at `url` with the demo catalog loaded (an occupied one is refused)."""
    upgrade(url)
    database = Database(url)
    try:
        if has_provider(database):
            raise OccupiedDatabaseError
        note(f"database: {database.engine.dialect.name}")
        registry = load_all_checks()
        load_demo(database, registry)
        yield database, registry
    finally:
        database.dispose()


OCCUPIED = "the database already holds a provider; give an empty scratch database"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the benchmark and print its figures; 0, or 2 for an unusable database."""
    parser = make_parser(__doc__.splitlines()[0] if __doc__ else "")
    parser.add_argument(
        "--services", type=positive_int, help=f"services in all (default {DEFAULT_SERVICES})"
    )
    parser.add_argument(
        "--tenants", type=positive_int, help=f"tenants in all (default {DEFAULT_TENANTS})"
    )
    parser.add_argument("--seed", type=int, default=2026, help="seed of the generated data")
    parser.add_argument(
        "--database-url",
        help="an empty, scratch database (e.g. postgresql+psycopg://...); "
        "default: a SQLite file in a temporary directory",
    )
    args = parser.parse_args(argv)
    services = args.services or (FULL_SERVICES if args.full else DEFAULT_SERVICES)
    tenants = args.tenants or (FULL_TENANTS if args.full else DEFAULT_TENANTS)

    emit("cores", pin_to_one_core())
    with scratch_dir("mamori-bench-") as tmp:
        url = args.database_url or f"sqlite:///{tmp / 'bench.db'}"
        try:
            measure(args, url, services=services, tenants=tenants)
        except OccupiedDatabaseError:
            note(OCCUPIED)
            return 2
    return 0


def measure(args: Namespace, url: str, *, services: int, tenants: int) -> None:
    """Time evaluation on the demo, grow the provider, time it again; print the figures."""
    with demo_provider(url) as (database, registry):
        # One untimed run so lazy imports and SQLAlchemy's statement cache do not
        # land on the baseline; every later run then starts equally warm.
        evaluate_once(database, registry)
        demo_wall, demo = median_wall(lambda: evaluate_once(database, registry), args.repeat)
        emit("evaluate_demo_wall", demo_wall, "s")
        emit("evaluate_demo_results", demo.results)

        generate_wall, (total_services, total_tenants) = timed(
            lambda: grow_provider(database, services=services, tenants=tenants, seed=args.seed)
        )
        emit("services", total_services)
        emit("tenants", total_tenants)
        emit("generate_wall", generate_wall, "s")

        wall, summary = median_wall(lambda: evaluate_once(database, registry), args.repeat)
        emit("evaluate_wall", wall, "s")
        emit("evaluate_results", summary.results)
        # Failures show the generated rule breaks reached the checks.
        emit("evaluate_failed_results", summary.by_status.get("fail", 0))
        emit("evaluate_per_tenant", wall / max(total_tenants, 1) * 1e6, "us", digits=1)
        emit_ratio("evaluate", wall, demo_wall)
        emit("evaluate_wall_target", EVALUATE_TARGET_SECONDS, "s", digits=1)


if __name__ == "__main__":
    sys.exit(main())
