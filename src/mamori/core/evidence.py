"""Where check results go as evidence: an interface, so the commitments domain needs no ledger.

The implementation is the ledger (mamori.ledger.evidence): every result, pass included,
becomes a signed, verifiable event of the evidence class.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy.orm import Session


class EvidenceLog(ABC):
    """Keeps check results as evidence, in the caller's transaction."""

    @abstractmethod
    def record(self, session: Session, results: Sequence[Mapping[str, Any]]) -> None:
        """Store `results` (one mapping per stored check result) with `session`'s work."""
