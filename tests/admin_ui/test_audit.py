"""The Audit area: the log of tool calls and failed authentications, filtered by a GET form (the
URL carries the filters), paged by the API's cursor both ways, and a live tail that shows a call
made after the page loaded without reloading it. Rows are written in batches: every wait is an
`expect` with a bounded timeout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.admin_ui.browser import PHONE, screenshot, sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY
from tests.conftest import Gateway

pytestmark = pytest.mark.anyio


async def calls(
    gateway: Gateway, key: str = ADMIN_KEY, echoes: int = 3, failing: int = 1, user: str | None = None
) -> None:
    """`echoes` good calls of demo_echo, then `failing` calls of demo_add the upstream refuses (tool
    errors); for end user `user` when given."""
    headers = {"x-api-key": key, **({"x-username": user} if user else {})}
    async with gateway.client("streamable_http", headers=headers) as client:
        for n in range(echoes):
            assert not (await client.call_tool("demo_echo", {"text": f"call {n}"})).is_error
        for _ in range(failing):
            assert (await client.call_tool("demo_add", {"a": "not a number", "b": 1})).is_error


def query(page: Page) -> dict[str, list[str]]:
    return parse_qs(urlsplit(page.url).query)


async def ids(page: Page) -> list[str]:
    return [
        row or ""
        for row in await page.locator("#audit tbody tr[data-id]").evaluate_all("rows => rows.map(r => r.dataset.id)")
    ]


async def test_the_log_shows_calls_and_filters_by_tool_and_outcome(
    gateway: Gateway, browser: Browser, tmp_path
) -> None:
    await calls(gateway)
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.get_by_role("navigation").get_by_role("link", name="Audit").click()
        rows = page.locator("#audit tbody tr[data-id]")
        await expect(rows).to_have_count(4)
        newest = rows.first
        await expect(newest.locator(".badge")).to_have_text("tool error")
        await expect(newest.locator("td.tool")).to_have_text("demo_add")
        await expect(newest).to_contain_text("MCPGATE_API_KEY")
        await expect(newest.locator("td.num")).to_have_text(re.compile(r"^\d+\.\d ms$|^\d+\.\d\d s$"))
        await expect(page.locator("#audit thead th[scope=col]")).to_have_count(9)
        await screenshot(page, "audit", tmp_path)

        await page.get_by_label("Tool", exact=True).fill("demo_echo")
        await page.get_by_role("button", name="Apply filters").click()
        await expect(page).to_have_url(re.compile(r"[?&]tool=demo_echo(&|$)"))
        await expect(rows).to_have_count(3)
        for cell in await rows.locator("td.tool").all_text_contents():
            assert cell == "demo_echo"

        await page.get_by_label("Tool", exact=True).fill("")
        await page.get_by_label("Outcome").select_option("tool_error")
        await page.get_by_role("button", name="Apply filters").click()
        await expect(page).to_have_url(re.compile(r"[?&]outcome=tool_error(&|$)"))
        assert "tool" not in query(page)
        await expect(rows).to_have_count(1)
        await expect(rows.first.locator("td.tool")).to_have_text("demo_add")

        # The URL is the view: opened again (shared), it shows the same rows and the form as set.
        shared = page.url
        await page.goto(f"{gateway.url}/admin")
        await page.goto(shared)
        await expect(rows).to_have_count(1)
        await expect(page.get_by_label("Outcome")).to_have_value("tool_error")

        # A cell narrows the view to its value, keeping the other filters.
        await page.goto(f"{gateway.url}/admin/audit?outcome=ok")
        await rows.first.locator("td.tool a").click()
        await expect(page).to_have_url(re.compile(r"outcome=ok&tool=demo_echo"))
        await expect(rows).to_have_count(3)


async def test_the_key_user_and_time_filters_and_an_error_the_api_words(gateway: Gateway, browser: Browser) -> None:
    async with gateway.http({"x-api-key": ADMIN_KEY}) as admin:
        made = (await admin.post("/api/v1/keys", json={"name": "ci", "scopes": ["tools:call"]})).json()
        assert (await admin.post("/api/v1/users", json={"name": "alice"})).status_code == 201
    await calls(gateway, echoes=2, failing=0)
    await calls(gateway, key=made["key"], echoes=1, failing=0)
    await calls(gateway, echoes=2, failing=0, user="alice")
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/audit")
        rows = page.locator("#audit tbody tr[data-id]")
        await expect(rows).to_have_count(5)
        await page.get_by_label("Key", exact=True).select_option(label="ci")
        await page.get_by_role("button", name="Apply filters").click()
        assert query(page)["keyId"] == [made["id"]]
        await expect(rows).to_have_count(1)
        await expect(rows.first).to_contain_text("ci")

        await page.get_by_label("Key", exact=True).select_option(label="any")
        await page.get_by_label("End user").fill("alice")
        await page.get_by_role("button", name="Apply filters").click()
        assert query(page)["user"] == ["alice"] and "keyId" not in query(page)
        await expect(rows).to_have_count(2)
        for row in await rows.all():
            await expect(row).to_contain_text("alice")

        # A window around now holds every call; one that ended before them, none.
        now = datetime.now(UTC)
        around = {"since": (now - timedelta(hours=1)), "until": (now + timedelta(hours=1))}
        window = "&".join(f"{name}={moment:%Y-%m-%dT%H:%M}" for name, moment in around.items())
        await page.goto(f"{gateway.url}/admin/audit?{window}")
        await expect(rows).to_have_count(5)
        await expect(page.get_by_label("From (UTC)")).to_have_value(f"{around['since']:%Y-%m-%dT%H:%M}")
        await page.goto(f"{gateway.url}/admin/audit?since=2000-01-01T00:00&until=2000-01-02T00:00")
        await expect(page.locator("#audit tbody")).to_contain_text("No events match these filters")
        await expect(page.get_by_label("From (UTC)")).to_have_value("2000-01-01T00:00")

        # What the API refuses is said above the table, in its words, on a page (200) with the form kept.
        answer = await page.goto(f"{gateway.url}/admin/audit?limit=9999&tool=demo_echo")
        assert answer is not None and answer.status == 200
        await expect(page.get_by_role("alert")).to_contain_text("limit")
        await expect(page.get_by_role("alert")).to_contain_text("500")
        await expect(page.get_by_label("Tool", exact=True)).to_have_value("demo_echo")


async def test_pages_go_older_and_back_to_newer(gateway: Gateway, browser: Browser) -> None:
    await calls(gateway, echoes=5, failing=0)
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/audit?tool=demo_echo&limit=2")
        rows = page.locator("#audit tbody tr[data-id]")
        await expect(rows).to_have_count(2)
        first = await ids(page)
        await expect(page.get_by_label("Per page")).to_have_value("2")
        await expect(page.get_by_role("link", name="← Newer")).to_have_count(0)

        await page.get_by_role("link", name="Older →").click()
        await expect(page).to_have_url(re.compile(r"cursor=\d+"))
        assert query(page)["tool"] == ["demo_echo"] and query(page)["limit"] == ["2"]
        await expect(rows).to_have_count(2)
        second = await ids(page)
        assert all(int(a) > int(b) for a in first for b in second)  # older, none repeated

        await page.get_by_role("link", name="Older →").click()
        await expect(rows).to_have_count(1)
        await expect(page.get_by_role("link", name="Older →")).to_have_count(0)
        third = await ids(page)

        await page.get_by_role("link", name="← Newer").click()
        await expect(rows).to_have_count(2)
        assert await ids(page) == second
        await page.get_by_role("link", name="← Newer").click()
        await expect(rows).to_have_count(2)
        assert await ids(page) == first and "cursor" not in query(page)
        assert len({*first, *second, *third}) == 5


async def test_the_live_tail_shows_a_new_call_without_a_reload(gateway: Gateway, browser: Browser) -> None:
    await calls(gateway, echoes=1, failing=0)
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/audit?tool=demo_whoami")
        await expect(page.locator("#audit tbody")).to_contain_text("No events match these filters")
        await page.evaluate("window.loadedOnce = true")  # gone if the page were loaded again
        await page.get_by_label("Live").check()
        async with gateway.client("streamable_http", headers={"x-api-key": ADMIN_KEY}) as client:
            await client.call_tool("demo_whoami", {})
        rows = page.locator("#audit tbody tr[data-id]")
        await expect(rows).to_have_count(1, timeout=8_000)
        await expect(rows.first.locator("td.tool")).to_have_text("demo_whoami")
        assert await page.evaluate("window.loadedOnce === true")

        # Off again: nothing more arrives by itself.
        await page.get_by_label("Live").uncheck()
        await expect(page.locator("#audit-live")).to_have_attribute("data-paused", "off")


async def test_without_scripts_the_page_offers_a_refresh_link(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        assert (await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY})).status_code == 303
        await calls(gateway, echoes=1, failing=0)
        page = await http.get("/admin/audit", params={"tool": "demo_echo"})
        assert page.status_code == 200
        assert 'id="audit-refresh"' in page.text and "/admin/audit?tool=demo_echo" in page.text
        assert "<script>" not in page.text and "style=" not in page.text
        fragment = await http.get("/admin/audit/rows", params={"tool": "demo_echo"})
        assert fragment.status_code == 200 and "demo_echo" in fragment.text and "<html" not in fragment.text
    async with httpx.AsyncClient(base_url=gateway.url) as signed_out:
        assert (await signed_out.get("/admin/audit/rows")).status_code == 401


async def test_the_audit_page_fits_a_phone(gateway: Gateway, browser: Browser) -> None:
    await calls(gateway, echoes=1, failing=1)
    async with watched_page(browser, gateway.url, viewport=PHONE) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/audit")
        await expect(page.locator("#audit tbody tr[data-id]")).to_have_count(2)
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
