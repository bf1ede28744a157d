"""The FastAPI app: status page, whitepaper downloads and a small read-only JSON API."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from pathlib import Path
from typing import Annotated, Any

from fastapi import FastAPI, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy.orm import Session

from mamori import __version__
from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.errors import MamoriError, NotFoundError
from mamori.core.i18n import N_, Lang, is_language, negotiate
from mamori.core.settings import Settings
from mamori.core.templating import jinja_env
from mamori.publishing.service import WHITEPAPER_FORMATS, PublishingService
from mamori.tenants.service import TenantsService
from mamori.web.status_view import status_page_context

WEB_DIR = Path(__file__).resolve().parent
TEMPLATES = WEB_DIR / "templates"

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}


def pick_language(request: Request, settings: Settings) -> Lang:
    """`?lang=` first, then Accept-Language, then the default."""
    asked = request.query_params.get("lang")
    if is_language(asked):
        return asked
    return negotiate(request.headers.get("accept-language"), settings.default_language)


def create_app(settings: Settings, database: Database, registry: CheckRegistry) -> FastAPI:
    """The web application bound to one database and registry."""
    app = FastAPI(title="mamori", version=__version__, docs_url=None, redoc_url=None)
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")

    def render(name: str, lang: Lang, http_status: int = 200, **context: Any) -> HTMLResponse:
        html = jinja_env(TEMPLATES, lang).get_template(name).render(**context)
        return HTMLResponse(html, status_code=http_status)

    @app.middleware("http")
    async def security_headers(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        response = await call_next(request)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    @app.exception_handler(MamoriError)
    async def mamori_error(request: Request, error: MamoriError) -> Response:
        lang = pick_language(request, settings)
        code = 404 if isinstance(error, NotFoundError) else 400
        if request.url.path.startswith("/api/"):
            return JSONResponse(
                {"error": error.render(lang), "detail": error.params, "field": None},
                status_code=code,
            )
        return render("error.html", lang, code, message=error.render(lang), status_code=code)

    def session() -> Session:
        return database.new_session()

    @app.get("/", response_class=HTMLResponse)
    def status_page(request: Request) -> HTMLResponse:
        lang = pick_language(request, settings)
        with session() as db:
            context = status_page_context(db, registry, settings, lang)
        return render("status.html", lang, **context)

    @app.get("/whitepaper/{lang}.{fmt}")
    def whitepaper(lang: str, fmt: str, request: Request) -> Response:
        if not is_language(lang) or fmt not in WHITEPAPER_FORMATS:
            raise NotFoundError(N_("no such whitepaper"))
        with session() as db:
            rendered = PublishingService(db, registry, settings).whitepaper(
                lang=lang, fmt=fmt, with_status=True
            )
        disposition = "inline" if fmt == "html" else "attachment"
        return Response(
            rendered.content,
            media_type=rendered.media_type,
            headers={"Content-Disposition": f'{disposition}; filename="{rendered.filename}"'},
        )

    @app.get("/api/v1/commitments")
    def commitments_api(lang: Annotated[Lang, Query()] = "ja") -> dict[str, Any]:
        with session() as db:
            states = CommitmentsService(db, registry).states(
                max_age=timedelta(hours=settings.evidence_max_age_hours)
            )
            return {
                "commitments": [
                    {
                        "id": s.commitment.id,
                        "order": s.commitment.position,
                        "title": s.commitment.title.get(lang),
                        "clauses": [c.clause_number for c in s.commitment.clauses],
                        "status": s.status.value,
                        "latest_evidence_at": (
                            s.latest_evidence_at.isoformat() if s.latest_evidence_at else None
                        ),
                    }
                    for s in states
                ]
            }

    @app.get("/healthz")
    def health() -> dict[str, str]:
        with session() as db:
            TenantsService(db).find_provider()
        return {"status": "ok"}

    @app.exception_handler(404)
    async def not_found(request: Request, _exc: Exception) -> Response:
        return await mamori_error(request, NotFoundError(N_("This page does not exist.")))

    return app
