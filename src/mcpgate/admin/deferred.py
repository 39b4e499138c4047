"""The management API, built when its first request arrives rather than at start.

Importing FastAPI and building the admin routes (each a set of pydantic models) takes ~0.5 s
and ~15 MB; a gateway that is configured from a file and never managed at run time needn't
pay either, and every other gateway pays once, off the event loop (a worker thread builds
it while MCP traffic goes on)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import anyio
from starlette.types import Receive, Scope, Send

if TYPE_CHECKING:
    from fastapi import FastAPI
    from starlette.types import ASGIApp


class DeferredManagementAPI:
    def __init__(self, build: Callable[[], tuple[FastAPI, ASGIApp]]) -> None:
        """`build` returns the FastAPI app and the ASGI app to serve (it, behind its body limit)."""
        self._build = build
        self._built: tuple[FastAPI, ASGIApp] | None = None
        self._lock = anyio.Lock()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await (await self._ready())[1](scope, receive, send)

    async def document(self) -> dict[str, Any]:
        """The management API's OpenAPI document."""
        return (await self._ready())[0].openapi()

    @property
    def fastapi(self) -> FastAPI:
        """The FastAPI app, built now if it wasn't (for whoever inspects it: the tests)."""
        if self._built is None:
            self._built = self._build()
        return self._built[0]

    async def _ready(self) -> tuple[FastAPI, ASGIApp]:
        if self._built is None:
            async with self._lock:
                if self._built is None:
                    self._built = await anyio.to_thread.run_sync(self._build)
        return self._built
