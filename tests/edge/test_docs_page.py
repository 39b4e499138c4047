"""The docs pages (Swagger UI) load nothing from another host: their files are served from the
package, pinned, with their content types and long cache lifetimes, under a Content-Security-Policy
that allows only this origin's scripts and styles — and Swagger UI still renders under it."""

from __future__ import annotations

import html
import os
import re
import shutil
from html.parser import HTMLParser
from importlib.resources import files
from typing import Any

import anyio
import httpx
import pytest
from starlette.types import Receive, Scope, Send

from mcpgate.edge.docs_page import (
    DOCS_ASSETS,
    MANAGEMENT_DOCS,
    SWAGGER_UI_VERSION,
    docs_asset,
    docs_page,
    send_html,
)
from mcpgate.edge.http import send_json
from tests.conftest import running_gateway, serve_asgi, stdio_echo
from tests.upstreams.pets_api import document

pytestmark = pytest.mark.anyio

OPENAPI = "/api/v1/openapi.json"


async def docs_app(scope: Scope, receive: Receive, send: Send) -> None:
    """What app.py routes to this module, and a document for the page to show."""
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
    elif scope["path"] == MANAGEMENT_DOCS:
        await send_html(send, docs_page(f"{scope.get('root_path', '')}{OPENAPI}", scope.get("root_path", "")))
    elif scope["path"].startswith(DOCS_ASSETS):
        await docs_asset(scope, receive, send)
    elif scope["path"] == OPENAPI:
        await send_json(send, 200, document())
    else:
        await send_json(send, 404, {})


