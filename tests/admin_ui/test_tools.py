"""Trying a tool in the web UI: a form made from its input schema, a run through the gateway's REST
face, the result shown (text, JSON, images, isError) with the time it took, and every error on the
page with the form kept."""

from __future__ import annotations

import json
import re
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from playwright.async_api import Browser, Page, expect

from tests.admin_ui.browser import PHONE, screenshot, sign_in, watched_page
from tests.admin_ui.conftest import ADMIN_KEY
from tests.conftest import Gateway, running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

FORM_SERVER = str(Path(__file__).parent.parent / "upstreams" / "form_server.py")


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    config = {
        "mcpServers": {
            "demo": stdio_echo("demo"),
            "forms": {"command": sys.executable, "args": [FORM_SERVER, "--stdio"]},
        },
        "api_key": ADMIN_KEY,
    }
    async with running_gateway(config) as gateway:
        await wait_until(lambda: all(gateway.hub.upstreams[name].is_ready for name in ("demo", "forms")))
        yield gateway


def label(text: str) -> re.Pattern[str]:
    """A field's accessible name: its label, then perhaps "(required)" and the property's own name."""
    return re.compile(rf"^\s*{re.escape(text)}\b", re.IGNORECASE)


async def open_tool(page: Page, gateway: Gateway, name: str) -> None:
    await page.goto(f"{gateway.url}/admin/tools/{name}")
    await expect(page.get_by_role("heading", level=1)).to_have_text(name)


async def test_demo_echo_runs_from_its_generated_form_and_shows_the_time_taken(
    gateway: Gateway, browser: Browser
) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/tools")
        await page.get_by_label("Filter").fill("echo")
        await page.get_by_role("link", name="demo_echo").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("demo_echo")
        await expect(page.locator(".tool-description")).to_have_text("Echo the text back unchanged.")
        upstream = page.get_by_role("navigation", name="Breadcrumb").get_by_role("link", name="demo")
        await expect(upstream).to_have_attribute("href", "/admin/upstreams/demo")

        # Keyboard only: type into the field and press Enter (the form's first button is "Run").
        await page.get_by_label(label("text")).focus()
        await page.keyboard.type("hello from the form")
        await page.keyboard.press("Enter")

        result = page.locator("#result")
        await expect(result.get_by_role("heading", name="Result")).to_be_visible()
        await expect(result.locator(".result-text pre")).to_have_text("hello from the form")
        await expect(page.locator("#took")).to_have_text(re.compile(r"^took [\d.,]+ ms$"))
        await expect(page.locator("#outcome")).to_have_text("ok")
        await expect(page.get_by_label(label("text"))).to_have_value("hello from the form")  # ready to run again


async def test_a_tool_with_a_slash_in_its_name_opens_and_runs(gateway: Gateway, browser: Browser) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await page.goto(f"{gateway.url}/admin/upstreams/forms")
        await page.get_by_role("link", name="forms_files/read").click()
        await expect(page.get_by_role("heading", level=1)).to_have_text("forms_files/read")
        await page.get_by_label(label("path")).fill("/srv/notes.txt")
        await page.get_by_role("button", name="Run").click()
        await expect(page.locator("#result .result-text pre")).to_have_text("read /srv/notes.txt")


