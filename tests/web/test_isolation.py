"""Tenant isolation: every route, walked as tenant B with tenant A's ids."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest
from fastapi import Request
from sqlalchemy import select

from mamori.core.mail.memory import MemoryNotifier
from mamori.core.scope import TenantScope
from mamori.ledger import disclosure
from mamori.ledger.analysis import request_analysis
from mamori.ledger.events import Outcome
from mamori.ledger.monitoring import Monitor
from mamori.tenants.models import AccessGrant, ApiToken, User
from mamori.tenants.models import Tenant as TenantRow
from mamori.tenants.permissions import Role
from mamori.tenants.service import grants, tokens
from mamori.web.auth import authenticate, web_context
from tests.ledger.conftest import sample_event
from tests.support.identities import Identities
from tests.support.isolation import Tenant, routes, walk
from tests.support.portal import Portal

A, B = "midori-city-boe", "sakura-town-boe"
ALERT_ACTOR = "a-only-actor@midori.example.jp"


@pytest.fixture
def victim(portal: Portal, people: Identities) -> Tenant:
    """Tenant A with a user, a member, an API token and an active staff grant."""
    admin = people.user("admin-a@midori.example.jp", Role.TENANT_ADMIN, A)
    member = people.user("member-a@midori.example.jp", Role.TENANT_MEMBER, A)
    operator = people.user("op@provider.example.jp", Role.OPERATOR)
    officer = people.user("so@provider.example.jp", Role.SECURITY_OFFICER)
    ledger = portal.app.state.mamori.ledger
    ledger.append([sample_event(n, A) for n in range(5)])
    failures = [
        sample_event(n, A)._replace(
            event=replace(
                sample_event(n, A).event,
                actor=ALERT_ACTOR,
                action="login",
                outcome=Outcome.FAILURE,
                labels={},
            ),
        )
        for n in range(100, 106)
    ]
    ledger.append(failures)
    run = Monitor(people.database, people.settings, MemoryNotifier()).run(people.clock.now)
    assert len(run.alerts) == 1, run
    with people.work() as services:
        token = tokens.create_token(
            services, admin, name="a-secret-token-name", scopes=["tenants:read"], days=5
        )
        now = services.now()
        analysis = request_analysis(
            services.session, admin, now - timedelta(days=1), now - timedelta(minutes=1), now
        )
        disclosure_row = disclosure.request(
            services,
            admin,
            A,
            now - timedelta(days=300),
            now + timedelta(minutes=1),
            {},
            "A-only disclosure reason",
        )
        grant = grants.request_grant(
            services, operator, tenant_id=A, reason="A-only reason for access", minutes=60
        )
        grants.approve(services, officer, grant.id)
        name = services.repository.tenant(A, TenantScope.everything())
        assert name is not None
        tenant_name = name.name.ja
    people.user("admin-b@sakura.example.jp", Role.TENANT_ADMIN, B)
    return Tenant(
        ids={
            "tenant_id": A,
            "user_id": member.user_id,
            "grant_id": grant.id,
            "token_id": token.row.id,
            "analysis_id": analysis.id,
            "disclosure_id": disclosure_row.id,
            "alert_id": run.alerts[0],
        },
        markers=[
            tenant_name,
            "admin-a@midori.example.jp",
            "member-a@midori.example.jp",
            "a-secret-token-name",
            "A-only reason for access",
            "A-only disclosure reason",
            token.row.id,
        ],
    )


def _state(people: Identities) -> tuple[object, ...]:
    with people.work() as services:
        session = services.session
        grant = session.scalars(select(AccessGrant).where(AccessGrant.tenant_id == A)).one()
        token = session.scalars(select(ApiToken).where(ApiToken.tenant_id == A)).one()
        tenant = session.get(TenantRow, A)
        member = session.scalars(
            select(User).where(User.email == "member-a@midori.example.jp")
        ).one()
        assert tenant is not None
        return (
            grant.status,
            grant.ended_at,
            token.revoked_at,
            tenant.require_tenant_approval,
            member.locked_until,
            member.role,
        )


def test_every_route_keeps_tenant_a_from_tenant_b(
    portal: Portal, people: Identities, victim: Tenant
) -> None:
    before = _state(people)
    with portal.client() as client_b:
        portal.sign_in(client_b, "admin-b@sakura.example.jp")
        problems = walk(portal.app, client_b, victim)
    assert problems == []
    assert _state(people) == before
    assert len(routes(portal.app)) >= 30


def test_the_walker_catches_an_unscoped_route(
    portal: Portal, people: Identities, victim: Tenant
) -> None:
    @portal.app.get("/leaky/tenants/{tenant_id}")
    def leaky(request: Request, tenant_id: str) -> dict[str, str]:
        with web_context(request).services() as services:
            authenticate(request, services)
            row = services.session.get(TenantRow, tenant_id)  # deliberately unscoped
            return {"name": row.name.ja if row else ""}

    with portal.client() as client_b:
        portal.sign_in(client_b, "admin-b@sakura.example.jp")
        problems = walk(portal.app, client_b, victim)
    assert problems == [
        "GET /leaky/tenants/{tenant_id}: 200 for tenant A's ['tenant_id'], want 404"
    ]


def test_the_walker_refuses_unknown_parameters(
    portal: Portal, people: Identities, victim: Tenant
) -> None:
    @portal.app.get("/mystery/{widget_id}")
    def mystery(widget_id: str) -> dict[str, str]:
        return {}

    with portal.client() as client_b:
        portal.sign_in(client_b, "admin-b@sakura.example.jp")
        problems = walk(portal.app, client_b, victim)
    assert any("widget_id" in p for p in problems)


def test_staff_without_a_grant_see_no_customer_data(
    portal: Portal, people: Identities, victim: Tenant
) -> None:
    people.user("op2@provider.example.jp", Role.OPERATOR)
    with portal.client() as client:
        portal.sign_in(client, "op2@provider.example.jp")
        page = client.get(f"/tenants/{A}")
        assert page.status_code == 200
        assert "admin-a@midori.example.jp" not in page.text
        assert client.get(f"/api/v1/tenants/{A}/contacts").status_code == 404


def test_every_route_with_tenant_b_api_token(
    portal: Portal, people: Identities, victim: Tenant
) -> None:
    admin_b = people.user("tokens-b@sakura.example.jp", Role.TENANT_ADMIN, B)
    with people.work() as services:
        secret = tokens.create_token(
            services, admin_b, name="b", scopes=list(tokens.SCOPES), days=1
        ).secret
    before = _state(people)
    with portal.client() as client_b:
        client_b.headers["Authorization"] = f"Bearer {secret}"
        problems = walk(portal.app, client_b, victim, csrf_page="/login")
    assert problems == []
    assert _state(people) == before
