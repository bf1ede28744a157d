"""SQLite is opened with WAL, foreign keys and secure_delete."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from mamori.core.db import Database, sqlite_file


def test_sqlite_pragmas(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'x' / 'm.db'}")
    with database.engine.connect() as connection:
        assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
        assert connection.execute(text("PRAGMA foreign_keys")).scalar() == 1
        assert connection.execute(text("PRAGMA secure_delete")).scalar() == 1
    database.dispose()
    assert (tmp_path / "x" / "m.db").exists()


HOLD_A_TURN = """
import sys, time
from pathlib import Path
from mamori.core.db import WriterTurns

turns = WriterTurns(Path(sys.argv[1]))
with turns.turn():
    print("holding", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def test_processes_take_turns_on_the_lock_file(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'mamori.db'}")
    lock = tmp_path / "mamori.db.writers"
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLD_A_TURN, str(lock), "1.0"], stdout=subprocess.PIPE
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
        began = time.monotonic()
        with database.writer_turn():
            waited = time.monotonic() - began
        assert waited > 0.5  # the other process held its turn for a second
    finally:
        holder.wait(10)
        database.dispose()
    assert holder.returncode == 0


def test_only_a_sqlite_file_has_turns() -> None:
    assert sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file("postgresql+psycopg://mamori@localhost/mamori") is None
    assert sqlite_file("sqlite:////var/lib/mamori/mamori.db?timeout=5") == Path(
        "/var/lib/mamori/mamori.db"
    )
    memory = Database("sqlite:///:memory:")
    with memory.writer_turn():
        pass


def test_a_checkpoint_copies_the_write_ahead_log_into_the_database(tmp_path: Path) -> None:
    database = Database(f"sqlite:///{tmp_path / 'm.db'}")
    try:
        with database.engine.begin() as connection:
            connection.execute(text("CREATE TABLE t (v BLOB)"))
            for _ in range(50):
                connection.execute(text("INSERT INTO t VALUES (randomblob(4000))"))
        before = (tmp_path / "m.db").stat().st_size
        database.checkpoint_wal()
        assert (tmp_path / "m.db").stat().st_size > before + 50 * 4000
        raw = database.engine.raw_connection()
        try:
            driver: Any = raw.driver_connection
            busy, logged, copied = driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            assert busy == 0 and logged == copied  # nothing left in the log to copy
            assert driver.execute("SELECT count(*) FROM t").fetchone()[0] == 50
        finally:
            raw.close()
    finally:
        database.dispose()
    Database("sqlite:///:memory:").checkpoint_wal()  # nothing to do, no error
