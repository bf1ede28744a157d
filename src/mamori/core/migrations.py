"""Run the Alembic history against a database URL."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

import mamori


def migrations_dir() -> Path:
    """The Alembic script directory: bundled in a wheel, or at the repository root."""
    package_dir = Path(mamori.__file__).parent
    bundled = package_dir / "_migrations"
    if bundled.is_dir():
        return bundled
    return package_dir.parents[1] / "migrations"


def alembic_config(url: str) -> Config:
    """An Alembic config pointing at `url`, independent of the working directory."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir()))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(url: str, revision: str = "head") -> None:
    """Bring the schema up to `revision`."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str, revision: str = "base") -> None:
    """Take the schema down to `revision`."""
    command.downgrade(alembic_config(url), revision)
