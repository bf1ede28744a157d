"""`mamori ledger purge` and `mamori ledger hold …`: retention and legal holds."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import date, datetime, time, timedelta
from typing import Annotated, Any
from zoneinfo import ZoneInfo

import typer
from rich.table import Table
from rich.text import Text
from sqlalchemy import select

from mamori.cli.support import audit_trail, console, handles_errors, lang, opened, say
from mamori.core.audit import AuditRecord
from mamori.core.clock import as_utc, format_local, utcnow
from mamori.core.db import Database
from mamori.core.errors import InputError
from mamori.core.i18n import N_
from mamori.core.settings import Settings
from mamori.ledger.cli_support import cli_principal, print_json, read_only, require_tenant
from mamori.ledger.models import LedgerChunk, LegalHold
from mamori.ledger.retention import (
    RetentionPolicy,
    expired_chunks,
    new_hold,
    policy_from_catalog,
    purge,
    release_hold,
)
from mamori.ledger.service import LedgerService

hold_app = typer.Typer(
    help="Legal holds: keep events from the retention purge.", no_args_is_help=True
)

AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable results.")]
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
OPTIONS = {"starts_at": "--from", "ends_at": "--to", "reason": "--reason"}


def _by_class(chunks: Sequence[LedgerChunk], policy: RetentionPolicy) -> list[dict[str, Any]]:
    classes: dict[str, dict[str, Any]] = {}
    for chunk in chunks:
        entry = classes.setdefault(
            chunk.event_class,
            {
                "class": chunk.event_class,
                "months": policy.months_for(chunk.event_class),
                "chunks": 0,
                "events": 0,
                "oldest_received_at": as_utc(chunk.received_at).isoformat(),
            },
        )
        entry["chunks"] += 1
        entry["events"] += chunk.size
    return sorted(classes.values(), key=lambda entry: str(entry["class"]))


def _dry_run_table(classes: list[dict[str, Any]], zone: str) -> Table:
    table = Table(title=say(N_("Would be erased")))
    table.add_column(say(N_("Event class")))
    table.add_column(say(N_("Kept for (months)")), justify="right")
    table.add_column(say(N_("Chunks")), justify="right")
    table.add_column(say(N_("Events")), justify="right")
    table.add_column(say(N_("Oldest arrival")))
    for entry in classes:
        oldest = datetime.fromisoformat(entry["oldest_received_at"])
        table.add_row(
            entry["class"],
            str(entry["months"]),
            str(entry["chunks"]),
            str(entry["events"]),
            format_local(oldest, zone, lang()),
        )
    return table


@dataclass(frozen=True)
class _Purge:
    """What a purge erased, or would erase."""

    dry_run: bool
    at: datetime
    chunks: int
    events: int
    held_chunks: int
    default_months: int
    classes: list[dict[str, Any]]  # per class; only known to a dry run


def _look_ahead(database: Database, now: datetime) -> _Purge:
    with read_only(database) as session:
        policy = policy_from_catalog(session)
        due, held = expired_chunks(session, policy, now)
        classes = _by_class(due, policy)
    events = sum(entry["events"] for entry in classes)
    return _Purge(True, now, len(due), events, held, policy.default_months, classes)


def _erase(database: Database, settings: Settings, now: datetime) -> _Purge:
    writer = LedgerService(database, settings).writer
    with database.session() as session:
        policy = policy_from_catalog(session)
        result = purge(session, writer, policy, now)
    return _Purge(
        False, now, result.chunks, result.events, result.held_chunks, policy.default_months, []
    )


@handles_errors
def purge_command(
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be erased.")
    ] = False,
    as_json: AsJson = False,
) -> None:
    """Erase the events whose retention period has ended, per the commitment catalog."""
    now = utcnow()
    with opened() as (settings, database, _registry):
        outcome = _look_ahead(database, now) if dry_run else _erase(database, settings, now)
    if as_json:
        data = asdict(outcome) | {"at": now.isoformat()}
        print_json(data if dry_run else {k: v for k, v in data.items() if k != "classes"})
        return
    if outcome.classes:
        console.print(_dry_run_table(outcome.classes, settings.timezone))
    if dry_run:
        message = N_(
            "Dry run: %(events)s events in %(chunks)s chunks would be erased; "
            "%(held)s expired chunks are kept by legal holds. Nothing was changed."
        )
    else:
        message = N_(
            "Erased %(events)s events in %(chunks)s chunks; "
            "%(held)s expired chunks are kept by legal holds."
        )
    counts = {"chunks": outcome.chunks, "events": outcome.events, "held": outcome.held_chunks}
    console.print(say(message, **counts), highlight=False, soft_wrap=True)


def _moment(text: str, option: str, zone: str, *, end: bool) -> datetime:
    """A date (a whole day in the display zone; an end date counts in full) or a time."""
    try:
        if DAY.fullmatch(text.strip()):
            day = date.fromisoformat(text.strip()) + timedelta(days=1 if end else 0)
            return as_utc(datetime.combine(day, time(), ZoneInfo(zone)))
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise InputError(
            N_("not a date or time: %(value)s (write 2026-04-01 or 2026-04-01T09:00+09:00)"),
            field=option,
            params={"value": text},
        ) from None
    # In UTC, as SQLite keeps the wall-clock fields of whatever zone it is given.
    return as_utc(moment if moment.tzinfo else moment.replace(tzinfo=ZoneInfo(zone)))


@hold_app.command("add")
@handles_errors
def hold_add(
    starts: Annotated[str, typer.Option("--from", help="First day (or time) held.")],
    ends: Annotated[str, typer.Option("--to", help="Last day held (or the time it ends).")],
    reason: Annotated[str, typer.Option("--reason", help="Why (case, authority, request).")],
    tenant: Annotated[
        str | None, typer.Option("--tenant", help="Hold this tenant's events.")
    ] = None,
    everyone: Annotated[
        bool, typer.Option("--all", help="Hold every tenant's and the provider's events.")
    ] = False,
) -> None:
    """Keep events that arrived in a range from the purge until the hold is released."""
    if (tenant is None) == (not everyone):
        raise InputError(
            N_("name one tenant with --tenant, or hold everything with --all"), field="--tenant"
        )
    with opened() as (settings, database, _registry), database.session() as session:
        if tenant is not None:
            require_tenant(session, tenant)
        start = _moment(starts, "--from", settings.timezone, end=False)
        end = _moment(ends, "--to", settings.timezone, end=True)
        principal = cli_principal()
        try:
            hold = new_hold(tenant, start, end, reason, principal.label, utcnow())
        except InputError as error:  # name the option, not the stored field
            error.field = OPTIONS.get(error.field or "", error.field)
            raise
        session.add(hold)
        audit_trail(settings).record(
            session,
            AuditRecord.by(
                principal,
                "legal_hold.add",
                "legal_hold",
                hold.id,
                tenant,
                starts_at=as_utc(start).isoformat(),
                ends_at=as_utc(end).isoformat(),
                reason=hold.reason,
            ),
        )
        hold_id = hold.id
    console.print(say(N_("Legal hold %(id)s added."), id=hold_id), highlight=False, soft_wrap=True)


def _hold_json(hold: LegalHold) -> dict[str, Any]:
    return {
        "id": hold.id,
        "tenant_id": hold.tenant_id,
        "starts_at": as_utc(hold.starts_at).isoformat(),
        "ends_at": as_utc(hold.ends_at).isoformat(),
        "reason": hold.reason,
        "created_by": hold.created_by,
        "created_at": as_utc(hold.created_at).isoformat(),
        "released_at": as_utc(hold.released_at).isoformat() if hold.released_at else None,
    }


@hold_app.command("list")
@handles_errors
def hold_list(as_json: AsJson = False) -> None:
    """Every legal hold, newest first: active ones keep their events from the purge."""
    with opened() as (settings, database, _registry), read_only(database) as session:
        holds = list(session.scalars(select(LegalHold).order_by(LegalHold.created_at.desc())))
    if as_json:
        print_json([_hold_json(hold) for hold in holds])
        return
    if not holds:
        console.print(say(N_("There are no legal holds.")))
    for hold in holds:
        console.print(_hold_text(hold, settings.timezone), highlight=False, soft_wrap=True)


def _hold_text(hold: LegalHold, zone: str) -> Text:
    """Three lines per hold, readable at any terminal width; the id comes first, whole."""
    language = lang()
    if hold.released_at is None:
        state = Text(say(N_("active")), style="bold yellow")
    else:
        when = format_local(hold.released_at, zone, language)
        state = Text(say(N_("released %(when)s"), when=when), style="dim")
    scope = say(N_("tenant %(tenant)s"), tenant=hold.tenant_id) if hold.tenant_id else None
    span = say(
        N_("%(scope)s, arrived from %(start)s until %(end)s"),
        scope=scope or say(N_("every tenant and the provider")),
        start=format_local(hold.starts_at, zone, language),
        end=format_local(hold.ends_at, zone, language),
    )
    added = format_local(hold.created_at, zone, language)
    return Text.assemble(
        (hold.id, "bold"), "  ", state, "\n  ", span, "\n  ", hold.reason,
        f" ({hold.created_by}, {added})\n",
    )  # fmt: skip


@hold_app.command("release")
@handles_errors
def hold_release(hold_id: Annotated[str, typer.Argument(help="The hold's id.")]) -> None:
    """End a legal hold; the next purge may erase what it kept."""
    with opened() as (settings, database, _registry), database.session() as session:
        hold = release_hold(session, hold_id, utcnow())
        record = AuditRecord.by(
            cli_principal(), "legal_hold.release", "legal_hold", hold.id, hold.tenant_id
        )
        audit_trail(settings).record(session, record)
    console.print(
        say(N_("Legal hold %(id)s released."), id=hold_id), highlight=False, soft_wrap=True
    )
