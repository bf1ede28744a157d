"""SQLite is opened with WAL, foreign keys and secure_delete."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import text

from mamori.core.db import Database


def test_sqlite_pragmas(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x' / 'm.db'}")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA secure_delete")).scalar() == 1
    database.dispose()
    assert (tmp_path / "x" / "m.db").exists()
