"""The posture job: collect a snapshot, store it, evaluate it and update findings.

Runs every `MAMORI_POSTURE_COLLECT_HOURS` in the worker, only when a sources file says
what to collect. A failed collection raises, so the worker logs it and tries again at
the next turn; the previous snapshot stays the one the checks read.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from mamori.commitments.registry import CheckRegistry
from mamori.core.db import Database
from mamori.core.evidence import EvidenceLog
from mamori.core.settings import Settings
from mamori.ledger.tasks import Job
from mamori.posture.collectors.base import collect
from mamori.posture.service import PostureService, evaluate_latest, rules_from_settings
from mamori.posture.sources import collectors_from_settings


def posture_jobs(
    database: Database, settings: Settings, registry: CheckRegistry, evidence: EvidenceLog
) -> list[Job]:
    """The posture job over one database (none without a sources file)."""
    if settings.posture_sources_file is None:
        return []

    def collect_and_evaluate(now: datetime) -> None:
        snapshot = collect(collectors_from_settings(settings))
        with database.session() as session:
            rules = rules_from_settings(session, settings.posture_attribution_file)
            PostureService(session).store(snapshot, "worker", rules)
            session.flush()
            evaluate_latest(session, registry, evidence, rules, trigger="worker")

    return [Job("posture", timedelta(hours=settings.posture_collect_hours), collect_and_evaluate)]
