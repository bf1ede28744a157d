"""Database engine and sessions: SQLite (WAL, foreign keys, secure_delete) or PostgreSQL."""

from __future__ import annotations

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


def make_engine(url: str, *, echo: bool = False, pool_size: int | None = None) -> Engine:
    """An engine for `url`, with mamori's connection settings applied.

    `pool_size` sets how many connections it keeps open (SQLAlchemy's default otherwise).
    """
    pooling: dict[str, Any] = {} if pool_size is None else {"pool_size": pool_size}
    if url.startswith("sqlite"):
        database = url.split(":///", 1)[-1]
        if database and database != ":memory:":
            Path(database).parent.mkdir(parents=True, exist_ok=True)
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
