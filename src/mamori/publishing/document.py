"""The whitepaper as data in one language, ready for any renderer."""

from __future__ import annotations

from dataclasses import dataclass, field

from mamori.core.i18n import Lang


@dataclass(frozen=True)
class ContactView:
    """A desk customers can reach."""

    name: str
    email: str
    phone: str
    hours: str
    url: str


@dataclass(frozen=True)
class ServiceView:
    """A service in scope, as the whitepaper lists it."""

    id: str
    name: str
    description: str
    platforms: list[str]  # display names, e.g. "Amazon Web Services"
    regions: list[str]  # display names, e.g. "ap-northeast-1 (東京)"


@dataclass(frozen=True)
class ClauseView:
    """A cited clause: `CLD.9.5.1` plus our short title."""

    number: str
    title: str
    cloud_specific: bool


@dataclass(frozen=True)
class MatrixRow:
    """One area of the shared-responsibility matrix."""

    area: str
    provider: str
    customer: str
    cloud_platform: str


@dataclass(frozen=True)
class StatusView:
    """A commitment's live status for `--with-status`."""

    code: str  # met | at_risk | failing | not_evidenced
    label: str  # translated
    evidence_date: str | None  # latest evidence, formatted in the display zone


@dataclass(frozen=True)
class CommitmentView:
    """One commitment as published."""

    order: int
    id: str
    title: str
    statement: str  # paragraphs separated by blank lines
    clauses: list[ClauseView]
    matrix: list[MatrixRow] = field(default_factory=list)
    status: StatusView | None = None


@dataclass(frozen=True)
class WhitepaperDocument:
    """Everything a renderer needs, already in one language."""

    lang: Lang
    provider_name: str
    head_office_address: str
    purpose: str
    scope_note: str
    services: list[ServiceView]
    policy_title: str
    policy_preamble: str
    policy_statements: list[str]
    effective_date: str
    signatory_title: str
    signatory_name: str
    governing_law: str
    inquiry_desk: ContactView
    call_centre: ContactView
    commitments: list[CommitmentView]
    with_status: bool
    generated_at: str
    pdf_font_family: str
