"""The web UI's Upstreams area: an upstream added through the form and its tools shown; a remote
server's tools previewed before saving, and its page following it until it is ready; what the API
refuses shown on the form with every field kept; edit, disable, enable and remove; a key that may
only read sees no change buttons, at a phone's width."""

from __future__ import annotations

import json
import socket
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import partial
from typing import Any

import anyio
import pytest
import uvicorn
from playwright.async_api import Browser, Dialog, expect

from tests.admin_ui.browser import PHONE, screenshot, sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY
from tests.conftest import ECHO_SERVER, Gateway, serve_asgi, stdio_echo
from tests.upstreams.echo_server import build_server
from tests.upstreams.pets_api import build_app

pytestmark = pytest.mark.anyio


@asynccontextmanager
async def serving_on(sock: socket.socket, app: Any) -> AsyncIterator[None]:
    """Serve `app` on an already bound socket: until then, connections to its port are refused."""
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="on"))
    server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        tg.start_soon(partial(server.serve, sockets=[sock]))
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.005)
        try:
            yield
        finally:
            server.should_exit = True
            server.force_exit = True
            tg.cancel_scope.deadline = anyio.current_time() + 5


async def test_a_stdio_upstream_added_through_the_form_shows_its_tools(
    gateway: Gateway, browser: Browser, tmp_path
) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.get_by_role("navigation").get_by_role("link", name="Upstreams").click()
        await expect(page.locator("#upstreams tr[data-upstream=demo] .badge")).to_have_text("ready")

        await page.get_by_role("link", name="Add upstream").click()
        await expect(page).to_have_url(f"{gateway.url}/admin/upstreams/new")
        await page.get_by_label("Local command").check()
        await page.get_by_label("Name", exact=True).fill("files")
        await page.get_by_label("Command", exact=True).fill(sys.executable)
        await page.get_by_label("Arguments").fill(f"{ECHO_SERVER}\n--stdio\n--label\nfiles")
        await page.get_by_label("Environment").fill("GREETING=hello there")
        await expect(page.get_by_label("URL", exact=True)).to_be_hidden()  # only the chosen kind's fields
        await page.get_by_role("button", name="Add upstream").click()

        await expect(page).to_have_url(f"{gateway.url}/admin/upstreams/files")
        await expect(page.get_by_role("status")).to_contain_text("Upstream “files” added: ready, 9 tools")
        await expect(page.locator("#state")).to_have_text("ready")
        await expect(page.locator("#live")).not_to_have_attribute("data-refresh", "/admin/upstreams/files/live")
        echo = page.locator("#tools li[data-tool=files_echo]")
        await expect(echo.get_by_role("link", name="files_echo")).to_have_attribute("href", "/admin/tools/files_echo")
        await expect(echo).to_contain_text("Echo the text back unchanged.")
        await echo.locator("summary").click()
        await expect(echo.locator("pre")).to_contain_text('"text"')
        await expect(page.locator(".upstream-settings")).to_contain_text("GREETING=********")
        await screenshot(page, "upstream", tmp_path)

        await page.get_by_role("link", name="Upstreams", exact=True).first.click()
        await expect(page.locator("#upstreams tr[data-upstream=files] .badge")).to_have_text("ready")
        await expect(page.locator("#upstreams tr[data-upstream=files]")).to_contain_text("API")
        await expect(page.locator("#upstreams tr[data-upstream=demo]")).to_contain_text("config file")
        await screenshot(page, "upstreams", tmp_path)
        await page.get_by_label("Filter").fill("files")
        await expect(page.locator("#upstreams tr[data-upstream=demo]")).to_be_hidden()
        await expect(page.locator("#upstream-count")).to_have_text("1 shown")

    # The form's env reached the child, and the tools reach clients.
    async with gateway.client("streamable_http", headers={"x-api-key": ADMIN_KEY}) as client:
        said = await client.call_tool("files_env", {"name": "GREETING"})
        assert said.content[0].text == "hello there"


