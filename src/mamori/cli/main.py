"""The root `mamori` command."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import Progress, SpinnerColumn, TextColumn
from sqlalchemy.orm import Session

from mamori import __version__
from mamori.cli.support import console, evidence_log, handles_errors, opened, say
from mamori.commitments.catalog_loader import DEMO_CATALOG
from mamori.commitments.cli import catalog_app, evaluate_command
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.i18n import LANGUAGES, N_
from mamori.core.settings import Settings
from mamori.ledger.cli import ledger_app
from mamori.posture.cli import posture_app
from mamori.publishing.cli import whitepaper_command
from mamori.publishing.service import PublishingService
from mamori.tenants.cli import invite_demo_accounts, users_app
from mamori.web.cli import serve_app, serve_command, worker_command

app = typer.Typer(
    name="mamori",
    help="Run a cloud service under ISO/IEC 27017: commitments, checks, evidence, whitepaper.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
app.add_typer(catalog_app, name="catalog")
app.add_typer(users_app, name="users")
app.add_typer(ledger_app, name="ledger")
app.add_typer(posture_app, name="posture")
app.command("evaluate")(evaluate_command)
app.command("whitepaper")(whitepaper_command)
app.command("serve")(serve_command)
app.command("worker")(worker_command)


def _version(value: bool) -> None:
    if value:
        console.print(f"mamori {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    version: Annotated[
        bool, typer.Option("--version", callback=_version, is_eager=True, help="Show the version.")
    ] = False,
) -> None:
    """mamori: ISO/IEC 27017 commitments as data, checks as evidence."""


@app.command("init")
@handles_errors
def init() -> None:
    """Create the data directory and bring the database schema up to date."""
    with opened(migrate=True) as (settings, database, _registry):
        console.print(
            say(N_("Database ready: %(url)s"), url=database.engine.url.render_as_string())
        )
        console.print(say(N_("Data directory: %(path)s"), path=str(settings.data_dir.resolve())))


def seed_demo_ledger(database: Database, settings: Settings) -> int:
    """Demo events for every subscription, then one detection run; events stored."""
    from mamori.core.clock import utcnow
    from mamori.core.mail.memory import MemoryNotifier
    from mamori.ledger import demo as demo_ledger
    from mamori.ledger.ingest import CachedAttribution, IngestService, attribution_from_database
    from mamori.ledger.monitoring import Monitor
    from mamori.ledger.service import LedgerService
    from mamori.ledger.syslog_server import syslog_principal
    from mamori.tenants.service import TenantsService

    with database.session() as session:
        pairs = [
            (tenant.id, link.service_id)
            for tenant in TenantsService(session).tenants()
            for link in tenant.subscriptions
        ]
    ingest = IngestService(
        LedgerService(database, settings),
        settings,
        CachedAttribution(lambda: attribution_from_database(database, settings)),
    )
    stored = demo_ledger.seed(ingest, syslog_principal("127.0.0.1"), pairs, utcnow())
    Monitor(database, settings, MemoryNotifier()).run(utcnow())  # alerts stay in the portal
    return stored


def seed_demo_posture(session: Session) -> int:
    """Store the demo provider's made-up cloud estate as a snapshot; its id."""
    from mamori.core.clock import utcnow
    from mamori.posture.attribution import AttributionRules
    from mamori.posture.demo import demo_snapshot
    from mamori.posture.service import PostureService
    from mamori.tenants.service import TenantsService

    tenants = TenantsService(session)
    subscribed: dict[str, list[str]] = {}
    for tenant in tenants.tenants():
        for link in tenant.subscriptions:
            subscribed.setdefault(link.service_id, []).append(tenant.id)
    services = [
        (service.id, list(service.platforms or []), subscribed.get(service.id, []))
        for service in tenants.services()
    ]
    snapshot = demo_snapshot(services, utcnow())
    return PostureService(session).store(snapshot, "demo", AttributionRules()).id


def record_demo_posture(session: Session, snapshot_id: int, run_id: int) -> None:
    """Turn the demo evaluation's posture results into findings."""
    from mamori.posture.service import PostureService

    service = PostureService(session)
    service.record_run(service.get(snapshot_id), run_id)


@app.command("demo")
@handles_errors
def demo(
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Serve the portal afterwards.")
    ] = True,
) -> None:
    """Load the demo provider, evaluate, write the whitepapers, then serve."""
    with opened(migrate=True) as (settings, database, registry):
        catalog = settings.catalog_dir or DEMO_CATALOG
        out = settings.resolved_output_dir
        with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console) as bar:
            task = bar.add_task(say(N_("Loading the catalog")), total=None)
            with database.session() as session:
                CommitmentsService(session, registry).load_catalog(catalog)
            bar.update(task, description=say(N_("Sending demo events to the ledger")))
            seed_demo_ledger(database, settings)
            bar.update(task, description=say(N_("Loading a demo cloud snapshot")))
            with database.session() as session:
                snapshot_id = seed_demo_posture(session)
            bar.update(task, description=say(N_("Evaluating checks")))
            with database.session() as session:
                evidence = evidence_log(settings)
                summary = CommitmentsService(session, registry, evidence).evaluate(trigger="demo")
                record_demo_posture(session, snapshot_id, summary.run_id)
            bar.update(task, description=say(N_("Writing whitepapers")))
            with database.session() as session:
                written = PublishingService(session, registry, settings).write_whitepapers(
                    out, langs=LANGUAGES, formats=("html", "pdf")
                )
        console.print(
            say(
                N_("Evaluated %(checks)s checks (%(results)s results)."),
                checks=summary.checks,
                results=summary.results,
            )
        )
        for path in written:
            console.print(say(N_("Wrote %(path)s"), path=str(path)), highlight=False)
        with database.session() as session:
            links = invite_demo_accounts(session, settings)
        for email, url in links:
            console.print(
                say(N_("Sign-up link for %(email)s: %(url)s"), email=email, url=url),
                highlight=False,
                soft_wrap=True,
            )
    if serve:
        serve_app(settings.host, settings.port)
