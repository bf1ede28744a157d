"""Browser tests: Playwright's sync API driving Debian's Chromium, and a threaded app server.

Register the fixtures `browser`, `browser_locale` and `page` by importing them into a test
module (the functions are named `*_fixture` so test parameters do not shadow imports)::

    from tests.support.browser import browser_fixture, browser_locale_fixture, page_fixture

Playwright cannot download browsers here, so this drives the Debian package
(`make system-deps` installs it). A missing Chromium fails the test rather than skipping it.

While Playwright's sync API is running it leaves its event loop marked as running in the
main thread, so `asyncio.run()` in the main thread fails until the browser is closed;
`serve_app_in_thread` runs its server in another thread and is not affected.
"""

from __future__ import annotations

import os
import shutil
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from playwright.sync_api import (
    Browser,
    ConsoleMessage,
    Error,
    Page,
    Playwright,
    expect,
    sync_playwright,
)

DEFAULT_CHROMIUM = "/usr/bin/chromium"
# Without the background-networking flags Chromium phones home at start-up and this
# machine's closed network refuses it; --no-sandbox because the tests run as root.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
)
TIMEOUT_MS = 10_000
DEFAULT_LOCALE = "ja-JP"
VIEWPORT = {"width": 1280, "height": 800}


def chromium_path() -> str:
    """Debian's Chromium: $MAMORI_CHROMIUM, else /usr/bin/chromium, else `chromium` on PATH.

    Fails (never skips) the calling test when none is executable.
    """
    configured = os.environ.get("MAMORI_CHROMIUM")
    if configured:
        if os.access(configured, os.X_OK):
            return configured
        pytest.fail(
            f"MAMORI_CHROMIUM={configured} is not an executable file; unset it or "
            "run `make system-deps` to install Debian's chromium",
            pytrace=False,
        )
    if os.access(DEFAULT_CHROMIUM, os.X_OK):
        return DEFAULT_CHROMIUM
    found = shutil.which("chromium")
    if found:
        return found
    pytest.fail(
        "Chromium is not installed: run `make system-deps` (installs Debian's chromium "
        "package; `playwright install` cannot download browsers here) or set MAMORI_CHROMIUM",
        pytrace=False,
    )


def launch_chromium(playwright: Playwright) -> Browser:
    """Headless Debian Chromium with the flags this machine needs."""
    return playwright.chromium.launch(
        executable_path=chromium_path(),
        args=list(CHROMIUM_ARGS),
        headless=True,
        timeout=30_000,
    )


class _SharedChromium:
    """One Playwright driver and browser per process, however many modules import `browser`.

    Each test module that imports the session fixture gets its own copy of it, and a second
    `sync_playwright().start()` in the same thread fails, so the copies share this and the
    last one to finish closes it.
    """

    def __init__(self) -> None:
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self._users = 0

    def acquire(self) -> Browser:
        if self._browser is None or not self._browser.is_connected():
            if self._playwright is None:
                self._playwright = sync_playwright().start()
            self._browser = launch_chromium(self._playwright)
        self._users += 1
        return self._browser

    def release(self) -> None:
        self._users -= 1
        if self._users > 0:
            return
        browser, playwright = self._browser, self._playwright
        self._browser = self._playwright = None
        try:
            if browser is not None:
                browser.close()
        finally:
            if playwright is not None:
                playwright.stop()


_SHARED = _SharedChromium()


@pytest.fixture(scope="session", name="browser")
def browser_fixture() -> Iterator[Browser]:
    """A headless Debian Chromium for the whole run."""
    expect.set_options(timeout=TIMEOUT_MS)
    shared = _SHARED.acquire()
    try:
        yield shared
    finally:
        _SHARED.release()


@pytest.fixture(name="browser_locale")
def browser_locale_fixture() -> str:
    """The `page` fixture's locale.

    Override per test with `@pytest.mark.parametrize("browser_locale", ["en-US"])`.
    """
    return DEFAULT_LOCALE


