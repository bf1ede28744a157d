"""`mamori evaluate` and `mamori catalog …`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from mamori.cli.support import console, evidence_log, handles_errors, lang, opened, say
from mamori.commitments.catalog_loader import DEMO_CATALOG, read_catalog
from mamori.commitments.evaluation import EvaluationSummary
from mamori.commitments.registry import load_all_checks
from mamori.commitments.service import CommitmentsService, CommitmentState
from mamori.commitments.status import STATUS_LABELS, CommitmentStatus
from mamori.core.clock import format_local
from mamori.core.i18n import N_
from mamori.core.settings import Settings

catalog_app = typer.Typer(help="Validate and load commitment catalogs.", no_args_is_help=True)

CatalogDir = Annotated[
    Path,
    typer.Argument(help="Catalog directory (provider.yaml, services.yaml, commitments.yaml, …)."),
]


@catalog_app.command("validate")
@handles_errors
def validate(directory: CatalogDir) -> None:
    """Check a catalog directory without touching the database."""
    catalog = read_catalog(directory, load_all_checks())
    console.print(
        say(
            N_("Catalog is valid: %(commitments)s commitments, %(services)s services."),
            commitments=len(catalog.commitments.commitments),
            services=len(catalog.services.services),
        )
    )


@catalog_app.command("load")
@handles_errors
def load(directory: CatalogDir = DEMO_CATALOG) -> None:
    """Validate a catalog directory, then write it to the database in one transaction."""
    with opened() as (_settings, database, registry), database.session() as session:
        counts = CommitmentsService(session, registry).load_catalog(directory)
    console.print(
        say(
            N_("Loaded %(commitments)s commitments, %(services)s services, %(tenants)s tenants."),
            commitments=counts.commitments,
            services=counts.services,
            tenants=counts.tenants,
        )
    )


def status_table(states: list[CommitmentState], settings: Settings) -> Table:
    """Commitments and their status as a Rich table."""
    language = lang()
    table = Table(title=say(N_("Commitment status")))
    table.add_column("#", justify="right")
    table.add_column(say(N_("Commitment")))
    table.add_column(say(N_("Status")))
    table.add_column(say(N_("Latest evidence")))
    colours = {
        CommitmentStatus.MET: "green",
        CommitmentStatus.AT_RISK: "yellow",
        CommitmentStatus.FAILING: "red",
        CommitmentStatus.NOT_EVIDENCED: "dim",
    }
    for state in states:
        evidence = state.latest_evidence_at
        table.add_row(
            str(state.commitment.position),
            state.commitment.title.get(language),
            f"[{colours[state.status]}]{say(STATUS_LABELS[state.status])}[/]",
            format_local(evidence, settings.timezone, language) if evidence else "—",
        )
    return table


def summary_json(summary: EvaluationSummary, states: list[CommitmentState]) -> str:
    """The machine-readable result of an evaluation."""
    return json.dumps(
        {
            "run_id": summary.run_id,
            "checks": summary.checks,
            "results": summary.results,
            "by_status": dict(summary.by_status),
            "errored_checks": summary.errored_checks,
            "failed_checks": summary.failed_checks,
            "commitments": [
                {
                    "id": s.commitment.id,
                    "order": s.commitment.position,
                    "status": s.status.value,
                    "latest_evidence_at": (
                        s.latest_evidence_at.isoformat() if s.latest_evidence_at else None
                    ),
                }
                for s in states
            ],
        },
        ensure_ascii=False,
        indent=2,
    )


def gate_failed(summary: EvaluationSummary, states: list[CommitmentState], strict: bool) -> bool:
    """Exit 1 when a check errored or a commitment is failing (any failure when strict)."""
    if summary.errored_checks or any(s.status is CommitmentStatus.FAILING for s in states):
        return True
    return strict and bool(summary.failed_checks)


@handles_errors
def evaluate_command(
    as_json: Annotated[
        bool, typer.Option("--json", help="Print machine-readable results.")
    ] = False,
    strict: Annotated[
        bool, typer.Option("--strict", help="Exit 1 when any check fails, not only serious ones.")
    ] = False,
) -> None:
    """Run every registered check, store the results and show each commitment's status."""
    from datetime import timedelta

    with opened() as (settings, database, registry), database.session() as session:
        service = CommitmentsService(session, registry, evidence_log(settings))
        summary = service.evaluate(trigger="cli")
        states = service.states(max_age=timedelta(hours=settings.evidence_max_age_hours))
    if as_json:
        console.print_json(summary_json(summary, states))
    else:
        console.print(status_table(states, settings))
        console.print(
            say(
                N_(
                    "%(checks)s checks, %(results)s results: "
                    "%(passed)s passed, %(failed)s failed, %(errors)s errors."
                ),
                checks=summary.checks,
                results=summary.results,
                passed=summary.by_status.get("pass", 0),
                failed=summary.by_status.get("fail", 0),
                errors=summary.by_status.get("error", 0),
            )
        )
        for check_id in summary.errored_checks:
            line = say(N_("Check raised an error: %(check)s"), check=check_id)
            console.print(f"[red]{line}[/]")
    if gate_failed(summary, states, strict):
        raise typer.Exit(1)
