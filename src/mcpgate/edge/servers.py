"""Each virtual server's own MCP endpoints, on the same transports as the default endpoint.

    /servers/<name>/sse       GET: legacy SSE stream; its `endpoint` event names …/messages
    /servers/<name>/messages  POST: legacy SSE messages
    /servers/<name>/mcp       Streamable HTTP (POST, GET, DELETE)
    /api/v1/mcp/<id>          GET without Mcp-Session-Id: legacy SSE (POST back here with
                              ?sessionId=); otherwise Streamable HTTP, where a bare request
                              (no initialize, no session) is also answered, on its own
    <either base>/tools, /call-tool, /openapi.json, …   the REST face (see `rest.py`)

The server is resolved per request and named in the ASGI scope; the transports give its
sessions that server's view and refuse a session id that began at another endpoint.
"""

from __future__ import annotations

from starlette.types import Receive, Scope, Send

from mcpgate.edge.http import MESSAGES_PATH_KEY, SERVER_KEY, SESSIONLESS_KEY, query_param, send_json
from mcpgate.edge.rest import RESTEndpoints, is_rest
from mcpgate.edge.sse import SSETransport
from mcpgate.edge.streamable_http import SESSION_HEADER, StreamableHTTPTransport
from mcpgate.errors import INVALID_REQUEST, METHOD_NOT_FOUND, error_body
from mcpgate.hub.gateway import Hub
from mcpgate.protocol.jsonrpc import error_response

NAMED_PREFIX = "/servers/"
BY_ID_PREFIX = "/api/v1/mcp/"
# The default endpoint's MCP paths (its REST face is `rest.is_rest`).
MCP_PATHS = frozenset({"/mcp", "/mcp/", "/sse", "/messages", "/messages/", "/message"})
_ERROR_KINDS = {401: "unauthorized", 403: "forbidden", 421: "misdirected_request", 429: "rate_limited"}


def split_path(path: str) -> tuple[str, str | None, str]:
    """`(base, server ident, tail)` of a request path: `/servers/gh/tools/x` → ("/servers/gh", "gh",
    "tools/x"); for the default endpoint the base is "" and the ident None."""
    for prefix in (NAMED_PREFIX, BY_ID_PREFIX):
        if path.startswith(prefix):
            ident, _, tail = path[len(prefix) :].partition("/")
            return prefix + ident, ident, tail.rstrip("/")
    return "", None, path[1:].rstrip("/")


def speaks_jsonrpc(path: str) -> bool:
    """Whether errors on `path` are JSON-RPC errors (MCP endpoints) rather than the API's error body."""
    if path in MCP_PATHS:
        return True
    return path.startswith((NAMED_PREFIX, BY_ID_PREFIX)) and not is_rest(split_path(path)[2])


def refusal_body(path: str, status: int, message: str, code: int = INVALID_REQUEST) -> dict[str, object]:
    """The body refusing a request before it reaches its route, in that route's error shape."""
    if speaks_jsonrpc(path):
        return error_response(None, code, message)
    return error_body(_ERROR_KINDS.get(status, "refused"), message)


class VirtualServerEndpoints:
    def __init__(self, hub: Hub, sse: SSETransport, streamable: StreamableHTTPTransport, rest: RESTEndpoints) -> None:
        self.hub = hub
        self.sse = sse
        self.streamable = streamable
        self.rest = rest

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        base, ident, tail = split_path(path)
        assert ident is not None  # the app routes only virtual-server paths here
        if tail == "docs":
            await self.rest.handle(scope, receive, send, base, tail)  # served alike for every name: reveals none
            return
        server = self.hub.find_server(ident)
        if server is None:
            message = f"No virtual server {ident!r}"
            await send_json(send, 404, error_body("not_found", message) if is_rest(tail) else _not_found_body(message))
            return
        scope = {**scope, SERVER_KEY: server.id}
        if is_rest(tail):
            await self.rest.handle(scope, receive, send, base, tail)
        elif path.startswith(NAMED_PREFIX):
            if tail == "sse":
                scope[MESSAGES_PATH_KEY] = f"{base}/messages"
                await self.sse.handle_stream(scope, receive, send)
            elif tail in ("messages", "message"):
                await self.sse.handle_message(scope, receive, send)
            elif tail == "mcp":
                await self.streamable(scope, receive, send)
            else:
                await _not_found(send, f"No route for {path}; use …/sse, …/messages, …/mcp or the REST endpoints")
        elif tail:
            await _not_found(send, f"No route for {path}; use {base} itself or its REST endpoints")
        # A Streamable HTTP GET always carries its session id; one without is a legacy SSE client.
        elif scope["method"] == "GET" and SESSION_HEADER.encode() not in dict(scope["headers"]):
            scope[MESSAGES_PATH_KEY] = base
            await self.sse.handle_stream(scope, receive, send)
        elif scope["method"] == "POST" and query_param(scope, "sessionId", "session_id"):
            await self.sse.handle_message(scope, receive, send)
        else:
            scope[SESSIONLESS_KEY] = True
            await self.streamable(scope, receive, send)


def _not_found_body(message: str) -> dict[str, object]:
    return error_response(None, METHOD_NOT_FOUND, message)


async def _not_found(send: Send, message: str) -> None:
    await send_json(send, 404, _not_found_body(message))
