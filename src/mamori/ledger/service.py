"""The ledger's rules for other domains: append, verify, checkpoints and proofs."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta

from sqlalchemy import Connection

from mamori.core.clock import utcnow
from mamori.core.db import READ_ONLY, Database
from mamori.core.settings import Settings
from mamori.ledger.notes import NoteSigner
from mamori.ledger.records import Attributed
from mamori.ledger.store import AppendResult, LedgerWriter, Prepared, log_signer
from mamori.ledger.verify import Report, Verifier


class LedgerService:
    """One process's handle on the ledger."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        *,
        clock: Callable[[], datetime] = utcnow,
        signer: NoteSigner | None = None,
    ) -> None:
        self.database = database
        self._write_lock = threading.Lock()
        self.settings = settings
        self.clock = clock
        self.signer = signer or log_signer(settings)
        self.writer = LedgerWriter(
            self.signer,
            checkpoint_every=timedelta(minutes=settings.ledger_checkpoint_minutes),
            clock=clock,
        )

    @property
    def vkey(self) -> str:
        """The log's verifier key (publish it; verifiers need nothing else)."""
        return self.signer.vkey()

    def append(self, items: Sequence[Attributed] | Prepared) -> AppendResult:
        """Store `items` durably in one transaction of their own."""
        with self.transaction() as connection:
            return self.writer.append(connection, items)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """A write transaction for appending, committed when the block succeeds.

        Appenders take turns before they begin, this process's threads on a lock and
        processes sharing a SQLite file on `Database.writer_turn`: a waiter wakes as soon
        as the previous append commits, where waiting on the database's own write lock
        (SQLite's busy handler) sleeps in steps of up to 100 ms and leaves the CPU idle.
        """
        with self.turn(), self.transaction_in_turn() as connection:
            yield connection

    @contextmanager
    def turn(self) -> Iterator[None]:
        """This process's turn to append (a thread lock), without a transaction yet."""
        with self._write_lock:
            yield

    @contextmanager
    def transaction_in_turn(self) -> Iterator[Connection]:
        """`transaction` for a caller that already holds this process's `turn`."""
        database = self.database
        with database.writer_turn(), database.engine.begin() as connection:
            yield connection

    def append_in(
        self, connection: Connection, items: Sequence[Attributed] | Prepared
    ) -> AppendResult:
        """Store `items` in the caller's transaction (committed with the caller's work)."""
        return self.writer.append(connection, items)

    def looked_up(self, prepared: Prepared) -> Prepared:
        """`prepared` with its de-duplication keys looked up now, in a read transaction of
        its own that does not wait for the write lock (`LedgerWriter.look_up`)."""
        with (
            self.database.engine.connect() as connection,
            connection.execution_options(**READ_ONLY).begin(),
        ):
            return self.writer.look_up(connection, prepared)

    def verify(self, progress: Callable[[int], None] | None = None, jobs: int = 1) -> Report:
        """Recompute everything in one consistent read (chunks by `jobs` processes)."""
        with self.database.engine.connect() as connection:
            if connection.dialect.name == "postgresql":
                connection = connection.execution_options(isolation_level="REPEATABLE READ")
            else:
                connection = connection.execution_options(**READ_ONLY)
            with connection.begin():
                return Verifier(self.vkey, progress, jobs=jobs).run(connection)
