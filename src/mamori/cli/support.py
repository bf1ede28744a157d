"""What every CLI command shares: settings, the console, error rendering, exit codes."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.markup import escape

from mamori.commitments.registry import CheckRegistry, load_all_checks
from mamori.core.audit import AuditTrail
from mamori.core.db import Database
from mamori.core.errors import MamoriError
from mamori.core.evidence import EvidenceLog
from mamori.core.i18n import N_, Lang, translate
from mamori.core.runtime import open_database
from mamori.core.settings import Settings, get_settings

console = Console()
err_console = Console(stderr=True)

P = ParamSpec("P")
R = TypeVar("R")


def lang() -> Lang:
    """The language of CLI messages."""
    return get_settings().default_language


def say(message: str, **params: object) -> str:
    """`message` translated into the CLI language."""
    return translate(lang(), message, params)


def fail_with(error: MamoriError) -> typer.Exit:
    """Print `error` as one line (plus a hint) and return the exit to raise."""
    label, hint = say(N_("error")), say(N_("hint"))
    err_console.print(
        f"[bold red]{label}:[/] {escape(error.render(lang()))}", highlight=False, soft_wrap=True
    )
    if error.hint:
        err_console.print(f"{hint}: {escape(say(error.hint))}", highlight=False)
    return typer.Exit(error.exit_code)


def handles_errors(function: Callable[P, R]) -> Callable[P, R]:
    """Render MamoriError in the one CLI way: a line, a hint, an exit code."""

    @wraps(function)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return function(*args, **kwargs)
        except MamoriError as error:
            raise fail_with(error) from error

    return wrapper


def audit_trail(settings: Settings) -> AuditTrail:
    """The audit trail commands record into: the ledger, signed with this install's key."""
    from mamori.ledger.audit import LedgerAuditTrail
    from mamori.ledger.store import LedgerWriter, log_signer

    return LedgerAuditTrail(LedgerWriter(log_signer(settings)))


def evidence_log(settings: Settings) -> EvidenceLog:
    """Where check results go as evidence: the ledger."""
    from mamori.ledger.evidence import LedgerEvidenceLog
    from mamori.ledger.store import LedgerWriter, log_signer

    return LedgerEvidenceLog(LedgerWriter(log_signer(settings)))


@contextmanager
def opened(*, migrate: bool = False) -> Iterator[tuple[Settings, Database, CheckRegistry]]:
    """Settings, an open database and the full check registry for one command."""
    settings = get_settings()
    database = open_database(settings, migrate=migrate)
    try:
        yield settings, database, load_all_checks()
    finally:
        database.dispose()