async def test_an_openapi_catalog_and_a_collection_are_added_through_the_form(
    gateway: Gateway, browser: Browser, tmp_path
) -> None:
    records = tmp_path / "events.json"
    events = [{"id": "payment.failed", "title": "Payment failed"}, {"id": "user.created", "title": "User created"}]
    records.write_text(json.dumps(events))
    async with serve_asgi(build_app()) as api, watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/upstreams/new")
        await page.get_by_role("radio", name="OpenAPI").check()
        await page.get_by_label("Name", exact=True).fill("pets")
        await page.get_by_label("OpenAPI document", exact=True).fill(f"{api}/openapi.json")
        await page.get_by_role("textbox", name="Headers", exact=True).fill("Authorization: Bearer service-token")
        await page.get_by_label("Live tools").select_option("operations")
        await page.get_by_role("button", name="Add upstream").click()
        await expect(page.get_by_role("status")).to_contain_text("Upstream “pets” added: ready")
        await expect(page.locator("#tools li[data-tool=pets_call_endpoint]")).to_be_visible()
        await expect(page.locator(".upstream-settings")).to_contain_text("Authorization: ********")
        await expect(page.locator(".upstream-settings")).to_contain_text("operations")

        await page.goto(f"{gateway.url}/admin/upstreams/new?kind=collection")
        await page.get_by_label("Name", exact=True).fill("events")
        await page.get_by_label("Location").fill(str(records))
        await page.get_by_label("One record is a").fill("event")
        await page.get_by_role("button", name="Add upstream").click()
        await expect(page.get_by_role("status")).to_contain_text("Upstream “events” added: ready, 3 tools")
        search = page.locator("#tools li[data-tool=events_search] a")  # a collection's tools have no prefix
        await expect(search).to_have_attribute("href", "/admin/tools/events_search")
        await expect(page.locator(".upstream-settings")).to_contain_text("Records")


async def test_what_the_api_refuses_is_shown_on_the_form_with_every_field_kept(
    gateway: Gateway, browser: Browser
) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/upstreams/new?kind=stdio")
        await page.get_by_label("Name", exact=True).fill("demo")
        await page.get_by_label("Command", exact=True).fill(sys.executable)
        await page.get_by_label("Arguments").fill(f"{ECHO_SERVER}\n--stdio")
        await page.get_by_label("Environment").fill("TOKEN=abc")
        await page.get_by_label("Timeout (seconds)").fill("12")
        await page.get_by_label("Name", exact=True).press("Enter")  # Enter saves, whatever button comes first

        await expect(page.get_by_role("alert")).to_have_text("an upstream named 'demo' already exists")
        name = page.get_by_label("Name", exact=True)
        await expect(name).to_have_value("demo")
        await expect(name).to_have_attribute("aria-invalid", "true")
        await expect(name).to_have_attribute("aria-describedby", "up-name-hint upstream-error")
        await expect(page.get_by_label("Local command")).to_be_checked()
        await expect(page.get_by_label("Arguments")).to_have_value(f"{ECHO_SERVER}\n--stdio")
        await expect(page.get_by_label("Environment")).to_have_value("TOKEN=abc")
        await expect(page.get_by_label("Timeout (seconds)")).to_have_value("12")

        await name.fill("other")
        await page.get_by_label("Command", exact=True).fill("no-such-program-here")
        await page.get_by_role("button", name="Add upstream").click()
        await expect(page.get_by_role("alert")).to_contain_text("command not found: 'no-such-program-here'")
        await expect(page.get_by_label("Command", exact=True)).to_have_attribute("aria-invalid", "true")

        await page.get_by_label("Command", exact=True).fill(sys.executable)
        await page.get_by_label("Environment").fill("TOKEN=abc\nNO_VALUE_HERE")
        await page.get_by_role("button", name="Add upstream").click()
        await expect(page.get_by_role("alert")).to_have_text("Environment: line 2 ('NO_VALUE_HERE') is not KEY=value")
        await expect(page.get_by_label("Environment")).to_have_attribute("aria-invalid", "true")
        await expect(page.get_by_label("Environment")).to_have_value("TOKEN=abc\nNO_VALUE_HERE")
    assert "other" not in gateway.hub.upstreams


