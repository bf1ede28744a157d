"""Every state-changing route, tried by every role: the permission table decides who may.

The routes come from the app's router. Each must be declared below with the permissions
that let a role use it (or as self-service, open to anyone signed in or holding a link),
so a route added later without a declaration fails this test. A role the table refuses
gets 403 or 404 and changes nothing; a role it allows is not refused.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.scope import Principal
from mamori.core.settings import Settings
from mamori.ledger import disclosure
from mamori.ledger.events import Outcome
from mamori.ledger.models import LedgerAlert, LedgerAnalysis, LedgerChunk, LedgerDisclosure
from mamori.ledger.monitoring import Monitor
from mamori.ledger.notes import COSIGNATURE_V1, verifier_key
from mamori.tenants.models import AccessGrant, ApiToken, Tenant, User
from mamori.tenants.permissions import CUSTOMER_ROLES, PERMISSIONS, Permission, Role
from mamori.tenants.service import grants, tokens
from tests.ledger.conftest import sample_event
from tests.support import audit
from tests.support.identities import Identities
from tests.support.isolation import routes
from tests.support.portal import Portal, csrf_of

A = "midori-city-boe"
JST = ZoneInfo("Asia/Tokyo")
COSIGNER_VKEY = verifier_key("it.midori-city.example.jp/cosigner", COSIGNATURE_V1, b"\x01" * 32)
P = Permission


@dataclass(frozen=True)
class World:
    """What exists before the role under test acts."""

    caller: Principal
    member_id: str  # a tenant member of A
    pending_grant: str  # requested by another operator, for tenant A (needs A's approval)
    active_grant: str  # approved, for tenant A
    own_token: str | None  # the caller's token, when its role may hold one
    foreign_token: str  # another user's token
    disclosure: str  # tenant A's request for evidence, waiting for review
    alert: str  # an open security alert of tenant A
    now: datetime


@dataclass(frozen=True)
class Case:
    """How to call one route, and which permissions let a role call it."""

    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]]
    allowed: Callable[[Role, World], bool]


def _any(*permissions: Permission) -> Callable[[Role, World], bool]:
    return lambda role, world: any(p in PERMISSIONS[role] for p in permissions)


def _all(*permissions: Permission) -> Callable[[Role, World], bool]:
    return lambda role, world: all(p in PERMISSIONS[role] for p in permissions)


def _invitee(world: World) -> dict[str, Any]:
    customer = world.caller.tenant_id is not None
    return {
        "email": f"new-{world.caller.role}@example.jp",
        "display_name": "New person",
        "role": "tenant_member" if customer else "operator",
        "language_pref": "ja",
    }


def _own_token(world: World) -> str:
    return world.own_token or world.foreign_token


def _day(world: World, offset: int) -> str:
    return (world.now + timedelta(days=offset)).astimezone(JST).date().isoformat()


def _span(world: World) -> dict[str, Any]:
    start = world.now - timedelta(days=2)
    return {"starts_at": start.isoformat(), "ends_at": world.now.isoformat()}


NOTHING: Callable[[World], dict[str, Any]] = lambda world: {}  # noqa: E731
GRANT_REQUEST = {"tenant_id": A, "reason": "Matrix test: investigate ticket 42", "minutes": 30}

# Routes anyone may use for their own session or through a mailed link.
SELF_SERVICE = frozenset(
    {
        ("POST", "/login"),
        ("POST", "/login/mfa"),
        ("POST", "/logout"),
        ("POST", "/invitation/{token}"),
        ("POST", "/reset"),
        ("POST", "/reset/{token}"),
        ("POST", "/account/language"),
        ("POST", "/account/mfa"),
    }
)

# Routes for machines with API tokens: a browser session is refused whatever its role.
TOKEN_ONLY = frozenset(
    {("POST", "/api/v1/ingest"), ("POST", "/v1/logs"), ("POST", "/loki/api/v1/push")}
)

CASES: dict[tuple[str, str], Case] = {
    ("POST", "/my-tenant/settings"): Case(
        lambda w: "/my-tenant/settings",
        lambda w: {"require_tenant_approval": "on"},
        _any(P.MANAGE_TENANT_SETTINGS),
    ),
    ("POST", "/users/invite"): Case(
        lambda w: "/users/invite", _invitee, _any(P.MANAGE_TENANT_USERS, P.MANAGE_STAFF)
    ),
    ("POST", "/users/{user_id}/unlock"): Case(
        lambda w: f"/users/{w.member_id}/unlock",
        NOTHING,
        _all(P.VIEW_LOCKOUTS, P.APPROVE_GRANT),
    ),
    ("POST", "/grants"): Case(lambda w: "/grants", lambda w: GRANT_REQUEST, _any(P.REQUEST_GRANT)),
    ("POST", "/grants/{grant_id}/{action}"): Case(
        lambda w: f"/grants/{w.pending_grant}/approve", NOTHING, _any(P.APPROVE_GRANT)
    ),
    ("POST", "/tokens"): Case(
        lambda w: "/tokens",
        lambda w: {"name": "matrix", "days": 5, "scopes": "tenants:read"},
        _any(P.MANAGE_API_TOKENS),
    ),
    ("POST", "/tokens/{token_id}/revoke"): Case(
        lambda w: f"/tokens/{_own_token(w)}/revoke", NOTHING, _any(P.MANAGE_API_TOKENS)
    ),
    ("POST", "/api/v1/grants"): Case(
        lambda w: "/api/v1/grants", lambda w: GRANT_REQUEST, _any(P.REQUEST_GRANT)
    ),
    ("DELETE", "/api/v1/tokens/{token_id}"): Case(
        lambda w: f"/api/v1/tokens/{_own_token(w)}", NOTHING, _any(P.MANAGE_API_TOKENS)
    ),
    ("POST", "/analyses"): Case(
        lambda w: "/analyses",
        lambda w: {"starts_on": _day(w, -2), "ends_on": _day(w, -1)},
        _any(P.REQUEST_ANALYSIS),
    ),
    ("POST", "/api/v1/analyses"): Case(
        lambda w: "/api/v1/analyses", _span, _any(P.REQUEST_ANALYSIS)
    ),
    ("POST", "/disclosures"): Case(
        lambda w: "/disclosures",
        lambda w: {
            "starts_on": _day(w, -2),
            "ends_on": _day(w, 0),
            "reason": "Matrix test: evidence for a police inquiry",
            "tenant_id": A,
            "authority": "Kita Police Station",
        },
        _any(P.REQUEST_DISCLOSURE),
    ),
    ("POST", "/disclosures/{disclosure_id}/{action}"): Case(
        lambda w: f"/disclosures/{w.disclosure}/review",
        lambda w: {"redact": "subject", "note": "matrix"},
        _any(P.REVIEW_DISCLOSURE),
    ),
    ("POST", "/alerts/{alert_id}/{action}"): Case(
        lambda w: f"/alerts/{w.alert}/acknowledge", NOTHING, _any(P.MANAGE_ALERTS)
    ),
    ("POST", "/api/v1/ledger/cosigners"): Case(
        lambda w: "/api/v1/ledger/cosigners",
        lambda w: {"vkey": COSIGNER_VKEY},
        _any(P.COSIGN_CHECKPOINTS),
    ),
    ("POST", "/api/v1/ledger/checkpoints/{size}/cosignatures"): Case(
        lambda w: "/api/v1/ledger/checkpoints/1/cosignatures",
        lambda w: {"line": "\u2014 not.a.real/cosigner AAAAAAAAAAAAAAAAAAAA"},
        _any(P.COSIGN_CHECKPOINTS),
    ),
    ("POST", "/api/v1/disclosures"): Case(
        lambda w: "/api/v1/disclosures",
        lambda w: {
            **_span(w),
            "reason": "Matrix test: evidence for a police inquiry",
            "tenant_id": A,
            "authority": "Kita Police Station",
        },
        _any(P.REQUEST_DISCLOSURE),
    ),
}


# The other grant decisions, each with who may take it.
GRANT_DECISIONS: dict[str, tuple[Callable[[World], str], Callable[[Role, World], bool]]] = {
    "deny": (lambda w: w.pending_grant, _any(P.APPROVE_GRANT, P.APPROVE_GRANT_FOR_TENANT)),
    "tenant-approve": (lambda w: w.pending_grant, _any(P.APPROVE_GRANT_FOR_TENANT)),
    "end": (lambda w: w.active_grant, _any(P.APPROVE_GRANT, P.APPROVE_GRANT_FOR_TENANT)),
}


def test_every_state_changing_route_is_declared(portal: Portal) -> None:
    changing = {(m, p) for m, p in routes(portal.app) if m != "GET"}
    undeclared = changing - SELF_SERVICE - TOKEN_ONLY - CASES.keys()
    assert undeclared == set(), f"declare who may use {sorted(undeclared)}"
    assert CASES.keys() <= changing, "a declared route no longer exists"


def _world(portal: Portal, people: Identities, role: Role) -> World:
    tenant = A if role in CUSTOMER_ROLES else None
    caller = people.user(f"caller-{role}@example.jp", role, tenant)
    member = people.user("member@midori.example.jp", Role.TENANT_MEMBER, A)
    requester = people.user("requester@provider.example.jp", Role.OPERATOR)
    approver = people.user("approver@provider.example.jp", Role.SECURITY_OFFICER)
    owner = people.user("owner@provider.example.jp", Role.OPERATOR)
    with people.work() as services:
        active = grants.request_grant(
            services, requester, tenant_id=A, reason="active one", minutes=60
        )
        grants.approve(services, approver, active.id)
        foreign = tokens.create_token(
            services, owner, name="foreign", scopes=["tenants:read"], days=5
        )
        own = None
        if PERMISSIONS[role] & {P.MANAGE_API_TOKENS}:
            own = tokens.create_token(services, caller, name="own", scopes=["tenants:read"], days=5)
        services.session.get(Tenant, A).require_tenant_approval = True  # type: ignore[union-attr]
    portal.app.state.mamori.ledger.append([sample_event(n, A) for n in range(5)])
    failed = [
        e._replace(event=replace(e.event, actor="x@midori.example.jp", outcome=Outcome.FAILURE))
        for e in (sample_event(n, A) for n in range(100, 106))
    ]
    portal.app.state.mamori.ledger.append(failed)
    monitor = Monitor(people.database, people.settings, MemoryNotifier())
    alert = monitor.run(people.clock.now).alerts[0]
    tenant_admin = people.user("evidence@midori.example.jp", Role.TENANT_ADMIN, A)
    with people.work() as services:
        pending = grants.request_grant(
            services, requester, tenant_id=A, reason="pending one", minutes=60
        )
        now = services.now()
        asked = disclosure.request(
            services,
            tenant_admin,
            A,
            now - timedelta(days=1),
            now + timedelta(minutes=1),
            {},
            "Our auditors asked for sign-ins",
        )
    return World(
        caller=caller,
        member_id=member.user_id,
        pending_grant=pending.id,
        active_grant=active.id,
        own_token=own.row.id if own else None,
        foreign_token=foreign.row.id,
        disclosure=asked.id,
        alert=alert,
        now=now,
    )


def _state(database: Database, settings: Settings) -> tuple[object, ...]:
    """Everything the routes can change, apart from the trail of sign-ins."""
    sign_ins = len(audit.entries(database, settings, action_prefix="auth."))
    with database.session() as session:
        return (
            session.scalar(select(func.count()).select_from(User)),
            tuple(session.execute(select(AccessGrant.id, AccessGrant.status)).all()),
            tuple(session.execute(select(ApiToken.id, ApiToken.revoked_at)).all()),
            tuple(session.execute(select(Tenant.id, Tenant.require_tenant_approval)).all()),
            tuple(session.execute(select(User.id, User.locked_until)).all()),
            tuple(session.execute(select(LedgerDisclosure.id, LedgerDisclosure.state)).all()),
            tuple(session.execute(select(LedgerAlert.id, LedgerAlert.status)).all()),
            session.scalar(select(func.count()).select_from(LedgerAnalysis)),
            (
                session.scalar(
                    select(func.count())
                    .select_from(LedgerChunk)
                    .where(LedgerChunk.event_class == "audit")
                )
                or 0
            )
            - sign_ins,
        )


def _send(client: TestClient, method: str, path: str, body: dict[str, Any]) -> tuple[int, str]:
    token = csrf_of(client.get("/account").text)
    if path.startswith("/api/"):
        response = client.request(method, path, json=body or None, headers={"x-csrf-token": token})
    else:
        response = client.request(method, path, data={**body, "csrf_token": token})
    return response.status_code, response.text[:200]


def _attempts(world: World) -> list[tuple[str, str, dict[str, Any], bool]]:
    """(method, path, body, allowed) for every declared route and grant decision."""
    role = Role(world.caller.role)
    tries = []
    for (method, _), case in CASES.items():
        tries.append((method, case.path(world), case.body(world), case.allowed(role, world)))
    for action, (grant, allowed) in GRANT_DECISIONS.items():
        tries.append(("POST", f"/grants/{grant(world)}/{action}", {}, allowed(role, world)))
    for method, path in sorted(TOKEN_ONLY):
        tries.append((method, path, {}, False))
    return tries


@pytest.mark.parametrize("role", list(Role))
def test_refused_roles_change_nothing_and_allowed_roles_are_not_refused(
    portal: Portal, people: Identities, demo_database: Database, settings: Settings, role: Role
) -> None:
    world = _world(portal, people, role)
    wrong: list[str] = []
    with portal.client() as client:
        portal.sign_in(client, f"caller-{role}@example.jp")
        for method, path, body, allowed in _attempts(world):
            before = _state(demo_database, settings)
            status, text = _send(client, method, path, body)
            changed = _state(demo_database, settings) != before
            if allowed and status in (401, 403, 404, 422):
                wrong.append(f"{method} {path}: refused {status} though allowed: {text}")
            if not allowed and (status not in (401, 403, 404) or changed):
                wrong.append(f"{method} {path}: {status}, changed={changed}, want refused")
    assert wrong == []
