"""What the `mamori ledger …` command modules share: who acts, reads, tenants, outputs."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import typer
from sqlalchemy.orm import Session

from mamori.cli.support import console, say
from mamori.core.db import READ_ONLY, Database
from mamori.core.errors import InputError
from mamori.core.i18n import N_
from mamori.core.scope import Principal
from mamori.tenants.permissions import Permission
from mamori.tenants.service import TenantsService


def cli_principal(tenant_id: str | None = None) -> Principal:
    """The operator at the shell, as the audit trail records it.

    With `tenant_id`, it acts for that tenant: ingest then places every event there.
    """
    return Principal(
        user_id="cli",
        email="mamori-cli",
        display_name="mamori CLI",
        role="system",
        tenant_id=tenant_id,
        permissions=frozenset({Permission.INGEST_EVENTS, Permission.MANAGE_LEGAL_HOLDS}),
        address="local",
    )


@contextmanager
def read_only(database: Database) -> Iterator[Session]:
    """A session for reading only: one consistent snapshot that never holds the writer lock."""
    with database.engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection = connection.execution_options(isolation_level="REPEATABLE READ")
        else:
            connection = connection.execution_options(**READ_ONLY)
        with connection.begin(), Session(bind=connection) as session:
            yield session


def require_tenant(session: Session, tenant_id: str, option: str = "--tenant") -> str:
    """`tenant_id` when such a tenant exists; bad input naming the option otherwise."""
    if tenant_id not in {tenant.id for tenant in TenantsService(session).tenants()}:
        raise InputError(
            N_("there is no tenant %(tenant)s"),
            field=option,
            params={"tenant": tenant_id},
            hint=N_("tenants come from the catalog: mamori catalog load DIR"),
        )
    return tenant_id


def require_service(session: Session, service_id: str, option: str = "--service") -> str:
    """`service_id` when such a service exists; bad input naming the option otherwise."""
    if service_id not in {service.id for service in TenantsService(session).services()}:
        raise InputError(
            N_("unknown service '%(service)s'"), field=option, params={"service": service_id}
        )
    return service_id


def print_json(data: Any) -> None:
    """`data` as indented JSON on stdout, exactly (no styling, no wrapping)."""
    typer.echo(json.dumps(data, ensure_ascii=False, indent=2))


def emit(content: bytes, output: Path | None) -> None:
    """`content` to `output`, or to stdout when no file is named."""
    if output is None:
        sys.stdout.flush()
        sys.stdout.buffer.write(content)
        sys.stdout.flush()
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_bytes(content)
    console.print(say(N_("Wrote %(path)s"), path=str(output)), highlight=False, soft_wrap=True)
