"""The read-only status page, whitepaper downloads and JSON API."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.tenants.permissions import Role
from mamori.web.app import create_app
from mamori.web.guard import MAX_BODY_BYTES
from tests.support.identities import Identities
from tests.support.portal import Portal


@pytest.fixture
def client(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> Iterator[TestClient]:
    with demo_database.session() as session:
        CommitmentsService(session, registry).evaluate()
    with TestClient(create_app(settings, demo_database, registry)) as client:
        yield client


def test_status_page_defaults_to_japanese(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert '<html lang="ja">' in page.text
    assert "コミットメントの状況" in page.text
    assert "当社の所在地" in page.text
    assert page.text.count('class="badge status-') >= 22 + 4


def test_language_from_accept_language_and_query(client: TestClient) -> None:
    english = client.get("/", headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert '<html lang="en">' in english.text and "Commitment status" in english.text
    forced = client.get("/?lang=ja", headers={"Accept-Language": "en"})
    assert '<html lang="ja">' in forced.text


def test_security_headers(client: TestClient) -> None:
    headers = client.get("/").headers
    assert "script-src 'self'" in headers["content-security-policy"]
    assert "unsafe-inline" not in headers["content-security-policy"]
    assert headers["x-frame-options"] == "DENY"
    assert headers["x-content-type-options"] == "nosniff"
    assert headers["referrer-policy"] == "same-origin"


def test_answers_keep_their_own_headers_and_signed_in_ones_are_not_cached(
    client: TestClient,
) -> None:
    anonymous = client.get("/healthz").headers
    assert "no-store" not in anonymous.get("cache-control", "")
    assert "strict-transport-security" not in anonymous
    with_token = client.get("/api/v1/commitments", headers={"Authorization": "Bearer x"})
    assert with_token.status_code == 401
    assert with_token.headers["cache-control"] == "no-store"
    assert with_token.headers["x-frame-options"] == "DENY"
    secure = client.get("https://testserver/healthz").headers
    assert secure["strict-transport-security"] == "max-age=31536000"


def test_bodies_above_the_limit_are_refused(client: TestClient) -> None:
    big = b"a=" + b"x" * MAX_BODY_BYTES
    declared = client.post(
        "/login", content=big, headers={"Content-Type": "application/x-www-form-urlencoded"}
    )
    assert declared.status_code == 413
    assert declared.headers["x-frame-options"] == "DENY"

    def chunks() -> Iterator[bytes]:  # no Content-Length: counted as it arrives
        for _ in range(MAX_BODY_BYTES // 65536 + 2):
            yield b"x" * 65536

    streamed = client.post(
        "/api/v1/grants", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["error"]
    small = client.post("/login", data={"email": "a@example.jp", "password": "wrong"})
    assert small.status_code != 413


def test_whitepaper_downloads(client: TestClient) -> None:
    html = client.get("/whitepaper/en.html")
    assert html.status_code == 200 and html.headers["content-type"].startswith("text/html")
    assert "Where we are based" in html.text
    markdown = client.get("/whitepaper/ja.md")
    assert markdown.status_code == 200 and "マイアセス" in markdown.text


def test_unknown_pages_get_the_error_page(client: TestClient) -> None:
    missing = client.get("/whitepaper/fr.html")
    assert missing.status_code == 404
    assert "問題が発生しました" in missing.text
    nowhere = client.get("/nowhere", headers={"Accept-Language": "en"})
    assert nowhere.status_code == 404 and "This page does not exist." in nowhere.text


def test_api_needs_a_signed_in_caller(client: TestClient) -> None:
    response = client.get("/api/v1/commitments")
    assert response.status_code == 401
    assert set(response.json()) == {"error", "detail", "field"}


def test_api_lists_commitments_with_status(portal: Portal, people: Identities) -> None:
    people.user("m@midori.example.jp", Role.TENANT_MEMBER, "midori-city-boe")
    with portal.client() as client:
        portal.sign_in(client, "m@midori.example.jp")
        body = client.get("/api/v1/commitments", params={"lang": "en"}).json()
    assert [c["order"] for c in body["commitments"]] == list(range(1, 23))
    by_id = {c["id"]: c for c in body["commitments"]}
    assert by_id["virtual-environment-segregation"]["clauses"] == ["CLD.9.5.1"]
    # Declared regions pass; with no cloud snapshot the posture checks are unknown.
    assert by_id["data-storage-location"]["status"] == "at_risk"


def test_health(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_catalog_text_is_escaped(
    demo_database: Database, registry: CheckRegistry, settings: Settings
) -> None:
    from mamori.commitments.models import Commitment
    from mamori.core.text import LText

    with demo_database.session() as session:
        row = session.get(Commitment, "backup")
        assert row is not None
        row.title = LText(ja="<script>alert(1)</script>", en="<b>bold</b>")
    with TestClient(create_app(settings, demo_database, registry)) as client:
        page = client.get("/?lang=ja").text
        html = client.get("/whitepaper/en.html").text
    assert "<script>alert(1)</script>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<b>bold</b>" not in html and "&lt;b&gt;bold&lt;/b&gt;" in html
