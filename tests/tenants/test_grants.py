"""Staff access grants: four eyes, tenant approval, recorded reads, expiry by time alone."""

from __future__ import annotations

import pytest

from mamori.core.errors import ConflictError, ForbiddenError, InputError, NotFoundError
from mamori.tenants.permissions import Role
from mamori.tenants.service import grants
from mamori.tenants.service.scopes import customer_data_scope
from tests.support.identities import Identities

TENANT = "midori-city-boe"


@pytest.fixture
def people(identities: Identities) -> dict[str, object]:
    return {
        "operator": identities.user("op@provider.example.jp", Role.OPERATOR),
        "officer": identities.user("so@provider.example.jp", Role.SECURITY_OFFICER),
        "officer2": identities.user("so2@provider.example.jp", Role.SECURITY_OFFICER),
        "auditor": identities.user("au@provider.example.jp", Role.AUDITOR),
        "tenant_admin": identities.user("admin@midori.example.jp", Role.TENANT_ADMIN, TENANT),
        "other_admin": identities.user(
            "admin@sakura.example.jp", Role.TENANT_ADMIN, "sakura-town-boe"
        ),
    }


def test_request_approve_access_transparency_expiry(identities: Identities, people: dict) -> None:
    operator, officer = people["operator"], people["officer"]
    with identities.work() as services:
        assert (
            customer_data_scope(services.session, operator, identities.clock.now).tenant_ids
            == frozenset()
        )
        grant = grants.request_grant(
            services,
            operator,
            tenant_id=TENANT,
            reason="Investigating a failed sign-in report",
            minutes=60,
        )
    with pytest.raises(ForbiddenError), identities.work() as services:
        grants.approve(services, operator, grant.id)  # not by the requester
    with pytest.raises(ForbiddenError), identities.work() as services:
        grants.approve(services, people["auditor"], grant.id)
    with identities.work() as services:
        approved = grants.approve(services, officer, grant.id)
        assert approved.status == grants.ACTIVE
    with identities.work() as services:
        scope = customer_data_scope(services.session, operator, identities.clock.now)
        assert scope.tenant_ids == frozenset({TENANT})
        grants.record_access(services, operator, TENANT, "/tenants/midori-city-boe/contacts")
    with identities.work() as services:
        seen = grants.transparency(services, people["tenant_admin"])
        assert [g.id for g in seen.grants] == [grant.id]
        assert [a.resource for a in seen.accesses] == ["/tenants/midori-city-boe/contacts"]
        other = grants.transparency(services, people["other_admin"])
        assert other.grants == [] and other.accesses == []

    identities.clock.advance(minutes=60)  # no job runs: time alone ends the grant
    with identities.work() as services:
        assert (
            customer_data_scope(services.session, operator, identities.clock.now).tenant_ids
            == frozenset()
        )
        with pytest.raises(NotFoundError):
            grants.record_access(services, operator, TENANT, "/late")
        stored = services.repository.grant(
            grant.id,
            customer_data_scope(services.session, people["tenant_admin"], identities.clock.now),
        )
        assert stored is not None and grants.effective_status(services, stored) == grants.EXPIRED


def test_tenant_that_requires_its_own_approval(identities: Identities, people: dict) -> None:
    with identities.work() as services:
        tenant = services.repository.tenant(
            TENANT,
            customer_data_scope(services.session, people["tenant_admin"], identities.clock.now),
        )
        assert tenant is not None
        tenant.require_tenant_approval = True
    with identities.work() as services:
        grant = grants.request_grant(
            services,
            people["operator"],
            tenant_id=TENANT,
            reason="Checking a support ticket",
            minutes=30,
        )
        assert (
            grants.approve(services, people["officer"], grant.id).status == grants.AWAITING_TENANT
        )
    with pytest.raises(NotFoundError), identities.work() as services:
        grants.approve_for_tenant(services, people["other_admin"], grant.id)
    with identities.work() as services:
        assert (
            customer_data_scope(
                services.session, people["operator"], identities.clock.now
            ).tenant_ids
            == frozenset()
        )
        assert (
            grants.approve_for_tenant(services, people["tenant_admin"], grant.id).status
            == grants.ACTIVE
        )
    with identities.work() as services:
        grants.end(services, people["tenant_admin"], grant.id)
        assert (
            customer_data_scope(
                services.session, people["operator"], identities.clock.now
            ).tenant_ids
            == frozenset()
        )


def test_illegal_transitions_and_bad_input(identities: Identities, people: dict) -> None:
    with pytest.raises(InputError), identities.work() as services:
        grants.request_grant(
            services, people["operator"], tenant_id=TENANT, reason="short", minutes=30
        )
    with pytest.raises(InputError), identities.work() as services:
        grants.request_grant(
            services,
            people["operator"],
            tenant_id=TENANT,
            reason="A long enough reason",
            minutes=10_000,
        )
    with pytest.raises(NotFoundError), identities.work() as services:
        grants.request_grant(
            services,
            people["operator"],
            tenant_id="no-such",
            reason="A long enough reason",
            minutes=30,
        )
    with pytest.raises(ForbiddenError), identities.work() as services:
        grants.request_grant(
            services, people["auditor"], tenant_id=TENANT, reason="A long enough reason", minutes=30
        )
    with identities.work() as services:
        grant = grants.request_grant(
            services,
            people["operator"],
            tenant_id=TENANT,
            reason="A long enough reason",
            minutes=30,
        )
        grants.deny(services, people["officer"], grant.id)
    with pytest.raises(ConflictError), identities.work() as services:
        grants.approve(services, people["officer2"], grant.id)
    with pytest.raises(ConflictError), identities.work() as services:
        grants.end(services, people["officer2"], grant.id)
