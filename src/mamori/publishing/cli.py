"""`mamori whitepaper`."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from mamori.cli.support import console, handles_errors, opened, say
from mamori.core.errors import InputError
from mamori.core.i18n import N_
from mamori.publishing.service import PublishingService


class LangOption(StrEnum):
    """Languages on the command line."""

    ja = "ja"
    en = "en"


class FormatOption(StrEnum):
    """Output formats on the command line."""

    html = "html"
    pdf = "pdf"
    md = "md"


@handles_errors
def whitepaper_command(
    lang: Annotated[LangOption, typer.Option("--lang", help="Language of the whitepaper.")] = (
        LangOption.ja
    ),
    fmt: Annotated[FormatOption, typer.Option("--format", help="Output format.")] = (
        FormatOption.html
    ),
    with_status: Annotated[
        bool, typer.Option("--with-status", help="Show each commitment's live status.")
    ] = False,
    output: Annotated[
        Path | None,
        typer.Option("--output", "-o", help="File to write; stdout when omitted (not for pdf)."),
    ] = None,
) -> None:
    """Render the customer whitepaper from the database."""
    if output is None and fmt is FormatOption.pdf:
        raise InputError(N_("a PDF needs a file: pass --output PATH"), field="--output")
    with opened() as (settings, database, registry), database.session() as session:
        rendered = PublishingService(session, registry, settings).whitepaper(
            lang=lang.value, fmt=fmt.value, with_status=with_status
        )
    if output is None:
        sys.stdout.buffer.write(rendered.content)
        sys.stdout.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(rendered.content)
    console.print(say(N_("Wrote %(path)s"), path=str(output)), highlight=False)
