"""The `posture` collector: hands the latest stored snapshot to every posture check."""

from __future__ import annotations

from sqlalchemy.orm import Session

from mamori.commitments.registry import collector
from mamori.posture.checks.base import PostureFacts
from mamori.posture.service import PostureService


@collector("posture")
def collect(session: Session) -> PostureFacts:
    """The latest snapshot and its attribution (an empty fact set before any collection)."""
    return PostureService(session).facts()
