"""Sign-in, MFA, CSRF, cookies, lockout, rate limits and API token scopes through HTTP."""

from __future__ import annotations

import re

from fastapi.testclient import TestClient

from mamori.tenants.permissions import Role
from mamori.tenants.service import tokens
from tests.support.identities import Identities
from tests.support.portal import Portal, csrf_of


def test_staff_sign_in_requires_totp_enrolment(portal: Portal, people: Identities) -> None:
    people.user("officer@provider.example.jp", Role.SECURITY_OFFICER)
    with portal.client() as client:
        form = client.get("/login")
        first = client.post(
            "/login",
            data={
                "email": "officer@provider.example.jp",
                "password": "correct horse battery staple",
                "csrf_token": csrf_of(form.text),
            },
        )
        assert first.status_code == 303 and first.headers["location"] == "/login/mfa"
        # Until the second factor is done, pages send the user back to it.
        blocked = client.get("/dashboard")
        assert blocked.status_code == 303 and blocked.headers["location"] == "/login/mfa"
    with portal.client() as client:
        done = portal.sign_in(client, "officer@provider.example.jp")
        assert done.status_code == 303 and done.headers["location"] == "/dashboard?done=mfa_enabled"
        page = client.get("/dashboard?lang=ja")
        assert page.status_code == 200 and "ダッシュボード" in page.text
    with portal.client() as client:  # second sign-in asks for a code, not enrolment
        response = portal.sign_in(client, "officer@provider.example.jp")
        assert response.headers["location"] == "/dashboard"


def test_session_cookie_flags(portal: Portal, people: Identities) -> None:
    people.user("m@midori.example.jp", Role.TENANT_MEMBER, "midori-city-boe")
    with portal.client() as client:
        response = portal.sign_in(client, "m@midori.example.jp")
        cookie = response.headers["set-cookie"]
    assert cookie.startswith("mamori_session=")
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/" in cookie
    assert "Secure" not in cookie  # plain http on loopback
    with TestClient(
        portal.app, base_url="https://portal.example.jp", follow_redirects=False
    ) as client:
        response = portal.sign_in(client, "m@midori.example.jp")
        assert "Secure" in response.headers["set-cookie"]
        assert "max-age" in client.get("/dashboard").headers["strict-transport-security"]


def test_posts_without_csrf_are_rejected(portal: Portal, people: Identities) -> None:
    people.user("admin@midori.example.jp", Role.TENANT_ADMIN, "midori-city-boe")
    with portal.client() as client:
        assert client.post("/login", data={"email": "x@y.jp", "password": "p"}).status_code == 403
        portal.sign_in(client, "admin@midori.example.jp")
        data = {"email": "new@midori.example.jp", "display_name": "New", "role": "tenant_member"}
        assert client.post("/users/invite", data=data).status_code == 403
        assert (
            client.post("/users/invite", data={**data, "csrf_token": "forged"}).status_code == 403
        )
        assert portal.outbox.sent == []
        accepted = portal.post(client, "/users/invite", data, page="/users")
        assert accepted.status_code == 303
    assert len(portal.outbox.sent) == 1


def test_twenty_wrong_passwords_lock_and_officers_see_it(
    portal: Portal, people: Identities
) -> None:
    people.user("victim@sakura.example.jp", Role.TENANT_MEMBER, "sakura-town-boe")
    people.user("officer@provider.example.jp", Role.SECURITY_OFFICER)
    with portal.client() as client:
        for _ in range(20):
            response = portal.sign_in(client, "victim@sakura.example.jp", "not the password")
            assert response.status_code == 401
        assert "ロック" in response.text or "locked" in response.text
        assert portal.sign_in(client, "victim@sakura.example.jp").status_code == 401
    with portal.client() as client:
        portal.sign_in(client, "officer@provider.example.jp")
        users = client.get("/users?lang=en")
        assert "Locked accounts" in users.text and "victim@sakura.example.jp" in users.text
        audit = client.get("/audit")
        assert "auth.lockout" in audit.text


