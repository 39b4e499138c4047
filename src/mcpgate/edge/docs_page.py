"""The interactive page for an OpenAPI document (Swagger UI), at `…/docs` beside `…/openapi.json`,
and the files it loads, served from the package at `/api/v1/docs/assets/<file>`.

The page itself is static and needs no key: it holds no data, only a field for the API
key, which it keeps in the tab's sessionStorage and sends with every request it makes —
the document's own fetch included, so it works on endpoints that need a key. Because a key
is typed there, the page loads nothing from another host: Swagger UI is vendored at a pinned
version (docs_assets/swagger-ui/README says which and how to update it), the page's own
script and style are files too, and its Content-Security-Policy allows only this origin.

It does not route: app.py sends `MANAGEMENT_DOCS` and every path under `DOCS_ASSETS` here,
rest.py each endpoint's `…/docs`.

    await send_html(send, docs_page("/api/v1/openapi.json", root_path))
    await docs_asset(scope, receive, send)      # GET /api/v1/docs/assets/swagger-ui.css?v=…
"""

from __future__ import annotations

import functools
import gzip
import hashlib
import html
from dataclasses import dataclass
from importlib.resources import files

import anyio
from starlette.types import Receive, Scope, Send

from mcpgate.edge.http import query_param, request_headers, send_empty, send_json
from mcpgate.errors import error_body

MANAGEMENT_DOCS = "/api/v1/docs"  # the management API's page; every REST endpoint has its own …/docs
DOCS_ASSETS = "/api/v1/docs/assets/"  # the files every docs page loads (open to all, like the pages)
SWAGGER_UI_VERSION = "5.36.0"

# Each URL is named by its content's digest (`?v=`), so a browser may keep it for a year.
_IMMUTABLE = b"public, max-age=31536000, immutable"
_JS = "text/javascript; charset=utf-8"
_CSS = "text/css; charset=utf-8"
_FILES = {  # served name → (file under docs_assets/, content type)
    "swagger-ui-bundle.js": ("swagger-ui/swagger-ui-bundle.js", _JS),
    "swagger-ui.css": ("swagger-ui/swagger-ui.css", _CSS),
    "docs.js": ("docs.js", _JS),
    "docs.css": ("docs.css", _CSS),
}
# Swagger UI draws some icons as data: images; the API it tries out is this origin's.
CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; font-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

_PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>mcpgate API</title>
<link rel="stylesheet" href="{swagger_ui_css}">
<link rel="stylesheet" href="{docs_css}">
</head>
<body>
<form id="key">
  <label for="api-key">mcpgate API key</label>
  <input id="api-key" type="password" autocomplete="off" placeholder="only needed when the gateway asks for one">
  <button type="submit">Use key</button>
</form>
<div id="ui" data-openapi="{openapi_url}"></div>
<script src="{swagger_ui_bundle_js}"></script>
<script src="{docs_js}"></script>
</body>
</html>
"""


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    content_type: str
    digest: str  # of the body: the `v` of its URL


@functools.cache
def _asset(name: str) -> _Asset:
    path, content_type = _FILES[name]
    body = files(__package__).joinpath("docs_assets", *path.split("/")).read_bytes()
    return _Asset(body, content_type, hashlib.sha256(body).hexdigest()[:16])


@functools.cache
def _gzipped(name: str) -> bytes:
    return gzip.compress(_asset(name).body, compresslevel=9, mtime=0)


def asset_url(name: str, root_path: str = "") -> str:
    """Where the page loads `name` from: `/api/v1/docs/assets/docs.js?v=<digest>`."""
    return f"{root_path}{DOCS_ASSETS}{name}?v={_asset(name).digest}"


def docs_page(openapi_url: str, root_path: str = "") -> bytes:
    """The page for the document at `openapi_url` (a path taken from the request: escaped as an
    HTML attribute), loading its files under `root_path` (the ASGI scope's, if mounted below one)."""
    urls = {name.replace("-", "_").replace(".", "_"): html.escape(asset_url(name, root_path)) for name in _FILES}
    return _PAGE.format(openapi_url=html.escape(openapi_url, quote=True), **urls).encode()


async def send_html(send: Send, page: bytes) -> None:
    headers = [
        (b"content-type", b"text/html; charset=utf-8"),
        (b"content-length", str(len(page)).encode()),
        (b"content-security-policy", CONTENT_SECURITY_POLICY.encode()),
        (b"x-content-type-options", b"nosniff"),
        (b"referrer-policy", b"no-referrer"),
    ]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": page})


async def docs_asset(scope: Scope, receive: Receive, send: Send) -> None:
    """Serve a file under `DOCS_ASSETS` (GET or HEAD), gzipped when the client accepts it; 404 for
    any other name. Cached for a year when asked for by its current digest, else revalidated."""
    path: str = scope["path"]
    name = path[len(DOCS_ASSETS) :] if path.startswith(DOCS_ASSETS) else ""
    if name not in _FILES:
        await send_json(send, 404, error_body("not_found", f"no docs asset at {path}"))
        return
    if scope["method"] not in ("GET", "HEAD"):
        message = f"{scope['method']} is not allowed on {path}; allowed: GET, HEAD"
        await send_json(send, 405, error_body("method_not_allowed", message), [(b"allow", b"GET, HEAD")])
        return
    asset = _asset(name)
    etag = f'"{asset.digest}"'
    headers = [
        (b"cache-control", _IMMUTABLE if query_param(scope, "v") == asset.digest else b"no-cache"),
        (b"etag", etag.encode()),
        (b"vary", b"accept-encoding"),
    ]
    asked = request_headers(scope)
    if asked.get("if-none-match") == etag:
        await send_empty(send, 304, headers)
        return
    body = asset.body
    headers += [(b"content-type", asset.content_type.encode()), (b"x-content-type-options", b"nosniff")]
    if "gzip" in asked.get("accept-encoding", ""):
        body = await anyio.to_thread.run_sync(_gzipped, name)  # once per file: ~0.1 s for the bundle
        headers.append((b"content-encoding", b"gzip"))
    headers.append((b"content-length", str(len(body)).encode()))
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})
