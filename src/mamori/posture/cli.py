"""`mamori posture collect|load|evaluate|diff|export`."""

from __future__ import annotations

import json
import sys
from collections import Counter
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from mamori.cli.support import console, evidence_log, handles_errors, lang, opened, say
from mamori.commitments.registry import Finding
from mamori.commitments.service import CommitmentsService
from mamori.core.errors import InputError
from mamori.core.i18n import N_, translate
from mamori.core.scope import TenantScope
from mamori.posture.evaluation import evaluate_snapshot, facts_for
from mamori.posture.export import findings_csv, ocsf_event
from mamori.posture.repository import FindingQuery
from mamori.posture.service import (
    PostureService,
    evaluate_latest,
    open_snapshot,
    rules_from_settings,
)
from mamori.posture.snapshot import (
    Snapshot,
    SnapshotDiff,
    SnapshotFileError,
    diff,
    read_snapshot,
    write_snapshot,
)

posture_app = typer.Typer(
    help="Cloud posture: collect AWS and Azure configuration, evaluate, diff, export.",
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable results.")]


def _read(path: Path) -> Snapshot:
    try:
        return read_snapshot(path)
    except FileNotFoundError as exc:
        raise InputError(N_("no such file: %(path)s"), params={"path": str(path)}) from exc
    except SnapshotFileError as exc:
        raise InputError(
            N_("%(file)s, line %(line)s: %(problem)s"),
            file=exc.path,
            line=exc.line,
            params={"file": exc.path, "line": exc.line, "problem": exc.problem},
        ) from exc


@posture_app.command("collect")
@handles_errors
def collect_command(
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Also write the snapshot to this file.")
    ] = None,
    store: Annotated[
        bool, typer.Option("--store/--no-store", help="Keep the snapshot in the database.")
    ] = True,
) -> None:
    """Read the configured AWS accounts and Azure subscriptions into a new snapshot."""
    from mamori.posture.sources import collectors_from_settings

    with opened() as (settings, database, _registry):
        collectors = collectors_from_settings(settings)
        from mamori.posture.collectors.base import collect

        with console.status(say(N_("Collecting cloud configuration…"))):
            snapshot = collect(collectors)
        if output is not None:
            write_snapshot(snapshot, output)
        if store:
            with database.session() as session:
                rules = rules_from_settings(session, settings.posture_attribution_file)
                row = PostureService(session).store(snapshot, "collect", rules)
                console.print(say(N_("Stored snapshot %(id)s."), id=row.id))
    _print_coverage(snapshot)


@posture_app.command("load")
@handles_errors
def load_command(
    file: Annotated[Path, typer.Argument(help="A snapshot file written by collect -o.")],
) -> None:
    """Store a snapshot file collected elsewhere (for example in an air-gapped network)."""
    snapshot = _read(file)
    with opened() as (settings, database, _registry), database.session() as session:
        rules = rules_from_settings(session, settings.posture_attribution_file)
        row = PostureService(session).store(snapshot, file.name, rules)
        console.print(say(N_("Stored snapshot %(id)s."), id=row.id))
    _print_coverage(snapshot)


def _print_coverage(snapshot: Snapshot) -> None:
    calls = Counter(entry.ok for entry in snapshot.coverage)
    console.print(
        say(
            N_("%(resources)s resources; %(ok)s calls answered, %(failed)s failed."),
            resources=len(snapshot.resources),
            ok=calls[True],
            failed=calls[False],
        )
    )
    for entry in snapshot.coverage:
        if not entry.ok and not entry.resource:
            where = f"{entry.provider}:{entry.account}/{entry.region}"
            problem = escape(f"{entry.service}:{entry.operation} {entry.error_code}")
            console.print(f"[yellow]{escape(where)}[/] {problem}", highlight=False)


@posture_app.command("evaluate")
@handles_errors
def evaluate_command(
    snapshot_file: Annotated[
        Path | None,
        typer.Option("--snapshot", help="Evaluate this file only; nothing is stored."),
    ] = None,
    as_json: AsJson = False,
) -> None:
    """Evaluate every check on the latest snapshot and update findings (or on a file)."""
    with opened() as (settings, database, registry), database.session() as session:
        rules = rules_from_settings(session, settings.posture_attribution_file)
        if snapshot_file is not None:
            commitments = CommitmentsService(session, registry).repository.commitments()
            results = evaluate_snapshot(
                facts_for(_read(snapshot_file), rules), registry, commitments
            )
            _print_results(results, as_json)
            raise typer.Exit(1 if any(f.status == "fail" for _, f in results) else 0)
        done = evaluate_latest(session, registry, evidence_log(settings), rules)
        if done is None:
            raise InputError(
                N_("no snapshot is stored yet"), hint=N_("mamori posture collect, or load FILE")
            )
    row, record = done.snapshot, done.record
    counts = dict(record.counts)
    if as_json:
        console.print_json(
            json.dumps(
                {
                    "snapshot_id": row.id,
                    "run_id": done.run_id,
                    "counts": counts,
                    "opened": record.opened,
                    "resolved": record.resolved,
                }
            )
        )
    else:
        console.print(
            say(
                N_(
                    "Snapshot %(id)s: %(passed)s passed, %(failed)s failed, %(unknown)s unknown; "
                    "%(opened)s findings opened, %(resolved)s resolved."
                ),
                id=row.id,
                passed=counts.get("pass", 0),
                failed=counts.get("fail", 0),
                unknown=counts.get("unknown", 0),
                opened=record.opened,
                resolved=record.resolved,
            )
        )
    if counts.get("fail", 0):
        raise typer.Exit(1)


