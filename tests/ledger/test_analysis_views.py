"""Analyses through the portal: a tenant administrator requests one and downloads its report."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.ledger.analysis_views import country_resolver
from mamori.ledger.events import IncomingEvent, Outcome
from mamori.ledger.geo import StaticCountryResolver
from mamori.ledger.models import LedgerAnalysis
from mamori.ledger.records import Attributed, EventClass
from mamori.tenants.permissions import Role
from mamori.tenants.service.context import TOTP_KEY_PURPOSE
from tests.support.identities import Identities
from tests.support.portal import Portal, build_portal, csrf_of

A, B = "midori-city-boe", "sakura-town-boe"
ADMIN_A, ADMIN_B = "admin@midori.example.jp", "admin@sakura.example.jp"
GEO = StaticCountryResolver({"133.11.0.0/16": "JP", "8.8.8.0/24": "US"})
# The portal's clock reads 2026-11-27 01:00 UTC (10:00 in Tokyo).
DAY = datetime(2026, 11, 25, 3, 0, tzinfo=UTC)


@pytest.fixture
def portal(demo_database: Database, registry: CheckRegistry, settings: Settings) -> Portal:
    """The portal with the analysis routes, a fixed country table and the fast CJK font."""
    with demo_database.session() as session:
        CommitmentsService(session, registry).evaluate()
    fast = settings.model_copy(update={"pdf_font_family": "IPAexGothic"})
    built = build_portal(demo_database, registry, fast)
    built.app.dependency_overrides[country_resolver] = lambda: GEO
    return built


@pytest.fixture
def people(portal: Portal, demo_database: Database, settings: Settings) -> Identities:
    """Creates users in the portal's database, sharing its clock and MFA key."""
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    return Identities(demo_database, settings, portal.clock, MemoryNotifier(), box)


def _fill(portal: Portal) -> None:
    """Two failed sign-ins to tenant A from abroad, and tenant B's own secret events."""
    items = [
        _event(A, "alice@midori.example.jp", "8.8.8.8", DAY),
        _event(A, "alice@midori.example.jp", "133.11.0.1", DAY + timedelta(minutes=1)),
        _event(B, "mallory@sakura.example.jp", "8.8.8.9", DAY),
    ]
    portal.app.state.mamori.ledger.append(items)


def _event(tenant: str, actor: str, address: str, at: datetime) -> Attributed:
    return Attributed(
        IncomingEvent(
            original={"actor": actor, "at": at.isoformat(), "address": address},
            occurred_at=at,
            actor=actor,
            action="login",
            source_address=address,
            outcome=Outcome.FAILURE,
            message=f"{actor} failed",
        ),
        tenant_id=tenant,
        service_id="manabi-portal",
        event_class=EventClass.LOG,
    )


def _request(portal: Portal, client: TestClient, starts_on: str, ends_on: str) -> str:
    """Request an analysis through the form; returns the new analysis id."""
    response = portal.post(
        client, "/analyses", {"starts_on": starts_on, "ends_on": ends_on}, page="/analyses"
    )
    assert response.status_code == 303, response.text
    found = re.search(r"ready=([0-9a-f-]{36})", response.headers["location"])
    assert found
    return found.group(1)


def pdf_text(data: bytes, tmp_path: Path) -> str:
    """The text of a PDF, as poppler reads it."""
    assert shutil.which("pdftotext"), "install poppler-utils (make system-deps)"
    path = tmp_path / "report.pdf"
    path.write_bytes(data)
    return subprocess.run(
        ["pdftotext", "-enc", "UTF-8", str(path), "-"], check=True, capture_output=True, text=True
    ).stdout


def test_tenant_admin_requests_and_downloads(
    portal: Portal, people: Identities, tmp_path: Path
) -> None:
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    _fill(portal)
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        listing = client.get("/analyses?lang=en")
        assert listing.status_code == 200 and 'name="starts_on"' in listing.text
        analysis_id = _request(portal, client, "2026-11-20", "2026-11-27")
        listing = client.get("/analyses?lang=en").text
        assert f"/analyses/{analysis_id}.pdf?lang=ja" in listing
        assert "The analysis is ready." in client.get(f"/analyses?ready={analysis_id}").text

        for lang, title in (("ja", "ログ分析報告書"), ("en", "Log analysis report")):
            html = client.get(f"/analyses/{analysis_id}.html?lang={lang}")
            assert html.status_code == 200 and title in html.text
            policy = html.headers["content-security-policy"]
            assert "'sha256-" in policy and "unsafe-inline" not in policy
            assert "mallory" not in html.text and A in html.text
            pdf = client.get(f"/analyses/{analysis_id}.pdf?lang={lang}")
            assert pdf.headers["content-type"] == "application/pdf"
            assert "attachment" in pdf.headers["content-disposition"]
            text = pdf_text(pdf.content, tmp_path)
            assert title in text and A in text and "Asia/Tokyo" in text
            assert "alice@midori.example.jp" in text and "mallory" not in text

        table = client.get(f"/analyses/{analysis_id}.csv")
        assert table.headers["content-type"].startswith("text/csv")
        assert table.content.startswith("\ufeff".encode())
        assert "failures_by_actor,alice@midori.example.jp,2" in table.text
        assert "origins,US,1" in table.text and "mallory" not in table.text
        assert client.get(f"/analyses/{analysis_id}.exe").status_code == 404


