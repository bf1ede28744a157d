"""Build the whitepaper document in one language from the database."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session

from mamori.commitments.models import Clause, Commitment
from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService, CommitmentState
from mamori.commitments.status import STATUS_LABELS
from mamori.core.clock import format_day, format_local, utcnow
from mamori.core.i18n import Lang, translate
from mamori.core.settings import Settings
from mamori.publishing.document import (
    ClauseView,
    CommitmentView,
    ContactView,
    MatrixRow,
    ServiceView,
    StatusView,
    WhitepaperDocument,
)
from mamori.tenants.models import Service
from mamori.tenants.regions import platform_name, region_name
from mamori.tenants.service import TenantsService


def _contact(point: Mapping[str, Any], lang: Lang) -> ContactView:
    def text(key: str) -> str:
        value = point.get(key) or {}
        return str(value.get(lang, "")) if isinstance(value, dict) else str(value)

    return ContactView(
        name=text("name"),
        email=str(point.get("email", "")),
        phone=str(point.get("phone", "")),
        hours=text("hours"),
        url=str(point.get("url", "")),
    )


def _service(service: Service, lang: Lang) -> ServiceView:
    return ServiceView(
        id=service.id,
        name=service.name.get(lang),
        description=service.description.get(lang),
        platforms=[platform_name(p, lang) for p in service.platforms],
        regions=[region_name(r, lang) for r in service.regions],
    )


def _status(state: CommitmentState, lang: Lang, zone: str) -> StatusView:
    evidence = state.latest_evidence_at
    return StatusView(
        code=state.status.value,
        label=translate(lang, STATUS_LABELS[state.status]),
        evidence_date=format_local(evidence, zone, lang) if evidence else None,
    )


def _commitment(
    commitment: Commitment,
    clauses: Mapping[str, Clause],
    lang: Lang,
    status: StatusView | None,
) -> CommitmentView:
    return CommitmentView(
        order=commitment.position,
        id=commitment.id,
        title=commitment.title.get(lang),
        statement=commitment.statement.get(lang),
        clauses=[
            ClauseView(
                number=link.clause_number,
                title=clauses[link.clause_number].title.get(lang),
                cloud_specific=clauses[link.clause_number].cloud_specific,
            )
            for link in commitment.clauses
        ],
        matrix=[
            MatrixRow(
                area=row.area.get(lang),
                provider=row.provider.get(lang),
                customer=row.customer.get(lang),
                cloud_platform=row.cloud_platform.get(lang),
            )
            for row in commitment.responsibility_areas
        ],
        status=status,
    )


def build_whitepaper(
    session: Session,
    registry: CheckRegistry,
    settings: Settings,
    *,
    lang: Lang,
    with_status: bool,
) -> WhitepaperDocument:
    """The whitepaper in `lang`, with each commitment's live status if asked."""
    tenants = TenantsService(session)
    provider = tenants.provider()
    commitments = CommitmentsService(session, registry)
    clauses = {clause.number: clause for clause in commitments.clauses()}
    zone = settings.timezone
    states = commitments.states(max_age=timedelta(hours=settings.evidence_max_age_hours))
    views = [
        _commitment(
            state.commitment,
            clauses,
            lang,
            _status(state, lang, zone) if with_status else None,
        )
        for state in states
    ]
    return WhitepaperDocument(
        lang=lang,
        provider_name=provider.name.get(lang),
        head_office_address=provider.head_office_address.get(lang),
        purpose=provider.purpose.get(lang),
        scope_note=provider.scope_note.get(lang),
        services=[_service(service, lang) for service in tenants.services()],
        policy_title=provider.policy_title.get(lang),
        policy_preamble=provider.policy_preamble.get(lang),
        policy_statements=[s.text.get(lang) for s in provider.policy_statements],
        effective_date=format_day(provider.effective_date, lang),
        signatory_title=provider.signatory_title.get(lang),
        signatory_name=provider.signatory_name.get(lang),
        governing_law=provider.governing_law.get(lang),
        inquiry_desk=_contact(provider.inquiry_desk, lang),
        call_centre=_contact(provider.call_centre, lang),
        commitments=views,
        with_status=with_status,
        generated_at=format_local(utcnow(), zone, lang),
        pdf_font_family=settings.pdf_font_family,
    )
