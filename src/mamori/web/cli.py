"""`mamori serve`."""

from __future__ import annotations

import threading
from typing import Annotated, Any

import typer
import uvicorn

from mamori.cli.support import console, handles_errors, opened, say
from mamori.commitments.registry import CheckRegistry
from mamori.core.db import Database
from mamori.core.i18n import N_
from mamori.core.mail.base import Notifier
from mamori.core.mail.factory import notifier_from_settings
from mamori.core.settings import Settings, get_settings
from mamori.ledger.evidence import LedgerEvidenceLog
from mamori.ledger.service import LedgerService
from mamori.ledger.tasks import Job, Worker, ledger_jobs
from mamori.posture.tasks import posture_jobs


def serve_app(host: str, port: int) -> None:
    """Serve the portal on host:port until interrupted, printing its address first.

    With `MAMORI_WORKER_IN_SERVE` (the default) the scheduled jobs run in a thread of
    this process too, so one command runs all of mamori on one machine. With
    `MAMORI_SERVE_PROCESSES` above one, this process only starts the server processes
    (each builds its own app, `app_from_environment`), watches them and runs the jobs.
    """
    from mamori.web.app import create_app, keep_for_good

    with opened() as (settings, database, registry):
        processes = settings.serve_processes
        app = create_app(settings, database, registry) if processes == 1 else None
        stop = threading.Event()
        if settings.worker_in_serve:
            if app is not None:
                notifier, ledger = app.state.mamori.notifier, app.state.mamori.ledger
            else:
                notifier, ledger = (
                    notifier_from_settings(settings),
                    LedgerService(database, settings),
                )
            worker = Worker(scheduled_jobs(database, settings, registry, notifier, ledger))
            threading.Thread(target=worker.run_forever, args=(stop,), daemon=True).start()
        if app is not None:
            keep_for_good()
        console.print(
            say(N_("mamori is serving on %(url)s (Ctrl+C stops it)"), url=f"http://{host}:{port}"),
            highlight=False,
        )
        served: dict[str, Any] = {"log_level": "warning", "proxy_headers": False}
        try:
            if app is not None:
                uvicorn.run(app, host=host, port=port, **served)
            else:
                uvicorn.run(
                    "mamori.web.app:app_from_environment",
                    factory=True,
                    workers=processes,
                    host=host,
                    port=port,
                    **served,
                )
        finally:
            stop.set()


def scheduled_jobs(
    database: Database,
    settings: Settings,
    registry: CheckRegistry,
    notifier: Notifier,
    ledger: LedgerService,
) -> list[Job]:
    """Every job the worker runs: the ledger's (detection, retention...) and posture's."""
    evidence = LedgerEvidenceLog(ledger.writer)
    return ledger_jobs(database, settings, registry, notifier, ledger) + posture_jobs(
        database, settings, registry, evidence
    )


@handles_errors
def worker_command() -> None:
    """Run the scheduled jobs (detection, retention, evaluation) until interrupted."""
    with opened() as (settings, database, registry):
        ledger = LedgerService(database, settings)
        notifier = notifier_from_settings(settings)
        worker = Worker(scheduled_jobs(database, settings, registry, notifier, ledger))
        console.print(say(N_("The mamori worker is running (Ctrl+C stops it)")), highlight=False)
        try:
            worker.run_forever(threading.Event())
        except KeyboardInterrupt:
            return


@handles_errors
def serve_command(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on.")] = None,
) -> None:
    """Serve the read-only commitment status page (ja/en)."""
    settings = get_settings()
    serve_app(host or settings.host, port or settings.port)
