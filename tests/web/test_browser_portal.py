"""The signed-in portal in a real browser (Debian's Chromium), on the real clock.

These drive the portal as its users do: sign-in with TOTP enrolment for staff, the language
menu, an invitation mailed through a real SMTP server (aiosmtpd on loopback) and accepted
from another browser, and a customer editing URLs to reach another tenant's pages.

The app runs on the real clock (`mamori.core.clock.utcnow`), not the portal's FakeClock,
so the TOTP codes computed here with `pyotp.TOTP(secret).now()` match the server's.
"""

from __future__ import annotations

import email
import email.policy
import re
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

import pyotp
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session
from playwright.sync_api import Browser, Page, expect
from starlette.types import ASGIApp, Receive, Scope, Send

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.audit import AuditRecord
from mamori.core.crypto import SecretBox, derive_key, load_secret_key
from mamori.core.db import Database
from mamori.core.mail.base import Notifier
from mamori.core.mail.memory import MemoryNotifier
from mamori.core.mail.smtp import SmtpNotifier
from mamori.core.settings import Settings
from mamori.tenants.permissions import Role
from mamori.tenants.service import grants
from mamori.tenants.service.context import TOTP_KEY_PURPOSE
from mamori.web.app import create_app
from tests.support import audit
from tests.support.browser import (  # noqa: F401  (fixtures register by import)
    browser_fixture,
    browser_locale_fixture,
    new_page,
    page_fixture,
    screenshot_stddev,
    serve_app_in_thread,
    watch_console,
)
from tests.support.identities import PASSWORD, FakeClock, Identities

pytestmark = pytest.mark.slow

A, B = "midori-city-boe", "sakura-town-boe"
A_NAME_JA = "みどり市教育委員会"
# Strings only tenant B's data contains (demo catalog tenants.yaml, and what the test adds).
B_ADMIN = "admin-b@sakura.example.jp"
B_GRANT_REASON = "B-only reason for access"
B_MARKERS = (
    "さくら町教育委員会",
    "Sakura Town Board of Education",
    "y.tanaka@sakura-town.example.jp",
    "d.ito@sakura-town.example.jp",
    "田中 由美",
    "伊藤 大輔",
    B_ADMIN,
    B_GRANT_REASON,
)
SMTP_HOST = "127.0.0.1"
MAIL_FROM = "mamori@example.jp"
MAIL_TIMEOUT_S = 10.0
SETUP_KEY = re.compile(r"^[A-Z2-7]{16,}$")
DASHBOARD_URL = re.compile(r"/dashboard(\?.*)?$")


# -- serving the app ---------------------------------------------------------------------


class LateApp:
    """An ASGI app that is built after the server has its port.

    Mailed links are made from `Settings.public_url`, which must be the served base URL,
    and `serve_app_in_thread` chooses the port itself. So the server starts with this
    stand-in and the real app is put in `app` before the first request. The server's
    lifespan start-up and shut-down are answered here: they arrive before the app exists
    (`create_app` registers no lifespan handlers, so nothing is skipped).
    """

    def __init__(self) -> None:
        self.app: ASGIApp | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            while True:
                message = await receive()
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
                elif message["type"] == "lifespan.shutdown":
                    await send({"type": "lifespan.shutdown.complete"})
                    return
        if self.app is None:
            raise RuntimeError("a request arrived before the app was built")
        await self.app(scope, receive, send)


@contextmanager
def serve_portal(
    settings: Settings, database: Database, registry: CheckRegistry, notifier: Notifier
) -> Iterator[str]:
    """The portal on the real clock, with public_url set to where it is served."""
    late = LateApp()
    with serve_app_in_thread(late) as base_url:
        served = settings.model_copy(update={"public_url": base_url})
        late.app = create_app(served, database, registry, notifier=notifier)
        yield base_url


# -- a real SMTP server ------------------------------------------------------------------


@dataclass
class Inbox:
    """An aiosmtpd handler that keeps what it receives."""

    received: list[Envelope] = field(default_factory=list)
    _arrived: threading.Condition = field(default_factory=threading.Condition)

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:  # noqa: N802 - aiosmtpd's hook name
        with self._arrived:
            self.received.append(envelope)
            self._arrived.notify_all()
        return "250 Message accepted for delivery"

    def wait_for(self, count: int = 1, timeout: float = MAIL_TIMEOUT_S) -> list[Envelope]:
        """The first `count` envelopes, waiting up to `timeout` seconds for them."""
        with self._arrived:
            if not self._arrived.wait_for(lambda: len(self.received) >= count, timeout):
                raise AssertionError(
                    f"{len(self.received)} of {count} mail(s) arrived within {timeout:g} s"
                )
            return list(self.received[:count])


