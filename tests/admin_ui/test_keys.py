"""Keys in the web UI: create one with scopes, a server and an expiry (its secret shown once, copied
with a button, and working), see it listed, revoke it (refused at once); an API refusal on the form."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from playwright.async_api import Browser, expect

from tests.admin_ui.browser import screenshot, sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY
from tests.conftest import Gateway

pytestmark = pytest.mark.anyio


async def test_a_key_is_created_copied_used_and_revoked(gateway: Gateway, browser: Browser, tmp_path) -> None:
    async with gateway.http({"x-api-key": ADMIN_KEY}) as http:
        made = await http.post("/api/v1/mcp_manager", json={"name": "only-echo", "selectedTools": ["demo_echo"]})
        assert made.status_code == 201, made.text
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.get_by_role("link", name="Keys").click()
        await page.get_by_label("Name", exact=True).fill("laptop")
        await page.get_by_role("checkbox", name="tools:call").check()
        await page.get_by_label("Virtual servers", exact=True).select_option(label="only-echo")
        await page.get_by_label("Expires", exact=True).select_option(label="in 30 days")
        await page.get_by_role("button", name="Create key").click()

        secret = (await page.locator("#new-key").text_content() or "").strip()
        assert secret
        assert page.url == f"{gateway.url}/admin/keys"  # redirected after the form: a reload sends nothing
        await page.get_by_role("button", name="Copy key").click()
        assert await page.evaluate("navigator.clipboard.readText()") == secret
        row = page.locator("#keys tr[data-key=laptop]")
        await expect(row.locator(".badge")).to_have_text("active")
        await expect(row).to_contain_text("only-echo")
        # Its expiry, 30 days on (either side of a midnight the test may straddle).
        days = {(datetime.now(UTC) + timedelta(days=30, seconds=s)).strftime("%Y-%m-%d") for s in (-60, 60)}
        await expect(row).to_contain_text(re.compile("|".join(f"{day} " for day in days)))
        await screenshot(page, "keys", tmp_path)

        await page.reload()  # the secret is shown once, and the key made once
        await expect(page.locator("#keys tr[data-key=laptop]")).to_have_count(1)
        await expect(page.locator("#new-key")).to_have_count(0)
        assert secret not in await page.content()

        async with httpx.AsyncClient(base_url=gateway.url, headers={"x-api-key": secret}) as holder:
            assert (await holder.get("/servers/only-echo/tools")).status_code == 200
            assert (await holder.get("/tools")).status_code == 403  # limited to its server
            page.once("dialog", lambda dialog: dialog.accept())
            await row.get_by_role("button", name="Revoke laptop").click()
            await expect(page.get_by_role("status")).to_contain_text("revoked")
            await expect(row.locator(".badge")).to_have_text("revoked")
            assert (await holder.get("/servers/only-echo/tools")).status_code == 401


async def test_a_refused_key_keeps_the_form_as_it_was_filled(gateway: Gateway, browser: Browser) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/keys")
        await page.get_by_label("Name", exact=True).fill("x" * 128)
        await page.get_by_role("checkbox", name="tools:call").uncheck()  # no scope: the API refuses
        await page.get_by_role("checkbox", name="users:act").check()
        await page.get_by_label("or on (UTC)").fill("2020-01-01")  # in the past
        await page.get_by_role("button", name="Create key").click()
        await expect(page.get_by_role("alert")).to_be_visible()
        await expect(page.get_by_label("Name", exact=True)).to_have_value("x" * 128)
        await expect(page.get_by_role("checkbox", name="users:act")).to_be_checked()
        await expect(page.get_by_label("or on (UTC)")).to_have_value("2020-01-01")
