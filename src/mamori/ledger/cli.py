"""`mamori ledger …`: verify the ledger, read its checkpoints and key, and issue proofs.

Importing, the syslog listener, retention and legal holds live in `cli_ingest` and
`cli_holds`; this module mounts them on the one `ledger` command.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from sqlalchemy import func, select

from mamori.cli.support import console, handles_errors, lang, opened, say
from mamori.core.clock import as_utc, format_local
from mamori.core.db import Database
from mamori.core.i18n import N_
from mamori.ledger.cli_holds import hold_app, purge_command
from mamori.ledger.cli_ingest import import_command, syslog_command
from mamori.ledger.cli_support import emit, print_json, read_only
from mamori.ledger.models import LedgerCheckpoint, LedgerCosignature, LedgerState
from mamori.ledger.proofs import build_bundle, bundle_bytes, consistency
from mamori.ledger.service import LedgerService
from mamori.ledger.stored import stored_event_count
from mamori.ledger.verify import MAX_PROBLEMS, PARALLEL_MIN_EVENTS, Report

ledger_app = typer.Typer(
    help="The tamper-evident ledger: verify, import, syslog, retention, holds, proofs.",
    no_args_is_help=True,
)

AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable results.")]
Jobs = Annotated[
    int,
    typer.Option(
        "--jobs",
        "-j",
        min=1,
        help="Worker threads that check the chunks in parallel (default 1: none); "
        f"a ledger of fewer than {PARALLEL_MIN_EVENTS:,} events is checked without them.",
    ),
]
Output = Annotated[
    Path | None, typer.Option("--output", "-o", help="File to write; stdout when omitted.")
]


class Part(StrEnum):
    """The parts of an event a proof bundle can withhold."""

    subject = "subject"
    content = "content"


def _event_count(database: Database) -> int:
    with read_only(database) as session:
        return stored_event_count(session)


def _run_verify(
    ledger: LedgerService, jobs: int, progress: Callable[[int], None] | None = None
) -> Report:
    """`ledger.verify`, with the chunks checked by `jobs` worker threads."""
    return ledger.verify(progress, jobs=jobs)


def _verify_with_progress(ledger: LedgerService, jobs: int) -> Report:
    total = _event_count(ledger.database)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(
        *columns, console=console, transient=True, disable=not console.is_terminal
    ) as bar:
        task = bar.add_task(say(N_("Checking events")), total=total)
        report = _run_verify(ledger, jobs, lambda checked: bar.update(task, completed=checked))
        bar.update(task, completed=report.events)
    return report


def _report_json(report: Report) -> dict[str, Any]:
    return {
        "ok": report.ok,
        "events": report.events,
        "chunks": report.chunks,
        "purged_chunks": report.purged_chunks,
        "checkpoints": report.checkpoints,
        "cosignatures": report.cosignatures,
        "tree_size": report.tree_size,
        "next_seq": report.next_seq,
        "problems": [{"where": p.where, "what": p.what} for p in report.problems],
    }


def _print_report(report: Report) -> None:
    console.print(
        say(
            N_(
                "Events checked: %(events)s; chunks: %(chunks)s (purged: %(purged)s); "
                "checkpoints: %(checkpoints)s; cosignatures: %(cosignatures)s."
            ),
            events=report.events,
            chunks=report.chunks,
            purged=report.purged_chunks,
            checkpoints=report.checkpoints,
            cosignatures=report.cosignatures,
        ),
        highlight=False,
        soft_wrap=True,
    )
    if report.ok:
        verified = say(N_("The ledger verifies: nothing was changed."))
        console.print(f"[green]{escape(verified)}[/]", highlight=False, soft_wrap=True)
        return
    first = report.problems[0]
    line = say(
        N_("The ledger does not verify. First problem: %(where)s: %(what)s"),
        where=first.where,
        what=first.what,
    )
    console.print(f"[bold red]{escape(line)}[/]", highlight=False, soft_wrap=True)
    if len(report.problems) > 1:
        console.print(say(N_("Problems found (at most %(max)s):"), max=MAX_PROBLEMS))
        for problem in report.problems:
            console.print(
                f"  - {problem.where}: {problem.what}",
                markup=False,
                highlight=False,
                soft_wrap=True,
            )


@ledger_app.command("verify")
@handles_errors
def verify(as_json: AsJson = False, jobs: Jobs = 1) -> None:
    """Recompute every hash in the ledger and check every signature; exit 1 on any problem."""
    with opened() as (settings, database, _registry):
        ledger = LedgerService(database, settings)
        report = _run_verify(ledger, jobs) if as_json else _verify_with_progress(ledger, jobs)
    if as_json:
        print_json(_report_json(report))
    else:
        _print_report(report)
    if not report.ok:
        raise typer.Exit(1)


@ledger_app.command("checkpoints")
@handles_errors
def checkpoints(
    as_json: AsJson = False,
    limit: Annotated[
        int, typer.Option("--limit", min=0, help="Newest checkpoints to show; 0 shows all.")
    ] = 50,
) -> None:
    """The published checkpoints (newest first) and the signed head."""
    with opened() as (settings, database, _registry), read_only(database) as session:
        statement = select(LedgerCheckpoint).order_by(LedgerCheckpoint.size.desc())
        rows = list(session.scalars(statement.limit(limit) if limit else statement))
        counted = select(LedgerCosignature.checkpoint_size, func.count()).group_by(
            LedgerCosignature.checkpoint_size
        )
        cosigned = {int(size): int(count) for size, count in session.execute(counted)}
        head = session.get(LedgerState, 1)
    listed: list[dict[str, Any]] = [
        {
            "size": row.size,
            "created_at": as_utc(row.created_at).isoformat(),
            "root": base64.b64encode(row.root).decode(),
            "cosignatures": cosigned.get(row.size, 0),
            "note": row.note,
        }
        for row in rows
    ]
    if as_json:
        print_json({"head": _head_json(head), "checkpoints": listed})
        return
    table = Table(title=say(N_("Published checkpoints")))
    table.add_column(say(N_("Size")), justify="right")
    table.add_column(say(N_("Published")))
    table.add_column(say(N_("Root hash")), overflow="fold")
    table.add_column(say(N_("Cosignatures")), justify="right")
    for row, entry in zip(rows, listed, strict=True):
        when = format_local(row.created_at, settings.timezone, lang())
        table.add_row(str(row.size), when, entry["root"], str(entry["cosignatures"]))
    console.print(table)
    if head is not None and head.updated_at is not None:
        console.print(
            say(
                N_("Signed head: log size %(size)s, events so far %(events)s, updated %(when)s."),
                size=head.tree_size,
                events=head.next_seq,
                when=format_local(head.updated_at, settings.timezone, lang()),
            ),
            highlight=False,
            soft_wrap=True,
        )


def _head_json(head: LedgerState | None) -> dict[str, Any] | None:
    if head is None or head.updated_at is None:
        return None
    return {
        "size": head.tree_size,
        "next_seq": head.next_seq,
        "updated_at": as_utc(head.updated_at).isoformat(),
        "note": head.note,
    }


@ledger_app.command("vkey")
@handles_errors
def vkey() -> None:
    """Print the log's verifier key (publish it: verifiers need nothing else)."""
    with opened() as (settings, database, _registry):
        key = LedgerService(database, settings).vkey
    typer.echo(key)


