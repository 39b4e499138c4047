"""What the spans say and link, on every transport — the gateway in-process, its tracer writing
to memory (the tracer is the gateway's own, never OpenTelemetry's global one; the process-wide
export path is tests/tracing/test_traces.py's)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode

from mcpgate.tracing import hook
from mcpgate.tracing.edge import http_route
from mcpgate.tracing.spans import OTelTracer
from tests.conftest import TRANSPORTS, running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

TRACE, PARENT = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
OTHER_TRACE, OTHER_PARENT = "4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7"


def traceparent(trace: str = TRACE, parent: str = PARENT) -> str:
    return f"00-{trace}-{parent}-01"


@pytest.fixture
def spans(monkeypatch: pytest.MonkeyPatch) -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    monkeypatch.setattr(hook, "tracer", OTelTracer(provider.get_tracer("tests")))
    yield exporter
    provider.shutdown()


async def finished(exporter: InMemorySpanExporter, predicate: Callable[[ReadableSpan], bool]) -> ReadableSpan:
    await wait_until(lambda: any(predicate(s) for s in exporter.get_finished_spans()))
    return next(s for s in exporter.get_finished_spans() if predicate(s))


def ids(span: ReadableSpan) -> tuple[str, str, str]:
    """(trace id, span id, parent span id) in hex."""
    parent = f"{span.parent.span_id:016x}" if span.parent is not None else ""
    return f"{span.context.trace_id:032x}", f"{span.context.span_id:016x}", parent


async def chain(exporter: InMemorySpanExporter, tool: str) -> tuple[ReadableSpan, ReadableSpan, ReadableSpan]:
    hub = await finished(exporter, lambda s: s.name == f"tools/call {tool}" and s.kind is SpanKind.SERVER)
    edge = await finished(exporter, lambda s: ids(s)[1] == ids(hub)[2])
    call = await finished(exporter, lambda s: ids(s)[2] == ids(hub)[1])
    return edge, hub, call


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_lone_requests_meta_context_is_the_parent_on_every_transport(
    spans: InMemorySpanExporter, transport: str
) -> None:
    header = {"traceparent": traceparent(OTHER_TRACE, OTHER_PARENT)}  # the MCP-level context wins over it
    async with (
        running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway,
        gateway.client(transport, headers=header) as client,
    ):
        result = await client.call_tool("echo_echo", {"text": "hi"}, meta={"traceparent": traceparent()})
        assert result.content[0].text == "hi"
        edge, hub, call = await chain(spans, "echo_echo")
    assert ids(edge)[0] == ids(hub)[0] == ids(call)[0] == TRACE
    assert ids(edge)[2] == PARENT
    assert edge.attributes["http.route"] == ("/messages" if transport == "sse" else "/mcp")
    assert hub.attributes["mcpgate.transport"] == transport
    assert call.name == "tools/call echo" and call.kind is SpanKind.CLIENT
    assert call.attributes["mcpgate.upstream.transport"] == "stdio"
    assert call.attributes["network.transport"] == "pipe"


async def test_a_batch_has_the_headers_context_and_links_each_requests_own(spans: InMemorySpanExporter) -> None:
    async with running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway, gateway.http() as http:
        headers = {"accept": "application/json, text/event-stream"}
        init = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}}
        opened = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 0, "method": "initialize", "params": init})
        headers["mcp-session-id"] = opened.headers["mcp-session-id"]
        headers["traceparent"] = traceparent(OTHER_TRACE, OTHER_PARENT)
        batch = [
            {
                "jsonrpc": "2.0",
                "id": n,
                "method": "tools/call",
                "params": {"name": "echo_echo", "arguments": {"text": str(n)}, "_meta": meta},
            }
            for n, meta in ((1, {"traceparent": traceparent()}), (2, {}))
        ]
        answered = await http.post("/mcp", json=batch, headers=headers)
        assert [r["result"]["content"][0]["text"] for r in answered.json()] == ["1", "2"]
        await wait_until(lambda: sum(s.name == "tools/call echo_echo" for s in spans.get_finished_spans()) == 2)
    hubs = sorted(
        (s for s in spans.get_finished_spans() if s.name == "tools/call echo_echo"),
        key=lambda s: s.attributes["jsonrpc.request.id"],
    )
    edge = next(s for s in spans.get_finished_spans() if ids(s)[1] == ids(hubs[0])[2])
    assert ids(edge)[0] == OTHER_TRACE and ids(edge)[2] == OTHER_PARENT  # a batch: the header's context
    assert ids(hubs[1])[2] == ids(edge)[1]
    assert [f"{link.context.trace_id:032x}" for link in hubs[0].links] == [TRACE]
    assert hubs[1].links == ()


async def test_failures_and_tool_errors_mark_the_spans(spans: InMemorySpanExporter) -> None:
    async with (
        running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway,
        gateway.client("streamable_http") as client,
    ):
        assert (await client.call_tool("echo_add", {"a": "not a number", "b": 2})).is_error
        with pytest.raises(Exception, match="Unknown tool"):
            await client.call_tool("echo_nothing", {})
        refused = await finished(spans, lambda s: s.name == "tools/call echo_nothing")
        tool_error = await finished(spans, lambda s: s.name == "tools/call echo_add")
    assert refused.status.status_code is StatusCode.ERROR
    assert refused.attributes["error.type"] == refused.attributes["rpc.response.status_code"] == "-32602"
    assert tool_error.status.status_code is StatusCode.ERROR
    assert tool_error.attributes["error.type"] == "tool_error"


async def test_a_rest_call_is_traced_like_an_mcp_one(spans: InMemorySpanExporter) -> None:
    async with running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway, gateway.http() as http:
        response = await http.post(
            "/call-tool",
            json={"name": "echo_echo", "arguments": {"text": "hi"}},
            headers={"traceparent": traceparent()},
        )
        assert response.status_code == 200
        edge, hub, call = await chain(spans, "echo_echo")
    assert edge.name == "POST /call-tool" and ids(edge)[2] == PARENT
    assert hub.attributes["mcpgate.transport"] == "rest" and "mcp.session.id" not in hub.attributes
    assert ids(call)[0] == TRACE


def test_an_upstream_request_carries_its_context_on_copies_of_the_callers_params_and_headers() -> None:
    exporter = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(exporter))
    tracer = OTelTracer(provider.get_tracer("tests"))
    meta: dict[str, Any] = {"traceparent": traceparent(), "progressToken": 7, "io.example/kept": True}
    params = {"name": "echo", "arguments": {"text": "secret"}, "_meta": meta}
    headers = {"Accept": "application/json"}
    for transport in ("streamable_http", "stdio"):
        with tracer.calling("up", transport, "http://user:pw@127.0.0.1:9/mcp", "tools/call", params, headers) as call:
            pass
        span = exporter.get_finished_spans()[-1]
        context = span.context
        own = f"00-{context.trace_id:032x}-{context.span_id:016x}-{int(context.trace_flags):02x}"
        assert call.params is not None
        assert call.params["_meta"] == {**meta, "traceparent": own}
        assert call.headers == ({**headers, "traceparent": own} if transport != "stdio" else headers)
    assert (
        params["_meta"] is meta and meta["traceparent"] == traceparent() and headers == {"Accept": "application/json"}
    )
    attributes = exporter.get_finished_spans()[0].attributes
    assert attributes["server.address"] == "127.0.0.1" and attributes["server.port"] == 9
    assert not any("secret" in str(value) or "pw" in str(value) for value in attributes.values())


@pytest.mark.parametrize(
    ("path", "route"),
    [
        ("/mcp", "/mcp"),
        ("/messages", "/messages"),
        ("/sse", "/sse"),
        ("/health", "/health"),
        ("/servers/github/mcp", "/servers/{name}/mcp"),
        ("/servers/github/tools/create_issue", "/servers/{name}/tools/{name}"),
        ("/api/v1/mcp/0b3c", "/api/v1/mcp/{id}"),
        ("/api/v1/mcp/0b3c/call-tool", "/api/v1/mcp/{id}/call-tool"),
        ("/tools", "/tools"),
        ("/resources/read", "/resources/read"),
        ("/api/v1/keys/42", None),
        ("/nowhere/at/all", None),
    ],
)
def test_spans_are_named_by_route_templates_not_paths(path: str, route: str | None) -> None:
    assert http_route(path) == route
