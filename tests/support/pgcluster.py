"""A throwaway PostgreSQL server for the test suite.

``ThrowawayPostgres`` runs ``initdb`` into a fresh temporary directory, starts the
server on a free loopback TCP port with durability switched off, hands out
databases as SQLAlchemy URLs, and deletes everything again on ``stop()``.

Binaries are taken from ``$MAMORI_PG_BIN`` if set, otherwise from the newest
``/usr/lib/postgresql/<version>/bin`` (Debian's layout), otherwise from ``PATH``.
"""

from __future__ import annotations

import atexit
import os
import pwd
import re
import shlex
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType

import psycopg
from psycopg import sql

__all__ = ["PostgresStartError", "PostgresUnavailable", "ThrowawayPostgres", "find_pg_bin"]

PG_BIN_ENV = "MAMORI_PG_BIN"
DEBIAN_PG_ROOT = Path("/usr/lib/postgresql")
SUPERUSER = "postgres"
HOST = "127.0.0.1"

_DB_NAME = re.compile(r"[a-z_][a-z0-9_]{0,62}")
# Databases the admin URL and PostgreSQL itself rely on.
_PROTECTED_DBS = frozenset({"postgres", "template0", "template1"})
_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_INSTALL_HINT = (
    "Install Debian's PostgreSQL server package (`apt-get install postgresql`), "
    f"or point ${PG_BIN_ENV} at a directory containing initdb and pg_ctl."
)
_LOG_TAIL_LINES = 40
# How many times start() retries when the chosen port was grabbed by someone else
# between probing it and the postmaster binding it.
_PORT_ATTEMPTS = 3


# The name is part of the agreed API, hence no "Error" suffix. The suite fails (never skips) on it.
class PostgresUnavailable(RuntimeError):  # noqa: N818
    """PostgreSQL cannot be run on this machine (binaries or system user missing)."""


class PostgresStartError(RuntimeError):
    """initdb or the server failed; the message carries the command output or log tail."""


