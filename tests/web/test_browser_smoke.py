"""The status page and the HTML whitepaper in a real browser (Debian's Chromium)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from mamori.commitments.registry import CheckRegistry
from mamori.commitments.service import CommitmentsService
from mamori.core.db import Database
from mamori.core.settings import Settings
from mamori.web.app import create_app
from tests.support.browser import (  # noqa: F401  (fixtures register by import)
    browser_fixture,
    browser_locale_fixture,
    page_fixture,
    platform_fonts,
    screenshot_stddev,
    serve_app_in_thread,
    watch_console,
)

pytestmark = pytest.mark.slow

DEMO_COMMITMENTS = 22


@pytest.fixture
def base_url(demo_database: Database, registry: CheckRegistry, settings: Settings) -> Iterator[str]:
    """The web app on the evaluated demo catalog, served on a loopback port."""
    with demo_database.session() as session:
        CommitmentsService(session, registry).evaluate()
    with serve_app_in_thread(create_app(settings, demo_database, registry)) as url:
        yield url


def test_status_page_renders_japanese_and_switches_to_english(
    page: Page, base_url: str, tmp_path: Path
) -> None:
    console = watch_console(page)
    page.goto(f"{base_url}/")

    expect(page.locator("html")).to_have_attribute("lang", "ja")
    heading = page.get_by_role("heading", level=1)
    expect(heading).to_have_text("コミットメントの状況")
    expect(heading).to_be_visible()
    # The stylesheet loaded under the CSP: the body font is the CJK stack, not the default.
    assert "Noto Sans CJK JP" in page.evaluate("getComputedStyle(document.body).fontFamily")
    # Japanese is drawn with a real CJK font, not as boxes in a fallback font.
    assert "Noto Sans CJK JP" in platform_fonts(page, "h1")

    shot = tmp_path / "status-ja.png"
    page.screenshot(path=str(shot), full_page=True)
    assert screenshot_stddev(shot) > 10, f"the screenshot {shot} is (nearly) blank"

    page.get_by_role("navigation").get_by_role("link", name="English").click()
    expect(page).to_have_url(f"{base_url}/?lang=en")
    expect(page.locator("html")).to_have_attribute("lang", "en")
    expect(page.get_by_role("heading", level=1)).to_have_text("Commitment status")
    expect(page.get_by_role("link", name="English", exact=True)).to_have_attribute(
        "aria-current", "true"
    )

    assert console.csp_violations() == []
    assert console.errors() == []


def test_whitepaper_link_opens_the_html_whitepaper(page: Page, base_url: str) -> None:
    page.goto(f"{base_url}/")
    page.locator('a[href="/whitepaper/ja.html"]').click()

    expect(page).to_have_url(f"{base_url}/whitepaper/ja.html")
    expect(page.locator("html")).to_have_attribute("lang", "ja")
    headings = page.locator("#commitments article.commitment > h3")
    expect(headings).to_have_count(DEMO_COMMITMENTS)
    expect(headings.first).to_be_visible()
    expect(headings.first).to_have_text(re.compile(r"^1\. \S"))


def test_whitepaper_styles_apply_under_the_csp(page: Page, base_url: str) -> None:
    console = watch_console(page)
    page.goto(f"{base_url}/whitepaper/ja.html")
    expect(page.locator("#commitments article.commitment > h3")).to_have_count(DEMO_COMMITMENTS)

    assert console.csp_violations() == []
    ink = page.evaluate("getComputedStyle(document.documentElement).getPropertyValue('--ink')")
    assert ink.strip() == "#1f2933"
