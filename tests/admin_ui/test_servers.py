"""The Servers area of the web UI: a NORMAL server made by picking tools (searching the picker), its
page with endpoint URLs and client configurations to copy, a SMART server, changing a selection,
the API's refusal shown with the form kept, delete, and what a key that may only read sees."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest
from playwright.async_api import Browser, Locator, Page, expect

from tests.admin_ui.browser import PHONE, screenshot, sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY, config
from tests.conftest import Gateway, running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

AS_ADMIN = {"x-api-key": ADMIN_KEY}
META_TOOLS = {"search_tools", "get_tool_schemas", "execute_tool", "manage_connections"}


async def made(gateway: Gateway, **body: Any) -> dict[str, Any]:
    async with gateway.http(AS_ADMIN) as http:
        answer = await http.post("/api/v1/mcp_manager", json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()


async def served_tools(gateway: Gateway, name: str) -> set[str]:
    async with gateway.http(AS_ADMIN) as http:
        answer = await http.get(f"/servers/{name}/tools")
        assert answer.status_code == 200, answer.text
        return {tool["name"] for tool in answer.json()["tools"]}


def tool_box(page: Page, name: str) -> Locator:
    return page.locator(f'#picker input[name="tools"][value="{name}"]')


async def test_a_normal_server_is_made_by_picking_tools_and_serves_exactly_those(
    gateway: Gateway, browser: Browser, tmp_path
) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.get_by_role("navigation").get_by_role("link", name="Servers").click()
        await page.get_by_role("link", name="New server").click()
        await expect(page).to_have_url(f"{gateway.url}/admin/servers/new")

        await page.get_by_label("Name", exact=True).fill("support")
        await page.get_by_label("Description").fill("Tools for the support desk")
        await expect(page.get_by_role("radio", name=re.compile("^NORMAL"))).to_be_checked()
        search = page.get_by_role("searchbox", name="Search tools")
        await search.fill("echo")  # filters as it is typed: only the matching tools stay
        await expect(tool_box(page, "demo_echo")).to_be_visible()
        await expect(tool_box(page, "demo_whoami")).to_be_hidden()
        await tool_box(page, "demo_echo").check()
        await search.fill("whoami")
        await expect(tool_box(page, "demo_echo")).to_be_hidden()
        await tool_box(page, "demo_whoami").check()
        await expect(page.locator("#selected-count")).to_have_text("2 selected")
        await search.fill("")
        await screenshot(page, "server-new", tmp_path)
        await page.get_by_role("button", name="Create server").click()

        await expect(page).to_have_url(re.compile(r"/admin/servers/[0-9a-f-]{36}$"))
        await expect(page.get_by_role("status")).to_contain_text("Server “support” created")
        await expect(page.get_by_role("heading", name="support", exact=True)).to_be_visible()
        await expect(page.locator("#server-tools tbody tr")).to_have_count(2)
        await expect(page.locator("#server-tools tr[data-tool=demo_echo]")).to_be_visible()
        await expect(page.locator("#server-tools tr[data-tool=demo_whoami]")).to_be_visible()
        mcp_url = f"{gateway.url}/servers/support/mcp"
        await expect(page.locator("#endpoint-mcp")).to_have_text(mcp_url)

        # Cursor's configuration, copied with its button: JSON with the server's URL, a placeholder for the key.
        await page.get_by_role("button", name="Copy the Cursor configuration").click()
        copied = json.loads(await page.evaluate("navigator.clipboard.readText()"))
        assert copied["mcpServers"]["support"]["url"] == mcp_url
        assert copied["mcpServers"]["support"]["headers"] == {"Authorization": "Bearer <YOUR_API_KEY>"}
        await page.get_by_role("button", name="Copy the Streamable HTTP (MCP) URL").click()
        assert await page.evaluate("navigator.clipboard.readText()") == mcp_url
        assert ADMIN_KEY not in await page.content()
        await screenshot(page, "server", tmp_path)

        await page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="Servers").click()
        row = page.locator("#servers tr[data-server=support]")
        await expect(row).to_contain_text("NORMAL")
        await expect(row).to_contain_text("2 selected")
        await expect(row).to_contain_text("api")
        await screenshot(page, "servers", tmp_path)

    assert await served_tools(gateway, "support") == {"demo_echo", "demo_whoami"}
    async with gateway.client("streamable_http", server="support", headers=AS_ADMIN) as client:
        assert {tool.name for tool in (await client.list_tools()).tools} == {"demo_echo", "demo_whoami"}
        result = await client.call_tool("demo_echo", {"text": "from the picker"})
        assert "from the picker" in result.content[0].text


async def test_a_smart_server_offers_the_meta_tools(gateway: Gateway, browser: Browser) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/servers/new")
        await page.get_by_label("Name", exact=True).fill("finder")
        await page.get_by_role("radio", name=re.compile("^SMART")).check()
        await page.get_by_role("button", name="Create server").click()
        await expect(page.get_by_role("status")).to_contain_text("Server “finder” created")
        for name in META_TOOLS:
            await expect(page.locator(f"#server-tools tr[data-tool={name}]")).to_be_visible()
        await expect(page.locator(".server-reachable summary")).to_contain_text("tools the meta-tools reach")
        # The curl example calls one of the tools this server really lists.
        await expect(page.locator("#config-curl-rest")).to_contain_text('"name": "search_tools"')
    assert await served_tools(gateway, "finder") == META_TOOLS


async def test_editing_a_server_changes_what_it_serves(gateway: Gateway, browser: Browser) -> None:
    server = await made(gateway, name="desk", mode="NORMAL", selectedTools=["demo_echo"])
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/servers/{server['id']}")
        await page.get_by_role("link", name="Edit").click()
        await expect(tool_box(page, "demo_echo")).to_be_checked()
        await expect(page.locator("#selected-count")).to_have_text("1 selected")

        listed = await page.locator('#picker input[name="tools"]').count()
        select_all = page.get_by_role("button", name="Select all tools of demo")
        await select_all.click()
        await expect(page.locator("#selected-count")).to_have_text(f"{listed} selected")
        await page.get_by_role("button", name="Clear all tools of demo").click()
        await expect(page.locator("#selected-count")).to_have_text("0 selected")

        await tool_box(page, "demo_add").check()
        await tool_box(page, "demo_pid").check()
        await page.get_by_role("button", name="Save changes").click()
        await expect(page.get_by_role("status")).to_contain_text("Server “desk” saved")
        await expect(page.locator("#server-tools tbody tr")).to_have_count(2)
        await expect(page.locator("#server-tools tr[data-tool=demo_add]")).to_be_visible()
    assert await served_tools(gateway, "desk") == {"demo_add", "demo_pid"}


async def test_the_apis_refusal_is_shown_with_the_form_as_typed(gateway: Gateway, browser: Browser) -> None:
    await made(gateway, name="taken", mode="SMART")
    async with watched_page(browser, gateway.url) as page:  # a 4xx page would log a console error
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/servers/new")
        await page.get_by_label("Name", exact=True).fill("taken")
        await page.get_by_label("Description").fill("typed, not lost")
        await page.get_by_label("Public").check()
        await tool_box(page, "demo_echo").check()
        await tool_box(page, "demo_add").check()
        await page.get_by_role("button", name="Create server").click()

        await expect(page.get_by_role("alert")).to_contain_text("a virtual server named 'taken' already exists")
        await expect(page).to_have_url(f"{gateway.url}/admin/servers/new")
        await expect(page.get_by_label("Name", exact=True)).to_have_value("taken")
        await expect(page.get_by_label("Description")).to_have_value("typed, not lost")
        await expect(page.get_by_label("Public")).to_be_checked()
        await expect(tool_box(page, "demo_echo")).to_be_checked()
        await expect(tool_box(page, "demo_add")).to_be_checked()
        await expect(tool_box(page, "demo_whoami")).not_to_be_checked()
        await expect(page.locator("#selected-count")).to_have_text("2 selected")


async def test_deleting_a_server_asks_first_and_its_endpoints_stop(gateway: Gateway, browser: Browser) -> None:
    server = await made(gateway, name="gone", mode="NORMAL", selectedTools=["demo_echo"])
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/servers/{server['id']}")
        asked: list[str] = []

        async def answer(dialog: Any) -> None:
            asked.append(dialog.message)
            await dialog.accept()

        page.once("dialog", answer)
        await page.get_by_role("button", name="Delete gone").click()
        await expect(page).to_have_url(f"{gateway.url}/admin/servers")
        await expect(page.get_by_role("status")).to_contain_text("Server “gone” deleted")
        await expect(page.locator("#servers tr[data-server=gone]")).to_have_count(0)
        assert asked and "gone" in asked[0]
    async with gateway.http(AS_ADMIN) as http:
        assert (await http.get("/servers/gone/tools")).status_code == 404


async def test_the_server_pages_fit_a_phone(gateway: Gateway, browser: Browser) -> None:
    server = await made(gateway, name="pocket", mode="NORMAL", selectedTools=["demo_echo", "demo_whoami"])
    async with watched_page(browser, gateway.url, PHONE) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        for path in ("/admin/servers", f"/admin/servers/{server['id']}", f"/admin/servers/{server['id']}/edit"):
            await page.goto(f"{gateway.url}{path}")
            await expect(page.locator("main h1")).to_be_visible()
            assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], path


async def test_the_picker_finds_tools_by_their_upstream_and_selects_a_whole_upstream(browser: Browser) -> None:
    settings = config()
    settings["mcpServers"]["files"] = stdio_echo("files")
    async with running_gateway(settings) as gateway:
        await wait_until(lambda: all(u.is_ready for u in gateway.hub.upstreams.values()))
        async with watched_page(browser, gateway.url) as page:
            await sign_in(page, gateway.url, ADMIN_KEY)
            await page.goto(f"{gateway.url}/admin/servers/new")
            await page.get_by_role("searchbox", name="Search tools").fill("files")
            files, demo = page.locator("#picker [data-upstream=files]"), page.locator("#picker [data-upstream=demo]")
            await expect(files).to_be_visible()
            await expect(demo).to_be_hidden()
            await expect(tool_box(page, "files_echo")).to_be_visible()
            await page.get_by_role("button", name="Select all tools of files").click()
            names = {f"files_{tool['name']}" for tool in gateway.hub.upstreams["files"].tools}  # as clients see them
            count = len(names)
            await expect(page.locator("#selected-count")).to_have_text(f"{count} selected")
            await page.get_by_label("Name", exact=True).fill("files-only")
            await page.get_by_role("button", name="Create server").click()
            await expect(page.get_by_role("status")).to_contain_text("Server “files-only” created")
        assert await served_tools(gateway, "files-only") == names


@asynccontextmanager
async def signed_in_http(gateway: Gateway, key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A browser without scripts: the session cookie, and nothing else."""
    async with httpx.AsyncClient(base_url=gateway.url, timeout=10) as http:
        answer = await http.post("/admin/sign-in", data={"api_key": key, "next": "/admin"})
        assert answer.status_code == 303
        yield http


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found
    return found.group(1)


