"""Cloud posture in the portal and the JSON API.

Staff with `view_posture_all` see every finding, the coverage of the latest snapshot and
the provider-wide trend; tenant administrators (`view_posture_tenant`) see only findings
about their own organisation's resources and their own trend. Shared and unattributed
resources are provider matters and never shown to a tenant.

- `GET /posture?group=commitment|service|tenant&status=open|all`: findings grouped.
- `GET /posture/export.csv`, `GET /posture/export.ocsf.json`: the same findings.
- `GET /api/v1/posture/findings`: JSON; API tokens need the `posture:read` scope.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, Response

from mamori.core.errors import ERROR_RESPONSES, ForbiddenError, InputError
from mamori.core.i18n import N_
from mamori.core.scope import Principal, TenantScope
from mamori.posture.export import findings_csv, ocsf_event
from mamori.posture.models import PostureFinding
from mamori.posture.repository import FindingQuery
from mamori.posture.service import PostureService
from mamori.tenants.permissions import Permission
from mamori.tenants.schemas import ApiModel, UtcDatetime
from mamori.tenants.service.context import Services
from mamori.web.auth import authenticate, check_csrf, web_context
from mamori.web.render import language, page

router = APIRouter(dependencies=[Depends(check_csrf)])

API_SCOPE = "posture:read"
GROUPS = ("commitment", "service", "tenant")
STATUSES = ("open", "all")
Group = Annotated[str, Query(max_length=16)]
Status = Annotated[str, Query(max_length=8)]
TREND_POINTS = 60


def posture_scope(principal: Principal) -> TenantScope:
    """Whose findings `principal` may see: all (staff), its own tenant's, or refused."""
    if principal.can(Permission.VIEW_POSTURE_ALL):
        return TenantScope.everything()
    if principal.can(Permission.VIEW_POSTURE_TENANT) and principal.tenant_id:
        return TenantScope.only(principal.tenant_id)
    raise ForbiddenError(N_("you may not see cloud posture findings"))


def _viewer(request: Request, services: Services, scope: str | None) -> Principal:
    principal = authenticate(request, services)
    posture_scope(principal)
    if principal.token_scopes is not None and (
        scope is None or scope not in principal.token_scopes
    ):
        raise ForbiddenError(N_("this API token does not have the scope for this request"))
    return principal


def _choice(value: str, allowed: Sequence[str], field: str) -> str:
    if value not in allowed:
        raise InputError(
            N_("must be one of: %(expected)s"),
            field=field,
            params={"expected": ", ".join(allowed)},
        )
    return value


def _grouped(
    findings: Sequence[PostureFinding], group: str
) -> list[tuple[str, list[PostureFinding]]]:
    groups: dict[str, list[PostureFinding]] = {}
    for finding in findings:
        if group == "commitment":
            keys = finding.commitments or ["—"]
        elif group == "service":
            keys = [finding.service_id or "—"]
        else:
            keys = [finding.tenant_id or finding.placement]
        for key in keys:
            groups.setdefault(key, []).append(finding)
    return sorted(groups.items(), key=lambda item: (-len(item[1]), item[0]))


def _sparkline(points: Sequence[tuple[object, dict[str, int]]], status: str) -> str:
    """SVG polyline points for `status` counts, scaled into a 300×60 box."""
    values = [counts.get(status, 0) for _, counts in points][-TREND_POINTS:]
    if len(values) < 2:
        return ""
    top = max(max(values), 1)
    step = 300 / (len(values) - 1)
    return " ".join(f"{i * step:.1f},{60 - v * 56 / top:.1f}" for i, v in enumerate(values))