@contextmanager
def new_page(browser: Browser, locale: str = DEFAULT_LOCALE, **context_args: Any) -> Iterator[Page]:
    """A page in a fresh context (cookies, storage and cache of its own), closed afterwards.

    `locale` sets both navigator.language and the Accept-Language header; other keyword
    arguments go to `browser.new_context` (e.g. `viewport`, `color_scheme`).
    """
    context_args.setdefault("viewport", VIEWPORT)
    context = browser.new_context(locale=locale, **context_args)
    context.set_default_timeout(TIMEOUT_MS)
    context.set_default_navigation_timeout(TIMEOUT_MS)
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture(name="page")
def page_fixture(browser: Browser, browser_locale: str) -> Iterator[Page]:
    """A fresh page in `browser_locale` (ja-JP unless overridden)."""
    with new_page(browser, locale=browser_locale) as fresh:
        yield fresh


@dataclass
class ConsoleLog:
    """Console messages and uncaught page errors seen since `watch_console`."""

    messages: list[ConsoleMessage] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def errors(self, ignore_urls: tuple[str, ...] = ("/favicon.ico",)) -> list[str]:
        """Texts of console errors and uncaught exceptions.

        Errors about loading a URL ending in one of `ignore_urls` are left out: Chromium
        asks every origin for /favicon.ico and logs its 404 as a console error.
        """
        return [
            m.text
            for m in self.messages
            if m.type == "error" and not str(m.location.get("url", "")).endswith(ignore_urls)
        ] + self.page_errors

    def csp_violations(self) -> list[str]:
        """Console errors that report a Content-Security-Policy violation."""
        return [text for text in self.errors() if "Content Security Policy" in text]


def watch_console(page: Page) -> ConsoleLog:
    """Start recording `page`'s console; call before navigating."""
    log = ConsoleLog()
    # Playwright wraps handlers with setattr, which a builtin like `list.append` refuses.
    page.on("console", lambda message: log.messages.append(message))
    page.on("pageerror", lambda error: log.page_errors.append(str(error)))
    return log


def platform_fonts(page: Page, selector: str) -> list[str]:
    """Families of the system fonts Chromium used to draw the first element matching `selector`.

    Shows missing fonts that a screenshot hides: Japanese text without a CJK font still
    renders, as boxes ("tofu") in a fallback family.
    """
    cdp = page.context.new_cdp_session(page)
    try:
        cdp.send("DOM.enable")
        cdp.send("CSS.enable")
        root = cdp.send("DOM.getDocument", {"depth": 0})["root"]["nodeId"]
        node = cdp.send("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
        if not node:
            raise Error(f"no element matches {selector!r}")
        fonts = cdp.send("CSS.getPlatformFontsForNode", {"nodeId": node})["fonts"]
        return [str(font["familyName"]) for font in fonts]
    finally:
        cdp.detach()


def _loopback_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@contextmanager
def serve_app_in_thread(app: Any, *, startup_timeout: float = 10.0) -> Iterator[str]:
    """Serve an ASGI app with uvicorn on a free loopback port in a background thread.

    Yields the base URL (``http://127.0.0.1:PORT``, no trailing slash). The socket is bound
    before the server starts, so there is no race for the port. uvicorn only installs signal
    handlers in the main thread, so Ctrl-C still reaches pytest.
    """
    sock = _loopback_socket()
    port = int(sock.getsockname()[1])
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        access_log=False,
        lifespan="auto",
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(
        target=server.run, kwargs={"sockets": [sock]}, name=f"uvicorn-{port}", daemon=True
    )
    thread.start()
    try:
        deadline = time.monotonic() + startup_timeout
        while not server.started:
            if not thread.is_alive():
                raise RuntimeError("the app server thread exited during start-up (see log)")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the app server did not start in {startup_timeout:g} s")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=startup_timeout)
        sock.close()
    if thread.is_alive():
        raise RuntimeError("the app server thread did not stop")


def screenshot_stddev(path: Path) -> float:
    """Grey-level standard deviation of an image: near 0 for a blank (single-colour) capture."""
    from PIL import Image, ImageStat

    with Image.open(path) as image:
        return float(ImageStat.Stat(image.convert("L")).stddev[0])
