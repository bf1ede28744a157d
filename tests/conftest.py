"""Shared fixtures: every database test runs on SQLite and on a real PostgreSQL server."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from mamori.commitments.catalog_loader import DEMO_CATALOG
from mamori.commitments.registry import CheckRegistry, load_all_checks
from mamori.commitments.service import CommitmentsService
from mamori.core import migrations
from mamori.core.db import Database
from mamori.core.settings import Settings, get_settings
from tests.support.pgcluster import ThrowawayPostgres

BACKENDS = [
    b.strip() for b in os.environ.get("MAMORI_TEST_DATABASES", "sqlite,postgresql").split(",")
]


@pytest.fixture(autouse=True)
def _isolated_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No test reads the developer's mamori.toml or MAMORI_* environment."""
    for name in list(os.environ):
        if name.startswith("MAMORI_") and name not in {"MAMORI_TEST_DATABASES", "MAMORI_PG_BIN"}:
            monkeypatch.delenv(name)
    monkeypatch.setenv("MAMORI_CONFIG", str(tmp_path / "absent-mamori.toml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[ThrowawayPostgres]:
    """One throwaway PostgreSQL cluster for the whole run."""
    server = ThrowawayPostgres()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def migrated_templates(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, str]:
    """Per backend, a database migrated once that tests copy (migrating each time is slow)."""
    templates: dict[str, str] = {}
    if "sqlite" in BACKENDS:
        path = tmp_path_factory.mktemp("template") / "template.db"
        migrations.upgrade(f"sqlite:///{path}")
        templates["sqlite"] = str(path)
    if "postgresql" in BACKENDS:
        server: ThrowawayPostgres = request.getfixturevalue("postgres_server")
        migrations.upgrade(server.create_database("migrated_template"))
        templates["postgresql"] = "migrated_template"
    return templates


def _new_database(
    request: pytest.FixtureRequest, tmp_path: Path, template: str | None
) -> Iterator[str]:
    if request.param == "sqlite":
        path = tmp_path / "mamori.db"
        if template is not None:
            shutil.copyfile(template, path)
        yield f"sqlite:///{path}"
        return
    server: ThrowawayPostgres = request.getfixturevalue("postgres_server")
    name = f"t_{uuid.uuid4().hex[:16]}"
    url = server.create_database(name, template=template)
    yield url
    server.drop_database(name)


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database on each backend: a SQLite file, or a fresh PostgreSQL database."""
    yield from _new_database(request, tmp_path, None)


@pytest.fixture(params=BACKENDS)
def migrated_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> Iterator[str]:
    """A database at the newest schema on each backend."""
    yield from _new_database(request, tmp_path, migrated_templates[request.param])


@pytest.fixture
def database(migrated_url: str) -> Iterator[Database]:
    """A migrated database."""
    database = Database(migrated_url)
    yield database
    database.dispose()


@pytest.fixture
def registry() -> CheckRegistry:
    """The full check registry."""
    return load_all_checks()


@pytest.fixture
def demo_database(database: Database, registry: CheckRegistry) -> Database:
    """A migrated database with the demo catalog loaded."""
    with database.session() as session:
        CommitmentsService(session, registry).load_catalog(DEMO_CATALOG)
    return database


@pytest.fixture
def settings(tmp_path: Path, migrated_url: str) -> Settings:
    """Settings pointing at the test database and a temporary data directory."""
    return Settings(data_dir=tmp_path / "var", database_url=migrated_url)


@pytest.fixture
def cli_env(tmp_path: Path, migrated_url: str, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Environment for CLI runs against the test database; returns the data directory."""
    data_dir = tmp_path / "var"
    monkeypatch.setenv("MAMORI_DATA_DIR", str(data_dir))
    monkeypatch.setenv("MAMORI_DATABASE_URL", migrated_url)
    get_settings.cache_clear()
    return data_dir
