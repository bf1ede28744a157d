"""Catalog loading: the demo loads; every malformed catalog is refused with its location."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from mamori.cli.main import app
from mamori.commitments.catalog_loader import DEMO_CATALOG, read_catalog
from mamori.commitments.models import Clause, Commitment, CommitmentCheck, ResponsibilityArea
from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.errors import InputError
from mamori.tenants.models import Service, Tenant, TenantContact


def copy_demo(tmp_path: Path) -> Path:
    target = tmp_path / "catalog"
    shutil.copytree(DEMO_CATALOG, target)
    return target


def replace_in(path: Path, old: str, new: str, count: int = 1) -> int:
    """Replace the first `count` occurrences of `old`; returns the 1-based line of the first."""
    text = path.read_text(encoding="utf-8")
    index = text.index(old)
    path.write_text(text.replace(old, new, count), encoding="utf-8")
    return text[:index].count("\n") + 1


def snapshot(database: Database) -> dict[str, Any]:
    """Everything a catalog load writes, in a comparable form."""
    with database.session() as session:
        commitments = session.scalars(select(Commitment).order_by(Commitment.position)).all()
        return {
            "commitments": [
                (c.id, c.position, c.title.as_dict(), c.statement.as_dict()) for c in commitments
            ],
            "clauses": session.scalar(select(func.count()).select_from(Clause)),
            "checks": session.scalar(select(func.count()).select_from(CommitmentCheck)),
            "areas": session.scalar(select(func.count()).select_from(ResponsibilityArea)),
            "services": [s.id for s in session.scalars(select(Service).order_by(Service.id))],
            "tenants": session.scalar(select(func.count()).select_from(Tenant)),
            "contacts": session.scalar(select(func.count()).select_from(TenantContact)),
        }


def test_demo_catalog_loads_everything(demo_database: Database) -> None:
    state = snapshot(demo_database)
    assert len(state["commitments"]) == 22
    assert [c[1] for c in state["commitments"]] == list(range(1, 23))
    assert len(state["services"]) == 6
    assert state["tenants"] >= 3
    assert state["areas"] >= 5


def test_loading_twice_is_idempotent(demo_database: Database, registry: CheckRegistry) -> None:
    before = snapshot(demo_database)
    with demo_database.session() as session:
        CommitmentsService(session, registry).load_catalog(DEMO_CATALOG)
    assert snapshot(demo_database) == before


def test_changed_statement_is_written(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    catalog = copy_demo(tmp_path)
    replace_in(catalog / "commitments.yaml", "en: Where we are based", "en: Our head office")
    with demo_database.session() as session:
        CommitmentsService(session, registry).load_catalog(catalog)
    with demo_database.session() as session:
        first = session.get(Commitment, "provider-location")
        assert first is not None
        assert first.title.en == "Our head office"


def _bad_yaml(catalog: Path) -> tuple[str, int, str | None]:
    line = replace_in(catalog / "commitments.yaml", "    order: 3\n", "    order: 3: three\n")
    return "commitments.yaml", line, None


def _unknown_clause(catalog: Path) -> tuple[str, int, str | None]:
    line = replace_in(catalog / "commitments.yaml", '"CLD.9.5.1"', '"CLD.99.1"')
    return "commitments.yaml", line, "commitments[6].clauses[0]"


def _duplicate_id(catalog: Path) -> tuple[str, int, str | None]:
    line = replace_in(catalog / "commitments.yaml", "id: backup", "id: capacity-management")
    return "commitments.yaml", line, "commitments[11].id"


def _missing_ja(catalog: Path) -> tuple[str, int, str | None]:
    line = replace_in(catalog / "commitments.yaml", "      ja: 当社の所在地\n", "")
    return "commitments.yaml", line - 1, "commitments[0].title.ja"


def _unknown_check(catalog: Path) -> tuple[str, int, str | None]:
    line = replace_in(
        catalog / "commitments.yaml",
        "      - service_endpoints_https\n",
        "      - service_endpoints_https\n      - no_such_check\n",
    )
    return "commitments.yaml", line + 1, "commitments[8].checks[1]"


def _unknown_service(catalog: Path) -> tuple[str, int, str | None]:
    text = (catalog / "tenants.yaml").read_text(encoding="utf-8")
    first = text.index("services: [") + len("services: [")
    (catalog / "tenants.yaml").write_text(text[:first] + "nope, " + text[first:], encoding="utf-8")
    return "tenants.yaml", text[:first].count("\n") + 1, "tenants[0].services[0]"


def _empty_ja_provider(catalog: Path) -> tuple[str, int, str | None]:
    text = (catalog / "provider.yaml").read_text(encoding="utf-8")
    index = text.index("  head_office_address:")
    ja = text.index("ja:", index)
    end = text.index("\n", ja)
    (catalog / "provider.yaml").write_text(text[:ja] + 'ja: ""' + text[end:], encoding="utf-8")
    return "provider.yaml", text[:ja].count("\n") + 1, "provider.head_office_address.ja"


BREAKERS: dict[str, Callable[[Path], tuple[str, int, str | None]]] = {
    "bad yaml": _bad_yaml,
    "unknown clause": _unknown_clause,
    "duplicate id": _duplicate_id,
    "missing ja text": _missing_ja,
    "unknown check": _unknown_check,
    "unknown service": _unknown_service,
    "empty ja text": _empty_ja_provider,
}


@pytest.mark.parametrize("breaker", list(BREAKERS), ids=list(BREAKERS))
def test_malformed_catalog_names_file_line_field_and_changes_nothing(
    breaker: str, demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    catalog = copy_demo(tmp_path)
    # A real edit that a successful load would have written, to prove nothing was.
    replace_in(catalog / "commitments.yaml", "en: Where we are based", "en: CHANGED")
    file, line, field = BREAKERS[breaker](catalog)
    before = snapshot(demo_database)

    with pytest.raises(InputError) as caught, demo_database.session() as session:
        CommitmentsService(session, registry).load_catalog(catalog)

    error = caught.value
    assert error.file is not None and error.file.endswith(file)
    assert error.line == line
    assert error.field == field
    assert error.exit_code == 2
    assert snapshot(demo_database) == before


def test_cli_reports_one_clear_line_and_exit_code_2(
    cli_env: Path, demo_database: Database, tmp_path: Path
) -> None:
    catalog = copy_demo(tmp_path)
    file, line, field = _unknown_clause(catalog)
    before = snapshot(demo_database)

    result = CliRunner().invoke(app, ["catalog", "load", str(catalog)])

    assert result.exit_code == 2, result.output
    first = result.stderr.strip().splitlines()[0]
    assert f"{file}:{line}" in first
    assert f"'{field}'" in first
    assert "CLD.99.1" in first
    assert snapshot(demo_database) == before


def test_missing_catalog_directory_is_an_input_error(
    registry: CheckRegistry, tmp_path: Path
) -> None:
    with pytest.raises(InputError) as caught:
        read_catalog(tmp_path / "absent", registry)
    assert caught.value.exit_code == 2


def test_unknown_field_is_named(registry: CheckRegistry, tmp_path: Path) -> None:
    catalog = copy_demo(tmp_path)
    line = replace_in(
        catalog / "services.yaml",
        "    platforms: [aws]\n",
        "    platforms: [aws]\n    colour: red\n",
    )
    with pytest.raises(InputError) as caught:
        read_catalog(catalog, registry)
    assert caught.value.field == "services[0].colour"
    assert caught.value.line == line + 1


def test_removing_a_subscribed_service_is_refused_cleanly(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    catalog = copy_demo(tmp_path)
    (catalog / "tenants.yaml").unlink()
    text = (catalog / "services.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: total-id")
    end = text.index("  - id:", start + 1)
    (catalog / "services.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    before = snapshot(demo_database)
    with pytest.raises(InputError) as caught, demo_database.session() as session:
        CommitmentsService(session, registry).load_catalog(catalog)
    assert caught.value.params["service"] == "total-id"
    assert caught.value.exit_code == 2
    assert snapshot(demo_database) == before


def test_removing_an_unsubscribed_service_works(
    demo_database: Database, registry: CheckRegistry, tmp_path: Path
) -> None:
    catalog = copy_demo(tmp_path)
    text = (catalog / "tenants.yaml").read_text(encoding="utf-8")
    (catalog / "tenants.yaml").write_text(
        text.replace("total-id, ", "").replace(", total-id", "").replace("[total-id]", "[]"),
        encoding="utf-8",
    )
    text = (catalog / "services.yaml").read_text(encoding="utf-8")
    start = text.index("  - id: total-id")
    end = text.index("  - id:", start + 1)
    (catalog / "services.yaml").write_text(text[:start] + text[end:], encoding="utf-8")
    with demo_database.session() as session:
        CommitmentsService(session, registry).load_catalog(catalog)
    assert "total-id" not in snapshot(demo_database)["services"]
