"""Check results as evidence in the ledger: every result, pass included, is a signed event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from mamori.core.evidence import EvidenceLog
from mamori.ledger.events import IncomingEvent, Outcome, Severity
from mamori.ledger.records import Attributed, EventClass
from mamori.ledger.store import LedgerWriter

OUTCOMES = {"pass": Outcome.SUCCESS, "fail": Outcome.FAILURE, "error": Outcome.FAILURE}
SEVERITIES = {"fail": Severity.WARNING, "error": Severity.ERROR}


def evidence_event(result: Mapping[str, Any]) -> Attributed:
    """The ledger event for one stored check result (the provider's own)."""
    original = {
        key: value.isoformat() if isinstance(value, datetime) else value
        for key, value in result.items()
    }
    status = str(result.get("status", ""))
    event = IncomingEvent(
        original=original,
        occurred_at=result.get("evaluated_at"),
        severity=SEVERITIES.get(status, Severity.INFO),
        actor="mamori",
        action=f"check.{status}",
        outcome=OUTCOMES.get(status, Outcome.UNKNOWN),
        message=f"{result.get('check_id', '')}: {result.get('subject', '')}",
        labels={"check_id": str(result.get("check_id", ""))},
    )
    return Attributed(event, None, None, EventClass.EVIDENCE)


class LedgerEvidenceLog(EvidenceLog):
    """Writes check results into the ledger in the evaluation's transaction."""

    def __init__(self, writer: LedgerWriter) -> None:
        self.writer = writer

    def record(self, session: Session, results: Sequence[Mapping[str, Any]]) -> None:
        """Append one evidence event per result."""
        if results:
            self.writer.append(session.connection(), [evidence_event(r) for r in results])
