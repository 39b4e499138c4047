"""One server span per HTTP request, named and attributed as OpenTelemetry's HTTP conventions say.

    app = EdgeSpans(app, tracer)  # outermost: refused requests (421, 403, 401, 429) are traced too

    POST /servers/{name}/mcp   http.request.method, url.path, http.route, http.response.status_code,
                               network.protocol.version, client.address; and, from the JSON-RPC
                               it carried: mcp.method.name, mcp.session.id (shown prefix only),
                               mcp.protocol.version, mcpgate.transport

Its parent is the W3C trace context of the request's headers (`traceparent`, `tracestate`,
`baggage`, through the configured propagators) — unless the request's one JSON-RPC request
carries its own in `params._meta` (spans.py), which is the MCP-level context and wins. So the
span starts when first needed — the hub routing a request, or the response ending — but is
timed from the request's arrival. Never recorded: header values, the query string (it holds
SSE session ids), bodies.
"""

from __future__ import annotations

import time
from contextvars import ContextVar
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Span, SpanContext, SpanKind, StatusCode
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcpgate.edge.rest import ENDPOINTS as REST_ENDPOINTS
from mcpgate.edge.servers import BY_ID_PREFIX, NAMED_PREFIX, split_path

_PROPAGATED = frozenset({b"traceparent", b"tracestate", b"baggage"})
_MCP_TAILS = frozenset({"mcp", "sse", "messages", "message"})
_OWN_ROUTES = frozenset({"/health", "/metrics", "/api/v1/docs"})
_NAMED_REST = frozenset({"tools", "prompts"})  # …/tools/<name>, …/prompts/<name>

_current: ContextVar[EdgeSpan | None] = ContextVar("mcpgate_edge_span", default=None)


def current_edge() -> EdgeSpan | None:
    """The span of the HTTP request this task serves (a task it started inherits it)."""
    return _current.get()


class EdgeSpan:
    """One HTTP request's server span: begun when first needed, timed from the request's arrival."""

    __slots__ = ("_attributes", "_span", "_tracer", "name", "parent", "start")

    def __init__(self, tracer: trace.Tracer, scope: Scope) -> None:
        self._tracer = tracer
        self.start = time.time_ns()
        self.parent: Context = propagate.extract(
            {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"] if k in _PROPAGATED}
        )
        method, path = scope["method"], scope["path"]
        route = http_route(path)
        self.name = f"{method} {route}" if route else method
        attributes: dict[str, Any] = {
            "http.request.method": method,
            "url.path": path,
            "url.scheme": scope.get("scheme", "http"),
            "network.protocol.version": scope.get("http_version", "1.1"),
        }
        if route:
            attributes["http.route"] = route
        client = scope.get("client")
        if client:
            attributes["client.address"] = client[0]
        self._attributes = attributes
        self._span: Span | None = None

    @property
    def parent_span_context(self) -> SpanContext:
        return trace.get_current_span(self.parent).get_span_context()

    def adopt(self, parent: Context) -> None:
        """Take `parent` (a request's `_meta` trace context) as the span's parent, if it has not begun."""
        if self._span is None:
            self.parent = parent

    def note(self, attributes: dict[str, Any]) -> None:
        """Attributes learnt from the messages; the first value of each is kept (a batch has many)."""
        new = {key: value for key, value in attributes.items() if key not in self._attributes}
        if new:
            self._attributes.update(new)
            if self._span is not None and self._span.is_recording():  # not once ended: an SSE POST
                self._span.set_attributes(new)  # is answered on its stream, after its 202

    def span(self) -> Span:
        if self._span is None:
            self._span = self._tracer.start_span(
                self.name, self.parent, SpanKind.SERVER, self._attributes, start_time=self.start
            )
        return self._span

    def end(self, status: int, error: BaseException | None) -> None:
        span = self.span()
        if status:
            span.set_attribute("http.response.status_code", status)
        if error is not None:
            span.set_attribute("error.type", type(error).__qualname__)
            span.set_status(StatusCode.ERROR, type(error).__qualname__)
        elif status >= 500:  # a 4xx is the client's to mend: no error on the server's side
            span.set_attribute("error.type", str(status))
            span.set_status(StatusCode.ERROR)
        span.end()


class EdgeSpans:
    """The ASGI wrapper: an `EdgeSpan` per HTTP request, current for the tasks serving it."""

    def __init__(self, app: ASGIApp, tracer: trace.Tracer) -> None:
        self.app = app
        self.tracer = tracer

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        edge = EdgeSpan(self.tracer, scope)
        token = _current.set(edge)
        status = 0
        error: BaseException | None = None

        async def watch(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except Exception as exc:
            error = exc
            raise
        finally:
            _current.reset(token)
            edge.end(status, error)


def http_route(path: str) -> str | None:
    """The route template of `path` (`/servers/{name}/mcp`, `/tools/{name}`), or None for one
    with no template worth naming a span after (the management API names its own in the path)."""
    if path in _OWN_ROUTES:
        return path
    base, ident, tail = split_path(path)
    if ident is not None:
        base = f"{NAMED_PREFIX}{{name}}" if base.startswith(NAMED_PREFIX) else f"{BY_ID_PREFIX}{{id}}"
        if not tail:
            return base
    first, _, rest = tail.partition("/")
    if tail in _MCP_TAILS or tail == "resources/read":
        return f"{base}/{tail}"
    if first in _NAMED_REST and rest:
        return f"{base}/{first}/{{name}}"
    if first in REST_ENDPOINTS and not rest:
        return f"{base}/{first}"
    return None
