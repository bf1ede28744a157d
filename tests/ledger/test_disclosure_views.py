"""Evidence disclosure through the portal: forms with CSRF, four eyes, one download, 404s."""

from __future__ import annotations

import io
import re
import zipfile

import pytest
from fastapi.testclient import TestClient

from mamori.commitments.registry import CheckRegistry
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.tenants.permissions import Role
from mamori.tenants.service.context import TOTP_KEY_PURPOSE
from tests.ledger.conftest import TENANTS, sample_event
from tests.support import isolation
from tests.support.identities import Identities
from tests.support.portal import Portal, build_portal, csrf_of

A, B = "midori-city-boe", "sakura-town-boe"
DAY = "2026-11-27"  # the portal clock's day in Tokyo
REASON = "Our auditors asked for the sign-in history"


@pytest.fixture
def portal(demo_database: Database, registry: CheckRegistry, settings: Settings) -> Portal:
    """The portal with the disclosure routes, and a day of events in its ledger."""
    built = build_portal(demo_database, registry, settings)
    ledger = built.app.state.mamori.ledger
    ledger.append([sample_event(n, TENANTS[n % len(TENANTS)]) for n in range(30)])
    return built


@pytest.fixture
def people(portal: Portal, demo_database: Database, settings: Settings) -> Identities:
    """The users of this test, sharing the portal's clock and MFA key."""
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    identities = Identities(demo_database, settings, portal.clock, MemoryNotifier(), box)
    identities.user("admin@midori.example.jp", Role.TENANT_ADMIN, A)
    identities.user("member@midori.example.jp", Role.TENANT_MEMBER, A)
    identities.user("admin@sakura.example.jp", Role.TENANT_ADMIN, B)
    identities.user("so1@provider.example.jp", Role.SECURITY_OFFICER)
    identities.user("so2@provider.example.jp", Role.SECURITY_OFFICER)
    return identities


def _post(client: TestClient, path: str, data: dict[str, object], page: str) -> int:
    token = csrf_of(client.get(page).text)
    return client.post(path, data={**data, "csrf_token": token}).status_code


def _request(portal: Portal, client: TestClient) -> str:
    form = {"starts_on": DAY, "ends_on": DAY, "reason": REASON, "classes": ["log"]}
    assert client.post("/disclosures", data=form).status_code == 403  # no CSRF token
    token = csrf_of(client.get("/disclosures").text)
    response = client.post("/disclosures", data={**form, "csrf_token": token})
    assert response.status_code == 303, response.text
    found = re.match(r"/disclosures/([0-9a-f-]{36})", response.headers["location"])
    assert found
    return found.group(1)


