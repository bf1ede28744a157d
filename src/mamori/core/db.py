"""Database engine and sessions: SQLite (WAL, foreign keys, secure_delete) or PostgreSQL."""

from __future__ import annotations

import fcntl
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, create_engine, event
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker

# Stable constraint names so Alembic migrations match on both databases.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Declarative base of every mamori table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _apply_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Transactions are begun by _begin_sqlite below, not implicitly by the driver.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    # Deleted customer data is overwritten, not left in free pages (commitment 6).
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


READ_ONLY = {"sqlite_begin": "DEFERRED"}
"""Execution options for a long read on SQLite that must not hold the writer lock."""


def _begin_sqlite(connection: Connection) -> None:
    # A transaction that may write takes SQLite's writer lock when it begins, so a read
    # followed by a write cannot fail on a snapshot another writer has moved on from
    # (SQLITE_BUSY_SNAPSHOT); it waits for the lock instead (busy_timeout). Long reads
    # (ledger verification, reports) ask for DEFERRED with READ_ONLY.
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    # On the driver's connection: a statement through SQLAlchemy costs more than BEGIN.
    raw: Any = connection.connection.driver_connection
    raw.execute("BEGIN DEFERRED" if mode == "DEFERRED" else "BEGIN IMMEDIATE")


def sqlite_file(url: str) -> Path | None:
    """The file of a SQLite database URL; None for PostgreSQL and in-memory databases."""
    if not url.startswith("sqlite"):
        return None
    database = url.split(":///", 1)[-1].split("?", 1)[0]
    return None if not database or database == ":memory:" else Path(database)


class WriterTurns:
    """Turns between the processes that append to one SQLite file, on a lock file beside it.

    SQLite's own busy handler polls for the writer lock, sleeping up to 100 ms between
    tries, so two server processes appending at once left the CPU idle. A process waiting
    here (`flock`, without the interpreter lock) wakes as soon as the holder is done. The
    lock belongs to an open file, not a thread: callers take turns among their own
    threads first.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._descriptor: int | None = None
        self._opening = threading.Lock()

    def _file(self) -> int:
        with self._opening:
            if self._descriptor is None:
                self._descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            return self._descriptor

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold the lock file for the block."""
        descriptor = self._file()
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(descriptor, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the lock file (a later turn opens it again)."""
        with self._opening:
            if self._descriptor is not None:
                os.close(self._descriptor)
                self._descriptor = None


def make_engine(url: str, *, echo: bool = False, pool_size: int | None = None) -> Engine:
    """An engine for `url`, with mamori's connection settings applied.

    `pool_size` sets how many connections it keeps open (SQLAlchemy's default otherwise).
    """
    pooling: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size}
    if url.startswith("sqlite"):
        file = sqlite_file(url)
        if file is not None:
            file.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, echo=echo, connect_args={"check_same_thread": False}, **pooling)
        event.listen(engine, "connect", _apply_sqlite_pragmas)
        event.listen(engine, "begin", _begin_sqlite)
        return engine
    return create_engine(url, echo=echo, pool_pre_ping=True, **pooling)


class Database:
    """An engine plus a session factory; one per process."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        self.url = url
        self.engine = make_engine(url, echo=echo)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)
        file = sqlite_file(url)
        self._turns = None if file is None else WriterTurns(file.with_name(file.name + ".writers"))
        self._checkpointing = threading.Lock()

    @contextmanager
    def writer_turn(self) -> Iterator[None]:
        """This process's turn among those appending to the same SQLite file (see
        `WriterTurns`); nothing to wait for on PostgreSQL, whose row locks wake waiters."""
        if self._turns is None:
            yield
            return
        with self._turns.turn():
            yield

    def checkpoint_wal(self) -> None:
        """Copy the pages committed to SQLite's write-ahead log into the database file now.

        A commit that finds the log past `wal_autocheckpoint` pages does this itself,
        while it still holds the writer lock: about half of a 1,000-event commit's time,
        which every other writer waits for. Appenders call this after their turn instead,
        so the log rarely gets that far. A passive checkpoint never waits for a lock and
        never blocks writers or readers; one at a time per process, a call while one runs
        returns at once. Nothing to do on PostgreSQL or an in-memory database.
        """
        if self._turns is None or not self._checkpointing.acquire(blocking=False):
            return
        try:
            raw = self.engine.raw_connection()  # no BEGIN: a checkpoint runs outside one
            try:
                driver: Any = raw.driver_connection
                driver.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            finally:
                raw.close()
        finally:
            self._checkpointing.release()

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session committed on success and rolled back on any error."""
        session = self._sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def new_session(self) -> Session:
        """A plain session the caller closes (read-only request scopes)."""
        return self._sessions()

    def dispose(self) -> None:
        """Close every pooled connection."""
        self.engine.dispose()
        if self._turns is not None:
            self._turns.close()
