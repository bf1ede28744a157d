"""Log analyses on request (commitment 13): portal pages, report downloads and JSON API.

Only tenant administrators use these routes, for their own organisation: provider staff
get 403 because analyses are customer data, and another tenant's analysis id gives 404.

- `GET /analyses`: the tenant's analyses and the request form.
- `POST /analyses`: request an analysis (form: `starts_on`, `ends_on`, local dates).
- `GET /analyses/{analysis_id}.{fmt}`: the report as `html`, `pdf` or `csv`; `?lang=`.
- `GET /api/v1/analyses`, `POST /api/v1/analyses`, `GET /api/v1/analyses/{analysis_id}`.

API tokens need the `ledger:read` scope.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from enum import Enum
from functools import cache
from typing import Annotated, Any
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, Response

from mamori.core.audit import AuditRecord
from mamori.core.errors import ERROR_RESPONSES, InputError, NotFoundError
from mamori.core.i18n import N_, translate
from mamori.core.scope import Principal, TenantScope
from mamori.ledger.analysis import (
    MAX_RANGE,
    STATUS_LABELS,
    analyses,
    analysis_csv,
    analysis_html,
    analysis_in,
    analysis_pdf,
    request_analysis,
    run_analysis,
)
from mamori.ledger.geo import CountryResolver, GeoIPDatResolver
from mamori.ledger.models import LedgerAnalysis
from mamori.ledger.schemas import AnalysisDetailOut, AnalysisIn, AnalysisOut
from mamori.tenants.permissions import Permission
from mamori.tenants.service.context import Services
from mamori.web.auth import authenticate, check_csrf, require, web_context
from mamori.web.pages import whitepaper_policy
from mamori.web.render import language, page, redirect

router = APIRouter(dependencies=[Depends(check_csrf)])

API_SCOPE = "ledger:read"
FORMATS = ("html", "pdf", "csv")
DEFAULT_DAYS = 30
FORM_FIELDS = {"starts_at": "starts_on", "ends_at": "ends_on"}


@cache
def _debian_geoip() -> GeoIPDatResolver:
    return GeoIPDatResolver()


def country_resolver() -> CountryResolver:
    """The country database analyses use (a dependency, so tests can swap it)."""
    return _debian_geoip()


Geo = Annotated[CountryResolver, Depends(country_resolver)]


def _customer(request: Request, services: Services, scope: str | None = None) -> Principal:
    """The signed-in tenant administrator; anyone else is refused."""
    return require(authenticate(request, services), Permission.REQUEST_ANALYSIS, scope)


def _own(principal: Principal) -> TenantScope:
    return TenantScope.only(principal.tenant_id or "")


def _request_and_run(
    request: Request,
    services: Services,
    principal: Principal,
    window: tuple[datetime, datetime],
    geo: CountryResolver,
) -> LedgerAnalysis:
    """Record the request, audit it and compute the result at once.

    Computed synchronously for now: a range of up to a year of one tenant's events is
    read in a single request. It becomes a background job when tenants grow large.
    """
    now = services.now()
    analysis = request_analysis(services.session, principal, window[0], window[1], now)
    services.audit(
        AuditRecord.by(
            principal,
            "analysis.request",
            "ledger_analysis",
            analysis.id,
            analysis.tenant_id,
            starts_at=analysis.starts_at.isoformat(),
            ends_at=analysis.ends_at.isoformat(),
        )
    )
    zone = web_context(request).settings.timezone
    return run_analysis(services.session, analysis.id, geo, zone, now)


# Portal ---------------------------------------------------------------------------------


def _local_day(text: str, field: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError as exc:
        raise InputError(N_("enter a date such as 2026-04-01"), field=field) from exc


def form_window(
    starts_on: str, ends_on: str, zone: str, now: datetime
) -> tuple[datetime, datetime]:
    """[start, end) from two local dates, the end date included; today ends now."""
    tz = ZoneInfo(zone)
    first, last = _local_day(starts_on, "starts_on"), _local_day(ends_on, "ends_on")
    start = datetime.combine(first, time(), tz)
    try:
        end = datetime.combine(last + timedelta(days=1), time(), tz)
    except OverflowError as exc:
        raise InputError(N_("the date is out of range"), field="ends_on") from exc
    if last == now.astimezone(tz).date():
        end = now
    return start, end


def _rows(rows: list[LedgerAnalysis]) -> list[dict[str, Any]]:
    return [{"a": row, "status": STATUS_LABELS.get(row.status, row.status)} for row in rows]


def _analyses_page(
    request: Request,
    services: Services,
    principal: Principal,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status_code: int = 200,
) -> Response:
    settings = web_context(request).settings
    today = services.now().astimezone(ZoneInfo(settings.timezone)).date()
    defaults = {
        "starts_on": (today - timedelta(days=DEFAULT_DAYS)).isoformat(),
        "ends_on": today.isoformat(),
    }
    return page(
        request,
        "ledger/analyses.html",
        principal,
        status_code=status_code,
        rows=_rows(analyses(services.session, _own(principal))),
        values=values or defaults,
        errors=errors or {},
        ready=request.query_params.get("ready", "")[:36],
        max_days=MAX_RANGE.days,
        zone=settings.timezone,
    )


@router.get("/analyses", response_class=HTMLResponse, include_in_schema=False)
def analyses_page(request: Request) -> Response:
    """The organisation's analyses with their downloads, and the request form."""
    with web_context(request).services() as services:
        principal = _customer(request, services)
        return _analyses_page(request, services, principal)


