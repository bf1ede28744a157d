"""The FastAPI app: pages and JSON API over the same services and authorisation."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles

from mamori import __version__
from mamori.commitments.registry import CheckRegistry
from mamori.core.clock import utcnow
from mamori.core.db import Database
from mamori.core.mail.base import Notifier
from mamori.core.mail.factory import notifier_from_settings
from mamori.core.settings import Settings
from mamori.ledger import alert_views, analysis_views, checkpoint_api, disclosure_views
from mamori.ledger import api as ledger_api
from mamori.ledger.ingest import INGEST_PATHS
from mamori.posture import views as posture_views
from mamori.tenants import api as tenants_api
from mamori.tenants.views import auth as auth_views
from mamori.tenants.views import people as people_views
from mamori.web import pages
from mamori.web.auth import is_https
from mamori.web.context import WebContext
from mamori.web.errors import install_error_handlers

WEB_DIR = Path(__file__).resolve().parent
MAX_BODY_BYTES = 1024 * 1024  # forms and API bodies of this portal are small

SECURITY_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    ),
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def create_app(
    settings: Settings,
    database: Database,
    registry: CheckRegistry,
    *,
    notifier: Notifier | None = None,
    clock: Callable[[], datetime] = utcnow,
) -> FastAPI:
    """The portal bound to one database, registry, notifier and clock."""
    app = FastAPI(title="mamori", version=__version__, docs_url=None, redoc_url=None)
    app.state.mamori = WebContext(
        settings, database, registry, notifier or notifier_from_settings(settings), clock
    )
    app.mount("/static", StaticFiles(directory=WEB_DIR / "static"), name="static")
    app.include_router(pages.router)
    app.include_router(auth_views.router)
    app.include_router(people_views.router)
    app.include_router(tenants_api.router, prefix="/api/v1")
    app.include_router(ledger_api.router)
    app.include_router(analysis_views.router)
    app.include_router(disclosure_views.router)
    app.include_router(checkpoint_api.router)
    app.include_router(alert_views.router)
    app.include_router(posture_views.router)
    install_error_handlers(app)

    @app.middleware("http")
    async def guard(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        length = request.headers.get("content-length")
        # Ingest has its own, larger limit (MAMORI_INGEST_MAX_BODY_BYTES), checked there.
        limited = request.url.path not in INGEST_PATHS
        if (
            limited
            and length
            and length.isascii()
            and length.isdigit()
            and int(length) > MAX_BODY_BYTES
        ):
            message = f"the request body is larger than {MAX_BODY_BYTES} bytes"
            if request.url.path.startswith("/api/"):
                return JSONResponse({"error": message, "detail": None, "field": None}, 413)
            return Response(message, status_code=413, media_type="text/plain")
        response = await call_next(request)
        for header, value in SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        if is_https(request):
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if request.cookies.get("mamori_session") or request.headers.get("authorization"):
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return app