@ledger_app.command("proof")
@handles_errors
def proof(
    seqs: Annotated[list[int], typer.Argument(help="Positions (seq) of the events to prove.")],
    redact: Annotated[
        list[Part] | None,
        typer.Option("--redact", help="Withhold this part of every event (repeatable)."),
    ] = None,
    checkpoint: Annotated[
        int | None,
        typer.Option(
            "--checkpoint",
            help="Bind to the checkpoint of this size (default: the "
            "smallest that covers every event).",
        ),
    ] = None,
    output: Output = None,
) -> None:
    """A proof bundle for events, checkable offline with tools/mamori_verify.py."""
    parts = sorted({part.value for part in redact or []})
    hidden = dict.fromkeys(seqs, parts) if parts else {}
    with opened() as (settings, database, _registry), read_only(database) as session:
        key = LedgerService(database, settings).vkey
        bundle = build_bundle(session, key, seqs, redact=hidden, checkpoint_size=checkpoint)
    emit(bundle_bytes(bundle), output)


@ledger_app.command("consistency")
@handles_errors
def consistency_command(
    old_size: Annotated[int, typer.Argument(help="Size of the earlier published checkpoint.")],
    new_size: Annotated[
        int | None, typer.Argument(help="Size of the later checkpoint (default: the head).")
    ] = None,
    output: Output = None,
) -> None:
    """A proof that the later checkpoint extends the earlier one (nothing rewritten)."""
    with opened() as (_settings, database, _registry), read_only(database) as session:
        document = consistency(session, old_size, new_size)
    emit(bundle_bytes(document), output)


ledger_app.command("import")(import_command)
ledger_app.command("syslog")(syslog_command)
ledger_app.command("purge")(purge_command)
ledger_app.add_typer(hold_app, name="hold")
