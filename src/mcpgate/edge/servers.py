"""Each virtual server's own MCP endpoints, on the same transports as the default endpoint.

    /servers/<name>/sse       GET: legacy SSE stream; its `endpoint` event names …/messages
    /servers/<name>/messages  POST: legacy SSE messages
    /servers/<name>/mcp       Streamable HTTP (POST, GET, DELETE)
    /api/v1/mcp/<id>          GET without Mcp-Session-Id: legacy SSE (POST back here with
                              ?sessionId=); otherwise Streamable HTTP

The server is resolved per request and named in the ASGI scope; the transports give its
sessions that server's view and refuse a session id that began at another endpoint.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from mcpgate.edge.http import MESSAGES_PATH_KEY, SERVER_KEY, query_param, send_json
from mcpgate.edge.sse import SSETransport
from mcpgate.edge.streamable_http import SESSION_HEADER, StreamableHTTPTransport
from mcpgate.errors import METHOD_NOT_FOUND
from mcpgate.hub.gateway import Hub
from mcpgate.protocol.jsonrpc import error_response

NAMED_PREFIX = "/servers/"
BY_ID_PREFIX = "/api/v1/mcp/"


class VirtualServerEndpoints:
    def __init__(self, hub: Hub, sse: SSETransport, streamable: StreamableHTTPTransport) -> None:
        self.hub = hub
        self.sse = sse
        self.streamable = streamable

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        if path.startswith(NAMED_PREFIX):
            ident, _, endpoint = path[len(NAMED_PREFIX) :].partition("/")
            endpoint = endpoint.rstrip("/")
        else:
            ident, endpoint = path[len(BY_ID_PREFIX) :].rstrip("/"), ""
        server = self.hub.find_server(ident)
        if server is None or "/" in ident:
            await _not_found(send, f"No virtual server {ident!r}")
            return
        scope = {**scope, SERVER_KEY: server.id}
        if path.startswith(NAMED_PREFIX):
            if endpoint == "sse":
                scope[MESSAGES_PATH_KEY] = f"{NAMED_PREFIX}{ident}/messages"
                await self.sse.handle_stream(scope, receive, send)
            elif endpoint in ("messages", "message"):
                await self.sse.handle_message(scope, receive, send)
            elif endpoint == "mcp":
                await self.streamable(scope, receive, send)
            else:
                await _not_found(send, f"No route for {path}; use …/sse, …/messages or …/mcp")
            return
        # A Streamable HTTP GET always carries its session id; one without is a legacy SSE client.
        if scope["method"] == "GET" and SESSION_HEADER.encode() not in dict(scope["headers"]):
            scope[MESSAGES_PATH_KEY] = path
            await self.sse.handle_stream(scope, receive, send)
        elif scope["method"] == "POST" and query_param(scope, "sessionId", "session_id"):
            await self.sse.handle_message(scope, receive, send)
        else:
            await self.streamable(scope, receive, send)


async def _not_found(send: Send, message: str) -> None:
    await send_json(send, 404, error_response(None, METHOD_NOT_FOUND, message))
