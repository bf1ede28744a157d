"""The `mamori` command as an operator uses it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from mamori.cli.main import app

runner = CliRunner()


@pytest.mark.parametrize(
    "command",
    [[], ["init"], ["demo"], ["evaluate"], ["whitepaper"], ["serve"], ["catalog", "load"]],
    ids=lambda c: " ".join(c) or "root",
)
def test_every_command_has_help(command: list[str]) -> None:
    result = runner.invoke(app, [*command, "--help"])
    assert result.exit_code == 0, result.output
    assert "Usage" in result.output


def test_commands_before_init_say_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("MAMORI_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("MAMORI_DEFAULT_LANGUAGE", "en")
    result = runner.invoke(app, ["evaluate"])
    assert result.exit_code == 2
    assert "schema is missing or out of date" in result.stderr
    assert "mamori init" in result.stderr


def test_init_then_demo_writes_whitepapers(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMORI_PDF_FONT_FAMILY", "IPAexGothic")
    assert runner.invoke(app, ["init"]).exit_code == 0
    result = runner.invoke(app, ["demo", "--no-serve"])
    assert result.exit_code == 0, result.output
    out = cli_env / "out"
    names = sorted(p.name for p in out.iterdir())
    assert names == [
        "whitepaper-en.html",
        "whitepaper-en.pdf",
        "whitepaper-ja.html",
        "whitepaper-ja.pdf",
    ]
    assert (out / "whitepaper-ja.pdf").read_bytes().startswith(b"%PDF-")
    assert "守りデモ教育クラウド株式会社" in (out / "whitepaper-ja.html").read_text("utf-8")


def test_evaluate_json_and_exit_code(cli_env: Path) -> None:
    assert runner.invoke(app, ["catalog", "load"]).exit_code == 0
    result = runner.invoke(app, ["evaluate", "--json"])
    # No service has sent logs and monitoring never ran: the log commitments are failing.
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert len(report["commitments"]) == 22
    assert report["errored_checks"] == []
    statuses = {c["id"]: c["status"] for c in report["commitments"]}
    # The services' declared regions pass, but no cloud snapshot was collected: the
    # posture checks are unknown, which is never a pass.
    assert statuses["data-storage-location"] == "at_risk"
    assert report["by_status"]["unknown"] >= 1
    assert statuses["backup"] == "not_evidenced"
    assert statuses["event-logging"] == "failing"
    assert statuses["security-requirements"] == "failing"
    assert "ledger_services_sending_logs" in report["failed_checks"]
    # Commitments without checks fail the catalog meta-check: a gate only under --strict.
    assert "commitment_has_owner_and_checks" in report["failed_checks"]
    assert runner.invoke(app, ["evaluate", "--strict"]).exit_code == 1


def test_whitepaper_to_file_and_stdout(cli_env: Path, tmp_path: Path) -> None:
    runner.invoke(app, ["catalog", "load"])
    target = tmp_path / "wp" / "en.md"
    result = runner.invoke(
        app, ["whitepaper", "--lang", "en", "--format", "md", "--with-status", "-o", str(target)]
    )
    assert result.exit_code == 0, result.output
    assert (
        "Cloud security basic policy" in target.read_text("utf-8")
        or "basic policy" in target.read_text("utf-8").lower()
    )
    result = runner.invoke(app, ["whitepaper", "--lang", "ja", "--format", "md"])
    assert result.exit_code == 0
    assert "マイアセス" in result.stdout


def test_pdf_to_stdout_is_refused(cli_env: Path) -> None:
    runner.invoke(app, ["catalog", "load"])
    result = runner.invoke(app, ["whitepaper", "--format", "pdf"])
    assert result.exit_code == 2
    assert "--output" in result.stderr


def test_bad_option_value_is_a_usage_error(cli_env: Path) -> None:
    result = runner.invoke(app, ["whitepaper", "--lang", "fr"])
    assert result.exit_code == 2


def test_permissions_doc_is_generated_from_the_table() -> None:
    from mamori.tenants.cli import permission_table_markdown

    doc = (Path(__file__).resolve().parents[2] / "docs" / "permissions.md").read_text("utf-8")
    assert permission_table_markdown("en") in doc


def test_users_invite_prints_a_working_link(cli_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MAMORI_DEFAULT_LANGUAGE", "en")
    runner.invoke(app, ["catalog", "load"])
    result = runner.invoke(
        app, ["users", "invite", "--email", "Boss@Provider.example.jp", "--role", "administrator"]
    )
    assert result.exit_code == 0, result.output
    assert "/invitation/" in result.stdout
    listed = runner.invoke(app, ["users", "list"])
    assert "boss@provider.example.jp" in listed.stdout
    again = runner.invoke(
        app, ["users", "invite", "--email", "boss@provider.example.jp", "--role", "administrator"]
    )
    assert again.exit_code == 1 and "exists" in again.stderr
    wrong = runner.invoke(app, ["users", "invite", "--email", "x@y.jp", "--role", "tenant_member"])
    assert wrong.exit_code == 2