@pytest.mark.usefixtures("people")
def test_disclosure_through_the_portal(portal: Portal) -> None:
    with portal.client() as admin:
        portal.sign_in(admin, "admin@midori.example.jp")
        disclosure_id = _request(portal, admin)
        assert f"/disclosures/{disclosure_id}" in admin.get("/disclosures").text
        assert REASON in admin.get(f"/disclosures/{disclosure_id}").text

    with portal.client() as member:
        portal.sign_in(member, "member@midori.example.jp")
        assert member.get("/disclosures").status_code == 403
        assert member.get(f"/disclosures/{disclosure_id}").status_code == 403
        assert member.get("/api/v1/disclosures").status_code == 403

    with portal.client() as other:
        portal.sign_in(other, "admin@sakura.example.jp")
        assert disclosure_id not in other.get("/disclosures").text
        for path in (f"/disclosures/{disclosure_id}", f"/disclosures/{disclosure_id}/package"):
            assert other.get(path).status_code == 404
        assert other.get(f"/api/v1/disclosures/{disclosure_id}").status_code == 404
        review = f"/disclosures/{disclosure_id}/review"
        assert _post(other, review, {"redact": "subject"}, "/disclosures") == 404

    with portal.client() as officer:
        portal.sign_in(officer, "so1@provider.example.jp")
        detail = f"/disclosures/{disclosure_id}"
        assert "/review" in officer.get(detail).text
        assert _post(officer, f"{detail}/review", {"redact": ["subject"]}, detail) == 303
        page = officer.get(detail).text
        assert f"{detail}/approve" not in page  # not for the reviewer
        assert _post(officer, f"{detail}/approve", {}, detail) == 403
        assert _post(officer, f"{detail}/publish", {}, detail) == 404

    with portal.client() as second:
        portal.sign_in(second, "so2@provider.example.jp")
        assert _post(second, f"/disclosures/{disclosure_id}/approve", {}, "/disclosures") == 303

    with portal.client() as admin:
        portal.sign_in(admin, "admin@midori.example.jp")
        page = admin.get(f"/disclosures/{disclosure_id}?lang=en").text
        assert "Ready to download" in page and f"{disclosure_id}/package" in page
        package = admin.get(f"/disclosures/{disclosure_id}/package")
        assert package.status_code == 200
        assert package.headers["content-type"] == "application/zip"
        assert f"mamori-disclosure-{disclosure_id}.zip" in package.headers["content-disposition"]
        with zipfile.ZipFile(io.BytesIO(package.content)) as archive:
            assert "bundle.json" in archive.namelist()
        assert admin.get(f"/disclosures/{disclosure_id}/package").status_code == 409
        listed = admin.get("/api/v1/disclosures").json()
        assert [(d["id"], d["state"]) for d in listed] == [(disclosure_id, "downloaded")]
        assert "Downloaded" in admin.get(f"/disclosures/{disclosure_id}?lang=en").text


@pytest.mark.usefixtures("people")
def test_disclosure_api(portal: Portal) -> None:
    body = {
        "starts_at": f"{DAY}T00:00:00+09:00",
        "ends_at": f"{DAY}T23:59:59+09:00",
        "reason": REASON,
        "filters": {"actions": ["login"]},
    }
    with portal.client() as admin:
        portal.sign_in(admin, "admin@midori.example.jp")
        assert admin.post("/api/v1/disclosures", json=body).status_code == 403  # no CSRF
        token = csrf_of(admin.get("/disclosures").text)
        headers = {"x-csrf-token": token}
        created = admin.post("/api/v1/disclosures", json=body, headers=headers)
        assert created.status_code == 201, created.text
        out = created.json()
        assert out["tenant_id"] == A and out["state"] == "requested"
        assert out["filters"]["actions"] == ["login"]
        assert admin.get(f"/api/v1/disclosures/{out['id']}").json()["id"] == out["id"]
        wide = {**body, "ends_at": "2028-01-01T00:00:00Z"}
        refused = admin.post("/api/v1/disclosures", json=wide, headers=headers)
        assert refused.status_code == 400 and refused.json()["field"] == "ends_at"

    with portal.client() as officer:
        portal.sign_in(officer, "so1@provider.example.jp")
        token = csrf_of(officer.get("/disclosures").text)
        court = {**body, "tenant_id": A, "authority": "Tokyo District Court, case 12"}
        created = officer.post("/api/v1/disclosures", json=court, headers={"x-csrf-token": token})
        assert created.status_code == 201, created.text
        assert len(officer.get("/api/v1/disclosures").json()) == 2

    with portal.client() as admin:
        portal.sign_in(admin, "admin@midori.example.jp")
        ids = [d["id"] for d in admin.get("/api/v1/disclosures").json()]
        assert created.json()["id"] not in ids and len(ids) == 1  # authority requests: staff only


@pytest.mark.usefixtures("people")
def test_another_tenant_walks_into_nothing(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    with portal.client() as admin:
        portal.sign_in(admin, "admin@midori.example.jp")
        disclosure_id = _request(portal, admin)
    monkeypatch.setattr(isolation, "TENANT_OWNED", isolation.TENANT_OWNED | {"disclosure_id"})
    victim = isolation.Tenant(ids={"disclosure_id": disclosure_id}, markers=[REASON])
    with portal.client() as other:
        portal.sign_in(other, "admin@sakura.example.jp")
        problems = isolation.walk(portal.app, other, victim, csrf_page="/disclosures")
    assert [p for p in problems if "disclosure" in p] == []
