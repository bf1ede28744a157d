"""What the status page shows, gathered from the services in one language."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.commitments.status import STATUS_LABELS, CommitmentStatus
from mamori.core.clock import format_local, utcnow
from mamori.core.i18n import Lang, translate
from mamori.core.settings import Settings
from mamori.tenants.regions import platform_name, region_name
from mamori.tenants.service import TenantsService


def status_page_context(
    session: Session, registry: CheckRegistry, settings: Settings, lang: Lang
) -> dict[str, Any]:
    """Template context of the read-only status page."""
    tenants = TenantsService(session)
    provider = tenants.find_provider()
    commitments = CommitmentsService(session, registry)
    states = commitments.states(max_age=timedelta(hours=settings.evidence_max_age_hours))
    zone = settings.timezone
    counts = Counter(state.status for state in states)
    run = commitments.latest_run()
    return {
        "provider_name": provider.name.get(lang) if provider else None,
        "summary": [
            {"code": status.value, "label": translate(lang, label), "count": counts[status]}
            for status, label in STATUS_LABELS.items()
        ],
        "commitments": [
            {
                "order": state.commitment.position,
                "title": state.commitment.title.get(lang),
                "clauses": [link.clause_number for link in state.commitment.clauses],
                "status": state.status.value,
                "status_label": translate(lang, STATUS_LABELS[state.status]),
                "evidence": (
                    format_local(state.latest_evidence_at, zone, lang)
                    if state.latest_evidence_at
                    else None
                ),
                "checks": [outcome.check_id for outcome in state.outcomes],
            }
            for state in states
        ],
        "services": [
            {
                "name": service.name.get(lang),
                "platforms": [platform_name(p, lang) for p in service.platforms],
                "regions": [region_name(r, lang) for r in service.regions],
            }
            for service in tenants.services()
        ],
        "last_run": format_local(run.started_at, zone, lang) if run else None,
        "now": format_local(utcnow(), zone, lang),
        "met": CommitmentStatus.MET.value,
    }
