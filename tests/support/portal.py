"""Drive the portal as a browser would: sign in through the forms, keep cookies, send CSRF."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import httpx
import pyotp
from fastapi import FastAPI
from fastapi.testclient import TestClient

from mamori.commitments.registry import CheckRegistry
from mamori.core.db import Database
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.settings import Settings
from mamori.web.app import create_app
from tests.support.identities import PASSWORD, FakeClock

CSRF_INPUT = re.compile(r'name="csrf_token" value="([^"]+)"')
SECRET = re.compile(r'<code class="secret">([A-Z2-7]+)</code>')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF_INPUT.search(html)
    assert found, "the page has no CSRF token"
    return found.group(1)


@dataclass
class Portal:
    """An app over a test database, with a fake clock and an in-memory outbox."""

    app: FastAPI
    clock: FakeClock
    outbox: MemoryNotifier
    totp_secrets: dict[str, str]

    @contextmanager
    def client(self) -> Iterator[TestClient]:
        """A fresh browser (its own cookie jar)."""
        with TestClient(self.app, base_url="http://testserver", follow_redirects=False) as client:
            yield client

    def sign_in(self, client: TestClient, email: str, password: str = PASSWORD) -> httpx.Response:
        """Sign in through the forms, enrolling or answering TOTP for staff."""
        form = client.get("/login")
        response = client.post(
            "/login",
            data={"email": email, "password": password, "csrf_token": csrf_of(form.text)},
        )
        if response.headers.get("location") == "/login/mfa":
            mfa = client.get("/login/mfa")
            found = SECRET.search(mfa.text)
            if found:
                self.totp_secrets[email] = found.group(1)
            self.clock.advance(seconds=31)  # each TOTP step is accepted once
            code = pyotp.TOTP(self.totp_secrets[email]).at(self.clock.now)
            response = client.post(
                "/login/mfa", data={"code": code, "csrf_token": csrf_of(mfa.text)}
            )
        return response

    def post(
        self,
        client: TestClient,
        path: str,
        data: dict[str, str] | None = None,
        *,
        page: str = "/dashboard",
    ) -> httpx.Response:
        """Submit a form as the signed-in browser would (CSRF token from `page`)."""
        token = csrf_of(client.get(page).text)
        return client.post(path, data={**(data or {}), "csrf_token": token})


def build_portal(database: Database, registry: CheckRegistry, settings: Settings) -> Portal:
    """A portal app over `database` with a fake clock and a memory outbox."""
    clock, outbox = FakeClock(), MemoryNotifier()
    app = create_app(settings, database, registry, notifier=outbox, clock=clock)
    return Portal(app, clock, outbox, {})
