"""The composition root: `create_app(settings)` wires hub, router and transports into one ASGI app.

    app = create_app(load_config("gateway.yaml"))
    uvicorn.run(app)

The app's lifespan starts the hub (upstream connections) unless a running hub is passed
in — the CLI starts the hub first so a bad config fails before the port is bound.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpgate.edge.health import HealthEndpoint
from mcpgate.edge.http import send_json
from mcpgate.edge.security import OriginPolicy
from mcpgate.edge.sse import SSETransport
from mcpgate.edge.streamable_http import StreamableHTTPTransport
from mcpgate.errors import METHOD_NOT_FOUND
from mcpgate.hub.gateway import Hub
from mcpgate.hub.routing import RequestRouter
from mcpgate.protocol.jsonrpc import error_response
from mcpgate.settings import GatewaySettings


class _Endpoint:
    """Mount a raw ASGI callable as a Starlette route endpoint (not a Request handler)."""

    def __init__(self, handler) -> None:  # type: ignore[no-untyped-def]
        self.handler = handler

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handler(scope, receive, send)


class Gateway:
    """The ASGI app: MCP message paths go straight to their transport; everything else to Starlette.

    The MCP endpoints are raw ASGI already; skipping Starlette's middleware stack and
    route matching for them is a measurable share of the gateway's per-call cost.
    """

    def __init__(self, starlette: Starlette, fast_paths: dict[str, ASGIApp]) -> None:
        self.starlette = starlette
        self.state = starlette.state
        self._fast_paths = fast_paths

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and (handler := self._fast_paths.get(scope["path"])) is not None:
            await handler(scope, receive, send)
        else:
            await self.starlette(scope, receive, send)


def create_app(settings: GatewaySettings, hub: Hub | None = None) -> Gateway:
    own_hub = hub is None
    hub = hub or Hub(settings)
    router = RequestRouter(hub)
    policy = OriginPolicy.for_bind(settings.host, settings.edge.allowed_origins)
    sse = SSETransport(router, policy, settings.edge)
    streamable = StreamableHTTPTransport(router, policy, settings.edge)

    async def not_found(scope: Scope, receive: Receive, send: Send) -> None:
        await send_json(send, 404, error_response(None, METHOD_NOT_FOUND, f"No route for {scope['path']}"))

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        if own_hub:
            async with hub:
                yield
        else:
            yield

    app = Starlette(
        routes=[
            Route("/health", _Endpoint(HealthEndpoint(hub)), methods=["GET"]),
            Route("/sse", _Endpoint(sse.handle_stream), methods=["GET"]),
            Route("/messages", _Endpoint(sse.handle_message), methods=["POST"]),
            Route("/messages/", _Endpoint(sse.handle_message), methods=["POST"]),
            Route("/message", _Endpoint(sse.handle_message), methods=["POST"]),
            Route("/mcp", _Endpoint(streamable), methods=["GET", "POST", "DELETE"]),
            Route("/mcp/", _Endpoint(streamable), methods=["GET", "POST", "DELETE"]),
        ],
        lifespan=lifespan,
    )
    app.state.hub = hub
    app.router.default = not_found  # type: ignore[assignment]
    messages = sse.handle_message
    fast_paths = {"/mcp": streamable, "/mcp/": streamable, "/messages": messages, "/messages/": messages}
    return Gateway(app, {**fast_paths, "/message": messages})
