"""Pages from Jinja2 templates, and the UI's own files, with the headers every page carries.

    pages = Pages()
    return pages.render(request, "keys.html", signed, keys=listing)   # an HTMLResponse
    await pages.asset(scope, receive, send)                           # /admin/static/<name>

Every file the pages load is in this package (templates/, static/), so the UI works air-gapped
and pins what it serves. Static files are addressed by a digest of their content (`?v=`), so a
browser may keep them a year and still never runs an old script against a new page. The
Content-Security-Policy allows this origin's files only: no inline script, no other host.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cached_property
from importlib.resources import files
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response

from mcpgate import __version__
from mcpgate.admin_ui import PREFIX
from mcpgate.admin_ui.sessions import SignedIn

CONTENT_SECURITY_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
PAGE_HEADERS = {
    "content-security-policy": CONTENT_SECURITY_POLICY,
    "cache-control": "no-store",  # pages show secrets once and live state: never from a cache
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
}
_TYPES = {".css": "text/css; charset=utf-8", ".js": "text/javascript; charset=utf-8", ".svg": "image/svg+xml"}


@dataclass(frozen=True, slots=True)
class _Asset:
    body: bytes
    gzipped: bytes
    content_type: str
    version: str


class Pages:
    def __init__(self) -> None:
        self.env = Environment(
            loader=PackageLoader("mcpgate.admin_ui", "templates"),
            autoescape=select_autoescape(default=True, default_for_string=True),
            # Lenient undefined: the API leaves optional fields out, and a page shows them as empty.
            trim_blocks=True,
            lstrip_blocks=True,
        )
        self.env.filters["json"] = _json
        self.env.filters["when"] = _when
        self.env.globals.update(static=self.static_url, version=__version__, prefix=PREFIX)

    def render(
        self, request: Request, template: str, signed: SignedIn | None, status: int = 200, **context: Any
    ) -> Response:
        """`context` brings `root`: what browsers see before /admin (see AdminUI.root)."""
        page = self.env.get_template(template).render(request=request, signed=signed, path=request.url.path, **context)
        return HTMLResponse(page, status_code=status, headers=PAGE_HEADERS)

    def fragment(self, template: str, **context: Any) -> str:
        return self.env.get_template(template).render(**context)

    # -- static files ------------------------------------------------------------------

    @cached_property
    def _assets(self) -> dict[str, _Asset]:
        found: dict[str, _Asset] = {}
        for entry in files("mcpgate.admin_ui").joinpath("static").iterdir():
            suffix = entry.name[entry.name.rfind(".") :]
            if suffix not in _TYPES:
                continue
            body = entry.read_bytes()
            version = hashlib.sha256(body).hexdigest()[:12]
            found[entry.name] = _Asset(body, gzip.compress(body, mtime=0), _TYPES[suffix], version)
        return found

    def static_url(self, name: str) -> str:
        return f"{PREFIX}/static/{name}?v={self._assets[name].version}"

    def asset(self, request: Request) -> Response:
        asset = self._assets.get(request.path_params["name"])
        if asset is None:
            return Response("no such file", status_code=404, media_type="text/plain")
        headers = {"cache-control": "public, max-age=31536000, immutable", "x-content-type-options": "nosniff"}
        if "gzip" in request.headers.get("accept-encoding", ""):
            return Response(
                asset.gzipped,
                media_type=asset.content_type,
                headers={**headers, "content-encoding": "gzip", "vary": "accept-encoding"},
            )
        return Response(asset.body, media_type=asset.content_type, headers={**headers, "vary": "accept-encoding"})


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def _when(value: str | None) -> str:
    """An ISO timestamp as a person reads it (UTC, to the second)."""
    if not value:
        return "—"
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return value
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")
