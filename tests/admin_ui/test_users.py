"""The Users area: end users added and removed, and their connections per upstream — a credential
stored (and never shown back), or an account at an upstream that signs in with OAuth through a
link the end user opens — disconnected again, each change confirmed first."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from typing import Any

import pytest
from playwright.async_api import Browser, Dialog, Page, expect

from tests.accounts.test_upstream_oauth import UPSTREAM_ADMIN, sign_in_at_upstream, upstream_key
from tests.admin_ui.browser import PHONE, screenshot, sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY
from tests.conftest import Gateway, running_gateway, serve_asgi, stdio_echo, wait_until
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture
async def with_crm() -> AsyncIterator[Gateway]:
    """The UI's gateway with `crm`, a remote upstream that wants each caller's credentials, beside `demo`."""
    async with serve_asgi(build_server("crm").streamable_http_app()) as upstream:
        config: dict[str, Any] = {
            "mcpServers": {
                "demo": stdio_echo("demo"),
                "crm": {"url": f"{upstream}/mcp", "type": "http", "credentialsRequired": True},
            },
            "api_key": ADMIN_KEY,
        }
        async with running_gateway(config) as gateway:
            await wait_until(lambda: gateway.hub.upstreams["demo"].is_ready and gateway.hub.upstreams["crm"].is_ready)
            yield gateway


def accept_confirms(page: Page) -> list[str]:
    asked: list[str] = []

    async def accept(dialog: Dialog) -> None:
        asked.append(dialog.message)
        await dialog.accept()

    page.on("dialog", accept)
    return asked


async def as_user(gateway: Gateway, user: str, tool: str, **arguments: Any) -> Any:
    async with gateway.client("streamable_http", headers={"x-api-key": ADMIN_KEY, "x-username": user}) as client:
        return await client.call_tool(tool, arguments)


async def test_a_user_is_added_connected_by_credential_and_disconnected(
    with_crm: Gateway, browser: Browser, tmp_path
) -> None:
    gateway = with_crm
    async with watched_page(browser, gateway.url) as page:
        asked = accept_confirms(page)
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.get_by_role("navigation").get_by_role("link", name="Users").click()
        await expect(page.get_by_role("heading", name="End users")).to_be_visible()

        # A name the API refuses: its words, on the page, the form as typed.
        await page.get_by_label("Name", exact=True).fill("no spaces allowed")
        await page.get_by_role("button", name="Add user").click()
        await expect(page.get_by_role("alert")).to_contain_text("a user name is 1-128 letters")
        await expect(page.get_by_label("Name", exact=True)).to_have_value("no spaces allowed")

        await page.get_by_label("Name", exact=True).fill("alice")
        await page.get_by_role("button", name="Add user").click()
        await expect(page).to_have_url(f"{gateway.url}/admin/users/alice")
        await expect(page.get_by_role("status")).to_have_text("User “alice” added")
        crm = page.locator("#connections tr[data-upstream=crm]")
        await expect(crm.locator(".badge", has_text="credentials")).to_be_visible()
        await expect(crm.locator(".credentials")).to_have_text("none")

        # The row's link picks the upstream in the form; the value is a password field.
        await crm.get_by_role("link", name="Add a credential for crm").click()
        await expect(page.get_by_label("Upstream")).to_have_value("crm")
        await page.get_by_label("Header or variable name").fill("Authorization")
        await page.get_by_label("Value", exact=True).fill("Bearer alice-secret")
        await page.get_by_role("button", name="Save credential").click()
        await expect(page.get_by_role("status")).to_have_text("Credential Authorization for crm saved")
        await expect(crm.locator(".credentials")).to_contain_text("Authorization: ********")
        assert "alice-secret" not in await page.content()
        said = await as_user(gateway, "alice", "crm_header", name="authorization")
        assert said.content[0].text == "Bearer alice-secret"  # stored where her calls find it

        # A stdio upstream takes env vars; a second one keeps the first (sent back masked).
        await page.get_by_label("Upstream").select_option("demo")
        for name, value in (("TOKEN", "alice-env"), ("REGION", "eu")):
            await page.get_by_label("Header or variable name").fill(name)
            await page.get_by_label("Value", exact=True).fill(value)
            await page.get_by_role("button", name="Save credential").click()
            await expect(page.get_by_role("status")).to_have_text(f"Credential {name} for demo saved")
            await page.get_by_label("Upstream").select_option("demo")
        demo = page.locator("#connections tr[data-upstream=demo] .credentials")
        await expect(demo).to_contain_text("TOKEN=********")
        await expect(demo).to_contain_text("REGION=********")
        assert (await as_user(gateway, "alice", "demo_env", name="TOKEN")).content[0].text == "alice-env"
        await screenshot(page, "user", tmp_path)

        # A missing value is said on the form, which keeps what was chosen.
        await page.get_by_label("Upstream").select_option("crm")
        await page.get_by_label("Header or variable name").fill("x-team")
        await page.get_by_label("Value", exact=True).fill("   ")
        await page.get_by_role("button", name="Save credential").click()
        await expect(page.get_by_role("alert")).to_have_text("give the header's name and its value")
        await expect(page.get_by_label("Upstream")).to_have_value("crm")
        await expect(page.get_by_label("Header or variable name")).to_have_value("x-team")

        await crm.get_by_role("button", name="Disconnect crm").click()
        await expect(page.get_by_role("status")).to_have_text("Credentials for crm forgotten")
        assert "alice" in asked[-1] and "crm" in asked[-1]
        await expect(crm.locator(".credentials")).to_have_text("none")
        assert (await as_user(gateway, "alice", "crm_header", name="authorization")).is_error

        await page.get_by_role("link", name="← End users").click()
        row = page.locator("#users tr[data-user=alice]")
        await expect(row.locator("td").first).to_have_text("demo")
        await screenshot(page, "users", tmp_path)
        await row.get_by_role("button", name="Remove alice").click()
        await expect(page.get_by_role("status")).to_contain_text("User “alice” removed")
        await expect(row).to_have_count(0)
        await expect(page.locator("#users")).to_contain_text("No end users yet")


async def test_a_user_page_fits_a_phone(with_crm: Gateway, browser: Browser) -> None:
    async with with_crm.http({"x-api-key": ADMIN_KEY}) as admin:
        stored = await admin.put("/api/v1/users/bob/connections/crm", json={"headers": {"Authorization": "Bearer b"}})
        assert stored.status_code == 200, stored.text
    async with watched_page(browser, with_crm.url, viewport=PHONE) as page:
        await sign_in(page, with_crm.url, ADMIN_KEY)
        for path in ("/admin/users", "/admin/users/bob"):
            await page.goto(f"{with_crm.url}{path}")
            # Wide tables scroll in their own box; the page itself never scrolls sideways.
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.get_by_label("Header or variable name").focus()
        await expect(page.get_by_label("Header or variable name")).to_be_focused()


async def test_an_unknown_user_is_a_page_that_says_so(gateway: Gateway) -> None:
    async with gateway.http() as http:
        signed = await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY})
        assert signed.status_code == 303
        answer = await http.get("/admin/users/nobody")
        assert answer.status_code == 404 and "nobody" in answer.text


async def test_an_upstream_that_signs_in_with_oauth_gets_a_link_and_the_account_shows(browser: Browser) -> None:
    async with AsyncExitStack() as stack:
        upstream = await stack.enter_async_context(
            running_gateway(
                {"mcpServers": {"demo": stdio_echo("demo")}, "api_key": UPSTREAM_ADMIN, "oauth": {"mode": "builtin"}}
            )
        )
        alice_key = await upstream_key(upstream, "alice")
        gateway = await stack.enter_async_context(
            running_gateway(
                {"mcpServers": {"crm": {"url": f"{upstream.url}/mcp", "type": "http"}}, "api_key": ADMIN_KEY}
            )
        )
        await wait_until(lambda: gateway.hub.upstreams["crm"].status.authorization_required is not None)
        async with gateway.http({"x-api-key": ADMIN_KEY}) as admin:
            assert (await admin.post("/api/v1/users", json={"name": "alice"})).status_code == 201

        async with watched_page(browser, gateway.url) as page:
            accept_confirms(page)
            await sign_in(page, gateway.url, ADMIN_KEY)
            await page.goto(f"{gateway.url}/admin/users/alice")
            crm = page.locator("#connections tr[data-upstream=crm]")
            await expect(crm.locator(".badge", has_text="OAuth")).to_be_visible()
            await expect(crm.locator(".account")).to_have_text("not connected")

            await crm.get_by_role("button", name="Get a sign-in link for crm").click()
            link = page.get_by_role("link", name="Open the sign-in at crm")
            await expect(link).to_have_attribute("href", re.compile(rf"^{re.escape(upstream.url)}/oauth/authorize\?"))
            await expect(link).to_have_attribute("rel", "noopener noreferrer")
            await expect(page.locator("#oauth-url")).to_have_text(await link.get_attribute("href") or "")
            # What alice's browser does with it (not this page: it is another host): sign in, come back.
            back = await sign_in_at_upstream(await link.get_attribute("href") or "", alice_key)
            assert back.status_code == 200 and "crm is connected for the end user alice" in back.text

            await page.goto(f"{gateway.url}/admin/users/alice")
            await expect(crm.locator(".account")).to_have_text("connected")
            await crm.get_by_role("button", name="Disconnect the account at crm").click()
            await expect(page.get_by_role("status")).to_have_text("Account at crm disconnected")
            await expect(crm.locator(".account")).to_have_text("not connected")
