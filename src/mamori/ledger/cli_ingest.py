"""`mamori ledger import` (log files, streamed in batches) and `mamori ledger syslog`."""

from __future__ import annotations

import asyncio
import signal
import ssl
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, replace
from enum import StrEnum
from itertools import islice
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn

from mamori.cli.support import audit_trail, console, err_console, handles_errors, opened, say
from mamori.core.audit import AuditRecord
from mamori.core.db import Database
from mamori.core.errors import ConfigurationError, InputError
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.core.settings import Settings
from mamori.ledger.attribution import Attribution, Placement
from mamori.ledger.cli_support import cli_principal, require_service, require_tenant
from mamori.ledger.events import IncomingEvent, IngestFormatError
from mamori.ledger.formats.azure_activity import iter_azure_activity
from mamori.ledger.formats.cloudtrail import iter_cloudtrail
from mamori.ledger.formats.json_records import Readable, iter_json_lines_file
from mamori.ledger.ingest import CachedAttribution, IngestService, attribution_from_database
from mamori.ledger.service import LedgerService
from mamori.ledger.syslog_server import SyslogServer, TlsFiles

CLOSE_WAIT_SECONDS = 5.0


class ImportFormat(StrEnum):
    """File formats `mamori ledger import` reads."""

    cloudtrail = "cloudtrail"
    azure_activity = "azure-activity"
    jsonl = "jsonl"


READERS: dict[ImportFormat, Callable[[Readable], Iterator[IncomingEvent]]] = {
    ImportFormat.cloudtrail: iter_cloudtrail,
    ImportFormat.azure_activity: iter_azure_activity,
    ImportFormat.jsonl: iter_json_lines_file,
}


class _OneService(Attribution):
    """The configured attribution, with every event's service fixed to one."""

    def __init__(self, inner: Attribution, service_id: str) -> None:
        super().__init__(inner.rules, inner.services)
        self.service_id = service_id

    def place(self, principal: Principal, event: IncomingEvent) -> Placement:
        """Where the rules put `event`, in the fixed service."""
        return replace(super().place(principal, event), service_id=self.service_id)


@dataclass
class _Counts:
    stored: int = 0
    duplicates: int = 0

    def line(self) -> str:
        return say(
            N_("Events stored: %(stored)s; duplicates skipped: %(duplicates)s."),
            stored=self.stored,
            duplicates=self.duplicates,
        )


def _batches(events: Iterator[IncomingEvent], size: int) -> Iterator[list[IncomingEvent]]:
    while batch := list(islice(events, size)):
        yield batch


def _check_batch(batch: int, settings: Settings) -> None:
    if not 1 <= batch <= settings.ingest_max_events:
        raise InputError(
            N_("the batch size must be between 1 and %(max)s"),
            field="--batch",
            params={"max": settings.ingest_max_events},
        )


def _attribution(
    database: Database, settings: Settings, tenant: str | None, service: str | None
) -> Attribution:
    with database.session() as session:
        if tenant is not None:
            require_tenant(session, tenant)
        if service is not None:
            require_service(session, service)
    rules = attribution_from_database(database, settings)
    return rules if service is None else _OneService(rules, service)


def _import(
    ingest: IngestService, principal: Principal, path: Path, fmt: ImportFormat, size: int
) -> _Counts:
    counts = _Counts()
    with (
        path.open("rb") as stream,
        Progress(
            SpinnerColumn(),
            TextColumn("{task.description}"),
            console=console,
            transient=True,
            disable=not console.is_terminal,
        ) as bar,
    ):
        task = bar.add_task(say(N_("Importing %(path)s"), path=path.name), total=None)
        try:
            for batch in _batches(READERS[fmt](stream), size):
                result = ingest.store(principal, batch)
                counts.stored += result.stored
                counts.duplicates += result.duplicates
                bar.update(task, description=counts.line())
        except IngestFormatError as error:
            error.file = str(path)
            if counts.stored or counts.duplicates:
                err_console.print(_partial(counts), highlight=False, soft_wrap=True)
            raise
        except KeyboardInterrupt:
            err_console.print(_partial(counts), highlight=False, soft_wrap=True)
            raise typer.Exit(1) from None
    return counts


def _partial(counts: _Counts) -> str:
    return say(
        N_(
            "Before stopping, %(stored)s events were stored (%(duplicates)s duplicates). "
            "Run the same import again once the file is fixed: events already stored are "
            "recognised and skipped."
        ),
        stored=counts.stored,
        duplicates=counts.duplicates,
    )


