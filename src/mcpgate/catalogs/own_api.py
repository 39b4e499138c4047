"""This gateway's own management API as a catalog's document and transport (spec "self")."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import anyio

if TYPE_CHECKING:
    import httpx


class OwnAPI:
    """This gateway's management API, for catalogs whose `spec` is "self": its document, and a
    transport that answers calls in-process, as the caller (the app passed in puts the caller's
    principal into the request, and the access guard judges it like any other request).

    The app exists only after the hub has started its upstreams, hence `serve` later and `wait`.
    httpx (the transport) is imported only when a catalog asks: most gateways have none."""

    def __init__(self) -> None:
        self._ready = anyio.Event()
        self._document: Callable[[], Awaitable[dict[str, Any]]] | None = None
        self._app: Any = None
        self._transport: httpx.AsyncBaseTransport | None = None

    def serve(self, app: Any, document: Callable[[], Awaitable[dict[str, Any]]]) -> None:
        self._app = app
        self._document = document
        self._ready.set()

    async def wait(self) -> tuple[dict[str, Any], httpx.AsyncBaseTransport]:
        await self._ready.wait()
        assert self._document is not None
        if self._transport is None:
            import httpx

            self._transport = httpx.ASGITransport(app=self._app)
        return await self._document(), self._transport
