"""Security alerts in the portal and the API: who sees which, and the handling flow."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.core.text import LText
from mamori.ledger.alert_views import router
from mamori.ledger.detection import Alert, RuleKind
from mamori.ledger.events import Severity
from mamori.ledger.models import LedgerAlert
from mamori.ledger.monitoring import alert_row
from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from mamori.tenants.service.context import TOTP_KEY_PURPOSE
from tests.support import audit
from tests.support.identities import Identities
from tests.support.isolation import routes
from tests.support.portal import Portal, build_portal, csrf_of

A, B = "midori-city-boe", "sakura-town-boe"
ADMIN_A, MEMBER_A = "admin@midori.example.jp", "member@midori.example.jp"
OFFICER, AUDITOR = "officer@provider.example.jp", "auditor@provider.example.jp"
AT = datetime(2026, 11, 26, 23, 0, tzinfo=UTC)


@pytest.fixture
def portal(demo_database: Database, registry: CheckRegistry, settings: Settings) -> Portal:
    """The portal, with the alert routes included if the app does not have them yet."""
    with demo_database.session() as session:
        CommitmentsService(session, registry).evaluate()
    built = build_portal(demo_database, registry, settings)
    if ("GET", "/alerts") not in routes(built.app):
        built.app.include_router(router)
    return built


@pytest.fixture
def people(portal: Portal, demo_database: Database, settings: Settings) -> Identities:
    """Creates users in the portal's database, sharing its clock and MFA key."""
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    return Identities(demo_database, settings, portal.clock, MemoryNotifier(), box)


def _alert(tenant: str | None, actor: str, minutes: int) -> Alert:
    return Alert(
        rule_id="repeated_failed_logins",
        kind=RuleKind.THRESHOLD,
        severity=Severity.WARNING,
        tenant_id=tenant,
        service_id="total-id",
        group={"service_id": "total-id", "actor": actor},
        first_at=AT,
        last_at=AT + timedelta(minutes=minutes),
        count=5,
        seqs=(1, 2, 3, 4, 5),
        params={},
        title=LText(ja="サインイン失敗の繰り返し", en="Repeated failed sign-ins"),
        summary=LText(ja=f"{actor} が失敗しました", en=f"{actor} failed to sign in"),
    )


@pytest.fixture
def alerts(demo_database: Database) -> dict[str, str]:
    """One alert each for tenant A, tenant B and the provider: name -> id."""
    made = {
        "a": alert_row(_alert(A, "alice@midori.example.jp", 1), AT),
        "b": alert_row(_alert(B, "mallory@sakura.example.jp", 2), AT + timedelta(minutes=1)),
        "provider": alert_row(_alert(None, "ops@provider.example.jp", 3), AT),
    }
    with demo_database.session() as session:
        session.add_all(made.values())
    return {name: row.id for name, row in made.items()}


def _status(database: Database, alert_id: str) -> tuple[str, str | None]:
    with database.session() as session:
        row = session.get(LedgerAlert, alert_id)
        assert row is not None
        return row.status, row.closed_by


def test_staff_see_every_alert_and_tenant_admins_only_their_own(
    portal: Portal, people: Identities, alerts: dict[str, str]
) -> None:
    people.user(AUDITOR, Role.AUDITOR)
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    people.user(MEMBER_A, Role.TENANT_MEMBER, A)
    with portal.client() as client:
        portal.sign_in(client, AUDITOR)
        page = client.get("/alerts?lang=en")
        assert page.status_code == 200
        for actor in ("alice@midori", "mallory@sakura", "ops@provider"):
            assert actor in page.text
        assert "/acknowledge" not in page.text  # auditors read, they do not handle
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        page = client.get("/alerts?lang=ja")
        assert page.status_code == 200 and "セキュリティアラート" in page.text
        assert "alice@midori" in page.text
        assert "mallory@sakura" not in page.text and "ops@provider" not in page.text
        # Another tenant's alert is missing; their own they may see but not handle.
        token = csrf_of(page.text)
        foreign = client.post(f"/alerts/{alerts['b']}/close", data={"csrf_token": token})
        assert foreign.status_code == 404
        own = client.post(f"/alerts/{alerts['a']}/close", data={"csrf_token": token})
        assert own.status_code == 403
    with portal.client() as client:
        portal.sign_in(client, MEMBER_A)
        assert client.get("/alerts").status_code == 403
    assert _status(portal.app.state.mamori.database, alerts["b"]) == ("open", None)


