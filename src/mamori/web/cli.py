"""`mamori serve`."""

from __future__ import annotations

from typing import Annotated

import typer
import uvicorn

from mamori.cli.support import console, handles_errors, opened, say
from mamori.core.i18n import N_
from mamori.core.settings import get_settings


def serve_app(host: str, port: int) -> None:
    """Serve the portal on host:port until interrupted, printing its address first."""
    from mamori.web.app import create_app

    with opened() as (settings, database, registry):
        app = create_app(settings, database, registry)
        console.print(
            say(N_("mamori is serving on %(url)s (Ctrl+C stops it)"), url=f"http://{host}:{port}"),
            highlight=False,
        )
        uvicorn.run(app, host=host, port=port, log_level="warning", proxy_headers=False)


@handles_errors
def serve_command(
    host: Annotated[str | None, typer.Option("--host", help="Address to listen on.")] = None,
    port: Annotated[int | None, typer.Option("--port", help="Port to listen on.")] = None,
) -> None:
    """Serve the read-only commitment status page (ja/en)."""
    settings = get_settings()
    serve_app(host or settings.host, port or settings.port)
