"""Signing in to the web UI: a key for a session cookie (HttpOnly, SameSite=Strict), CSRF on every
change, sign-out that ends the session, a revoked key that signs its browsers out; and without any
key configured, a banner that says so."""

from __future__ import annotations

import re

import httpx
import pytest
from playwright.async_api import Browser, expect

from mcpgate.admin_ui.pages import audit, keys, overview, servers, tools, upstreams, users
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
        # Offered only the sections it may open: keys, users and the audit log need the admin scope.
        sections = page.get_by_role("navigation", name="Sections").get_by_role("link")
        await expect(sections).to_have_text(["Overview", "Upstreams", "Servers"])


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


async def test_every_change_of_every_page_is_refused_without_this_sessions_token(gateway: Gateway) -> None:
    """Each POST route of every area, found from the routes themselves (a new one is covered without
    being listed here): refused without a token, with another session's, and when the browser says
    another site or port sent it; nothing it would have changed has changed."""
    async with gateway.http({"x-api-key": ADMIN_KEY}) as admin:
        key = (await admin.post("/api/v1/keys", json={"name": "kept", "scopes": ["tools:call"]})).json()
        server = (await admin.post("/api/v1/mcp_manager", json={"name": "kept", "selectedTools": ["demo_echo"]})).json()
        assert (await admin.post("/api/v1/users", json={"name": "carol"})).status_code == 201
    values = {"key_id": key["id"], "server_id": server["id"], "upstream": "demo"}
    names = {"/upstreams": "demo", "/users": "carol", "/tools": "demo_echo"}  # {name} by area

    def filled(path: str) -> str:
        name = next((value for area, value in names.items() if path.startswith(area)), "")
        return re.sub(r"\{(\w+)(:\w+)?\}", lambda m: values.get(m[1], name), path)

    changes = [
        filled(path)
        for area in (audit, keys, overview, servers, tools, upstreams, users)
        for path, _, methods in area.ROUTES
        if "POST" in methods
    ] + ["/sign-out"]
    assert len(changes) >= 18
    async with httpx.AsyncClient(base_url=gateway.url) as other:
        assert (await other.post("/admin/sign-in", data={"api_key": ADMIN_KEY})).status_code == 303
        others_token = _csrf_token((await other.get("/admin")).text)
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        assert (await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY})).status_code == 303
        token = _csrf_token((await http.get("/admin")).text)
        form = {"name": "x", "scopes": "admin", "url": "http://127.0.0.1:9/mcp", "kind": "remote", "text": "x"}
        for path in changes:
            for data, headers in (
                (form, {}),
                ({**form, "csrf": others_token}, {}),
                ({**form, "csrf": token}, {"sec-fetch-site": "same-site"}),  # another port of this host
            ):
                answer = await http.post(f"/admin{path}", data=data, headers=headers)
                assert answer.status_code == 403, (path, headers, answer.status_code)
        assert (await http.get("/admin")).status_code == 200  # still signed in
    async with gateway.http({"x-api-key": ADMIN_KEY}) as admin:
        assert (await admin.get(f"/api/v1/keys/{key['id']}")).json()["state"] == "active"
        assert [k["name"] for k in (await admin.get("/api/v1/keys")).json()["data"]] == ["kept"]
        assert (await admin.get(f"/api/v1/mcp_manager/{server['id']}")).status_code == 200
        assert (await admin.get("/api/v1/upstreams/demo")).json()["enabled"] is True
        assert [u["name"] for u in (await admin.get("/api/v1/users")).json()["data"]] == ["carol"]


async def test_a_page_of_another_site_or_port_cannot_sign_a_browser_in(gateway: Gateway) -> None:
    """Login CSRF: a page on another port of this host is "same-site", so SameSite cookies would
    not stop it from signing the browser in to a key of its choosing; Sec-Fetch-Site does."""
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        for site in ("same-site", "cross-site"):
            refused = await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY}, headers={"sec-fetch-site": site})
            assert refused.status_code == 403 and "another site" in refused.text
            assert "mcpgate_admin" not in refused.cookies
        own = await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY}, headers={"sec-fetch-site": "same-origin"})
        assert own.status_code == 303
    async with httpx.AsyncClient(base_url=gateway.url) as http:  # the Origin check in front of every route
        foreign = await http.post(
            "/admin/sign-in", data={"api_key": ADMIN_KEY}, headers={"origin": "https://evil.example"}
        )
        assert foreign.status_code == 403 and "mcpgate_admin" not in foreign.cookies


def _csrf_token(page: str) -> str:
    token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
    assert token is not None
    return token.group(1)


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
