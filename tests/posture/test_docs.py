"""docs/posture.md lists every posture check."""

from __future__ import annotations

from pathlib import Path

import mamori.posture.checks  # noqa: F401 - registers the posture checks
from mamori.posture.checks.base import POSTURE_CHECKS

DOC = Path(__file__).resolve().parents[2] / "docs" / "posture.md"


def test_every_posture_check_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    assert [check for check in POSTURE_CHECKS if f"`{check}`" not in text] == []
