"""Pages all signed-in users share (dashboard, services, whitepaper) and the public status page."""

from __future__ import annotations

import base64
import hashlib
import re
from collections import Counter

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response

from mamori.commitments.service import CommitmentsService
from mamori.core.errors import NotFoundError
from mamori.core.i18n import N_, is_language
from mamori.publishing.service import WHITEPAPER_FORMATS, PublishingService
from mamori.tenants.permissions import Permission
from mamori.tenants.regions import platform_name, region_name
from mamori.tenants.service import TenantsService
from mamori.web.auth import authenticate, check_csrf, require, web_context
from mamori.web.render import language, page
from mamori.web.status_view import status_page_context

router = APIRouter(dependencies=[Depends(check_csrf)], include_in_schema=False)


@router.get("/", response_class=HTMLResponse)
def status_page(request: Request) -> Response:
    """The public status of every commitment, as the whitepaper publishes it."""
    context = web_context(request)
    lang = language(request)
    with context.database.session() as session:
        values = status_page_context(session, context.registry, context.settings, lang)
    return page(request, "status.html", **values)


@router.get("/dashboard", response_class=HTMLResponse)
def dashboard(request: Request) -> Response:
    """Commitment status at a glance, and check results by service."""
    context = web_context(request)
    with context.services() as services:
        principal = require(authenticate(request, services), Permission.VIEW_DASHBOARD)
        lang = language(request, principal)
        values = status_page_context(services.session, context.registry, context.settings, lang)
        results = CommitmentsService(services.session, context.registry).latest_results()
        by_service: dict[str, Counter[str]] = {}
        for row in results:
            if row.subject.startswith("service:"):
                by_service.setdefault(row.subject.removeprefix("service:"), Counter())[
                    row.status
                ] += 1
        tenants = TenantsService(services.session)
        subscribed = (
            None if principal.is_staff else tenants.subscribed_services(principal.tenant_id or "")
        )
        values["service_results"] = [
            {"name": s.name.get(lang), "counts": by_service.get(s.id, Counter())}
            for s in tenants.services()
            if subscribed is None or s.id in subscribed
        ]
    return page(request, "dashboard.html", principal, **values)


@router.get("/services", response_class=HTMLResponse)
def services_page(request: Request) -> Response:
    """The services in scope: platforms, regions, endpoints."""
    context = web_context(request)
    with context.services() as services:
        principal = require(authenticate(request, services), Permission.VIEW_SERVICES)
        lang = language(request, principal)
        counts = TenantsService(services.session).subscriber_counts() if principal.is_staff else {}
        rows = [
            {
                "name": s.name.get(lang),
                "description": s.description.get(lang),
                "platforms": [platform_name(p, lang) for p in s.platforms],
                "regions": [region_name(r, lang) for r in s.regions],
                "endpoints": s.endpoints,
                "tenants": counts.get(s.id, 0) if principal.is_staff else None,
            }
            for s in TenantsService(services.session).services()
        ]
    return page(request, "services.html", principal, services=rows)


@router.get("/whitepaper/{lang}.{fmt}")
def whitepaper(request: Request, lang: str, fmt: str) -> Response:
    """The whitepaper with live status (public, like the status page)."""
    if not is_language(lang) or fmt not in WHITEPAPER_FORMATS:
        raise NotFoundError(N_("no such whitepaper"))
    context = web_context(request)
    with context.database.session() as session:
        rendered = PublishingService(session, context.registry, context.settings).whitepaper(
            lang=lang, fmt=fmt, with_status=True
        )
    headers = {"Content-Disposition": f'attachment; filename="{rendered.filename}"'}
    if fmt == "html":
        headers = {
            "Content-Disposition": f'inline; filename="{rendered.filename}"',
            "Content-Security-Policy": whitepaper_policy(rendered.content),
        }
    return Response(rendered.content, media_type=rendered.media_type, headers=headers)


STYLE_BLOCK = re.compile(rb"<style[^>]*>(.*?)</style>", re.S)


def whitepaper_policy(html: bytes) -> str:
    """A CSP for the standalone whitepaper: its own inline styles by hash, nothing else."""
    hashes = " ".join(
        "'sha256-" + base64.b64encode(hashlib.sha256(block).digest()).decode() + "'"
        for block in STYLE_BLOCK.findall(html)
    )
    return (
        f"default-src 'none'; style-src {hashes or chr(39) + 'none' + chr(39)}; img-src data:; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    )


@router.get("/healthz")
def health(request: Request) -> dict[str, str]:
    """Liveness: the database answers."""
    with web_context(request).database.session() as session:
        TenantsService(session).find_provider()
    return {"status": "ok"}
