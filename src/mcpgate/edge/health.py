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

In a fleet (Redis configured), `fleet` says which replica answered, whether it reaches Redis,
and the replicas heard from in the last `fleet.deadAfterSeconds`. A replica that cannot reach
Redis still serves its own sessions (200), with `"status": "degraded"` and the reason.
"""

from __future__ import annotations

from typing import Any, Protocol

from starlette.types import Receive, Scope, Send

from mcpgate.edge.http import send_json
from mcpgate.hub.gateway import Hub


class FleetView(Protocol):
    reachable: bool

    def report(self) -> dict[str, Any]: ...


class HealthEndpoint:
    def __init__(self, hub: Hub, fleet: FleetView | None = None) -> None:
        self.hub = hub
        self.fleet = fleet

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        serving, report = self.hub.health()
        if self.fleet is not None:
            report["fleet"] = self.fleet.report()
            if serving and not self.fleet.reachable:
                report["status"] = "degraded"
                report["reason"] = (
                    "Redis cannot be reached: sessions held by other replicas and changes made there wait"
                )
        await send_json(send, 200 if serving else 503, report, [(b"cache-control", b"no-store")])
