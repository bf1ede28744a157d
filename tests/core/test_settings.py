"""Settings: defaults, environment, mamori.toml, and a docs entry for every setting."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

from mamori.core.settings import Settings

DOCS = Path(__file__).resolve().parents[2] / "docs" / "settings.md"


def test_default_database_is_sqlite_under_the_data_directory(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.resolved_database_url == f"sqlite:///{(tmp_path / 'mamori.db').resolve()}"
    assert settings.resolved_output_dir == tmp_path / "out"
    assert settings.default_language == "ja"
    assert settings.timezone == "Asia/Tokyo"


def test_environment_overrides_toml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mamori.toml"
    config.write_text('port = 9001\ndefault_language = "en"\n', encoding="utf-8")
    monkeypatch.setenv("MAMORI_CONFIG", str(config))
    monkeypatch.setenv("MAMORI_PORT", "9002")
    settings = Settings()
    assert settings.port == 9002
    assert settings.default_language == "en"


def test_database_url_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    url = "postgresql+psycopg://mamori@db.internal/mamori"
    monkeypatch.setenv("MAMORI_DATABASE_URL", url)
    assert Settings().resolved_database_url == url


def test_bad_values_name_the_setting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mamori.toml"
    config.write_text('default_language = "fr"\n', encoding="utf-8")
    monkeypatch.setenv("MAMORI_CONFIG", str(config))
    with pytest.raises(ValidationError, match="default_language"):
        Settings()


def test_unknown_toml_key_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = tmp_path / "mamori.toml"
    config.write_text("databse_url = 'x'\n", encoding="utf-8")
    monkeypatch.setenv("MAMORI_CONFIG", str(config))
    with pytest.raises(ValidationError, match="databse_url"):
        Settings()


def test_every_setting_has_a_docs_entry() -> None:
    documented = set(re.findall(r"^### `(MAMORI_[A-Z_]+)`", DOCS.read_text(encoding="utf-8"), re.M))
    expected = {f"MAMORI_{name.upper()}" for name in Settings.model_fields}
    assert expected - documented == set(), "settings without a docs entry"
    assert documented - expected - {"MAMORI_CONFIG"} == set(), "docs for settings that do not exist"