def _print_results(results: list[tuple[str, Finding]], as_json: bool) -> None:
    language = lang()
    if as_json:
        rows = [
            {
                "check": check_id,
                "status": str(finding.status),
                "subject": finding.subject,
                "message": translate(language, finding.message, finding.params),
                "details": dict(finding.details),
            }
            for check_id, finding in results
        ]
        sys.stdout.write(json.dumps(rows, ensure_ascii=False, indent=2) + "\n")
        return
    table = Table(title=say(N_("Posture results")))
    for column in (N_("Check"), N_("Status"), N_("Subject"), N_("Message")):
        table.add_column(say(column))
    for check_id, finding in results:
        if finding.status in ("fail", "unknown"):
            message = translate(language, finding.message, finding.params)
            table.add_row(check_id, str(finding.status), finding.subject, message)
    console.print(table)
    counts = Counter(str(finding.status) for _, finding in results)
    console.print(", ".join(f"{status}: {count}" for status, count in sorted(counts.items())))


def _snapshot_argument(value: str, service: PostureService) -> Snapshot:
    if value.isascii() and value.isdigit():
        return open_snapshot(service.get(int(value)))
    return _read(Path(value))


@posture_app.command("diff")
@handles_errors
def diff_command(
    before: Annotated[str, typer.Argument(help="The older snapshot: a file or a stored id.")],
    after: Annotated[str, typer.Argument(help="The newer snapshot: a file or a stored id.")],
    as_json: AsJson = False,
) -> None:
    """What changed between two snapshots: resources and calls that failed or recovered."""
    if any(arg.isascii() and arg.isdigit() for arg in (before, after)):
        with opened() as (_settings, database, _registry), database.session() as session:
            service = PostureService(session)
            changes = diff(_snapshot_argument(before, service), _snapshot_argument(after, service))
    else:
        changes = diff(_read(Path(before)), _read(Path(after)))
    _print_diff(changes, as_json)
    if not changes.empty:
        raise typer.Exit(1)


def _print_diff(changes: SnapshotDiff, as_json: bool) -> None:
    data: dict[str, object] = {
        "added": [r.key for r in changes.added],
        "removed": [r.key for r in changes.removed],
        "changed": [{"key": c.key, "fields": list(c.fields)} for c in changes.changed],
        "coverage_lost": [e.to_json() for e in changes.coverage_lost],
        "coverage_regained": [e.to_json() for e in changes.coverage_regained],
    }
    if as_json:
        sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + "\n")
        return
    for resource in changes.added:
        console.print(f"[green]+ {escape(resource.key)}[/]", highlight=False)
    for resource in changes.removed:
        console.print(f"[red]- {escape(resource.key)}[/]", highlight=False)
    for change in changes.changed:
        console.print(f"~ {escape(change.key)}: {', '.join(change.fields)}", highlight=False)
    for entry in changes.coverage_lost:
        call = f"{entry.account}/{entry.region} {entry.service}:{entry.operation}"
        console.print(f"[yellow]! {escape(call)} {escape(entry.error_code)}[/]", highlight=False)
    if changes.empty:
        console.print(say(N_("No differences.")))


class ExportFormat(StrEnum):
    """Formats of `mamori posture export`."""

    CSV = "csv"
    OCSF = "ocsf"


@posture_app.command("export")
@handles_errors
def export_command(
    format: Annotated[ExportFormat, typer.Option("--format", help="csv or ocsf (JSON).")] = (
        ExportFormat.CSV
    ),
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write; stdout when omitted.")
    ] = None,
    include_resolved: Annotated[
        bool, typer.Option("--all", help="Include resolved findings.")
    ] = False,
    tenant: Annotated[str | None, typer.Option("--tenant", help="Only this tenant.")] = None,
) -> None:
    """Export findings with resource, tenant, service, first and last seen and resolution."""
    with opened() as (settings, database, registry), database.session() as session:
        query = FindingQuery(open_only=not include_resolved, tenant_id=tenant)
        findings = PostureService(session).findings(TenantScope.everything(), query)
        if format is ExportFormat.CSV:
            text = findings_csv(findings, registry, lang(), settings.timezone)
        else:
            events = [ocsf_event(finding, registry, lang()) for finding in findings]
            text = json.dumps(events, ensure_ascii=False, indent=2) + "\n"
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text, encoding="utf-8")
