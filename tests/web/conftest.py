"""Fixtures for portal tests."""

from __future__ import annotations

import pytest

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.tenants.service.context import TOTP_KEY_PURPOSE
from tests.support.identities import Identities
from tests.support.portal import Portal, build_portal


@pytest.fixture
def portal(demo_database: Database, registry: CheckRegistry, settings: Settings) -> Portal:
    """The portal over the evaluated demo provider."""
    with demo_database.session() as session:
        CommitmentsService(session, registry).evaluate()
    return build_portal(demo_database, registry, settings)


@pytest.fixture
def people(portal: Portal, demo_database: Database, settings: Settings) -> Identities:
    """Creates users in the portal's database, sharing its clock and MFA key."""
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    return Identities(demo_database, settings, portal.clock, MemoryNotifier(), box)
