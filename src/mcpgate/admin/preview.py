"""Listing a remote MCP server's tools without registering it (`load-tools-from-url`).

The transport is detected (see `upstream/detect.py`), a short-lived connection lists the
tools, and the answer is cached per URL and headers for the time the caller allows. The
failures a caller can act on are told apart: unreachable or not MCP (502), too slow (504), and
a server that wants credentials (422 naming `headers`, the field that sends them, and the header
the server asked for).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import anyio
import orjson

from mcpgate.errors import Unprocessable, UpstreamError, UpstreamTimeout, UpstreamUnavailable, shown_url
from mcpgate.settings import SSEUpstream, StreamableHTTPUpstream
from mcpgate.upstream.connection import UpstreamConnection
from mcpgate.upstream.detect import NeedsCredentials, Transport, detect_transport

_MAX_ENTRIES = 256


@dataclass(frozen=True, slots=True)
class Preview:
    url: str
    transport: Transport
    tools: list[dict[str, Any]]
    fetched_at: datetime


@dataclass
class ToolPreview:
    timeout: float = 15.0
    _cache: dict[str, tuple[float, Preview]] = field(default_factory=dict)

    async def load(self, url: str, headers: dict[str, str], cache_minutes: float) -> tuple[Preview, bool]:
        """The tools `url` lists, and whether the answer came from the cache."""
        # The key holds a digest of the headers, not the headers: they may be credentials.
        key = hashlib.sha256(orjson.dumps([url, sorted(headers.items())])).hexdigest()
        now = time.monotonic()
        cached = self._cache.get(key)
        if cached is not None and cache_minutes > 0 and now - cached[0] <= cache_minutes * 60:
            return cached[1], True
        preview = await self._fetch(url, headers)
        if len(self._cache) >= _MAX_ENTRIES:
            self._cache.pop(next(iter(self._cache)))
        self._cache[key] = (now, preview)
        return preview, False

    async def _fetch(self, url: str, headers: dict[str, str]) -> Preview:
        shown = shown_url(url)
        try:
            transport = await detect_transport(url, headers, self.timeout)
        except UpstreamUnavailable as exc:
            raise UpstreamError(exc.message) from None  # unreachable: the remote's fault, a 502
        except NeedsCredentials as exc:  # the request lacks what the remote wants: the caller can fix it
            fix = "check the credentials in" if headers else "send credentials in"
            message = f"{exc.message} — {fix} this request's `headers` (header name → value)"
            detail = {"loc": "body.headers", "message": message, "status": exc.status, "wwwAuthenticate": exc.challenge}
            raise Unprocessable(message, data=[detail]) from None
        kind = SSEUpstream if transport == "sse" else StreamableHTTPUpstream
        connection = UpstreamConnection(
            kind(name="preview", url=url, headers=headers),
            connect_timeout=self.timeout,
            call_timeout=self.timeout,
            list_timeout=self.timeout,
        )
        async with anyio.create_task_group() as tg:
            tg.start_soon(connection.run)
            with anyio.move_on_after(self.timeout) as waited:
                await connection.wait_settled()
            tg.cancel_scope.cancel()
        if waited.cancelled_caught:
            raise UpstreamTimeout(f"{shown} did not list its tools within {self.timeout:g}s")
        if not connection.is_ready:
            raise UpstreamError(f"{shown} did not complete the MCP handshake: {connection.status.error}")
        return Preview(url, transport, list(connection.lists["tools"]), datetime.now(UTC))