def test_sign_in_attempts_are_rate_limited_per_address(portal: Portal, people: Identities) -> None:
    with portal.client() as client:
        statuses = [
            portal.sign_in(client, f"nobody{i}@example.jp", "whatever").status_code
            for i in range(31)
        ]
    assert statuses[:30] == [401] * 30
    assert statuses[30] == 429


def test_token_of_one_scope_cannot_call_another(portal: Portal, people: Identities) -> None:
    admin = people.user("admin@aoba.example.jp", Role.TENANT_ADMIN, "aoba-city-boe")
    with people.work() as services:
        token = tokens.create_token(
            services, admin, name="ci", scopes=["tenants:read"], days=1
        ).secret
    with portal.client() as client:
        headers = {"Authorization": f"Bearer {token}"}
        assert client.get("/api/v1/tenants", headers=headers).status_code == 200
        assert client.get("/api/v1/users", headers=headers).status_code == 403
        assert client.get("/api/v1/audit", headers=headers).status_code == 403
        assert client.get("/api/v1/commitments", headers=headers).status_code == 403
        assert (
            client.get("/api/v1/tenants", headers={"Authorization": "Bearer mmr_x_y"}).status_code
            == 401
        )


def test_sign_out_ends_the_session(portal: Portal, people: Identities) -> None:
    people.user("m@midori.example.jp", Role.TENANT_MEMBER, "midori-city-boe")
    with portal.client() as client:
        portal.sign_in(client, "m@midori.example.jp")
        cookie = client.cookies.get("mamori_session")
        assert portal.post(client, "/logout").status_code == 303
        client.cookies.set("mamori_session", cookie or "")
        assert client.get("/dashboard").status_code == 303  # the old cookie is dead


def test_language_setting_is_used(portal: Portal, people: Identities) -> None:
    people.user("m@midori.example.jp", Role.TENANT_MEMBER, "midori-city-boe")
    with portal.client() as client:
        portal.sign_in(client, "m@midori.example.jp")
        assert '<html lang="ja">' in client.get("/dashboard").text
        assert portal.post(client, "/account/language", {"language": "en"}).status_code == 303
        page = client.get("/dashboard", headers={"Accept-Language": "ja"})
        assert '<html lang="en">' in page.text and "Dashboard" in page.text
        assert portal.post(client, "/account/language", {"language": "fr"}).status_code == 400


def test_language_picked_in_the_menu_sticks(portal: Portal, people: Identities) -> None:
    people.user("m2@midori.example.jp", Role.TENANT_MEMBER, "midori-city-boe")
    with portal.client() as client:
        portal.sign_in(client, "m2@midori.example.jp")
        assert '<html lang="en">' in client.get("/dashboard?lang=en").text
        assert '<html lang="en">' in client.get("/users").text
        assert '<html lang="ja">' in client.get("/users?lang=ja").text
        assert '<html lang="ja">' in client.get("/grants").text


def test_customers_may_turn_on_totp(portal: Portal, people: Identities) -> None:
    import pyotp

    people.user("careful@aoba.example.jp", Role.TENANT_MEMBER, "aoba-city-boe")
    with portal.client() as client:
        assert portal.sign_in(client, "careful@aoba.example.jp").headers["location"] == "/dashboard"
        setup = client.get("/account/mfa")
        secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', setup.text)
        assert secret
        wrong = client.post(
            "/account/mfa", data={"code": "000000", "csrf_token": csrf_of(setup.text)}
        )
        assert wrong.status_code == 400
        code = pyotp.TOTP(secret.group(1)).at(portal.clock.now)
        done = client.post("/account/mfa", data={"code": code, "csrf_token": csrf_of(setup.text)})
        assert done.status_code == 303
    portal.totp_secrets["careful@aoba.example.jp"] = secret.group(1)
    with portal.client() as client:
        form = client.get("/login")
        first = client.post(
            "/login",
            data={
                "email": "careful@aoba.example.jp",
                "password": "correct horse battery staple",
                "csrf_token": csrf_of(form.text),
            },
        )
        assert first.headers["location"] == "/login/mfa"