@router.post("/analyses", include_in_schema=False)
def request_analysis_form(
    request: Request,
    geo: Geo,
    starts_on: Annotated[str, Form(max_length=20)],
    ends_on: Annotated[str, Form(max_length=20)],
) -> Response:
    """Request an analysis of a range of local days and compute it (synchronously)."""
    with web_context(request).services() as services:
        principal = _customer(request, services)
        zone = web_context(request).settings.timezone
        try:
            window = form_window(starts_on, ends_on, zone, services.now())
            analysis = _request_and_run(request, services, principal, window, geo)
        except InputError as error:
            field = FORM_FIELDS.get(error.field or "", error.field or "starts_on")
            message = translate(language(request, principal), error.message, error.params)
            values = {"starts_on": starts_on, "ends_on": ends_on}
            return _analyses_page(
                request,
                services,
                principal,
                values=values,
                errors={field: message},
                status_code=400,
            )
    return redirect(f"/analyses?ready={analysis.id}")


@router.get("/analyses/{analysis_id}.{fmt}", include_in_schema=False)
def download_analysis(request: Request, analysis_id: str, fmt: str) -> Response:
    """The report of one analysis as HTML (standalone page), PDF or CSV."""
    if fmt not in FORMATS:
        raise NotFoundError(N_("no such analysis"))
    context = web_context(request)
    with context.services() as services:
        principal = _customer(request, services)
        analysis = analysis_in(services.session, _own(principal), analysis_id)
        lang = language(request, principal)
        name = f"analysis-{analysis.tenant_id}-{analysis.starts_at:%Y%m%d}-{analysis.id[:8]}"
        if fmt == "csv":
            body = analysis_csv(analysis).encode("utf-8")
            return _download(body, "text/csv; charset=utf-8", f"{name}.csv")
        if fmt == "pdf":
            pdf = analysis_pdf(analysis, lang, context.settings.pdf_font_family)
            return _download(pdf, "application/pdf", f"{name}-{lang}.pdf")
        html = analysis_html(analysis, lang).encode("utf-8")
    headers = {
        "Content-Disposition": f'inline; filename="{name}-{lang}.html"',
        "Content-Security-Policy": whitepaper_policy(html),
    }
    return Response(html, media_type="text/html; charset=utf-8", headers=headers)


def _download(body: bytes, media_type: str, filename: str) -> Response:
    headers = {"Content-Disposition": f'attachment; filename="{filename}"'}
    return Response(body, media_type=media_type, headers=headers)


# JSON API -------------------------------------------------------------------------------

TAGS: list[str | Enum] = ["ledger"]


@router.get(
    "/api/v1/analyses", response_model=list[AnalysisOut], tags=TAGS, responses=ERROR_RESPONSES
)
def list_analyses(request: Request) -> list[AnalysisOut]:
    """The caller's organisation's analyses, newest first (at most 100)."""
    with web_context(request).services() as services:
        principal = _customer(request, services, API_SCOPE)
        return [AnalysisOut.of(row) for row in analyses(services.session, _own(principal))]


@router.post(
    "/api/v1/analyses",
    response_model=AnalysisDetailOut,
    status_code=201,
    tags=TAGS,
    responses=ERROR_RESPONSES,
)
def create_analysis(request: Request, body: AnalysisIn, geo: Geo) -> AnalysisDetailOut:
    """Request an analysis of [starts_at, ends_at) and compute it (synchronously, for now)."""
    with web_context(request).services() as services:
        principal = _customer(request, services, API_SCOPE)
        window = (body.starts_at, body.ends_at)
        return AnalysisDetailOut.of(_request_and_run(request, services, principal, window, geo))


@router.get(
    "/api/v1/analyses/{analysis_id}",
    response_model=AnalysisDetailOut,
    tags=TAGS,
    responses=ERROR_RESPONSES,
)
def get_analysis(request: Request, analysis_id: str) -> AnalysisDetailOut:
    """One analysis with its aggregates."""
    with web_context(request).services() as services:
        principal = _customer(request, services, API_SCOPE)
        return AnalysisDetailOut.of(analysis_in(services.session, _own(principal), analysis_id))