async def test_without_scripts_select_all_asks_the_server_and_saves_nothing(gateway: Gateway) -> None:
    async with signed_in_http(gateway, ADMIN_KEY) as http:
        form = await http.get("/admin/servers/new")
        assert 'data-filter-item="demo_whoami demo"' in form.text  # the full list, no script needed
        sent = {"csrf": csrf_of(form.text), "name": "later", "mode": "NORMAL", "tools": ["demo_echo"], "select": "demo"}
        again = await http.post("/admin/servers/new", data=sent)
        assert again.status_code == 200
        checked = set(re.findall(r'name="tools" value="([^"]+)" checked', again.text))
        assert {"demo_echo", "demo_whoami", "demo_add"} <= checked
        assert 'value="later"' in again.text
    async with gateway.http(AS_ADMIN) as http:
        assert (await http.get("/api/v1/mcp_manager")).json()["pagination"]["total"] == 0


async def test_a_key_that_may_only_read_sees_no_change_buttons(gateway: Gateway) -> None:
    server = await made(gateway, name="shown", mode="NORMAL", selectedTools=["demo_echo"], isPublic=True)
    async with gateway.http(AS_ADMIN) as http:
        reader = (await http.post("/api/v1/keys", json={"name": "reader", "scopes": ["servers:read"]})).json()["key"]
    async with signed_in_http(gateway, reader) as http:
        listing = await http.get("/admin/servers")
        assert listing.status_code == 200 and 'data-server="shown"' in listing.text
        assert "New server" not in listing.text
        one = await http.get(f"/admin/servers/{server['id']}")
        assert one.status_code == 200 and "demo_echo" in one.text
        assert "/edit" not in one.text and "/delete" not in one.text
        # A public server needs no key: its configurations send none.
        assert "&lt;YOUR_API_KEY&gt;" not in one.text and "Authorization" not in one.text
        assert (await http.get("/admin/servers/new")).status_code == 403
        refused = await http.post(
            f"/admin/servers/{server['id']}/delete", data={"csrf": csrf_of(one.text)}, follow_redirects=False
        )
        assert refused.status_code == 403  # the API's answer to this key, not the page's
    assert await served_tools(gateway, "shown") == {"demo_echo"}
