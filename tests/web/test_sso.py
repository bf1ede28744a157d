"""Staff single sign-on against a real (test) OpenID Connect provider on loopback."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from fastapi.testclient import TestClient
from pydantic import SecretStr

from mamori.commitments.registry import CheckRegistry
from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.tenants.permissions import Role
from tests.support.browser import serve_app_in_thread
from tests.support.identities import Identities
from tests.support.oidc_provider import CLIENT_ID, CLIENT_SECRET, Provider, provider_app
from tests.support.portal import Portal, build_portal


@pytest.fixture
def provider() -> Provider:
    return Provider()


@pytest.fixture
def sso_portal(
    demo_database: Database, registry: CheckRegistry, settings: Settings, provider: Provider
) -> Iterator[Portal]:
    with serve_app_in_thread(provider_app(provider)) as issuer:
        configured = settings.model_copy(
            update={
                "oidc_issuer": issuer,
                "oidc_client_id": CLIENT_ID,
                "oidc_client_secret": SecretStr(CLIENT_SECRET),
                "public_url": "http://testserver",
            }
        )
        yield build_portal(demo_database, registry, configured)


def sso_sign_in(client: TestClient) -> httpx.Response:
    """Follow the flow across mamori (TestClient) and the provider (real HTTP)."""
    start = client.get("/login/sso")
    assert start.status_code == 303, start.text
    at_provider = httpx.get(start.headers["location"], follow_redirects=False)
    assert at_provider.status_code == 303
    back = urlsplit(at_provider.headers["location"])
    return client.get(f"{back.path}?{back.query}")


def test_staff_with_provider_mfa_land_on_the_dashboard(
    sso_portal: Portal, people: Identities
) -> None:
    people.user("sso-officer@provider.example.jp", Role.SECURITY_OFFICER)
    with sso_portal.client() as client:
        assert "/login/sso" in client.get("/login").text
        response = sso_sign_in(client)
        assert response.status_code == 303 and response.headers["location"] == "/dashboard"
        assert client.get("/dashboard").status_code == 200


def test_without_provider_mfa_totp_is_still_required(
    sso_portal: Portal, people: Identities, provider: Provider
) -> None:
    people.user("sso-officer@provider.example.jp", Role.SECURITY_OFFICER)
    provider.amr = ["pwd"]
    with sso_portal.client() as client:
        assert sso_sign_in(client).headers["location"] == "/login/mfa"
        assert client.get("/dashboard").headers["location"] == "/login/mfa"


@pytest.mark.parametrize("case", ["unknown", "customer", "audience", "state"])
def test_refusals(case: str, sso_portal: Portal, people: Identities, provider: Provider) -> None:
    people.user("sso-officer@provider.example.jp", Role.SECURITY_OFFICER)
    people.user("teacher@midori.example.jp", Role.TENANT_ADMIN, "midori-city-boe")
    if case == "unknown":
        provider.email = "stranger@provider.example.jp"
    elif case == "customer":
        provider.email = "teacher@midori.example.jp"
    elif case == "audience":
        provider.audience = "someone-else"
    with sso_portal.client() as client:
        if case == "state":
            start = client.get("/login/sso")
            at_provider = httpx.get(start.headers["location"], follow_redirects=False)
            back = urlsplit(at_provider.headers["location"])
            response = client.get(f"{back.path}?{back.query.replace('state=', 'state=x')}")
        else:
            response = sso_sign_in(client)
        assert response.status_code == 401
        assert "mamori_session" not in response.headers.get("set-cookie", "")


def test_sso_is_off_unless_configured(portal: Portal) -> None:
    with portal.client() as client:
        assert client.get("/login/sso").status_code == 404
        assert "/login/sso" not in client.get("/login").text
