"""The tracer over OpenTelemetry (`hook.Tracer`): the hub's and the upstream requests' spans, and
the trace context they take in and pass on.

Names and attributes follow OpenTelemetry's semantic conventions for MCP (gen-ai/mcp.md, in
Development): a span per request named `{mcp.method.name} {target}`, the target being the tool
or prompt name; `mcp.method.name`, `jsonrpc.request.id`, `mcp.session.id`, `mcp.protocol.version`,
`gen_ai.operation.name` (`execute_tool`), `gen_ai.tool.name` / `gen_ai.prompt.name`,
`mcp.resource.uri`; `error.type` and `rpc.response.status_code` = the JSON-RPC error code, or
`error.type` = `tool_error` for a result with `isError`. The hub's span is the MCP server span
of the request as the client named it; the upstream's is the MCP client span of the request as
the upstream knows it. What only a gateway knows is under `mcpgate.` (`mcpgate.upstream.name`,
`mcpgate.upstream.transport`, `mcpgate.upstream.tool` …).

Trace context travels as the MCP specification documents from its 2026-07-28 revision on
(SEP-414, "Document OpenTelemetry Trace Context Propagation Conventions": in `params._meta`,
the keys `traceparent`, `tracestate` and `baggage`, unprefixed, in the W3C Trace Context and
Baggage formats — the explicit exception to the prefix rule for `_meta` keys), and over HTTP in
the headers of the same names:

- in: the HTTP request's headers; a lone JSON-RPC request's `_meta` context wins over them
  (edge.py). A request of a batch whose `_meta` names another context is linked to it.
- out: each upstream request carries its client span's context in `_meta` (any transport) and,
  to an HTTP upstream (Streamable HTTP, legacy SSE), in its headers — on copies of the params
  and headers: the client's message, which other tasks may hold, is never changed.

Never recorded: full session ids (only their shown prefix), keys, tokens, header values, tool
arguments or results.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import propagate, trace
from opentelemetry.context import Context
from opentelemetry.trace import Link, Span, SpanKind, StatusCode
from starlette.types import ASGIApp

from mcpgate.errors import GatewayError
from mcpgate.protocol.jsonrpc import Envelope
from mcpgate.tracing.edge import EdgeSpan, EdgeSpans, current_edge
from mcpgate.tracing.hook import Result, Session

META_KEYS = ("traceparent", "tracestate", "baggage")  # SEP-414
_HTTP_TRANSPORTS = frozenset({"sse", "streamable_http"})
_NETWORK_TRANSPORT = {"sse": "tcp", "streamable_http": "tcp", "stdio": "pipe"}
_MAX_METHOD_CHARS = 64  # a method name the hub does not know is the client's text: shown cut
# What the HTTP request's span learns of the JSON-RPC it carried (the first request's, in a batch).
_EDGE_NOTED = ("mcp.method.name", "mcp.session.id", "mcp.protocol.version", "mcpgate.transport")


class _Outcome:
    __slots__ = ("_method", "_span")

    def __init__(self, span: Span, method: str) -> None:
        self._span = span
        self._method = method

    def answered(self, result: Result) -> Result:
        if self._method == "tools/call" and result.get("isError") is True:
            self._span.set_attribute("error.type", "tool_error")
            self._span.set_status(StatusCode.ERROR)
        return result


class _Call(_Outcome):
    __slots__ = ("headers", "params")

    def __init__(self, span: Span, method: str, params: Mapping[str, Any] | None, headers: Mapping[str, str]) -> None:
        super().__init__(span, method)
        self.params = params
        self.headers = headers


class OTelTracer:
    def __init__(self, tracer: trace.Tracer) -> None:
        self._tracer = tracer

    def edge(self, app: ASGIApp) -> ASGIApp:
        return EdgeSpans(app, self._tracer)

    # -- in ------------------------------------------------------------------------------

    def received(self, messages: Sequence[object]) -> None:
        edge = current_edge()
        first = messages[0] if messages else None
        if edge is None or not isinstance(first, Envelope) or not first.method:
            return  # nothing the client asked, or a response to what the gateway asked
        edge.note({"mcp.method.name": first.method[:_MAX_METHOD_CHARS]})
        if len(messages) == 1 and first.kind == "request" and (parent := meta_context(first.params)) is not None:
            edge.adopt(parent)

    # -- the hub ---------------------------------------------------------------------------

    @contextmanager
    def serving(
        self, session: Session, method: str, params: Mapping[str, Any], request_id: object
    ) -> Iterator[_Outcome]:
        attributes = _describe(method, params)
        attributes["mcpgate.transport"] = session.transport
        if session.protocol_version:
            attributes["mcp.protocol.version"] = session.protocol_version
        if not session.ephemeral:  # a stateless or REST exchange has no session to follow
            attributes["mcp.session.id"] = session.shown_id
        edge = current_edge()
        if edge is not None:
            edge.note({key: attributes[key] for key in _EDGE_NOTED if key in attributes})
        if request_id is not None:
            attributes["jsonrpc.request.id"] = str(request_id)
        parent, links = self._parent_of(params, edge)
        span = self._tracer.start_span(_name(method, params), parent, SpanKind.SERVER, attributes, links)
        with _current(span, parent, _Outcome(span, method)) as outcome:
            yield outcome

    def _parent_of(self, params: Mapping[str, Any], edge: EdgeSpan | None) -> tuple[Context | None, list[Link]]:
        """The hub span's parent: the span current in this task (a request the gateway makes of
        itself, in-process), else the HTTP request's span, else the `_meta` context."""
        from_meta = meta_context(params)
        if trace.get_current_span().get_span_context().is_valid:
            return None, []
        if edge is None:
            return from_meta, []
        parent = trace.set_span_in_context(edge.span(), edge.parent)
        if from_meta is None:
            return parent, []
        meta_span = trace.get_current_span(from_meta).get_span_context()
        if meta_span == edge.parent_span_context:
            return parent, []
        return parent, [Link(meta_span)]  # one of a batch, with a context of its own

    def routed(self, upstream: str, method: str, name: str) -> None:
        span = trace.get_current_span()
        if span.is_recording():
            span.set_attributes(
                {"mcpgate.upstream.name": upstream, _TARGETS.get(method, "mcpgate.upstream.target"): name}
            )

    # -- out -------------------------------------------------------------------------------

    @contextmanager
    def calling(
        self,
        upstream: str,
        transport: str,
        url: str | None,
        method: str,
        params: Mapping[str, Any] | None,
        headers: Mapping[str, str],
    ) -> Iterator[_Call]:
        attributes = _describe(method, params or {})
        attributes["mcpgate.upstream.name"] = upstream
        attributes["mcpgate.upstream.transport"] = transport
        if (network := _NETWORK_TRANSPORT.get(transport)) is not None:
            attributes["network.transport"] = network
        http = transport in _HTTP_TRANSPORTS
        if http:
            attributes["network.protocol.name"] = "http"
            if url is not None:
                attributes.update(_server_of(url))
        span = self._tracer.start_span(_name(method, params or {}), None, SpanKind.CLIENT, attributes)
        context = trace.set_span_in_context(span)
        carrier: dict[str, str] = {}
        propagate.inject(carrier, context)
        sent_params, sent_headers = params, headers
        if carrier:  # empty only if a propagator configured out the W3C ones
            meta = (params or {}).get("_meta")
            sent_params = {**(params or {}), "_meta": {**(meta if isinstance(meta, Mapping) else {}), **carrier}}
            sent_headers = {**headers, **carrier} if http else headers
        with _current(span, context, _Call(span, method, sent_params, sent_headers)) as call:
            yield call


