"""`GET /health`: is this process able to serve, and how is each upstream doing."""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from mcpgate.edge.http import send_json
from mcpgate.hub.gateway import Hub


class HealthEndpoint:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        serving, report = self.hub.health()
        await send_json(send, 200 if serving else 503, report, [(b"cache-control", b"no-store")])
