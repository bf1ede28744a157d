"""Fixtures for identity tests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from tests.support.identities import FakeClock, Identities


@pytest.fixture
def identities(demo_database: Database, tmp_path: Path) -> Identities:
    """Identity services over the demo provider, with a fake clock."""
    settings = Settings(data_dir=tmp_path, public_url="https://portal.example.jp")
    return Identities(demo_database, settings, FakeClock(), MemoryNotifier())
