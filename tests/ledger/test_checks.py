"""The ledger's checks for commitments 13, 17 and 20, against real ledger states."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import select

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.clock import utcnow
from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.ledger.evidence import LedgerEvidenceLog
from mamori.ledger.ingest import CachedAttribution, IngestService, attribution_from_database
from mamori.ledger.models import LedgerChunk, LedgerCursor
from mamori.ledger.retention import RetentionPolicy, purge
from mamori.ledger.service import LedgerService
from mamori.ledger.syslog_server import syslog_principal
from tests.ledger.conftest import sample_event
from tests.support.identities import FakeClock


def results(database: Database, registry: CheckRegistry, prefix: str) -> dict[str, str]:
    """subject -> status of the latest results of the check `prefix`."""
    with database.session() as session:
        service = CommitmentsService(session, registry)
        service.evaluate()
        return {r.subject: r.status for r in service.latest_results() if r.check_id == prefix}


def test_services_sending_logs(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> None:
    before = results(demo_database, registry, "ledger_services_sending_logs")
    assert set(before.values()) == {"fail"} and len(before) == 6
    ledger = LedgerService(demo_database, settings)
    ingest = IngestService(
        ledger,
        settings,
        CachedAttribution(lambda: attribution_from_database(demo_database, settings)),
    )
    labelled = replace(sample_event(1).event, labels={"service": "nimot"})
    ingest.store(syslog_principal("127.0.0.1"), [labelled])
    after = results(demo_database, registry, "ledger_services_sending_logs")
    assert after["service:nimot"] == "pass"
    assert after["service:total-id"] == "fail"


def test_retention_and_monitoring_and_evidence(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> None:
    old = FakeClock(datetime(2024, 1, 10, tzinfo=UTC))
    LedgerService(demo_database, settings, clock=old).append([sample_event(n) for n in range(3)])
    assert (
        results(demo_database, registry, "ledger_retention_kept_to_policy")["class:log"] == "fail"
    )
    ledger = LedgerService(demo_database, settings)
    with demo_database.session() as session:
        purge(session, ledger.writer, RetentionPolicy(12), utcnow())
    assert (
        results(demo_database, registry, "ledger_retention_kept_to_policy")["class:log"] == "pass"
    )

    assert results(demo_database, registry, "ledger_security_monitoring_running") == {
        "detection": "fail"
    }
    with demo_database.session() as session:
        session.add(LedgerCursor(name="detection", next_seq=0, updated_at=utcnow()))
    assert results(demo_database, registry, "ledger_security_monitoring_running") == {
        "detection": "pass"
    }

    # Every result of an evaluation with the ledger's evidence log becomes an evidence event.
    with demo_database.session() as session:
        summary = CommitmentsService(session, registry, LedgerEvidenceLog(ledger.writer)).evaluate()
    with demo_database.session() as session:
        evidence = session.scalars(
            select(LedgerChunk).where(LedgerChunk.event_class == "evidence")
        ).all()
    assert sum(c.size for c in evidence) == summary.results
    assert ledger.verify().ok
