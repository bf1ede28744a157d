"""API tokens: shown once, stored hashed, scoped, expiring, revocable."""

from __future__ import annotations

import pytest

from mamori.core.crypto import token_hash
from mamori.core.errors import ForbiddenError, InputError, NotFoundError
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from tests.support.identities import Identities


def test_token_lifecycle(identities: Identities) -> None:
    admin = identities.user("admin@aoba.example.jp", Role.TENANT_ADMIN, "aoba-city-boe")
    with identities.work() as services:
        new = tokens.create_token(services, admin, name="ci", scopes=["commitments:read"], days=30)
    assert new.secret.startswith("mmr_")
    with identities.work() as services:
        stored = services.repository.api_token(new.row.id)
        assert stored is not None
        assert new.secret.split("_", 2)[2] not in stored.secret_hash
        assert stored.secret_hash == token_hash(new.secret.split("_", 2)[2])
        principal = tokens.authenticate(services, new.secret, "192.0.2.5")
        assert principal is not None and principal.token_scopes == frozenset({"commitments:read"})
        assert principal.tenant_id == "aoba-city-boe"
        assert tokens.authenticate(services, new.secret[:-2] + "xx", "") is None
    identities.clock.advance(days=30)
    with identities.work() as services:
        assert tokens.authenticate(services, new.secret, "") is None


def test_revocation_and_visibility(identities: Identities) -> None:
    admin = identities.user("admin@aoba.example.jp", Role.TENANT_ADMIN, "aoba-city-boe")
    other = identities.user("admin@sakura.example.jp", Role.TENANT_ADMIN, "sakura-town-boe")
    with identities.work() as services:
        new = tokens.create_token(services, admin, name="ci", scopes=["tenants:read"], days=1)
    with pytest.raises(NotFoundError), identities.work() as services:
        tokens.revoke_token(services, other, new.row.id)
    with identities.work() as services:
        assert [t.id for t in tokens.list_tokens(services, other)] == []
        tokens.revoke_token(services, admin, new.row.id)
    with identities.work() as services:
        assert tokens.authenticate(services, new.secret, "") is None


def test_bad_requests(identities: Identities) -> None:
    member = identities.user("m@aoba.example.jp", Role.TENANT_MEMBER, "aoba-city-boe")
    admin = identities.user("admin@aoba.example.jp", Role.TENANT_ADMIN, "aoba-city-boe")
    with pytest.raises(ForbiddenError), identities.work() as services:
        tokens.create_token(services, member, name="x", scopes=["tenants:read"], days=1)
    with pytest.raises(InputError), identities.work() as services:
        tokens.create_token(services, admin, name="x", scopes=["root"], days=1)
    with pytest.raises(InputError), identities.work() as services:
        tokens.create_token(services, admin, name="x", scopes=["tenants:read"], days=9999)


def test_last_use_is_recorded_once_a_minute(identities: Identities) -> None:
    """A shipper's token is used many times a second: its last use is written at most
    once per LAST_USE_RESOLUTION, and `identify` writes nothing."""
    admin = identities.user("admin@aoba.example.jp", Role.TENANT_ADMIN, "aoba-city-boe")
    with identities.work() as services:
        new = tokens.create_token(services, admin, name="ci", scopes=["ingest:logs"], days=5)

    def last_use() -> object:
        with identities.work() as services:
            row = services.repository.api_token(new.row.id)
            assert row is not None
            return row.last_used_at

    with identities.work() as services:
        found = tokens.identify(services, new.secret, "")
        assert found is not None and tokens.last_use_is_stale(found[1], services.now())
    assert last_use() is None
    with identities.work() as services:
        assert tokens.authenticate(services, new.secret, "") is not None
    first = last_use()
    assert first is not None
    identities.clock.advance(seconds=30)
    with identities.work() as services:
        assert tokens.authenticate(services, new.secret, "") is not None
    assert last_use() == first
    identities.clock.advance(seconds=31)
    with identities.work() as services:
        assert tokens.authenticate(services, new.secret, "") is not None
    assert last_use() != first
