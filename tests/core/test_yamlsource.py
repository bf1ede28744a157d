"""YAML with line numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.core.errors import InputError
from mamori.core.yamlsource import format_path, load_yaml


def test_lines_of_nested_values(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text(
        "items:\n  - id: one\n    title:\n      ja: 一\n  - id: two\n", encoding="utf-8"
    )
    document = load_yaml(path)
    assert document.data == {"items": [{"id": "one", "title": {"ja": "一"}}, {"id": "two"}]}
    assert document.line_of(("items", 0, "title", "ja")) == 4
    assert document.line_of(("items", 1, "id")) == 5
    assert document.line_of(("items", 1, "title", "en")) == 5  # nearest ancestor


def test_duplicate_keys_are_refused(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\nb: 2\na: 3\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_yaml(path)
    assert caught.value.line == 3
    assert caught.value.field == "a"


def test_syntax_error_has_a_line(tmp_path: Path) -> None:
    path = tmp_path / "a.yaml"
    path.write_text("a: 1\nb: [2\nc: 3\n", encoding="utf-8")
    with pytest.raises(InputError) as caught:
        load_yaml(path)
    assert caught.value.line is not None and caught.value.line >= 2


def test_format_path() -> None:
    assert format_path(("commitments", 3, "title", "ja")) == "commitments[3].title.ja"


def test_oversized_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.yaml"
    path.write_bytes(b"a: " + b"x" * (5 * 1024 * 1024) + b"\n")
    with pytest.raises(InputError) as caught:
        load_yaml(path)
    assert caught.value.params["limit"] == 5 * 1024 * 1024