async def test_a_remote_server_is_previewed_saved_before_it_is_up_and_followed_until_ready(
    gateway: Gateway, browser: Browser, tmp_path
) -> None:
    with socket.socket() as late:
        late.bind(("127.0.0.1", 0))  # bound, not listening: connections are refused until it serves
        url = f"http://127.0.0.1:{late.getsockname()[1]}/mcp"
        async with watched_page(browser, gateway.url) as page:
            await sign_in(page, gateway.url, ADMIN_KEY)
            await page.goto(f"{gateway.url}/admin/upstreams/new")
            await page.get_by_label("Remote MCP server").check()
            await page.get_by_label("Name", exact=True).fill("far")
            await page.get_by_label("URL", exact=True).fill(url)
            await page.get_by_role("textbox", name="Headers", exact=True).fill("X-Tenant: t-42")
            await page.get_by_role("button", name="Preview tools").click()
            # Not up yet: the API's reason, and the form as typed.
            await expect(page.get_by_role("alert")).to_contain_text("127.0.0.1")
            await expect(page.get_by_label("Remote MCP server")).to_be_checked()
            await expect(page.get_by_label("Name", exact=True)).to_have_value("far")
            await expect(page.get_by_label("URL", exact=True)).to_have_value(url)
            await expect(page.get_by_role("textbox", name="Headers", exact=True)).to_have_value("X-Tenant: t-42")

            await page.get_by_role("button", name="Add upstream").click()  # saved anyway: it is retried
            await expect(page).to_have_url(f"{gateway.url}/admin/upstreams/far")
            await expect(page.locator("#state")).not_to_have_text("ready")
            await expect(page.locator("#no-tools")).to_be_visible()
            await page.evaluate("window.stillThisPage = true")

            async with serving_on(late, build_server("far").streamable_http_app()):
                # No reload: the state region fetches itself again until the upstream has settled.
                await expect(page.locator("#state")).to_have_text("ready", timeout=15_000)
                await expect(page.locator("#tools li[data-tool=far_whoami] a")).to_have_text("far_whoami")
                await expect(page.locator("#live")).to_have_attribute("data-paused", "settled")
                assert await page.evaluate("window.stillThisPage") is True
                await expect(page.locator(".upstream-settings")).to_contain_text("X-Tenant: ********")

                # Editing: a preview would go out with the mask, so it asks for the real value.
                await page.get_by_role("link", name="Edit").click()
                headers = page.get_by_role("textbox", name="Headers", exact=True)
                await expect(headers).to_have_value("X-Tenant: ********")
                await page.get_by_role("button", name="Preview tools").click()
                await expect(page.get_by_role("alert")).to_have_text(
                    "Headers: retype the masked (********) values to preview; saving keeps them as they are"
                )
                await expect(headers).to_have_attribute("aria-invalid", "true")
                await headers.fill("X-Tenant: t-42")
                await page.get_by_role("button", name="Preview tools").click()
                await expect(page.locator("#preview li[data-tool=whoami]")).to_be_visible()

                await page.goto(f"{gateway.url}/admin/upstreams/new?kind=remote")
                await page.get_by_label("Name", exact=True).fill("far-again")
                await page.get_by_label("URL", exact=True).fill(url)
                await page.get_by_role("button", name="Preview tools").click()
                preview = page.locator("#preview")
                await expect(preview.get_by_role("status")).to_have_text(
                    "9 tools over Streamable HTTP (detected), as the server names them; nothing is saved yet."
                )
                await expect(preview.locator("li[data-tool=echo]")).to_contain_text("Echo the text back unchanged.")
                await expect(page.get_by_label("Name", exact=True)).to_have_value("far-again")
                await screenshot(page, "upstream-new", tmp_path)
    assert "far-again" not in gateway.hub.upstreams