def _has_binaries(bin_dir: Path) -> bool:
    return all(os.access(bin_dir / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(bin_dir: Path) -> tuple[int, ...]:
    # Directory names are versions like "15" or "9.6"; compare numerically so 15 > 9.6.
    parts = bin_dir.parent.name.split(".")
    return tuple(int(p) for p in parts) if all(p.isdigit() for p in parts) else (-1,)


def find_pg_bin() -> Path:
    """Return the directory holding initdb/pg_ctl, or raise PostgresUnavailable."""
    override = os.environ.get(PG_BIN_ENV)
    if override:
        # An explicit setting that is wrong should fail loudly, not fall back silently.
        bin_dir = Path(override)
        if not _has_binaries(bin_dir):
            raise PostgresUnavailable(
                f"${PG_BIN_ENV}={override!r} does not contain executable "
                f"{', '.join(_REQUIRED_BINARIES)}. {_INSTALL_HINT}"
            )
        return bin_dir

    candidates = [d for d in DEBIAN_PG_ROOT.glob("*/bin") if _has_binaries(d)]
    if candidates:
        return max(candidates, key=_version_key)

    initdb = shutil.which("initdb")
    if initdb is not None and _has_binaries(Path(initdb).parent):
        return Path(initdb).parent

    raise PostgresUnavailable(f"No PostgreSQL server binaries found. {_INSTALL_HINT}")


def _free_port() -> int:
    """Return a loopback TCP port that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


def _tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        return f"<could not read {path}: {exc}>"
    return "\n".join(text.splitlines()[-lines:]) or "<empty>"


def _clean_env() -> dict[str, str]:
    # PGPORT, PGDATA, PGHOST etc. from the developer's shell would otherwise leak
    # into initdb/pg_ctl/postgres (the postmaster reads PGPORT as its default port).
    return {k: v for k, v in os.environ.items() if not k.startswith("PG")}


class ThrowawayPostgres:
    """A private PostgreSQL cluster in a temporary directory, deleted on stop().

    Usage::

        with ThrowawayPostgres() as pg:
            url = pg.create_database("mamori_test")
            ...
    """

    def __init__(self, base_dir: Path | None = None) -> None:
        """Prepare (but do not start) a cluster whose temp dir lives under base_dir."""
        self._base_dir = base_dir
        self._bin_dir: Path | None = None
        self._tmp_dir: Path | None = None
        self._port: int | None = None
        self._running = False
        self._owner_pid: int | None = None
        # Resolved in start(): argv prefix that runs a command as the cluster owner.
        self._as_owner: Sequence[str] = ()
        self._use_su = False

    # -- public API ---------------------------------------------------------------

    @property
    def port(self) -> int:
        """TCP port the server listens on (127.0.0.1 only)."""
        if self._port is None or not self._running:
            raise RuntimeError("ThrowawayPostgres is not running; call start() first")
        return self._port

    @property
    def data_dir(self) -> Path:
        """The cluster's data directory (for debugging)."""
        return self._require_tmp() / "data"

    @property
    def log_file(self) -> Path:
        """The server log file (for debugging)."""
        return self._require_tmp() / "postgres.log"

    @property
    def admin_url(self) -> str:
        """SQLAlchemy URL of the 'postgres' maintenance database."""
        return self._url("postgres")

    def start(self) -> None:
        """Create a fresh cluster and start it; a no-op if already running.

        Raises PostgresUnavailable if PostgreSQL cannot be run here at all, and
        PostgresStartError (with output / log tail) if initdb or startup fails.
        """
        if self._running:
            return
        self._bin_dir = find_pg_bin()
        self._prepare_privileges()
        self._tmp_dir = Path(tempfile.mkdtemp(prefix="mamori-pg-", dir=self._base_dir))
        # Register before anything can fail half-way, so a crash still cleans up.
        self._owner_pid = os.getpid()
        atexit.register(self._atexit_stop)
        try:
            if os.geteuid() == 0:
                # initdb refuses to run as root; the cluster must belong to `postgres`.
                entry = pwd.getpwnam(SUPERUSER)
                os.chown(self._tmp_dir, entry.pw_uid, entry.pw_gid)
            self._initdb()
            self._start_server()
        except BaseException:
            self.stop()
            raise
        self._running = True

    def create_database(self, name: str, template: str | None = None) -> str:
        """CREATE DATABASE name (optionally copied from `template`) and return its URL."""
        self._check_name(name)
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            self._check_name(template)
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with self._admin_connection() as conn:
            conn.execute(statement)
        return self._url(name)

    def drop_database(self, name: str) -> None:
        """DROP DATABASE name if it exists, terminating its connections first."""
        self._check_name(name)
        if name in _PROTECTED_DBS:
            raise ValueError(f"refusing to drop built-in database {name!r}")
        with self._admin_connection() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )

    def stop(self) -> None:
        """Stop the server immediately and delete the temp dir; safe to call twice."""
        tmp_dir = self._tmp_dir
        if tmp_dir is not None:
            data_dir = tmp_dir / "data"
            if (data_dir / "postmaster.pid").exists():
                # Immediate mode: nothing in a throwaway cluster is worth a checkpoint.
                # Failure is ignored on purpose: the server may already be gone.
                self._run_as_owner(
                    [self._pg("pg_ctl"), "-D", str(data_dir), "-m", "immediate", "-w", "stop"],
                    timeout=60,
                    check=False,
                )
            shutil.rmtree(tmp_dir, ignore_errors=True)
        self._tmp_dir = None
        self._port = None
        self._running = False
        atexit.unregister(self._atexit_stop)

    def __enter__(self) -> ThrowawayPostgres:
        """Start the server and return self."""
        self.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        """Stop the server and delete its files."""
        self.stop()

    # -- internals ------------------------------------------------------------------

    def _atexit_stop(self) -> None:
        # A forked child inherits atexit handlers; only the process that started the
        # server may tear it down, or a child's exit would kill the parent's cluster.
        if os.getpid() == self._owner_pid:
            self.stop()

    def _require_tmp(self) -> Path:
        if self._tmp_dir is None:
            raise RuntimeError("ThrowawayPostgres has no cluster; call start() first")
        return self._tmp_dir

    def _pg(self, binary: str) -> str:
        assert self._bin_dir is not None
        return str(self._bin_dir / binary)

    def _url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{SUPERUSER}@{HOST}:{self.port}/{dbname}"

    @staticmethod
    def _check_name(name: str) -> None:
        # fullmatch, not match + "$": "$" would also accept a trailing newline.
        if not _DB_NAME.fullmatch(name):
            raise ValueError(
                f"invalid database name {name!r}: must match ^[a-z_][a-z0-9_]{{0,62}}$"
            )

    def _admin_connection(self) -> psycopg.Connection[tuple[object, ...]]:
        # CREATE/DROP DATABASE cannot run inside a transaction block.
        return psycopg.connect(
            host=HOST,
            port=self.port,
            user=SUPERUSER,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )

    def _prepare_privileges(self) -> None:
        if os.geteuid() != 0:
            self._as_owner = ()
            return
        try:
            pwd.getpwnam(SUPERUSER)
        except KeyError:
            raise PostgresUnavailable(
                f"Running as root, but there is no {SUPERUSER!r} system user to own the "
                f"cluster (initdb refuses to run as root). {_INSTALL_HINT}"
            ) from None
        runuser = shutil.which("runuser")
        if runuser is not None:
            self._as_owner = (runuser, "-u", SUPERUSER, "--")
            self._use_su = False
            return
        su = shutil.which("su")
        if su is None:
            raise PostgresUnavailable(
                f"Running as root, but neither runuser nor su is available to switch to "
                f"the {SUPERUSER!r} user."
            )
        self._as_owner = (su, SUPERUSER, "-s", "/bin/sh", "-c")
        self._use_su = True

    def _run_as_owner(
        self, argv: list[str], *, timeout: float, check: bool = True
    ) -> subprocess.CompletedProcess[str]:
        # su takes one shell command string; runuser takes the argv as is.
        full = [*self._as_owner, shlex.join(argv)] if self._use_su else [*self._as_owner, *argv]
        # cwd: the `postgres` user may not be allowed into the caller's cwd
        # (e.g. /root), which makes initdb/pg_ctl complain or fail.
        cwd = self._tmp_dir if self._tmp_dir is not None and self._tmp_dir.exists() else "/"
        result = subprocess.run(
            full,
            cwd=cwd,
            env=_clean_env(),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if check and result.returncode != 0:
            raise PostgresStartError(
                f"{shlex.join(full)} exited with {result.returncode}:\n"
                f"{result.stdout}{result.stderr}"
            )
        return result

    def _initdb(self) -> None:
        self._run_as_owner(
            [
                self._pg("initdb"),
                "-D",
                str(self.data_dir),
                "-U",
                SUPERUSER,
                "--auth=trust",
                "--encoding=UTF8",
                "--locale=C",
                # The cluster is thrown away; fsyncing its files only costs time.
                "--no-sync",
            ],
            timeout=120,
        )
        # initdb's trust pg_hba also covers unix sockets and ::1; only IPv4 loopback
        # is reachable here, so say exactly that.
        (self.data_dir / "pg_hba.conf").write_text(
            "# Written by tests/support/pgcluster.py: trust, IPv4 loopback only.\n"
            f"host    all             all             {HOST}/32            trust\n"
            f"host    replication     all             {HOST}/32            trust\n",
            encoding="utf-8",
        )

    def _write_conf(self, port: int) -> None:
        # postgresql.auto.conf is read last and belongs to us alone (initdb leaves
        # it empty); rewriting it per attempt lets a port retry change just the port.
        (self.data_dir / "postgresql.auto.conf").write_text(
            "# Written by tests/support/pgcluster.py\n"
            f"listen_addresses = '{HOST}'\n"
            f"port = {port}\n"
            # No unix socket at all, so nothing touches /var/run/postgresql and the
            # socket path length limit cannot bite for long base_dir paths.
            "unix_socket_directories = ''\n"
            # Durability is pointless for a cluster deleted at the end of the run.
            "fsync = off\n"
            "synchronous_commit = off\n"
            "full_page_writes = off\n",
            encoding="utf-8",
        )

    def _start_server(self) -> None:
        for attempt in range(1, _PORT_ATTEMPTS + 1):
            port = _free_port()
            self._write_conf(port)
            result = self._run_as_owner(
                [
                    self._pg("pg_ctl"),
                    "-D",
                    str(self.data_dir),
                    "-l",
                    str(self.log_file),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                # pg_ctl gives up after 60 s itself; this only guards against a hang.
                timeout=90,
                check=False,
            )
            if result.returncode == 0:
                self._port = port
                return
            log_tail = _tail(self.log_file)
            # Someone took the port between our probe and the bind: try another one.
            if "could not bind" in log_tail and attempt < _PORT_ATTEMPTS:
                continue
            raise PostgresStartError(
                f"PostgreSQL failed to start (pg_ctl exited with {result.returncode}).\n"
                f"pg_ctl output:\n{result.stdout}{result.stderr}\n"
                f"Last lines of {self.log_file}:\n{log_tail}"
            )
