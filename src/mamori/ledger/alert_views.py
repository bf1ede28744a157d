"""Security alerts (commitment 17) in the portal and the JSON API.

Provider staff with `view_alerts_all` see every alert, tenant administrators only their
own organisation's; another tenant's alert answers 404 like one that does not exist.
Security officers and operators (`manage_alerts`) acknowledge and close alerts, and
each such action is recorded in the audit trail.

- `GET /alerts?status=open|closed|all&page=N`: newest first, 100 a page.
- `POST /alerts/{alert_id}/{action}`: `action` is `acknowledge` or `close` (form, CSRF).
- `GET /api/v1/alerts?status=…&page=N`: the same list as JSON; tokens need `ledger:read`.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from mamori.core.errors import ERROR_RESPONSES, ForbiddenError
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.ledger import monitoring
from mamori.ledger.models import LedgerAlert
from mamori.tenants.permissions import Permission
from mamori.tenants.schemas import ApiModel, UtcDatetime
from mamori.tenants.service.context import Services
from mamori.web.auth import authenticate, check_csrf, web_context
from mamori.web.render import page, redirect

router = APIRouter(dependencies=[Depends(check_csrf)])

API_SCOPE = "ledger:read"
MAX_PAGE = 10_000

Status = Annotated[str, Query(max_length=10)]
PageNumber = Annotated[int, Query(alias="page", ge=1, le=MAX_PAGE)]


class AlertOut(ApiModel):
    """An alert as the API shows it; titles and summaries in both languages."""

    id: str
    rule_id: str
    severity: str
    tenant_id: str | None
    service_id: str | None
    group: dict[str, Any]
    first_at: UtcDatetime
    last_at: UtcDatetime
    count: int
    seqs: list[int]  # ledger positions of the evidence (at most 50)
    title: dict[str, str]
    summary: dict[str, str]
    status: str
    created_at: UtcDatetime
    notified_at: UtcDatetime | None
    closed_by: str | None

    @classmethod
    def of(cls, row: LedgerAlert) -> AlertOut:
        """The API view of `row`."""
        fields = {name: getattr(row, name) for name in cls.model_fields if name != "group"}
        return cls(**fields, group=dict(row.group_key))


def _viewer(request: Request, services: Services, scope: str | None) -> Principal:
    """The caller, if it may see alerts; a token also needs `scope` (pages take none)."""
    principal = authenticate(request, services)
    monitoring.alert_scope(principal)
    if principal.token_scopes is not None and (
        scope is None or scope not in principal.token_scopes
    ):
        raise ForbiddenError(N_("this API token does not have the scope for this request"))
    return principal


@router.get("/alerts", response_class=HTMLResponse, include_in_schema=False)
def alerts_page(request: Request, status: Status = "open", page_number: PageNumber = 1) -> Response:
    """The alerts the user may see, newest first, with the actions the user may take."""
    with web_context(request).services() as services:
        principal = _viewer(request, services, None)
        scope = monitoring.alert_scope(principal)
        rows, more = monitoring.alerts_in(services.session, scope, status, page_number)
    return page(
        request,
        "ledger/alerts.html",
        principal,
        rows=rows,
        status=status,
        filters=monitoring.FILTERS,
        labels=monitoring.STATUS_LABELS,
        severities=monitoring.SEVERITY_LABELS,
        actions=monitoring.ACTIONS,
        page_number=page_number,
        more=more,
        can_manage=principal.can(Permission.MANAGE_ALERTS),
    )


@router.post("/alerts/{alert_id}/{action}", include_in_schema=False)
def handle_alert(request: Request, alert_id: str, action: str) -> Response:
    """Acknowledge or close an alert (security officers and operators)."""
    with web_context(request).services() as services:
        principal = authenticate(request, services)
        if principal.token_scopes is not None:
            raise ForbiddenError(N_("this API token does not have the scope for this request"))
        monitoring.handle_alert(services, principal, alert_id, action)
    return redirect("/alerts", "saved")


@router.get(
    "/api/v1/alerts", response_model=list[AlertOut], tags=["alerts"], responses=ERROR_RESPONSES
)
def list_alerts(
    request: Request, status: Status = "open", page_number: PageNumber = 1
) -> list[AlertOut]:
    """Alerts the caller may see, newest first, 100 a page (`status`: open, closed, all)."""
    with web_context(request).services() as services:
        principal = _viewer(request, services, API_SCOPE)
        scope = monitoring.alert_scope(principal)
        rows, _more = monitoring.alerts_in(services.session, scope, status, page_number)
        return [AlertOut.of(row) for row in rows]