async def test_an_upstream_is_edited_disabled_enabled_and_removed(gateway: Gateway, browser: Browser) -> None:
    body = {"name": "spare", "kind": "stdio", **stdio_echo("spare"), "env": {"TOKEN": "s3cret"}}
    async with gateway.http({"x-api-key": ADMIN_KEY}) as http:
        assert (await http.post("/api/v1/upstreams", json=body)).status_code == 201
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/upstreams/spare")
        await page.get_by_role("link", name="Edit").click()
        await expect(page.get_by_label("Environment")).to_have_value("TOKEN=********")  # masked, kept if left
        await page.get_by_label("Arguments").fill(f"{ECHO_SERVER}\n--stdio\n--label\nchanged")
        await page.get_by_label("Timeout (seconds)").fill("12")
        await page.get_by_role("button", name="Save changes").click()
        await expect(page.get_by_role("status")).to_contain_text("Upstream “spare” changed and reconnected: ready")
        await expect(page.locator(".upstream-settings")).to_contain_text("12 s")
        async with gateway.client("streamable_http", headers={"x-api-key": ADMIN_KEY}) as client:
            assert (await client.call_tool("spare_whoami", {})).content[0].text == "changed"
            assert (await client.call_tool("spare_env", {"name": "TOKEN"})).content[0].text == "s3cret"

        await page.get_by_role("button", name="Disable").click()
        await expect(page.get_by_role("status")).to_contain_text("Upstream “spare” disabled")
        await expect(page.locator("#state")).to_have_text("disabled")
        await page.get_by_role("button", name="Enable").click()
        await expect(page.locator("#state")).to_have_text("ready")

        page.once("dialog", lambda dialog: dialog.dismiss())
        await page.get_by_role("button", name="Remove").click()
        await expect(page).to_have_url(f"{gateway.url}/admin/upstreams/spare")  # asked, and declined
        assert "spare" in gateway.hub.upstreams
        asked: list[str] = []

        def accept(dialog: Dialog) -> Any:
            asked.append(dialog.message)
            return dialog.accept()

        page.once("dialog", accept)
        await page.get_by_role("button", name="Remove").click()
        await expect(page).to_have_url(f"{gateway.url}/admin/upstreams")
        await expect(page.get_by_role("status")).to_contain_text("Upstream “spare” removed")
        await expect(page.locator("#upstreams tr[data-upstream=spare]")).to_have_count(0)
        assert asked and "Remove the upstream “spare”?" in asked[0]

        # An upstream of the config file: no change offered, and the API's refusal if one is sent anyway.
        await page.goto(f"{gateway.url}/admin/upstreams/demo")
        await expect(page.locator("#config-note")).to_contain_text("Declared in the config file")
        await expect(page.get_by_role("button", name="Disable")).to_have_count(0)
        csrf = await page.locator("input[name=csrf]").first.input_value()
        answer = await page.request.post(f"{gateway.url}/admin/upstreams/demo/disable", form={"csrf": csrf})
        assert answer.status == 200
        assert "declared in the config file; change it there and restart" in await answer.text()
    assert gateway.hub.upstreams["demo"].is_ready


async def test_a_key_that_may_only_read_sees_no_change_buttons(gateway: Gateway, browser: Browser) -> None:
    async with gateway.http({"x-api-key": ADMIN_KEY}) as http:
        made = await http.post("/api/v1/keys", json={"name": "reader", "scopes": ["servers:read"]})
        reader = made.json()["key"]
        assert (
            await http.post("/api/v1/upstreams", json={"name": "spare", "kind": "stdio", **stdio_echo("spare")})
        ).status_code == 201
    async with watched_page(browser, gateway.url, viewport=PHONE) as page:
        await sign_in(page, gateway.url, reader)
        await page.goto(f"{gateway.url}/admin/upstreams")
        await expect(page.locator("#upstreams tr[data-upstream=spare] .badge")).to_have_text("ready")
        await expect(page.get_by_role("link", name="Add upstream")).to_have_count(0)
        await page.get_by_role("link", name="spare").click()
        await expect(page.locator("#tools li[data-tool=spare_echo]")).to_be_visible()
        await expect(page.locator("#tools")).to_contain_text("Echo the text back unchanged.")
        await expect(page.locator("#upstream-actions")).to_have_count(0)
        await expect(page.get_by_role("link", name="Edit")).to_have_count(0)
        assert await page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        await page.goto(f"{gateway.url}/admin/upstreams/new")
        await expect(page.get_by_role("alert")).to_contain_text("needs the servers:write scope")
        await expect(page.locator("form.upstream-form")).to_have_count(0)
