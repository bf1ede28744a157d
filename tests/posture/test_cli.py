"""`mamori posture …` as an operator uses it: load, evaluate, diff, export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mamori.cli.main import app
from mamori.posture.snapshot import Resource, Snapshot, write_snapshot

runner = CliRunner()
AT = datetime(2026, 11, 20, 0, 0, tzinfo=UTC)


def snapshot_file(path: Path, *, tag_orphan: bool, day: int = 0) -> Path:
    snapshot = Snapshot(collected_at=AT + timedelta(days=day))
    for name, tags in (
        ("kept", {"mamori:tenant": "midori-city-boe", "mamori:service": "total-id"}),
        ("orphan", {"mamori:tenant": "shared", "mamori:service": "total-id"} if tag_orphan else {}),
    ):
        snapshot.add(
            Resource(
                "aws",
                "111111111111",
                "ap-northeast-1",
                "aws.s3.bucket",
                f"arn:aws:s3:::{name}",
                name,
                tags,
            )
        )
    write_snapshot(snapshot, path)
    return path


@pytest.fixture
def loaded_env(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("MAMORI_DEFAULT_LANGUAGE", "en")
    assert runner.invoke(app, ["catalog", "load"]).exit_code == 0
    return cli_env


@pytest.mark.parametrize("command", ["collect", "load", "evaluate", "diff", "export"])
def test_every_posture_command_has_help(command: str) -> None:
    result = runner.invoke(app, ["posture", command, "--help"])
    assert result.exit_code == 0, result.output


def test_load_evaluate_export_and_resolve(loaded_env: Path, tmp_path: Path) -> None:
    first = snapshot_file(tmp_path / "first.jsonl.gz", tag_orphan=False)
    loaded = runner.invoke(app, ["posture", "load", str(first)])
    assert loaded.exit_code == 0, loaded.output
    assert "Stored snapshot" in loaded.output and "2 resources" in loaded.output

    evaluated = runner.invoke(app, ["posture", "evaluate", "--json"])
    assert evaluated.exit_code == 1, evaluated.output  # a check failed
    summary = json.loads(evaluated.output)
    assert summary["opened"] >= 1 and summary["counts"]["fail"] >= 1

    exported = runner.invoke(app, ["posture", "export", "--format", "csv"])
    assert exported.exit_code == 0, exported.output
    rows = list(csv.DictReader(io.StringIO(exported.output)))
    orphan = [r for r in rows if r["check_id"] == "posture_resources_attributed"]
    assert [r["resource_id"] for r in orphan] == ["arn:aws:s3:::orphan"]
    assert orphan[0]["tenant"] == "unattributed" and orphan[0]["resolved"] == ""

    out = tmp_path / "findings.json"
    assert (
        runner.invoke(app, ["posture", "export", "--format", "ocsf", "-o", str(out)]).exit_code == 0
    )
    events = json.loads(out.read_text(encoding="utf-8"))
    assert {e["class_uid"] for e in events} == {2003}

    fixed = snapshot_file(tmp_path / "fixed.jsonl.gz", tag_orphan=True, day=1)
    assert runner.invoke(app, ["posture", "load", str(fixed)]).exit_code == 0
    runner.invoke(app, ["posture", "evaluate"])
    everything = runner.invoke(app, ["posture", "export", "--all"])
    rows = list(csv.DictReader(io.StringIO(everything.output)))
    [resolved] = [
        r
        for r in rows
        if r["resource_id"] == "arn:aws:s3:::orphan"
        and r["check_id"] == "posture_resources_attributed"
    ]
    assert resolved["resolved"].startswith("2026-11-21")


def test_evaluate_a_file_stores_nothing(loaded_env: Path, tmp_path: Path) -> None:
    path = snapshot_file(tmp_path / "s.jsonl.gz", tag_orphan=False)
    result = runner.invoke(app, ["posture", "evaluate", "--snapshot", str(path), "--json"])
    assert result.exit_code == 1
    rows = json.loads(result.stdout)
    failed = {(r["check"], r["subject"]) for r in rows if r["status"] == "fail"}
    assert ("posture_resources_attributed", "aws:arn:aws:s3:::orphan") in failed
    stored = runner.invoke(app, ["posture", "evaluate"])
    assert stored.exit_code == 2 and "no snapshot is stored yet" in stored.stderr


def test_diff_of_files_and_bad_files(loaded_env: Path, tmp_path: Path) -> None:
    a = snapshot_file(tmp_path / "a.jsonl.gz", tag_orphan=False)
    b = snapshot_file(tmp_path / "b.jsonl.gz", tag_orphan=True)
    same = runner.invoke(app, ["posture", "diff", str(a), str(a)])
    assert same.exit_code == 0 and "No differences" in same.output
    changed = runner.invoke(app, ["posture", "diff", str(a), str(b), "--json"])
    assert changed.exit_code == 1
    assert json.loads(changed.stdout)["changed"] == [
        {"key": "aws:arn:aws:s3:::orphan", "fields": ["tags"]}
    ]
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"not a snapshot")
    refused = runner.invoke(app, ["posture", "load", str(bad)])
    assert refused.exit_code == 2 and "bad.gz" in refused.stderr
    missing = runner.invoke(app, ["posture", "diff", str(a), str(tmp_path / "nope.gz")])
    assert missing.exit_code == 2 and "no such file" in missing.stderr
    unconfigured = runner.invoke(app, ["posture", "collect"])
    assert unconfigured.exit_code == 2 and "MAMORI_POSTURE_SOURCES_FILE" in unconfigured.stderr
