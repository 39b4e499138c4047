"""`GET /health`: is this process able to serve, and how is each upstream doing.

200 while serving (`"status": "ok"`), 503 with a `reason` while starting, stopping or with no
upstream able to serve. Each entry of `upstreams` says:

    state            connecting · ready · down (retried in `retryInSeconds`) · failed (given up
                     on: a command that cannot start after 3 tries, a child that did not stay up
                     10 times in a row; it stays failed until changed or enabled again through
                     the management API, or for a config-file upstream until the gateway
                     restarts) · disabled
    error            why it is not ready ("stopped answering pings …", "command not found: …")
    restarts         attempts made after the first one — every retry counts, connected or not
    failures         failed attempts in a row (absent once it is ready)

Upstreams that are enabled but not ready are also listed under `degraded`.
"""

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
