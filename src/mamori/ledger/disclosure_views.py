"""Evidence disclosure in the portal and the JSON API: request, review, decide, download once.

Pages list request metadata only, never event contents; the events leave solely inside
the one-time package. Another tenant's request answers 404 like one that does not exist.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from mamori.core.errors import ERROR_RESPONSES, ForbiddenError, InputError, NotFoundError
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.ledger import disclosure
from mamori.ledger.models import LedgerDisclosure
from mamori.ledger.records import EventClass
from mamori.tenants.permissions import Permission
from mamori.tenants.schemas import ApiModel, UtcDatetime
from mamori.tenants.service.context import Services
from mamori.web.auth import authenticate, check_csrf, require, web_context
from mamori.web.render import page, redirect

router = APIRouter(dependencies=[Depends(check_csrf)])
READ_SCOPE, WRITE_SCOPE = "ledger:read", "disclosures:write"
ACTIONS = frozenset({"review", "approve", "reject", "package"})


class FiltersIn(BaseModel):
    """Which events: empty lists mean every class, action or service."""

    model_config = ConfigDict(extra="forbid")

    classes: list[str] = Field(default_factory=list, max_length=disclosure.MAX_FILTER_VALUES)
    actions: list[str] = Field(default_factory=list, max_length=disclosure.MAX_FILTER_VALUES)
    services: list[str] = Field(default_factory=list, max_length=disclosure.MAX_FILTER_VALUES)


class DisclosureIn(BaseModel):
    """A request for evidence; staff name the tenant and the authority that asked."""

    model_config = ConfigDict(extra="forbid")

    tenant_id: str | None = Field(default=None, max_length=64)
    starts_at: datetime
    ends_at: datetime
    reason: str = Field(max_length=1000)
    authority: str | None = Field(default=None, max_length=200)
    filters: FiltersIn = Field(default_factory=FiltersIn)


class DisclosureOut(ApiModel):
    """A disclosure request's metadata (never the events)."""

    id: str
    tenant_id: str
    requester_label: str
    authority: str | None
    reason: str
    starts_at: UtcDatetime
    ends_at: UtcDatetime
    filters: dict[str, list[str]]
    state: str
    overdue: bool
    review_due_at: UtcDatetime
    reviewed_at: UtcDatetime | None
    redactions: list[str]
    approved_at: UtcDatetime | None
    download_until: UtcDatetime | None
    package_sha256: str | None
    downloaded_at: UtcDatetime | None
    created_at: UtcDatetime
    note: str


def _out(services: Services, row: LedgerDisclosure) -> DisclosureOut:
    now = services.now()
    ready = row.state == disclosure.READY
    return DisclosureOut(
        id=row.id,
        tenant_id=row.tenant_id,
        requester_label=row.requester_label,
        authority=row.authority,
        reason=row.reason,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        filters={k: list(v) for k, v in row.filters.items()},
        state=disclosure.effective_state(row, now),
        overdue=disclosure.is_overdue(row, now),
        review_due_at=row.review_due_at,
        reviewed_at=row.reviewed_at,
        redactions=list(row.redactions),
        approved_at=row.approved_at,
        download_until=disclosure.download_deadline(row) if ready else None,
        package_sha256=row.package_sha256,
        downloaded_at=row.downloaded_at,
        created_at=row.created_at,
        note=row.note,
    )


def _reader(request: Request, services: Services) -> Principal:
    """The caller, if it may see disclosure requests (tokens also need the read scope)."""
    principal = authenticate(request, services)
    if not disclosure.can_view(principal):
        raise ForbiddenError(N_("you may not see disclosure requests"))
    if principal.token_scopes is not None and READ_SCOPE not in principal.token_scopes:
        raise ForbiddenError(N_("this API token does not have the scope for this request"))
    return principal


def _day_range(starts_on: date, ends_on: date, zone: str) -> tuple[datetime, datetime]:
    """From the start of the first day to the end of the last, in the display zone."""
    try:
        last = ends_on + timedelta(days=1)
    except OverflowError as exc:
        raise InputError(N_("The date is out of range."), field="ends_on") from exc
    tz = ZoneInfo(zone)
    return datetime.combine(starts_on, time(), tz), datetime.combine(last, time(), tz)


