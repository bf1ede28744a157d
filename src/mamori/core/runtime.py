"""Open the configured database, checking its schema is current."""

from __future__ import annotations

from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.exc import OperationalError

from mamori.core.db import Database
from mamori.core.errors import ConfigurationError
from mamori.core.i18n import N_
from mamori.core.migrations import alembic_config, upgrade
from mamori.core.settings import Settings


def schema_is_current(database: Database) -> bool:
    """Whether the database is migrated to the newest revision."""
    script = ScriptDirectory.from_config(alembic_config(database.url))
    with database.engine.connect() as connection:
        current = MigrationContext.configure(connection).get_current_heads()
    return set(current) == set(script.get_heads())


def open_database(settings: Settings, *, migrate: bool = False) -> Database:
    """The configured database; migrated first when `migrate`, else it must be current."""
    url = settings.resolved_database_url
    if url.startswith("sqlite"):
        settings.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        if migrate:
            upgrade(url)
        database = Database(url, echo=settings.sql_echo)
        if not migrate and not schema_is_current(database):
            raise ConfigurationError(
                N_("the database schema is missing or out of date"), hint="mamori init"
            )
    except OperationalError as exc:
        raise ConfigurationError(
            N_("cannot open the database: %(problem)s"),
            params={"problem": str(exc.orig) if exc.orig else str(exc)},
        ) from exc
    return database
