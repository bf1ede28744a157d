"""The ledger's scheduled jobs, and the worker loop that runs them.

Jobs and how often they run: detection and silent-source alerts (every 30 s), the
retention purge (daily), expiry of undownloaded evidence packages (hourly) and a fresh
evaluation of the commitments, whose results go into the ledger as evidence (every
15 minutes). Each job runs in its own transaction; a failing job is logged and retried
on its next turn, and never stops the others.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.clock import utcnow
from mamori.core.db import Database
from mamori.core.mail.base import Notifier
from mamori.core.settings import Settings
from mamori.ledger import disclosure
from mamori.ledger.audit import LedgerAuditTrail
from mamori.ledger.evidence import LedgerEvidenceLog
from mamori.ledger.monitoring import Monitor
from mamori.ledger.retention import policy_from_catalog, purge
from mamori.ledger.service import LedgerService
from mamori.tenants.service.context import services_for

log = logging.getLogger(__name__)


@dataclass
class Job:
    """A named task and how often it runs."""

    name: str
    every: timedelta
    run: Callable[[datetime], object]
    due: datetime | None = None  # None: run at the first tick


@dataclass
class Worker:
    """Runs due jobs on each tick."""

    jobs: list[Job]
    clock: Callable[[], datetime] = utcnow
    failures: dict[str, int] = field(default_factory=dict)

    def tick(self) -> list[str]:
        """Run every job that is due; the names of those that ran."""
        ran = []
        for job in self.jobs:
            now = self.clock()
            if job.due is not None and now < job.due:
                continue
            try:
                job.run(now)
            except Exception:
                self.failures[job.name] = self.failures.get(job.name, 0) + 1
                log.exception("the %s job failed; it runs again next time", job.name)
            job.due = now + job.every
            ran.append(job.name)
        return ran

    def run_forever(self, stop: threading.Event, pause: float = 5.0) -> None:
        """Tick until `stop` is set."""
        while not stop.is_set():
            self.tick()
            stop.wait(pause)


def ledger_jobs(
    database: Database,
    settings: Settings,
    registry: CheckRegistry,
    notifier: Notifier,
    ledger: LedgerService,
) -> list[Job]:
    """The ledger's jobs over one database."""
    monitor = Monitor(database, settings, notifier)
    trail = LedgerAuditTrail(ledger.writer)

    def retention(now: datetime) -> None:
        with database.session() as session:
            purge(session, ledger.writer, policy_from_catalog(session), now)

    def packages(now: datetime) -> None:
        with database.session() as session:
            disclosure.expire(services_for(session, settings, notifier, trail))

    def evaluation(now: datetime) -> None:
        with database.session() as session:
            evidence = LedgerEvidenceLog(ledger.writer)
            CommitmentsService(session, registry, evidence).evaluate(trigger="worker")

    return [
        Job("detection", timedelta(seconds=30), monitor.run),
        Job("retention", timedelta(days=1), retention),
        Job("packages", timedelta(hours=1), packages),
        Job("evaluation", timedelta(minutes=15), evaluation),
    ]