@contextmanager
def _current(span: Span, context: Context | None, outcome: _Outcome) -> Iterator[Any]:
    """`span` current in this task while inside (with `context`'s baggage), ended on the way out,
    its failure recorded as the conventions say; a cancelled request is no failure of ours."""
    token = otel_context.attach(trace.set_span_in_context(span, context))
    try:
        yield outcome
    except GatewayError as exc:
        code = str(exc.code)
        span.set_attributes({"error.type": code, "rpc.response.status_code": code})
        span.set_status(StatusCode.ERROR, exc.message)
        raise
    except asyncio.CancelledError:
        span.set_attribute("mcpgate.cancelled", True)
        raise
    except Exception as exc:
        span.set_attribute("error.type", type(exc).__qualname__)
        span.set_status(StatusCode.ERROR, type(exc).__qualname__)
        raise
    finally:
        otel_context.detach(token)
        span.end()


def meta_context(params: Mapping[str, Any]) -> Context | None:
    """The trace context a request carries in `params._meta` (SEP-414), or None if it has no valid one."""
    meta = params.get("_meta")
    if not isinstance(meta, Mapping) or "traceparent" not in meta:
        return None
    carrier = {key: value for key in META_KEYS if isinstance(value := meta.get(key), str)}
    context = propagate.extract(carrier)
    return context if trace.get_current_span(context).get_span_context().is_valid else None


_TARGETS = {
    "tools/call": "mcpgate.upstream.tool",
    "prompts/get": "mcpgate.upstream.prompt",
    "resources/read": "mcpgate.upstream.resource.uri",
}


def _describe(method: str, params: Mapping[str, Any]) -> dict[str, Any]:
    """The conventions' attributes of a request: its method and what it names."""
    attributes: dict[str, Any] = {"mcp.method.name": method}
    name = params.get("name")
    if method == "tools/call":
        attributes["gen_ai.operation.name"] = "execute_tool"
        if isinstance(name, str):
            attributes["gen_ai.tool.name"] = name
    elif method == "prompts/get" and isinstance(name, str):
        attributes["gen_ai.prompt.name"] = name
    elif method.startswith("resources/") and isinstance(uri := params.get("uri"), str):
        attributes["mcp.resource.uri"] = uri
    return attributes


def _name(method: str, params: Mapping[str, Any]) -> str:
    """`{mcp.method.name} {target}`: a tool's or prompt's name is the target, never a URI (too many)."""
    name = params.get("name") if method in ("tools/call", "prompts/get") else None
    return f"{method} {name}" if isinstance(name, str) else method


@lru_cache(maxsize=256)
def _server_of(url: str) -> dict[str, Any]:
    """`server.address` and `server.port` of an upstream URL (never its user info or query)."""
    try:
        parts = urlsplit(url)
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return {}
    return {"server.address": parts.hostname, "server.port": port} if parts.hostname else {}
