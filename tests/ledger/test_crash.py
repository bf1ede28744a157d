"""A server killed with SIGKILL while ingesting keeps every event it acknowledged.

The real `mamori serve` runs in its own process, once with one server process and once
with two (`MAMORI_SERVE_PROCESSES`, appending in turns); client threads post batches and
note each batch answered 200. The server's process group is killed mid-stream (requests
in flight); then
every acknowledged event must be stored, and the ledger must verify.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.scope import TenantScope
from mamori.core.settings import Settings
from mamori.ledger.reading import Selection, entries
from mamori.ledger.service import LedgerService
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from mamori.tenants.service.context import TOTP_KEY_PURPOSE
from tests.support.identities import FakeClock, Identities

pytestmark = pytest.mark.slow

BATCH = 200
CLIENTS = 3
RUN_SECONDS = 3.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until_up(url: str, process: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"the server exited early with {process.returncode}")
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("the server did not start")


@pytest.fixture(params=[1, 2], ids=["one-process", "two-processes"])
def server(
    demo_database: Database, settings: Settings, tmp_path: Path, request: pytest.FixtureRequest
) -> Iterator[tuple[str, str, subprocess.Popen[bytes]]]:
    """`mamori serve` in a child process (with one or two server processes of its own, in
    a process group of their own), and an ingest token for it."""
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    people = Identities(
        demo_database, settings, FakeClock(datetime.now(UTC)), MemoryNotifier(), box
    )
    operator = people.user("ops@provider.example.jp", Role.OPERATOR)
    with people.work() as services:
        secret = tokens.create_token(
            services, operator, name="crash", scopes=["ingest:logs"], days=1
        ).secret
    port = free_port()
    env = {
        **os.environ,
        "MAMORI_DATA_DIR": str(settings.data_dir),
        "MAMORI_DATABASE_URL": settings.resolved_database_url,
        "MAMORI_INGEST_MAX_CONCURRENT": "8",
        "MAMORI_INGEST_REQUESTS_PER_MINUTE": "100000",
        "MAMORI_CONFIG": str(tmp_path / "absent.toml"),
        "MAMORI_SERVE_PROCESSES": str(request.param),
    }
    command = [sys.executable, "-c", "from mamori.cli.main import app; app()", "serve"]
    process = subprocess.Popen(
        [*command, "--host", "127.0.0.1", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_up(url, process)
        yield url, secret, process
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def test_sigkill_loses_nothing_acknowledged(
    server: tuple[str, str, subprocess.Popen[bytes]], demo_database: Database, settings: Settings
) -> None:
    url, secret, process = server
    acknowledged: list[str] = []
    lock = threading.Lock()
    stop = threading.Event()

    def client(number: int) -> None:
        headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
        with httpx.Client(base_url=url, headers=headers, timeout=10) as http:
            batch = 0
            while not stop.is_set():
                name = f"c{number}-b{batch}"
                body = [{"message": f"{name}-e{i}", "level": "info"} for i in range(BATCH)]
                try:
                    answer = http.post("/api/v1/ingest", content=json.dumps(body))
                except httpx.HTTPError:
                    return  # the server is gone
                if answer.status_code == 200:
                    with lock:
                        acknowledged.append(name)
                batch += 1

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for thread in threads:
        thread.start()
    time.sleep(RUN_SECONDS)
    os.killpg(process.pid, signal.SIGKILL)  # every server process, requests in flight
    stop.set()
    for thread in threads:
        thread.join(20)
    process.wait(10)
    assert process.returncode == -signal.SIGKILL
    assert len(acknowledged) >= CLIENTS, "too few batches went through to test anything"

    with demo_database.session() as session:
        stored = {
            e.message
            for e in entries(session, Selection(TenantScope.everything(), frozenset({"log"})))
        }
    missing = [
        f"{name}-e{i}"
        for name in acknowledged
        for i in range(BATCH)
        if f"{name}-e{i}" not in stored
    ]
    assert missing == [], f"{len(missing)} acknowledged events were lost, e.g. {missing[:3]}"
    report = LedgerService(demo_database, settings).verify()
    assert report.ok, report.problems