@handles_errors
def import_command(
    file: Annotated[
        Path,
        typer.Argument(exists=True, dir_okay=False, readable=True, help="File (may be gzipped)."),
    ],
    fmt: Annotated[ImportFormat, typer.Option("--format", help="What the file holds.")],
    tenant: Annotated[
        str | None,
        typer.Option("--tenant", help="Place every event in this tenant (default: rules)."),
    ] = None,
    service: Annotated[
        str | None, typer.Option("--service", help="Attribute every event to this service.")
    ] = None,
    batch: Annotated[int, typer.Option("--batch", help="Events stored per transaction.")] = 5000,
) -> None:
    """Import a CloudTrail, Azure Activity Log or JSON-lines file into the ledger.

    The file is read as a stream and stored in batches; an interrupted import can be run
    again, as events already stored are recognised as duplicates.
    """
    with opened() as (settings, database, _registry):
        _check_batch(batch, settings)
        attribution = _attribution(database, settings, tenant, service)
        ingest = IngestService(LedgerService(database, settings), settings, lambda: attribution)
        principal = cli_principal(tenant)
        counts = _import(ingest, principal, file, fmt, batch)
        record = AuditRecord.by(
            principal,
            "ledger.import",
            "file",
            file.name,
            tenant,
            format=fmt.value,
            service=service,
            stored=counts.stored,
            duplicates=counts.duplicates,
        )
        with database.session() as session:
            audit_trail(settings).record(session, record)
    console.print(counts.line(), highlight=False, soft_wrap=True)


def _tls(cert: Path | None, key: Path | None, client_ca: Path | None) -> TlsFiles | None:
    if cert is None and key is None:
        if client_ca is not None:
            raise InputError(N_("--client-ca needs --tls-cert and --tls-key"), field="--client-ca")
        return None
    if cert is None or key is None:
        raise InputError(N_("give both --tls-cert and --tls-key"), field="--tls-cert")
    files = TlsFiles(cert, key, client_ca)
    try:
        files.context()
    except (OSError, ssl.SSLError) as exc:
        raise ConfigurationError(
            N_("the TLS certificate, key or CA cannot be used: %(reason)s"),
            params={"reason": str(exc)},
        ) from exc
    return files


def _quiet_cancellation(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    # Python 3.11 logs a traceback for every connection still open at shutdown, because its
    # stream server asks the cancelled task for its exception (python/cpython#113538).
    if not isinstance(context.get("exception"), asyncio.CancelledError):
        loop.default_exception_handler(context)


async def _serve(server: SyslogServer, announce: Callable[[int], None]) -> None:
    try:
        port = await server.start()
    except OSError as exc:
        raise ConfigurationError(
            N_("cannot listen on %(host)s:%(port)s: %(reason)s"),
            params={"host": server.host, "port": server.port, "reason": exc.strerror or exc},
        ) from exc
    announce(port)
    loop = asyncio.get_running_loop()
    loop.set_exception_handler(_quiet_cancellation)
    stopping = asyncio.Event()
    with suppress(NotImplementedError):  # a service manager stops us with SIGTERM
        loop.add_signal_handler(signal.SIGTERM, stopping.set)
    try:
        await stopping.wait()  # or until Ctrl-C cancels this task
    finally:
        # Senders may hold their connections open; those are cut (their batches are
        # stored first) rather than waited for.
        with suppress(TimeoutError):
            await asyncio.wait_for(server.close(), CLOSE_WAIT_SECONDS)


def _announcer(host: str, tls: TlsFiles | None) -> Callable[[int], None]:
    if tls is None:
        transport = say(N_("plain TCP, loopback only"))
    elif tls.client_ca is None:
        transport = say(N_("TLS"))
    else:
        transport = say(N_("TLS, client certificates required"))

    def announce(port: int) -> None:
        console.print(
            say(
                N_("Listening for syslog on %(host)s:%(port)s (%(transport)s); Ctrl-C stops."),
                host=host,
                port=port,
                transport=transport,
            ),
            highlight=False,
            soft_wrap=True,
        )

    return announce


@handles_errors
def syslog_command(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="TCP port (0 picks a free one).")
    ] = 6514,
    tls_cert: Annotated[
        Path | None, typer.Option("--tls-cert", help="Server certificate (PEM) for TLS.")
    ] = None,
    tls_key: Annotated[Path | None, typer.Option("--tls-key", help="Its private key.")] = None,
    client_ca: Annotated[
        Path | None, typer.Option("--client-ca", help="Require client certificates from this CA.")
    ] = None,
) -> None:
    """Receive syslog over TCP (loopback only) or TLS and store it, until Ctrl-C or SIGTERM."""
    tls = _tls(tls_cert, tls_key, client_ca)
    with opened() as (settings, database, _registry):
        ledger = LedgerService(database, settings)
        attribution = CachedAttribution(lambda: attribution_from_database(database, settings))
        server = SyslogServer(IngestService(ledger, settings, attribution), host, port, tls)
        with suppress(KeyboardInterrupt):  # Ctrl-C is how the listener is meant to stop
            asyncio.run(_serve(server, _announcer(host, tls)))
    console.print(
        say(
            N_("Stopped. Events stored: %(stored)s; unreadable messages skipped: %(rejected)s."),
            stored=server.stored,
            rejected=server.rejected,
        ),
        highlight=False,
        soft_wrap=True,
    )