def test_acknowledge_and_close_with_csrf_are_audited(
    portal: Portal, people: Identities, alerts: dict[str, str], settings: Settings
) -> None:
    people.user(OFFICER, Role.SECURITY_OFFICER)
    database = portal.app.state.mamori.database
    alert_id = alerts["a"]
    with portal.client() as client:
        portal.sign_in(client, OFFICER)
        listing = client.get("/alerts?lang=en")
        assert f"/alerts/{alert_id}/acknowledge" in listing.text
        assert client.post(f"/alerts/{alert_id}/acknowledge").status_code == 403  # no CSRF
        assert _status(database, alert_id) == ("open", None)

        done = portal.post(client, f"/alerts/{alert_id}/acknowledge", page="/alerts")
        assert done.status_code == 303 and done.headers["location"].startswith("/alerts")
        assert _status(database, alert_id) == ("acknowledged", None)
        again = portal.post(client, f"/alerts/{alert_id}/acknowledge", page="/alerts")
        assert again.status_code == 409
        assert portal.post(client, f"/alerts/{alert_id}/reopen", page="/alerts").status_code == 404

        assert portal.post(client, f"/alerts/{alert_id}/close", page="/alerts").status_code == 303
        assert _status(database, alert_id) == ("closed", OFFICER)
        assert alert_id not in client.get("/alerts").text  # open is the default filter
        assert alert_id in client.get("/alerts?status=closed").text
        assert alert_id in client.get("/alerts?status=all").text
        assert client.get("/alerts?status=bogus").status_code == 400

    actions = {
        (entry.action, entry.target_id, entry.actor_label, entry.tenant_id)
        for entry in audit.entries(database, settings, action_prefix="alert.")
    }
    assert actions == {
        ("alert.acknowledge", alert_id, OFFICER, A),
        ("alert.close", alert_id, OFFICER, A),
    }


def test_api_lists_alerts_in_scope_for_tokens_with_ledger_read(
    portal: Portal, people: Identities, alerts: dict[str, str]
) -> None:
    admin = people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    officer = people.user(OFFICER, Role.SECURITY_OFFICER)
    with people.work() as services:
        tenant_token = tokens.create_token(
            services, admin, name="siem", scopes=["ledger:read"], days=30
        ).secret
        wrong_scope = tokens.create_token(
            services, admin, name="shipper", scopes=["ingest:logs"], days=30
        ).secret
        staff_token = tokens.create_token(
            services, officer, name="soc", scopes=["ledger:read"], days=30
        ).secret
    with portal.client() as client:

        def ids(secret: str, query: str = "") -> set[str]:
            response = client.get(f"/api/v1/alerts{query}", headers=_bearer(secret))
            assert response.status_code == 200, response.text
            return {row["id"] for row in response.json()}

        assert ids(tenant_token) == {alerts["a"]}
        assert ids(staff_token) == set(alerts.values())
        assert ids(staff_token, "?status=closed") == set()
        listed = client.get("/api/v1/alerts", headers=_bearer(tenant_token)).json()[0]
        assert listed["title"]["en"] == "Repeated failed sign-ins" and listed["seqs"] == [
            1,
            2,
            3,
            4,
            5,
        ]
        assert listed["group"] == {"service_id": "total-id", "actor": "alice@midori.example.jp"}
        assert listed["first_at"].endswith("Z") or listed["first_at"].endswith("+00:00")
        assert client.get("/api/v1/alerts", headers=_bearer(wrong_scope)).status_code == 403
        assert client.get("/api/v1/alerts").status_code == 401
        # Tokens cannot handle alerts, whatever their scope.
        acted = client.post(f"/alerts/{alerts['a']}/close", headers=_bearer(staff_token))
        assert acted.status_code == 403
    assert _status(portal.app.state.mamori.database, alerts["a"]) == ("open", None)


def test_a_page_holds_one_hundred_alerts_newest_first(
    portal: Portal, people: Identities, demo_database: Database
) -> None:
    people.user(OFFICER, Role.SECURITY_OFFICER)
    rows = [
        alert_row(_alert(A, f"user{n:03d}@midori.example.jp", 1), AT + timedelta(minutes=n))
        for n in range(101)
    ]
    with demo_database.session() as session:
        session.add_all(rows)
        assert len(list(session.scalars(select(LedgerAlert.id)))) == 101
    with portal.client() as client:
        portal.sign_in(client, OFFICER)
        first = client.get("/alerts?lang=en").text
        assert "user100@" in first and "user001@" in first and "user000@" not in first
        assert first.index("user100@") < first.index("user099@")
        assert 'rel="next"' in first
        second = client.get("/alerts?status=open&page=2").text
        assert "user000@" in second and "user001@" not in second and 'rel="prev"' in second


def _bearer(secret: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {secret}"}