def test_bad_range_is_shown_on_the_form(portal: Portal, people: Identities) -> None:
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        response = portal.post(
            client,
            "/analyses?lang=en",
            {"starts_on": "2026-11-20", "ends_on": "2026-11-19"},
            page="/analyses",
        )
        assert response.status_code == 400
        assert "the end of the range must come after its start" in response.text
        assert 'aria-invalid="true"' in response.text
        wrong = portal.post(
            client, "/analyses", {"starts_on": "soon", "ends_on": "2026-11-19"}, page="/analyses"
        )
        assert wrong.status_code == 400


def test_another_tenant_gets_404(portal: Portal, people: Identities) -> None:
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    people.user(ADMIN_B, Role.TENANT_ADMIN, B)
    _fill(portal)
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        analysis_id = _request(portal, client, "2026-11-20", "2026-11-26")
    with portal.client() as other:
        portal.sign_in(other, ADMIN_B)
        for fmt in ("html", "pdf", "csv"):
            assert other.get(f"/analyses/{analysis_id}.{fmt}").status_code == 404
        assert other.get(f"/api/v1/analyses/{analysis_id}").status_code == 404
        assert analysis_id not in other.get("/analyses").text
        assert other.get("/api/v1/analyses").json() == []


@pytest.mark.parametrize("role", [Role.SECURITY_OFFICER, Role.OPERATOR, Role.AUDITOR])
def test_staff_get_403(portal: Portal, people: Identities, role: Role) -> None:
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    people.user("staff@provider.example.jp", role)
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        analysis_id = _request(portal, client, "2026-11-20", "2026-11-26")
    with portal.client() as staff:
        portal.sign_in(staff, "staff@provider.example.jp")
        assert staff.get("/analyses").status_code == 403
        assert staff.get(f"/analyses/{analysis_id}.html").status_code == 403
        assert staff.get("/api/v1/analyses").status_code == 403
        assert staff.get(f"/api/v1/analyses/{analysis_id}").status_code == 403
        token = csrf_of(staff.get("/account").text)
        body = {"starts_at": "2026-11-20T00:00:00+09:00", "ends_at": "2026-11-21T00:00:00+09:00"}
        posted = staff.post("/api/v1/analyses", json=body, headers={"x-csrf-token": token})
        assert posted.status_code == 403


def test_tenant_members_may_not_request(portal: Portal, people: Identities) -> None:
    people.user("member@midori.example.jp", Role.TENANT_MEMBER, A)
    with portal.client() as client:
        portal.sign_in(client, "member@midori.example.jp")
        assert client.get("/analyses").status_code == 403


def test_the_form_needs_its_csrf_token(
    portal: Portal, people: Identities, demo_database: Database
) -> None:
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        form = {"starts_on": "2026-11-20", "ends_on": "2026-11-26"}
        assert client.post("/analyses", data=form).status_code == 403
        forged = client.post("/analyses", data={**form, "csrf_token": "forged"})
        assert forged.status_code == 403
        api = client.post(
            "/api/v1/analyses",
            json={"starts_at": "2026-11-20T00:00:00Z", "ends_at": "2026-11-21T00:00:00Z"},
        )
        assert api.status_code == 403
    with demo_database.session() as session:
        assert session.scalar(select(func.count()).select_from(LedgerAnalysis)) == 0


def test_json_api(portal: Portal, people: Identities) -> None:
    people.user(ADMIN_A, Role.TENANT_ADMIN, A)
    _fill(portal)
    with portal.client() as client:
        portal.sign_in(client, ADMIN_A)
        headers = {"x-csrf-token": csrf_of(client.get("/account").text)}
        body = {"starts_at": "2026-11-20T00:00:00+09:00", "ends_at": "2026-11-27T00:00:00+09:00"}
        created = client.post("/api/v1/analyses", json=body, headers=headers)
        assert created.status_code == 201, created.text
        made = created.json()
        assert made["status"] == "completed" and made["tenant_id"] == A
        assert made["result"]["failures"]["total"] == 2
        assert made["checkpoint"]["size"] >= 1 and made["checkpoint"]["note"]
        assert made["downloads"]["csv"] == f"/analyses/{made['id']}.csv"
        listed = client.get("/api/v1/analyses").json()
        assert [row["id"] for row in listed] == [made["id"]] and "result" not in listed[0]
        one = client.get(f"/api/v1/analyses/{made['id']}").json()
        assert one["result"] == made["result"]

        future = {**body, "ends_at": "2027-01-01T00:00:00+09:00"}
        refused = client.post("/api/v1/analyses", json=future, headers=headers)
        assert refused.status_code == 400 and refused.json()["field"] == "ends_at"
        naive = {**body, "starts_at": "2026-11-20T00:00:00"}
        assert client.post("/api/v1/analyses", json=naive, headers=headers).status_code == 422
