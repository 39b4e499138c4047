"""Debian's Chromium driven by Playwright (from PyPI), for the web UI's tests.

    async with chromium() as browser:
        async with watched_page(browser, gateway.url) as page:   # fails the test on a console
            await sign_in(page, gateway.url, ADMIN_KEY)           # error or a request off this host

Browsers cannot be downloaded here, so the distribution's (scripts/install-browser.sh) is launched
by path. Screenshots go to the test's directory; with MCPGATE_SCREENSHOTS=<dir> set (as
`make screenshots` does) they are written there too, which is how docs/ui/ is made.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from playwright.async_api import Browser, ConsoleMessage, Page, Request, async_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
LAPTOP = {"width": 1366, "height": 850}
PHONE = {"width": 390, "height": 844}


@asynccontextmanager
async def chromium() -> AsyncIterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail("chromium is not installed: scripts/install-browser.sh installs it (make test runs it)")
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            yield browser
        finally:
            await browser.close()


@dataclass
class Watch:
    """What a page did that no page of the UI may do."""

    origin: str
    console_errors: list[str] = field(default_factory=list)
    foreign_requests: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(f"{message.text} at {message.location}")

    def request(self, request: Request) -> None:
        url = request.url
        if url.startswith(("data:", "about:", "blob:")):
            return
        parts = urlsplit(url)
        if f"{parts.scheme}://{parts.netloc}" != self.origin:
            self.foreign_requests.append(url)

    def check(self) -> None:
        assert not self.foreign_requests, f"requests to another host: {self.foreign_requests}"
        assert not self.console_errors, f"console errors: {self.console_errors}"
        assert not self.page_errors, f"uncaught script errors: {self.page_errors}"


@asynccontextmanager
async def watched_page(browser: Browser, origin: str, viewport: dict[str, int] | None = None) -> AsyncIterator[Page]:
    """A page in a fresh context (no cookies), failing the test at the end on a console error,
    an uncaught script error, or any request to a host but the gateway's."""
    context = await browser.new_context(viewport=viewport or LAPTOP)
    await context.grant_permissions(["clipboard-read", "clipboard-write"], origin=origin)
    page = await context.new_page()
    watch = Watch(origin)
    page.on("console", watch.console)
    page.on("request", watch.request)
    page.on("pageerror", lambda error: watch.page_errors.append(str(error)))
    page.set_default_timeout(10_000)  # every wait bounded
    try:
        yield page
    finally:
        await context.close()
    watch.check()


async def sign_in(page: Page, base: str, key: str) -> None:
    await page.goto(f"{base}/admin")
    await page.fill("input[name=api_key]", key)
    await page.click("button[type=submit]")
    await page.wait_for_url(f"{base}/admin")


async def screenshot(page: Page, name: str, where: Path) -> Path:
    """A full-page screenshot into `where`, and into $MCPGATE_SCREENSHOTS when it is set."""
    path = where / f"{name}.png"
    await page.screenshot(path=str(path), full_page=True)
    if target := os.environ.get("MCPGATE_SCREENSHOTS"):
        Path(target).mkdir(parents=True, exist_ok=True)  # noqa: ASYNC240 - a test's own files
        shutil.copy(path, Path(target) / path.name)
    return path
