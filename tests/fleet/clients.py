"""Official SDK clients of a fleet, and what they can tell about it: which replica answered each
HTTP request they made (the balancer's `x-served-by`)."""

from __future__ import annotations

from collections import Counter
from typing import Any

import httpx2
import mcp
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

INITIALIZE = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {
        "protocolVersion": "2025-11-25",
        "capabilities": {},
        "clientInfo": {"name": "fleet-test", "version": "1"},
    },
}
JSON_AND_SSE = {"accept": "application/json, text/event-stream", "content-type": "application/json"}


class ServedBy:
    """Counts, per replica, the HTTP responses one client received."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.first: str | None = None  # who answered the first request (the session's replica)

    async def _seen(self, response: httpx2.Response) -> None:
        replica = response.headers.get("x-served-by", "?")
        self.counts[replica] += 1
        if self.first is None:
            self.first = replica

    def http_client(
        self, headers: dict[str, str] | None = None, timeout: Any = None, auth: Any = None
    ) -> httpx2.AsyncClient:
        client = create_mcp_http_client(headers=headers, timeout=timeout, auth=auth)
        client.event_hooks["response"].append(self._seen)
        return client


def fleet_client(
    url: str, transport: str, seen: ServedBy, headers: dict[str, str] | None = None, **kwargs: Any
) -> mcp.Client:
    """An SDK client of the fleet at `url` over `transport` (sse, streamable_http, stateless)."""
    if transport == "sse":
        return mcp.Client(sse_client(f"{url}/sse", headers=headers, httpx_client_factory=seen.http_client), **kwargs)
    target = streamable_http_client(f"{url}/mcp", http_client=seen.http_client(headers=headers))
    return mcp.Client(target, mode="auto" if transport == "stateless" else "legacy", **kwargs)