def _words(text: str) -> list[str]:
    return [word for word in text.replace(",", " ").split() if word]


def _names(services: Services, *user_ids: str | None) -> dict[str, str]:
    found = {}
    for user_id in filter(None, user_ids):
        user = services.repository.user_by_id_unscoped(user_id)
        found[user_id] = user.display_name if user else user_id
    return found


@router.get("/disclosures", response_class=HTMLResponse, include_in_schema=False)
def disclosures_page(request: Request) -> Response:
    """Requests the user may see, and the request form."""
    with web_context(request).services() as services:
        principal = _reader(request, services)
        now = services.now()
        rows = [
            {
                "row": row,
                "state": disclosure.effective_state(row, now),
                "overdue": disclosure.is_overdue(row, now),
            }
            for row in disclosure.disclosures_for(services, principal)
        ]
    return page(
        request,
        "ledger/disclosures.html",
        principal,
        rows=rows,
        labels=disclosure.STATE_LABELS,
        can_request=principal.can(Permission.REQUEST_DISCLOSURE),
        classes=[c.value for c in EventClass],
        max_days=disclosure.MAX_RANGE.days,
        review_days=disclosure.REVIEW_BUSINESS_DAYS,
    )


@router.post("/disclosures", include_in_schema=False)
def request_disclosure(
    request: Request,
    starts_on: Annotated[date, Form()],
    ends_on: Annotated[date, Form()],
    reason: Annotated[str, Form(max_length=1000)],
    tenant_id: Annotated[str, Form(max_length=64)] = "",
    authority: Annotated[str, Form(max_length=200)] = "",
    classes: Annotated[list[str] | None, Form()] = None,
    actions: Annotated[str, Form(max_length=2000)] = "",
    services_named: Annotated[str, Form(alias="services", max_length=2000)] = "",
) -> Response:
    """Ask for evidence (a tenant administrator, or staff for an authority)."""
    context = web_context(request)
    start, end = _day_range(starts_on, ends_on, context.settings.timezone)
    filters = {"classes": classes or [], "actions": _words(actions)}
    filters["services"] = _words(services_named)
    with context.services() as services:
        principal = authenticate(request, services)
        row = disclosure.request(
            services,
            principal,
            tenant_id if principal.is_staff else principal.tenant_id or "",
            start,
            end,
            filters,
            reason,
            authority or None,
        )
    return redirect(f"/disclosures/{row.id}", "saved")


def _timeline(row: LedgerDisclosure, state: str, names: dict[str, str]) -> list[dict[str, Any]]:
    """The steps so far: what happened, when and by whom."""

    def who(user_id: str | None) -> str:
        return names.get(user_id or "", "—")

    refused_at_review = state == disclosure.REJECTED and row.approver_id is None
    steps: list[dict[str, Any]] = [
        {"label": N_("Request made"), "at": row.created_at, "who": row.requester_label}
    ]
    if row.reviewed_at:
        label = N_("Rejected at review") if refused_at_review else N_("Reviewed")
        steps.append({"label": label, "at": row.reviewed_at, "who": who(row.reviewer_id)})
    if row.approved_at:
        refused = state == disclosure.REJECTED
        label = N_("Rejected at approval") if refused else N_("Approved")
        steps.append({"label": label, "at": row.approved_at, "who": who(row.approver_id)})
    if row.package_sha256:
        steps.append({"label": N_("Package prepared"), "at": None, "who": "mamori"})
    if row.downloaded_at:
        steps.append(
            {"label": N_("Downloaded"), "at": row.downloaded_at, "who": row.requester_label}
        )
    if state == disclosure.EXPIRED:
        steps.append({"label": N_("Expired"), "at": disclosure.download_deadline(row), "who": "—"})
    return steps


