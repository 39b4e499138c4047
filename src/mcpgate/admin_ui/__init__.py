"""The web admin UI at /admin (#29): server-rendered pages over the management API.

    ui = DeferredAdminUI(lambda: AdminUI(...))      # app.py; built at the first /admin request

Jinja2 templates and a stylesheet and a script of our own (templates/, static/), every file
from this package, so it works air-gapped; no build step. Each page reads and changes the
registry through the management API in-process, as the signed-in key (api_client.py), so the
UI can do nothing the same key could not do with curl. Sign-in and CSRF: sessions.py. The
areas (overview, upstreams, tools, servers, keys, users, audit): pages/.

Loading Jinja2 and compiling the templates is deferred to the first request, so a gateway
nobody opens in a browser pays nothing for it (cold start and idle memory unchanged); what
the pages will need next is loaded in the background from then on.
"""

from __future__ import annotations

import asyncio
import importlib
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from starlette.types import ASGIApp

PREFIX = "/admin"


# The SDK's checks of a 2026-07-28 request, which the pages' stateless tools/list needs (an
# upstream's and a tool's input schemas): importing them takes ~0.4 s, which the first such
# page would otherwise pay. Loaded in the background once the UI is in use.
_SCHEMA_READS_NEED = "mcp.shared.inbound"


class DeferredAdminUI:
    def __init__(self, build: Callable[[], ASGIApp]) -> None:
        self._build = build
        self._built: ASGIApp | None = None
        self._lock = anyio.Lock()
        self._warming: asyncio.Future[object] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if self._built is None:
            async with self._lock:
                if self._built is None:
                    self._built = await anyio.to_thread.run_sync(self._build)
                    loop = asyncio.get_running_loop()
                    self._warming = loop.run_in_executor(None, importlib.import_module, _SCHEMA_READS_NEED)
        await self._built(scope, receive, send)


def is_admin_ui(path: str) -> bool:
    return path == PREFIX or path.startswith(f"{PREFIX}/")