async def test_a_nested_form_sends_the_arguments_the_upstream_receives(
    gateway: Gateway, browser: Browser, tmp_path: Path
) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await open_tool(page, gateway, "forms_echo_args")
        await expect(page.get_by_label(label("mode"))).to_have_value("train")  # the schema's default
        # Each field described as the schema describes it, and read out with it.
        await expect(page.get_by_label(label("Title"))).to_have_accessible_description(
            re.compile("What to call the trip.")
        )
        await expect(page.get_by_label(label("count"))).to_have_accessible_description(
            re.compile("How many travellers.")
        )

        await page.get_by_label(label("Title")).fill("Fjords")
        await page.get_by_label(label("mode")).select_option("bus")
        await page.get_by_label(label("count")).fill("3")
        await page.get_by_label(label("budget")).fill("12.5")
        await page.get_by_label(label("confirm")).check()
        await page.get_by_label(label("urgent")).select_option("false")
        await page.get_by_label(label("tags")).fill("coast\nnorth")
        days = page.get_by_role("group", name="days")
        await days.get_by_label("mon").check()
        await days.get_by_label("wed").check()
        await page.get_by_label(label("leave")).fill("2025-03-01")
        address = page.get_by_role("group", name=label("Address"))
        await address.get_by_label(label("city")).fill("Bergen")
        geo = address.get_by_role("group", name="geo")
        await geo.get_by_label(label("lat")).fill("60.39")
        await geo.get_by_label(label("lon")).fill("5.32")
        await page.get_by_label(label("extra")).fill('"window seat"')
        await screenshot(page, "tool", tmp_path)

        await page.get_by_role("button", name="Run", exact=True).click()
        await expect(page.locator("#structured")).to_be_visible()
        received = json.loads(await page.locator("#structured").text_content() or "")
        assert received == {
            "title": "Fjords",
            "mode": "bus",
            "count": 3,
            "budget": 12.5,
            "confirm": True,
            "urgent": False,
            "tags": ["coast", "north"],
            "days": ["mon", "wed"],
            "leave": "2025-03-01",
            "address": {"city": "Bergen", "geo": {"lat": 60.39, "lon": 5.32}},
            "extra": "window seat",
        }
        # The text item is JSON too: shown pretty-printed.
        await expect(page.locator(".result-json pre").first).to_contain_text('"title": "Fjords"')
        # The form as it was sent, to run again.
        await expect(page.get_by_label(label("Title"))).to_have_value("Fjords")
        await expect(days.get_by_label("wed")).to_be_checked()
        await expect(page.get_by_label(label("urgent"))).to_have_value("false")
        await expect(geo.get_by_label(label("lon"))).to_have_value("5.32")
        await screenshot(page, "tool-result", tmp_path)


async def test_an_image_result_is_shown_as_an_image(gateway: Gateway, browser: Browser) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await open_tool(page, gateway, "forms_picture")
        await page.get_by_label(label("size")).fill("24")
        await page.get_by_role("button", name="Run", exact=True).click()
        image = page.get_by_role("img", name=re.compile(r"^Image 2 of the result"))
        await expect(image).to_be_visible()
        await expect(image).to_have_attribute("src", re.compile(r"^data:image/png;base64,iVBOR"))
        assert await image.evaluate("img => img.complete && img.naturalWidth") == 24
        await expect(page.locator(".result-text pre")).to_have_text("a gradient")


async def test_a_bad_number_shows_the_fields_error_with_the_form_kept(gateway: Gateway, browser: Browser) -> None:
    async with watched_page(browser, gateway.url) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await open_tool(page, gateway, "forms_echo_args")
        await page.get_by_label(label("Title")).fill("Kept")
        await page.get_by_label(label("sizes")).fill("20\nforty")
        await page.get_by_role("button", name="Run", exact=True).click()

        alert = page.get_by_role("alert")
        await expect(alert).to_contain_text("sizes[1]: not an integer: 'forty'")
        sizes = page.get_by_label(label("sizes"))
        await expect(sizes).to_have_attribute("aria-invalid", "true")
        await expect(sizes).to_have_accessible_description(re.compile("not an integer: 'forty'"))
        await expect(sizes).to_have_value("20\nforty")
        await expect(page.get_by_label(label("Title"))).to_have_value("Kept")
        await expect(page.locator("#structured")).to_have_count(0)  # nothing was run
        await alert.get_by_role("link").click()  # the summary leads to the field
        await expect(page).to_have_url(re.compile(r"#f-arg\.sizes$"))