@router.get("/disclosures/{disclosure_id}", response_class=HTMLResponse, include_in_schema=False)
def disclosure_page(request: Request, disclosure_id: str) -> Response:
    """One request: its facts, its timeline and the forms the user may use."""
    with web_context(request).services() as services:
        principal = _reader(request, services)
        row = disclosure.visible(services, principal, disclosure_id)
        state = disclosure.effective_state(row, services.now())
        names = _names(services, row.reviewer_id, row.approver_id)
        values: dict[str, Any] = {
            "row": row,
            "state": state,
            "overdue": disclosure.is_overdue(row, services.now()),
            "timeline": _timeline(row, state, names),
            "download_until": disclosure.download_deadline(row),
        }
    staff = principal.is_staff
    return page(
        request,
        "ledger/disclosure.html",
        principal,
        labels=disclosure.STATE_LABELS,
        parts=disclosure.PART_LABELS,
        can_review=staff and principal.can(Permission.REVIEW_DISCLOSURE),
        can_approve=staff and principal.can(Permission.APPROVE_DISCLOSURE),
        is_requester=row.requester_id == principal.user_id,
        **values,
    )


@router.post("/disclosures/{disclosure_id}/{action}", include_in_schema=False)
def decide(
    request: Request,
    disclosure_id: str,
    action: str,
    redact: Annotated[list[str] | None, Form()] = None,
    note: Annotated[str, Form(max_length=1000)] = "",
) -> Response:
    """Review, approve (then build the package) or reject; `package` retries a failed build."""
    if action not in ACTIONS:
        raise NotFoundError(N_("This page does not exist."))
    context = web_context(request)
    with context.services() as services:
        principal = authenticate(request, services)
        if action == "review":
            disclosure.review(services, principal, disclosure_id, redact or [], note)
        elif action == "reject":
            disclosure.reject(services, principal, disclosure_id, note)
        elif action == "approve":
            disclosure.approve(services, principal, disclosure_id)
        else:
            disclosure.visible(services, principal, disclosure_id)
            require(principal, Permission.APPROVE_DISCLOSURE)
    if action in {"approve", "package"}:
        # A separate unit of work: the approval stands even if building the package fails.
        with context.services() as services:
            disclosure.build_package(services, context.ledger, disclosure_id)
    return redirect(f"/disclosures/{disclosure_id}", "saved")


@router.get("/disclosures/{disclosure_id}/package", include_in_schema=False)
def download_package(request: Request, disclosure_id: str) -> Response:
    """The package as a ZIP, once, for the requester."""
    if request.headers.get("sec-fetch-site") == "cross-site":
        # A link on another site must not use up the one download.
        raise ForbiddenError(N_("open the download from the disclosure page"))
    with web_context(request).services() as services:
        principal = _reader(request, services)
        data = disclosure.download(services, principal, disclosure_id)
    filename = f"mamori-disclosure-{disclosure_id[:36]}.zip"
    return Response(
        data,
        media_type="application/zip",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get(
    "/api/v1/disclosures",
    response_model=list[DisclosureOut],
    tags=["disclosures"],
    responses=ERROR_RESPONSES,
)
def list_disclosures(request: Request) -> list[DisclosureOut]:
    """Disclosure requests the caller may see, newest first (metadata only)."""
    with web_context(request).services() as services:
        principal = _reader(request, services)
        return [_out(services, row) for row in disclosure.disclosures_for(services, principal)]


@router.post(
    "/api/v1/disclosures",
    response_model=DisclosureOut,
    status_code=201,
    tags=["disclosures"],
    responses=ERROR_RESPONSES,
)
def create_disclosure(request: Request, body: DisclosureIn) -> DisclosureOut:
    """Request evidence (browser session): staff name the tenant and the authority."""
    with web_context(request).services() as services:
        principal = require(
            authenticate(request, services), Permission.REQUEST_DISCLOSURE, WRITE_SCOPE
        )
        tenant_id = body.tenant_id if principal.is_staff else principal.tenant_id
        if not tenant_id:
            raise InputError(N_("this field is required"), field="tenant_id")
        row = disclosure.request(
            services,
            principal,
            tenant_id,
            body.starts_at,
            body.ends_at,
            body.filters.model_dump(),
            body.reason,
            body.authority,
        )
        services.session.flush()
        return _out(services, row)


@router.get(
    "/api/v1/disclosures/{disclosure_id}",
    response_model=DisclosureOut,
    tags=["disclosures"],
    responses=ERROR_RESPONSES,
)
def get_disclosure(request: Request, disclosure_id: str) -> DisclosureOut:
    """One disclosure request's metadata."""
    with web_context(request).services() as services:
        principal = _reader(request, services)
        return _out(services, disclosure.visible(services, principal, disclosure_id))