@router.get("/posture", response_class=HTMLResponse, include_in_schema=False)
def posture_page(
    request: Request, group: Group = "commitment", status: Status = "open"
) -> Response:
    """Findings grouped by commitment, service or tenant, with the trend and coverage."""
    _choice(group, GROUPS, "group")
    _choice(status, STATUSES, "status")
    with web_context(request).services() as services:
        principal = _viewer(request, services, None)
        scope = posture_scope(principal)
        service = PostureService(services.session)
        findings = service.findings(scope, FindingQuery(open_only=status == "open"))
        trend = service.trend(scope, TREND_POINTS)
        latest = service.latest() if scope.tenant_ids is None else None
        latest_info = (
            {
                "id": latest.id,
                "collected_at": latest.collected_at,
                "resources": latest.resources,
                "failed_calls": latest.failed_calls,
                "source": latest.source,
            }
            if latest is not None
            else None
        )
        grouped = _grouped(findings, group)
        registry = web_context(request).registry
        titles = {check.id: check.title.get(language(request, principal)) for check in registry}
        return page(
            request,
            "posture/findings.html",
            principal,
            grouped=grouped,
            group=group,
            groups=GROUPS,
            status=status,
            total=len(findings),
            titles=titles,
            latest=latest_info,
            trend_fail=_sparkline(trend, "fail"),
            trend_unknown=_sparkline(trend, "unknown"),
            trend_last=trend[-1][1] if trend else {},
        )


@router.get("/posture/export.csv", include_in_schema=False)
def export_csv(request: Request, status: Status = "open") -> Response:
    """The findings the user may see as CSV (times in the display zone)."""
    _choice(status, STATUSES, "status")
    context = web_context(request)
    with context.services() as services:
        principal = _viewer(request, services, None)
        findings = PostureService(services.session).findings(
            posture_scope(principal), FindingQuery(open_only=status == "open")
        )
        text = findings_csv(
            findings, context.registry, language(request, principal), context.settings.timezone
        )
    return Response(
        "\ufeff" + text,  # a BOM so spreadsheet programs read the Japanese as UTF-8
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="mamori-posture-findings.csv"'},
    )


@router.get("/posture/export.ocsf.json", include_in_schema=False)
def export_ocsf(request: Request, status: Status = "open") -> Response:
    """The findings the user may see as OCSF Compliance Finding events."""
    _choice(status, STATUSES, "status")
    context = web_context(request)
    with context.services() as services:
        principal = _viewer(request, services, None)
        findings = PostureService(services.session).findings(
            posture_scope(principal), FindingQuery(open_only=status == "open")
        )
        lang = language(request, principal)
        body = json.dumps(
            [ocsf_event(f, context.registry, lang) for f in findings], ensure_ascii=False
        )
    return Response(
        body,
        media_type="application/json",
        headers={"Content-Disposition": 'attachment; filename="mamori-posture-findings.json"'},
    )


class FindingOut(ApiModel):
    """A posture finding as the API shows it."""

    id: int
    check_id: str
    subject: str
    status: str
    severity: str
    commitments: list[str]
    provider: str
    account: str
    region: str
    resource_type: str
    resource_id: str
    tenant_id: str | None
    placement: str
    service_id: str | None
    message: str
    message_params: dict[str, str | int]
    raw: list[str]
    first_seen_at: UtcDatetime
    last_seen_at: UtcDatetime
    resolved_at: UtcDatetime | None

    @classmethod
    def of(cls, row: PostureFinding) -> FindingOut:
        """The API view of `row`."""
        return cls(**{name: getattr(row, name) for name in cls.model_fields})


@router.get(
    "/api/v1/posture/findings",
    response_model=list[FindingOut],
    tags=["posture"],
    responses=ERROR_RESPONSES,
)
def list_findings(request: Request, status: Status = "open") -> list[FindingOut]:
    """Posture findings the caller may see, newest first (`status`: open or all)."""
    _choice(status, STATUSES, "status")
    with web_context(request).services() as services:
        principal = _viewer(request, services, API_SCOPE)
        rows = PostureService(services.session).findings(
            posture_scope(principal), FindingQuery(open_only=status == "open")
        )
        return [FindingOut.of(row) for row in rows]
