"""The FastAPI app: pages and JSON API over the same services and authorisation."""

from __future__ import annotations

import gc
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from fastapi import FastAPI
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
from mamori.posture import views as posture_views
from mamori.tenants import api as tenants_api
from mamori.tenants.views import auth as auth_views
from mamori.tenants.views import people as people_views
from mamori.web import pages
from mamori.web.context import WebContext
from mamori.web.errors import install_error_handlers
from mamori.web.guard import Guard

WEB_DIR = Path(__file__).resolve().parent


def app_from_environment() -> FastAPI:
    """The portal as configured by the environment: what each server process of
    `mamori serve` builds when there are several (`MAMORI_SERVE_PROCESSES`)."""
    from mamori.commitments.registry import load_all_checks
    from mamori.core.runtime import open_database
    from mamori.core.settings import get_settings

    settings = get_settings()
    app = create_app(settings, open_database(settings), load_all_checks())
    keep_for_good()
    return app


def keep_for_good() -> None:
    """Hand what a server has built at start (modules, the app, its caches) to the garbage
    collector's permanent generation (`gc.freeze`), so that its full collections no longer
    walk them. An ingest request makes tens of thousands of objects and so triggers
    collections often: this took about a tenth off a request's CPU time."""
    gc.collect()
    gc.freeze()


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

    app.add_middleware(Guard)
    return app
