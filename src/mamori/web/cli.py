"""`mamori serve`."""

from __future__ import annotations

import threading
from typing import Annotated

import typer
import uvicorn

from mamori.cli.support import console, handles_errors, opened, say
from mamori.core.i18n import N_
from mamori.core.settings import get_settings
from mamori.ledger.evidence import LedgerEvidenceLog
from mamori.ledger.tasks import Worker, ledger_jobs
from mamori.posture.tasks import posture_jobs


def serve_app(host: str, port: int) -> None:
    """Serve the portal on host:port until interrupted, printing its address first.

    With `MAMORI_WORKER_IN_SERVE` (the default) the scheduled jobs run in a thread of
    this process too, so one command runs all of mamori on one machine.
    """
    from mamori.web.app import create_app

    with opened() as (settings, database, registry):
        app = create_app(settings, database, registry)
        stop = threading.Event()
        if settings.worker_in_serve:
            context = app.state.mamori
            worker = Worker(
                ledger_jobs(database, settings, registry, context.notifier, context.ledger)
                + posture_jobs(
                    database, settings, registry, LedgerEvidenceLog(context.ledger.writer)
                )
            )
            threading.Thread(target=worker.run_forever, args=(stop,), daemon=True).start()
        console.print(
            say(N_("mamori is serving on %(url)s (Ctrl+C stops it)"), url=f"http://{host}:{port}"),
            highlight=False,
        )
        try:
            uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)
        finally:
            stop.set()


@handles_errors
def worker_command() -> None:
    """Run the scheduled jobs (detection, retention, evaluation) until interrupted."""
    from mamori.core.mail.factory import notifier_from_settings
    from mamori.ledger.service import LedgerService

    with opened() as (settings, database, registry):
        ledger = LedgerService(database, settings)
        notifier = notifier_from_settings(settings)
        worker = Worker(
            ledger_jobs(database, settings, registry, notifier, ledger)
            + posture_jobs(database, settings, registry, LedgerEvidenceLog(ledger.writer))
        )
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