def free_port() -> int:
    """A loopback port nothing listens on (right now)."""
    with socket.socket() as sock:
        sock.bind((SMTP_HOST, 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def smtp_server() -> Iterator[tuple[Inbox, int]]:
    """aiosmtpd on a free loopback port: (its inbox, its port)."""
    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname=SMTP_HOST, port=port)
    controller.start()
    try:
        yield inbox, port
    finally:
        controller.stop()


def parse(envelope: Envelope) -> EmailMessage:
    """An envelope's content as a message."""
    assert isinstance(envelope.content, bytes)
    parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
    assert isinstance(parsed, EmailMessage)
    return parsed


# -- data --------------------------------------------------------------------------------


@pytest.fixture
def evaluated(demo_database: Database, registry: CheckRegistry) -> Database:
    """The demo provider with its checks evaluated (so the dashboard has results)."""
    with demo_database.session() as session:
        CommitmentsService(session, registry).evaluate()
    return demo_database


@pytest.fixture
def identities(evaluated: Database, settings: Settings) -> Identities:
    """Creates users in the served database, stamped with the real time."""
    box = SecretBox(derive_key(load_secret_key(settings), TOTP_KEY_PURPOSE))
    clock = FakeClock(datetime.now(UTC))
    return Identities(evaluated, settings, clock, MemoryNotifier(), box)


# -- page helpers ------------------------------------------------------------------------


def sign_in_ja(page: Page, base_url: str, email_address: str, password: str = PASSWORD) -> None:
    """Sign in through the Japanese form (customers: no second factor)."""
    page.goto(f"{base_url}/login")
    page.get_by_label("メールアドレス").fill(email_address)
    page.get_by_label("パスワード", exact=True).fill(password)
    page.get_by_role("button", name="サインイン").click()
    expect(page).to_have_url(DASHBOARD_URL)


def assert_not_blank(page: Page, path: Path) -> None:
    """Screenshot the whole page to `path` and check it is not one flat colour."""
    page.screenshot(path=str(path), full_page=True)
    assert screenshot_stddev(path) > 10, f"the screenshot {path} is (nearly) blank"


# -- 1. staff sign-in with TOTP, then Japanese ---------------------------------------------


@pytest.mark.parametrize("browser_locale", ["en-US"])
def test_staff_signs_in_with_totp_switches_to_japanese_and_sees_the_dashboard(
    page: Page,
    identities: Identities,
    evaluated: Database,
    registry: CheckRegistry,
    settings: Settings,
    tmp_path: Path,
) -> None:
    officer = "officer@provider.example.jp"
    identities.user(officer, Role.SECURITY_OFFICER)
    with serve_portal(settings, evaluated, registry, MemoryNotifier()) as base_url:
        console = watch_console(page)
        page.goto(f"{base_url}/login")
        expect(page.locator("html")).to_have_attribute("lang", "en")
        page.get_by_label("E-mail address").fill(officer)
        page.get_by_label("Password", exact=True).fill(PASSWORD)
        page.get_by_role("button", name="Sign in").click()

        # Staff without an authenticator must enrol one before anything else.
        expect(page).to_have_url(f"{base_url}/login/mfa")
        expect(page.get_by_role("heading", level=1)).to_have_text("Two-step verification")
        setup_key = page.locator("code.secret")
        expect(setup_key).to_be_visible()
        secret = setup_key.inner_text().strip()
        assert SETUP_KEY.match(secret), f"unexpected setup key {secret!r}"
        code = page.get_by_label("Code")
        code.fill(pyotp.TOTP(secret).now())
        # Say why when the browser's own form validation would keep the form from going out.
        refusal = code.evaluate(
            "el => el.validity.valid ? '' : "
            "`${el.validationMessage} (pattern=${el.getAttribute('pattern')})`"
        )
        assert refusal == "", f"Chromium will not submit a correct code: {refusal}"
        page.get_by_role("button", name="Verify").click()

        expect(page).to_have_url(DASHBOARD_URL)
        expect(page.locator("html")).to_have_attribute("lang", "en")
        expect(page.get_by_role("heading", level=1)).to_have_text("Dashboard")
        expect(page.get_by_role("status")).to_have_text("Multi-factor authentication is on.")

        languages = page.get_by_role("navigation", name="Language")
        languages.get_by_role("link", name="日本語").click()
        expect(page).to_have_url(f"{base_url}/dashboard?lang=ja")
        expect(page.locator("html")).to_have_attribute("lang", "ja")
        heading = page.get_by_role("heading", level=1)
        expect(heading).to_have_text("ダッシュボード")
        expect(heading).to_be_visible()
        # The menus are in Japanese now, the language menu included.
        expect(
            page.get_by_role("navigation", name="言語").get_by_role("link", name="日本語")
        ).to_have_attribute("aria-current", "true")
        # Still signed in: the staff menu is there, in Japanese.
        expect(page.get_by_role("navigation", name="メインメニュー")).to_be_visible()

        assert_not_blank(page, tmp_path / "dashboard-ja.png")
        assert console.csp_violations() == []
        assert console.errors() == []


# -- 2. an invitation through real SMTP, accepted in another browser -----------------------


def test_customer_admin_invites_a_member_by_mail_who_signs_up_through_the_link(
    page: Page,
    browser: Browser,
    identities: Identities,
    evaluated: Database,
    registry: CheckRegistry,
    settings: Settings,
    smtp_server: tuple[Inbox, int],
    tmp_path: Path,
) -> None:
    inbox, port = smtp_server
    admin = "admin-a@midori.example.jp"
    invitee, invitee_name = "new.member@midori.example.jp", "新井 花子"
    new_password = "sakura-kaika-2026-haru!"
    identities.user(admin, Role.TENANT_ADMIN, A)
    notifier = SmtpNotifier(SMTP_HOST, port, security="none", sender=MAIL_FROM)

    with serve_portal(settings, evaluated, registry, notifier) as base_url:
        console = watch_console(page)
        sign_in_ja(page, base_url, admin)
        page.get_by_role("navigation", name="メインメニュー").get_by_role(
            "link", name="利用者"
        ).click()
        expect(page).to_have_url(f"{base_url}/users")
        page.get_by_label("メールアドレス").fill(invitee)
        page.get_by_label("名前", exact=True).fill(invitee_name)
        page.get_by_label("役割").select_option("tenant_member")
        page.get_by_role("button", name="招待を送信").click()
        expect(page).to_have_url(f"{base_url}/users?done=invited")
        expect(page.get_by_role("status")).to_have_text("招待を送信しました。")
        expect(page.get_by_role("cell", name=invitee)).to_be_visible()
        assert console.csp_violations() == []
        assert console.errors() == []

        (envelope,) = inbox.wait_for(1)
        assert envelope.mail_from == MAIL_FROM
        assert envelope.rcpt_tos == [invitee]
        mail = parse(envelope)
        assert invitee in str(mail["To"])
        assert A_NAME_JA in str(mail["Subject"])
        body = mail.get_body(preferencelist=("plain",))
        assert body is not None
        text = body.get_content()
        found = re.search(r"(\S+/invitation/[A-Za-z0-9_.\-]+)", text)
        assert found, f"no invitation link in the mail:\n{text}"
        link = found.group(1)
        assert link.startswith(f"{base_url}/invitation/"), link

        with new_page(browser) as invited:
            invited_console = watch_console(invited)
            invited.goto(link)
            expect(invited.get_by_role("heading", level=1)).to_have_text("アカウントの作成")
            expect(invited.get_by_text(invitee)).to_be_visible()
            invited.get_by_label("お名前").fill(invitee_name)
            invited.get_by_label("新しいパスワード").fill(new_password)
            invited.get_by_role("button", name="パスワードを設定").click()

            expect(invited).to_have_url(f"{base_url}/login?done=password_set")
            expect(invited.get_by_role("status")).to_have_text(
                "パスワードを設定しました。サインインしてください。"
            )
            sign_in_ja(invited, base_url, invitee, new_password)
            expect(invited.get_by_role("heading", level=1)).to_have_text("ダッシュボード")
            expect(invited.locator("header .who")).to_contain_text(invitee_name)
            expect(invited.locator("header .who")).to_contain_text("テナント利用者")
            assert_not_blank(invited, tmp_path / "invited-dashboard.png")
            assert invited_console.csp_violations() == []
            assert invited_console.errors() == []

            # The link works once.
            again = invited.request.get(link, max_redirects=0)
            assert again.status == 401, again.status


# -- 3. tenant isolation by editing URLs ---------------------------------------------------


def test_customer_of_tenant_a_cannot_reach_tenant_b_by_editing_urls(
    page: Page,
    identities: Identities,
    evaluated: Database,
    registry: CheckRegistry,
    settings: Settings,
    tmp_path: Path,
) -> None:
    admin_a = "admin-a@midori.example.jp"
    identities.user(admin_a, Role.TENANT_ADMIN, A)
    user_b = identities.user(B_ADMIN, Role.TENANT_ADMIN, B)
    operator = identities.user("op@provider.example.jp", Role.OPERATOR)
    officer = identities.user("so@provider.example.jp", Role.SECURITY_OFFICER)
    with identities.work() as services:
        grant_b = grants.request_grant(
            services, operator, tenant_id=B, reason=B_GRANT_REASON, minutes=60
        )
        grants.approve(services, officer, grant_b.id)
        grant_b_id = grant_b.id

    with serve_portal(settings, evaluated, registry, MemoryNotifier()) as base_url:
        console = watch_console(page)
        sign_in_ja(page, base_url, admin_a)

        # The same URLs with A's own id work, so a 404 below means "hidden", not "broken".
        own = page.goto(f"{base_url}/api/v1/tenants/{A}/contacts")
        assert own is not None and own.status == 200
        assert "k.sato@midori-city.example.jp" in own.text()
        own = page.goto(f"{base_url}/tenants/{A}")
        assert own is not None and own.status == 200
        expect(page.get_by_role("heading", level=1)).to_contain_text(A_NAME_JA)

        hidden_pages = [f"/tenants/{B}"]
        hidden_api = [
            f"/api/v1/tenants/{B}",
            f"/api/v1/tenants/{B}/contacts",
            f"/api/v1/users/{user_b.user_id}",
            f"/api/v1/grants/{grant_b_id}",
        ]
        for path in hidden_pages + hidden_api:
            response = page.goto(f"{base_url}{path}")
            assert response is not None
            assert response.status == 404, f"{path}: {response.status}"
            body = response.text()
            shown = page.locator("body").inner_text()
            leaked = [m for m in B_MARKERS if m in body or m in shown]
            assert leaked == [], f"{path} shows tenant B's {leaked}"
            if path in hidden_api:
                assert response.headers["content-type"].startswith("application/json")
                assert set(response.json()) == {"error", "detail", "field"}
            else:
                expect(page.get_by_role("heading", level=1)).to_have_text(
                    "問題が発生しました (404)"
                )
                expect(page.get_by_role("alert")).to_have_text("該当するテナントはありません")

        listing = page.goto(f"{base_url}/tenants")
        assert listing is not None and listing.status == 403
        expect(page.get_by_role("heading", level=1)).to_have_text("問題が発生しました (403)")
        expect(page.get_by_role("alert")).to_have_text("このページを開く権限がありません")
        shown = page.locator("body").inner_text()
        assert [m for m in B_MARKERS if m in shown] == []

        assert_not_blank(page, tmp_path / "tenants-forbidden.png")
        assert console.csp_violations() == []
        unexpected = [e for e in console.errors() if not _is_status_error(e)]
        assert unexpected == []


def _is_status_error(text: str) -> bool:
    """Chromium's console note for a 403/404 document, which this test asks for."""
    return bool(re.fullmatch(r"Failed to load resource: .*status of 40[34].*", text))


# -- 4. htmx: the audit trail loads older entries in place -----------------------------------


def test_audit_trail_loads_older_entries_in_place_and_filters_with_htmx(
    page: Page,
    identities: Identities,
    evaluated: Database,
    registry: CheckRegistry,
    settings: Settings,
) -> None:
    admin_a = "admin-a@midori.example.jp"
    identities.user(admin_a, Role.TENANT_ADMIN, A)
    audit.record_all(
        evaluated,
        settings,
        (AuditRecord("test.browse", "thing", str(n), A, None, "system") for n in range(150)),
    )
    with serve_portal(settings, evaluated, registry, MemoryNotifier()) as base_url:
        console = watch_console(page)
        sign_in_ja(page, base_url, admin_a)
        # The sign-in itself is on the trail too.
        everything_of_a = len(audit.entries(evaluated, settings, tenant_id=A))
        assert 150 < everything_of_a < 200
        page.goto(f"{base_url}/audit")
        rows = page.locator("#audit-rows tr:not(.more)")
        expect(rows).to_have_count(100)
        page.evaluate("window.__same_document = true")
        page.get_by_role("link", name="さらに古い記録").click()
        # The older rows arrive inside the same table; the page was not reloaded.
        expect(rows).to_have_count(everything_of_a)
        assert page.evaluate("window.__same_document") is True
        expect(page).to_have_url(f"{base_url}/audit")
        expect(page.get_by_role("link", name="さらに古い記録")).to_have_count(0)

        page.get_by_label("操作名（前方一致）").fill("test.")
        page.get_by_role("button", name="絞り込む").click()
        expect(page).to_have_url(f"{base_url}/audit?action=test.")
        expect(rows).to_have_count(100)
        assert page.evaluate("window.__same_document") is True
        expect(page.locator("#audit-rows code").first).to_have_text("test.browse")
        expect(page.locator("#audit-rows code", has_not_text="test.browse")).to_have_count(0)
        assert console.csp_violations() == []
        assert console.errors() == []
