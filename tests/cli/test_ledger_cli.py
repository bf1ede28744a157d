"""`mamori ledger …` as an operator uses it, against a real ledger on both databases."""

from __future__ import annotations

import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner, Result

from mamori.core.audit import AuditQuery
from mamori.core.db import Database
from mamori.core.scope import TenantScope
from mamori.core.settings import Settings, get_settings
from mamori.ledger.audit import LedgerAuditTrail
from mamori.ledger.models import LedgerChunk, LegalHold
from mamori.ledger.reading import decode
from mamori.ledger.service import LedgerService
from mamori.ledger.store import LedgerWriter, log_signer
from mamori.ledger.stored import events_in_order
from tests.ledger.conftest import sample_event
from tests.ledger.stored_support import edit_event, stored_count
from tests.support.identities import FakeClock

runner = CliRunner()
VERIFIER = Path(__file__).resolve().parents[2] / "tools" / "mamori_verify.py"
TENANT = "midori-city-boe"
LONG_AGO = datetime(2020, 1, 6, 9, 0, tzinfo=UTC)


@pytest.fixture
def env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CLI runs against the test database, in English."""
    monkeypatch.setenv("MAMORI_DEFAULT_LANGUAGE", "en")
    get_settings.cache_clear()
    return cli_env


@pytest.fixture
def clock() -> FakeClock:
    """The clock events are appended on."""
    return FakeClock(datetime.now(UTC) - timedelta(days=1))


@pytest.fixture
def ledger(demo_database: Database, settings: Settings, clock: FakeClock) -> LedgerService:
    """The ledger the CLI sees (same database, same data directory and key)."""
    return LedgerService(demo_database, settings, clock=clock)


def mamori(*args: str) -> Result:
    """Run `mamori ledger …`."""
    from mamori.cli.main import app

    return runner.invoke(app, ["ledger", *args])


def count(database: Database, *where: Any) -> int:
    """Stored events of the chunks matching `where`."""
    with database.session() as session:
        return stored_count(session, *where)


def stored_logs(database: Database) -> list[tuple[str | None, str | None, str]]:
    """(tenant, service, action) of every `log` event, in order."""
    with database.session() as session:
        entries = [
            decode(event.chunk_index, event.head, event.subject, event.content)
            for event in events_in_order(session)
        ]
    return [(e.tenant_id, e.service_id, e.action) for e in entries if e.event_class == "log"]


def test_every_ledger_command_has_help() -> None:
    for command in ("verify", "import", "syslog", "purge", "checkpoints", "vkey", "proof"):
        assert mamori(command, "--help").exit_code == 0
    for command in ("consistency", "hold add", "hold list", "hold release"):
        assert mamori(*command.split(), "--help").exit_code == 0


def test_verify_passes_then_names_the_edited_event(
    env: Path, ledger: LedgerService, demo_database: Database
) -> None:
    ledger.append([sample_event(n) for n in range(6)])
    result = mamori("verify")
    assert result.exit_code == 0, result.output
    assert "Events checked: 6" in result.stdout
    assert "The ledger verifies" in result.stdout

    with demo_database.engine.begin() as connection:
        edit_event(connection, 3, "content", '{"message":"edited"}')
    result = mamori("verify")
    assert result.exit_code == 1
    assert "First problem: event 3: its stored bytes do not match its hash" in result.stdout
    report = json.loads(mamori("verify", "--json").stdout)
    assert report["ok"] is False
    assert report["problems"][0] == {
        "where": "event 3",
        "what": "its stored bytes do not match its hash",
    }


def test_messages_are_japanese_by_default(
    cli_env: Path, ledger: LedgerService, tmp_path: Path
) -> None:
    ledger.append([sample_event(0)])
    result = mamori("verify")
    assert result.exit_code == 0, result.output
    assert "台帳の検証に成功しました" in result.stdout
    lines = tmp_path / "one.jsonl"
    lines.write_text('{"msg": "one"}\n', "utf-8")
    refused = mamori("import", str(lines), "--format", "jsonl", "--tenant", "nobody")
    assert refused.exit_code == 2
    assert "テナント nobody はありません" in refused.stderr


def trail_record(minute: int, source: str, name: str, user: str, **more: str) -> dict[str, Any]:
    """One CloudTrail record, shaped as AWS delivers it."""
    return {
        "eventVersion": "1.08",
        "eventTime": f"2026-04-01T00:{minute:02d}:00Z",
        "eventSource": f"{source}.amazonaws.com",
        "eventName": name,
        "awsRegion": "ap-northeast-1",
        "sourceIPAddress": "203.0.113.5",
        "userIdentity": {"arn": f"arn:aws:iam::123456789012:user/{user}"},
        **more,
    }


CLOUDTRAIL = {
    "Records": [
        trail_record(0, "s3", "PutObject", "alice", recipientAccountId="123456789012"),
        trail_record(1, "iam", "CreateUser", "bob", errorCode="AccessDenied"),
    ]
}


def test_cloudtrail_import_goes_to_the_tenant_and_a_rerun_stores_nothing_new(
    env: Path, demo_database: Database, tmp_path: Path
) -> None:
    trail = tmp_path / "123456789012_CloudTrail_ap-northeast-1.json.gz"
    trail.write_bytes(gzip.compress(json.dumps(CLOUDTRAIL).encode()))
    result = mamori("import", str(trail), "--format", "cloudtrail", "--tenant", TENANT)
    assert result.exit_code == 0, result.output
    assert "Events stored: 2; duplicates skipped: 0." in result.stdout
    assert stored_logs(demo_database) == [
        (TENANT, None, "s3:PutObject"),
        (TENANT, None, "iam:CreateUser"),
    ]

    again = mamori("import", str(trail), "--format", "cloudtrail", "--tenant", TENANT)
    assert again.exit_code == 0, again.output
    assert "Events stored: 0; duplicates skipped: 2." in again.stdout
    assert len(stored_logs(demo_database)) == 2
    with demo_database.session() as session:
        trail_reader = LedgerAuditTrail(LedgerWriter(log_signer(get_settings())))
        imports = trail_reader.read(
            session, TenantScope.everything(), True, AuditQuery(action="ledger.import")
        )
    assert [entry.details["stored"] for entry in imports] == [0, 2]


def test_json_lines_import_in_small_batches_with_a_service(
    env: Path, demo_database: Database, tmp_path: Path
) -> None:
    lines = tmp_path / "app.jsonl"
    records = [{"ts": f"2026-04-01T00:00:0{n}Z", "action": f"step{n}"} for n in range(7)]
    lines.write_text("".join(json.dumps(r) + "\n" for r in records), "utf-8")
    args = ["import", str(lines), "--format", "jsonl", "--batch", "3"]
    result = mamori(*args, "--tenant", TENANT, "--service", "my-assess")
    assert result.exit_code == 0, result.output
    assert "Events stored: 7" in result.stdout
    assert stored_logs(demo_database) == [(TENANT, "my-assess", f"step{n}") for n in range(7)]
    assert "duplicates skipped: 7" in mamori(*args, "--tenant", TENANT).stdout


def test_a_malformed_file_exits_2_naming_the_line_and_can_be_rerun_once_fixed(
    env: Path, demo_database: Database, tmp_path: Path
) -> None:
    lines = tmp_path / "broken.jsonl"
    good = ['{"msg": "one"}', '{"msg": "two"}']
    lines.write_text("\n".join([*good, '{"msg": three}', '{"msg": "four"}']) + "\n", "utf-8")
    result = mamori("import", str(lines), "--format", "jsonl", "--batch", "1")
    assert result.exit_code == 2
    assert f"{lines}:3: line 3 is not JSON" in result.stderr
    assert "2 events were stored" in result.stderr
    assert count(demo_database) == 2  # the two good lines

    lines.write_text("\n".join([*good, '{"msg": "three"}', '{"msg": "four"}']) + "\n", "utf-8")
    fixed = mamori("import", str(lines), "--format", "jsonl", "--batch", "1")
    assert fixed.exit_code == 0, fixed.output
    assert "Events stored: 2; duplicates skipped: 2." in fixed.stdout


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["--format", "cloudtrail"], "expected one object with a Records list"),
        (["--format", "jsonl", "--tenant", "nobody"], "there is no tenant nobody"),
        (["--format", "jsonl", "--service", "nothing"], "unknown service 'nothing'"),
        (["--format", "jsonl", "--batch", "0"], "--batch"),
    ],
)
def test_bad_import_input_exits_2(
    env: Path, demo_database: Database, tmp_path: Path, args: list[str], wanted: str
) -> None:
    lines = tmp_path / "one.jsonl"
    lines.write_text('{"msg": "one"}\n', "utf-8")
    result = mamori("import", str(lines), *args)
    assert result.exit_code == 2
    assert wanted in result.stderr
    assert count(demo_database) == 0


def old_and_new_events(ledger: LedgerService, clock: FakeClock) -> None:
    """Four events received six years ago (two chunks), then two received yesterday."""
    now = clock.now
    clock.now = LONG_AGO
    ledger.append([sample_event(n, TENANT) for n in range(3)])
    ledger.append([sample_event(3, "sakura-town-boe")])
    clock.now = now
    ledger.append([sample_event(n, TENANT) for n in range(10, 12)])


def test_purge_dry_run_lists_and_keeps_then_purge_erases_and_verify_passes(
    env: Path, ledger: LedgerService, clock: FakeClock, demo_database: Database
) -> None:
    old_and_new_events(ledger, clock)
    dry = mamori("purge", "--dry-run", "--json")
    assert dry.exit_code == 0, dry.output
    listed = json.loads(dry.stdout)
    assert (listed["chunks"], listed["events"], listed["held_chunks"]) == (2, 4, 0)
    assert [(c["class"], c["chunks"], c["events"]) for c in listed["classes"]] == [("log", 2, 4)]
    table = mamori("purge", "--dry-run")
    assert "4 events in 2 chunks would be erased" in table.stdout
    assert "log" in table.stdout
    assert count(demo_database) == 6

    result = mamori("purge")
    assert result.exit_code == 0, result.output
    assert "Erased 4 events in 2 chunks" in result.stdout
    assert count(demo_database, LedgerChunk.index > 1) == 3  # new ones and the run's record
    assert count(demo_database, LedgerChunk.index <= 1) == 0
    verified = mamori("verify", "--json")
    assert verified.exit_code == 0, verified.output
    assert json.loads(verified.stdout)["purged_chunks"] == 2


def test_holds_keep_events_from_the_purge_until_released(
    env: Path, ledger: LedgerService, clock: FakeClock, demo_database: Database
) -> None:
    old_and_new_events(ledger, clock)
    added = mamori(
        "hold", "add", "--tenant", TENANT, "--from", "2020-01-06", "--to", "2020-01-06",
        "--reason", "Police request 2026-17",
    )  # fmt: skip
    assert added.exit_code == 0, added.output
    hold_id = re.search(r"Legal hold (\S+) added", added.stdout)[1]  # type: ignore[index]

    holds = json.loads(mamori("hold", "list", "--json").stdout)
    assert [(h["id"], h["tenant_id"], h["released_at"]) for h in holds] == [(hold_id, TENANT, None)]
    starts, ends = (datetime.fromisoformat(holds[0][key]) for key in ("starts_at", "ends_at"))
    assert ends - starts == timedelta(days=1)  # the last day counts in full
    assert starts <= LONG_AGO < ends
    table = mamori("hold", "list").stdout
    assert hold_id in table and "Police" in table

    erased = json.loads(mamori("purge", "--json").stdout)
    assert (erased["chunks"], erased["held_chunks"]) == (1, 1)  # the other tenant's went
    assert count(demo_database, LedgerChunk.index == 0) == 3

    released = mamori("hold", "release", hold_id)
    assert released.exit_code == 0, released.output
    assert mamori("hold", "release", hold_id).exit_code == 1  # already released
    assert mamori("hold", "release", "no-such-hold").exit_code == 2
    assert json.loads(mamori("purge", "--json").stdout)["events"] == 3
    with demo_database.session() as session:
        assert session.get(LegalHold, hold_id).released_at is not None  # type: ignore[union-attr]
        trail = LedgerAuditTrail(LedgerWriter(log_signer(get_settings())))
        actions = trail.read(
            session, TenantScope.everything(), True, AuditQuery(action="legal_hold.")
        )
    assert [(a.action, a.target_id, a.actor_label) for a in actions] == [
        ("legal_hold.release", hold_id, "mamori-cli"),
        ("legal_hold.add", hold_id, "mamori-cli"),
    ]
    assert mamori("verify").exit_code == 0


@pytest.mark.parametrize(
    ("args", "wanted"),
    [
        (["--from", "2026-01-01", "--to", "2026-01-31"], "--tenant"),
        (["--all", "--tenant", TENANT, "--from", "2026-01-01", "--to", "2026-01-31"], "--tenant"),
        (["--tenant", "nobody", "--from", "2026-01-01", "--to", "2026-01-31"], "no tenant"),
        (["--all", "--from", "2026-02-01", "--to", "2026-01-01"], "field '--to'"),
        (["--all", "--from", "1 Feb", "--to", "2026-03-01"], "field '--from'"),
    ],
)
def test_bad_holds_exit_2(env: Path, demo_database: Database, args: list[str], wanted: str) -> None:
    result = mamori("hold", "add", *args, "--reason", "an inquiry")
    assert result.exit_code == 2
    assert wanted in result.stderr


def run_verifier(*args: str) -> subprocess.CompletedProcess[str]:
    """The standalone verifier, as an auditor runs it."""
    command = [sys.executable, "-I", str(VERIFIER), *args]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_proofs_and_consistency_verify_with_the_standalone_verifier(
    env: Path, ledger: LedgerService, clock: FakeClock, tmp_path: Path
) -> None:
    ledger.append([sample_event(n) for n in range(4)])
    clock.advance(hours=2)
    ledger.append([sample_event(n, "sakura-town-boe") for n in range(4, 8)])
    vkey = mamori("vkey").stdout.strip()
    assert vkey == ledger.vkey

    bundle = tmp_path / "out" / "proof.json"
    result = mamori("proof", "1", "6", "--redact", "subject", "-o", str(bundle))
    assert result.exit_code == 0, result.output
    checked = run_verifier("bundle", str(bundle), "--vkey", vkey, "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    data = json.loads(bundle.read_text("utf-8"))
    assert [e["seq"] for e in data["events"]] == [1, 6]
    assert all(e["subject"]["redacted"] for e in data["events"])
    assert mamori("proof", "1", "6", "--redact", "subject").stdout_bytes == bundle.read_bytes()

    listed = json.loads(mamori("checkpoints", "--json").stdout)
    assert [c["size"] for c in listed["checkpoints"]] == [2, 1]
    assert listed["head"]["size"] == 2
    proof = tmp_path / "consistency.json"
    assert mamori("consistency", "1", "2", "-o", str(proof)).exit_code == 0
    checked = run_verifier("consistency", str(proof), "--vkey", vkey)
    assert checked.returncode == 0, checked.stdout + checked.stderr

    assert mamori("proof", "99").exit_code == 2
    assert "no event 99" in mamori("proof", "99").stderr
    assert mamori("consistency", "5").exit_code == 2


def test_syslog_refuses_plain_tcp_off_loopback_and_unusable_tls(
    env: Path, demo_database: Database, tmp_path: Path
) -> None:
    result = mamori("syslog", "--host", "0.0.0.0", "--port", "0")  # noqa: S104
    assert result.exit_code == 2
    assert "configure TLS or listen on loopback" in result.stderr
    half = mamori("syslog", "--tls-cert", "server.pem")
    assert half.exit_code == 2
    assert "--tls-key" in half.stderr
    (tmp_path / "server.pem").write_text("not a certificate", "utf-8")
    args = ["--tls-cert", str(tmp_path / "server.pem"), "--tls-key", str(tmp_path / "server.pem")]
    broken = mamori("syslog", "--host", "0.0.0.0", *args)  # noqa: S104
    assert broken.exit_code == 2
    assert "cannot be used" in broken.stderr


@pytest.mark.parametrize("stop", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "sigterm"])
def test_syslog_stores_what_it_receives_until_stopped(
    env: Path, demo_database: Database, stop: signal.Signals
) -> None:
    command = [sys.executable, "-c", "from mamori.cli.main import app; app()"]
    server = subprocess.Popen(
        [*command, "ledger", "syslog", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    try:
        assert server.stdout is not None
        announced = server.stdout.readline()
        port = int(re.search(r"127\.0\.0\.1:(\d+)", announced)[1])  # type: ignore[index]
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(
                b"<38>1 2026-04-01T09:00:00Z web-1 sshd 812 - - Accepted publickey for alice\n"
                b"<38>1 2026-04-01T09:00:01Z web-1 sshd 812 - - session closed for alice\n"
            )
        deadline = time.monotonic() + 15
        while count(demo_database) < 2 and time.monotonic() < deadline:
            time.sleep(0.1)
        server.send_signal(stop)
        out, err = server.communicate(timeout=20)
    finally:
        if server.poll() is None:
            server.kill()
    assert server.returncode == 0, err
    assert "Events stored: 2;" in out, out
    assert [e[0] for e in stored_logs(demo_database)] == [None, None]  # syslog: the provider's
