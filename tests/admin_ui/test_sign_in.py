"""Signing in to the web UI: a key for a session cookie (HttpOnly, SameSite=Strict), CSRF on every
change, sign-out that ends the session, a revoked key that signs its browsers out; and without any
key configured, a banner that says so."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.admin_ui.browser import screenshot, sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY
from tests.conftest import Gateway, running_gateway, stdio_echo

pytestmark = pytest.mark.anyio


async def test_a_person_signs_in_sees_the_overview_and_signs_out(gateway: Gateway, browser: Browser, tmp_path) -> None:
    async with watched_page(browser, gateway.url) as page:
        await page.goto(f"{gateway.url}/admin/keys")  # not signed in: to the sign-in page, and back after
        await expect(page).to_have_url(re.compile(r"/admin/sign-in\?next="))
        await page.fill("input[name=api_key]", "not-a-key")
        await page.click("button[type=submit]")
        await expect(page.get_by_role("alert")).to_contain_text("not valid")
        await screenshot(page, "sign-in", tmp_path)

        await page.fill("input[name=api_key]", ADMIN_KEY)
        await page.click("button[type=submit]")
        await expect(page).to_have_url(f"{gateway.url}/admin/keys")
        await page.get_by_role("navigation").get_by_role("link", name="Overview").click()
        await expect(page.locator("#upstream-health tr[data-upstream=demo] .badge")).to_have_text("ready")
        await expect(page.locator("#status")).to_have_text("ok")
        await screenshot(page, "overview", tmp_path)

        cookie = next(c for c in await page.context.cookies() if c["name"] == "mcpgate_admin")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Strict" and cookie["path"] == "/admin"

        await page.get_by_role("button", name="Sign out").click()
        await expect(page).to_have_url(re.compile(r"/admin/sign-in"))
        await expect(page.get_by_role("status")).to_have_text("Signed out")
        # The old cookie opens nothing any more (the session is gone from the registry, not just the browser).
        async with httpx.AsyncClient(base_url=gateway.url, cookies={"mcpgate_admin": cookie["value"]}) as http:
            assert (await http.get("/admin")).status_code == 303


async def test_the_overview_updates_by_itself(gateway: Gateway, browser: Browser) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await expect(page.locator("#sessions")).to_have_text("0")
        async with gateway.client("streamable_http", headers={"x-api-key": ADMIN_KEY}) as client:
            await client.call_tool("demo_echo", {"text": "hello"})
            # No reload: the live region fetches itself again within a few seconds.
            await expect(page.locator("#sessions")).to_have_text("1", timeout=10_000)
            await expect(page.locator(".spark")).to_have_attribute("aria-label", re.compile(r"^1 calls"))


async def test_without_a_key_configured_every_page_says_so(browser: Browser) -> None:
    async with running_gateway({"mcpServers": {"demo": stdio_echo("demo")}}) as gateway:
        async with watched_page(browser, gateway.url) as page:
            await page.goto(f"{gateway.url}/admin")
            await expect(page.get_by_role("alert")).to_contain_text("No API key is configured")
            await expect(page.get_by_role("heading", name="Overview")).to_be_visible()


async def test_a_key_without_admin_scope_reads_only(gateway: Gateway, browser: Browser) -> None:
    async with gateway.http({"x-api-key": ADMIN_KEY}) as http:
        made = await http.post("/api/v1/keys", json={"name": "reader", "scopes": ["servers:read"]})
        reader = made.json()["key"]
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, reader)
        await expect(page.get_by_role("note")).to_contain_text("without the admin scope")
        await expect(page.locator("#upstream-health tr[data-upstream=demo]")).to_be_visible()


async def test_a_change_without_the_csrf_token_is_refused(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        signed = await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY, "next": "/admin"})
        assert signed.status_code == 303
        refused = await http.post("/admin/sign-out", data={})
        assert refused.status_code == 403
        assert (await http.get("/admin")).status_code == 200  # still signed in
        page = (await http.get("/admin")).text
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert token is not None
        assert (await http.post("/admin/sign-out", data={"csrf": token.group(1)})).status_code == 303
        assert (await http.get("/admin")).status_code == 303


async def test_revoking_the_key_signs_its_browsers_out(gateway: Gateway) -> None:
    async with gateway.http({"x-api-key": ADMIN_KEY}) as admin:
        made = (await admin.post("/api/v1/keys", json={"name": "temp", "scopes": ["admin"]})).json()
        async with httpx.AsyncClient(base_url=gateway.url) as browser_like:
            assert (await browser_like.post("/admin/sign-in", data={"api_key": made["key"]})).status_code == 303
            assert (await browser_like.get("/admin/live")).status_code == 200
            assert (await admin.delete(f"/api/v1/keys/{made['id']}")).status_code == 200
            assert (await browser_like.get("/admin/live")).status_code == 401


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/admin", "/api/v1/keys", "/\\evil.example"])
async def test_after_sign_in_a_person_only_ever_lands_on_a_page_of_the_ui(gateway: Gateway, target: str) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        answer = await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY, "next": target})
        assert answer.status_code == 303 and answer.headers["location"] == "/admin"


async def test_pages_forbid_framing_and_other_hosts(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        answer = await http.get("/admin/sign-in")
        policy = answer.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy and "script-src 'self'" in policy
        assert answer.headers["cache-control"] == "no-store"
        # The UI is behind the same Host/Origin check as every route: a rebinding page is refused.
        assert (await http.get("/admin/sign-in", headers={"host": "evil.example"})).status_code in (403, 421)