async def test_what_the_gateway_refuses_is_shown_with_the_form_kept(gateway: Gateway, browser: Browser) -> None:
    raw = '{"title": "t", "confirm": true, "count": 99}'
    async with watched_page(browser, gateway.url) as page:  # a 200 page: no console error
        await sign_in(page, gateway.url, ADMIN_KEY)
        await open_tool(page, gateway, "forms_echo_args")
        await page.get_by_text("Raw JSON arguments").click()
        await page.get_by_label("Arguments as a JSON object").fill(raw)
        await page.get_by_role(
            "button", name="Run with this JSON"
        ).click()  # the empty required Title does not block it
        await expect(page.get_by_role("alert")).to_contain_text("count: 99 is greater than the maximum of 10")
        await expect(page.get_by_label("Arguments as a JSON object")).to_have_value(raw)

        await open_tool(page, gateway, "forms_refuse")
        await page.get_by_label(label("reason")).fill("no seats")
        await page.get_by_role("button", name="Run", exact=True).click()
        await expect(page.locator("#outcome")).to_have_text("tool error")
        await expect(page.get_by_role("alert")).to_contain_text("isError: true")
        await expect(page.locator(".result-text pre")).to_have_text("refused: no seats")


async def test_refusals_arrive_as_pages_naming_the_field(gateway: Gateway) -> None:
    async with httpx.AsyncClient(base_url=gateway.url) as http:
        await http.post("/admin/sign-in", data={"api_key": ADMIN_KEY})
        page = (await http.get("/admin/tools/forms_echo_args")).text
        token = re.search(r'name="csrf" value="([0-9a-f]+)"', page)
        assert token is not None
        csrf = token.group(1)

        # What the browser would have stopped (a number input): the form's own check names the field.
        answer = await http.post("/admin/tools/forms_echo_args/run", data={"csrf": csrf, "arg.count": "x"})
        assert answer.status_code == 200
        assert "count: not an integer: &#39;x&#39;" in answer.text

        # The gateway's 422 names a field: shown at that field, the form as sent.
        sent = {"csrf": csrf, "arg.title": "t", "arg.confirm": "true", "arg.count": "99"}
        answer = await http.post("/admin/tools/forms_echo_args/run", data=sent)
        assert answer.status_code == 200
        assert re.search(r'id="f-arg\.count"[^>]*value="99"[^>]*aria-invalid="true"', answer.text)
        assert "99 is greater than the maximum of 10" in answer.text

        # A tool that is not (or no longer) there: said on the page, what was typed kept.
        answer = await http.post("/admin/tools/nope/run", data={"csrf": csrf, "raw": '{"a": 1}'})
        assert answer.status_code == 200
        assert "Unknown tool" in answer.text and "{&#34;a&#34;: 1}" in answer.text
        assert (await http.get("/admin/tools/nope")).status_code == 404

        # Without the CSRF token nothing runs.
        assert (await http.post("/admin/tools/demo_echo/run", data={"arg.text": "x"})).status_code == 403


async def test_the_tool_page_works_on_a_phone_and_labels_every_input(gateway: Gateway, browser: Browser) -> None:
    async with watched_page(browser, gateway.url, viewport=PHONE) as page:
        await sign_in(page, gateway.url, ADMIN_KEY)
        await open_tool(page, gateway, "forms_echo_args")
        await page.get_by_text("Input schema").click()
        await page.get_by_text("Raw JSON arguments").click()
        assert await page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
        unlabelled = await page.evaluate(
            """[...document.querySelectorAll('main input:not([type=hidden]), main select, main textarea')]
                 .filter(el => !el.labels || el.labels.length === 0).map(el => el.name)"""
        )
        assert unlabelled == []
        objects = page.locator("fieldset.group")
        await expect(objects).to_have_count(2)
        for legend in await objects.locator("> legend").all():
            await expect(legend).not_to_be_empty()