class References(HTMLParser):
    """Every URL a page loads, its inline scripts and styles, and its data attributes."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.inline: list[str] = []
        self.data: dict[str, str] = {}
        self._in: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        named = dict(attrs)
        self.urls += [value for key, value in attrs if key in ("src", "href", "action") and value is not None]
        self.data |= {key: value or "" for key, value in attrs if key.startswith("data-")}
        if "style" in named or any(key.startswith("on") for key in named):
            self.inline.append(f"<{tag}> attribute")
        self._in = tag if tag in ("script", "style") else None
        if tag == "style":
            self.inline.append("<style>")

    def handle_data(self, data: str) -> None:
        if self._in == "script" and data.strip():
            self.inline.append(f"<script>{data[:40]}")

    def handle_endtag(self, tag: str) -> None:
        self._in = None


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=docs_app), base_url="http://gateway")


async def test_the_docs_page_loads_nothing_from_another_host_and_allows_only_its_own_scripts() -> None:
    async with client() as http:
        page = await http.get(MANAGEMENT_DOCS)
    assert page.status_code == 200 and page.headers["content-type"] == "text/html; charset=utf-8"
    references = References()
    references.feed(page.text)
    assert references.urls and all(re.fullmatch(r"/[^/].*", url) for url in references.urls), references.urls
    assert "cdn" not in page.text and "http" not in page.text
    assert references.inline == []  # so the policy needs no 'unsafe-inline'
    assert references.data == {"data-openapi": OPENAPI}

    policy = dict(directive.strip().split(" ", 1) for directive in page.headers["content-security-policy"].split(";"))
    assert policy["default-src"] == "'none'"
    assert policy["script-src"] == policy["style-src"] == policy["connect-src"] == "'self'"
    assert policy["frame-ancestors"] == "'none'"


async def test_every_file_the_page_names_is_served_pinned_typed_and_cached_for_a_year() -> None:
    types = {".js": "text/javascript; charset=utf-8", ".css": "text/css; charset=utf-8"}
    async with client() as http:
        references = References()
        references.feed((await http.get(MANAGEMENT_DOCS)).text)
        assert len(references.urls) == 4
        for url in references.urls:
            path, _, version = url.partition("?v=")
            assert path.startswith(DOCS_ASSETS) and version
            served = await http.get(url, headers={"accept-encoding": "identity"})
            assert served.status_code == 200, url
            assert served.headers["content-type"] == types[path[path.rindex(".") :]]
            assert served.headers["cache-control"] == "public, max-age=31536000, immutable"
            assert served.headers["x-content-type-options"] == "nosniff"
            squeezed = await http.get(url, headers={"accept-encoding": "gzip"})
            assert squeezed.headers["content-encoding"] == "gzip" and squeezed.content == served.content
            assert int(squeezed.headers["content-length"]) < len(served.content)
            head = await http.head(url)
            assert head.status_code == 200 and head.content == b""

            # An older digest is not kept for a year; an unchanged file is a 304.
            stale = await http.get(f"{path}?v=0ld")
            assert stale.headers["cache-control"] == "no-cache" and stale.content == served.content
            again = await http.get(url, headers={"if-none-match": served.headers["etag"]})
            assert again.status_code == 304 and again.content == b""

        bundle = next(url for url in references.urls if "swagger-ui-bundle.js" in url)
        vendored = files("mcpgate.edge").joinpath("docs_assets", "swagger-ui", "swagger-ui-bundle.js").read_bytes()
        assert (await http.get(bundle)).content == vendored
        readme = files("mcpgate.edge").joinpath("docs_assets", "swagger-ui", "README").read_text()
        assert f"swagger-ui-dist {SWAGGER_UI_VERSION}" in readme


async def test_other_names_and_methods_under_the_assets_path_get_json_errors() -> None:
    async with client() as http:
        for path in ("swagger-ui.css.map", "..%2Fdocs_page.py", "swagger-ui/LICENSE", ""):
            missing = await http.get(f"{DOCS_ASSETS}{path}")
            assert missing.status_code == 404, path
            assert missing.json()["error"]["type"] == "not_found"
        posted = await http.post(f"{DOCS_ASSETS}docs.js")
        assert posted.status_code == 405 and posted.headers["allow"] == "GET, HEAD"
        assert posted.json()["error"]["type"] == "method_not_allowed"


async def test_a_gateway_mounted_below_a_root_path_names_its_files_below_it() -> None:
    page = docs_page("/gw/servers/pub/openapi.json", "/gw").decode()
    references = References()
    references.feed(page)
    assert all(url.startswith(f"/gw{DOCS_ASSETS}") for url in references.urls)
    assert references.data == {"data-openapi": "/gw/servers/pub/openapi.json"}
    hostile = docs_page('/x"><script>alert(1)</script>').decode()
    assert "<script>alert" not in hostile and "&quot;&gt;&lt;script&gt;" in hostile


# Under CI (make test installs it: scripts/install-browser.sh) a missing browser fails the test instead.
@pytest.mark.skipif(
    shutil.which("chromium") is None and not os.environ.get("CI"),
    reason="needs headless Chromium (scripts/install-browser.sh)",
)
async def test_swagger_ui_renders_the_document_under_the_policy_in_a_real_browser() -> None:
    async with serve_asgi(docs_app) as url:
        with anyio.fail_after(90):
            result = await anyio.run_process(
                [
                    "chromium",
                    *("--headless=new", "--no-sandbox", "--disable-gpu", "--enable-logging=stderr", "--log-level=0"),
                    *("--virtual-time-budget=10000", "--dump-dom", f"{url}{MANAGEMENT_DOCS}"),
                ],
                check=False,
            )
    dom, log = result.stdout.decode(), result.stderr.decode()
    console: list[Any] = [line for line in log.splitlines() if ":CONSOLE" in line]
    assert not [line for line in console if "Content Security Policy" in line], console
    rendered = set(re.findall(r'class="opblock-summary-path" data-path="([^"]+)"', dom))
    assert {"/pets", "/pets/{petId}", "/status"} <= rendered, console


async def test_every_docs_page_of_a_running_gateway_loads_only_its_own_files_without_a_key() -> None:
    """Through the whole app, with a key required: each page and every file it references answer
    200 without the key, from this origin, and the page's policy allows nothing else."""
    config = {"api_key": "docs-key-0123456789abcdef", "mcpServers": {"e": stdio_echo()}, "servers": [{"name": "s"}]}
    async with running_gateway(config) as gateway, gateway.http() as http:
        for page_path in ("/api/v1/docs", "/docs", "/servers/s/docs"):
            page = await http.get(page_path)
            assert page.status_code == 200, page_path
            assert "script-src 'self'" in page.headers["content-security-policy"]
            referenced = re.findall(r'(?:src|href)="([^"]+)"', page.text)
            assert referenced and all(url.startswith("/api/v1/docs/assets/") for url in referenced), referenced
            for url in referenced:
                asset = await http.get(html.unescape(url))
                assert asset.status_code == 200, url
        assert (await http.get("/api/v1/upstreams")).status_code == 401  # the API itself still needs the key
