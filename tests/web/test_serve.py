"""`mamori serve` as a real process on a free loopback port."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
from typer.testing import CliRunner

from mamori.cli.main import app


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_serve_prints_its_address_and_serves_both_languages(cli_env: Path) -> None:
    assert CliRunner().invoke(app, ["catalog", "load"]).exit_code == 0
    # 1: a fresh install's log commitments fail until services send logs; still evaluated.
    assert CliRunner().invoke(app, ["evaluate"]).exit_code == 1
    port = free_port()
    env = {**os.environ, "MAMORI_DEFAULT_LANGUAGE": "en"}
    process = subprocess.Popen(
        [sys.executable, "-m", "mamori", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None, "the server exited early"
            assert time.monotonic() < deadline, "the server did not come up in 30 s"
            time.sleep(0.2)
        japanese = httpx.get(f"{base}/?lang=ja")
        english = httpx.get(f"{base}/", headers={"Accept-Language": "en"})
        assert "コミットメントの状況" in japanese.text
        assert "Commitment status" in english.text
    finally:
        process.terminate()
        output, _ = process.communicate(timeout=15)
    assert f"http://127.0.0.1:{port}" in output
