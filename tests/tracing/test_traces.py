"""Traces end to end: an official SDK client's trace context, through a gateway exporting over
OTLP/HTTP to a real receiver, to an upstream built with the official SDK that shows what it got.

The gateway runs as its own process (`mcpgate serve`): OpenTelemetry's state is process-wide,
and the variables that turn tracing on must reach that process only.
"""

from __future__ import annotations

import json
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import mcp
import pytest
from mcp.client.streamable_http import streamable_http_client
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.shared._httpx_utils import create_mcp_http_client

from tests.conftest import serve_asgi
from tests.test_cli import mcpgate
from tests.tracing.otlp_receiver import CLIENT, SERVER, ReceivedSpan, Receiver, otlp_receiver

pytestmark = pytest.mark.anyio

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
CLIENT_SPAN_ID = "00f067aa0ba902b7"
TRACEPARENT = f"00-{TRACE_ID}-{CLIENT_SPAN_ID}-01"


def build_upstream() -> MCPServer:
    server = MCPServer("traced-upstream", version="1.0")

    @server.tool()
    def seen(ctx: Context) -> str:
        """The trace context this server received: its request's traceparent header and `_meta`'s."""
        meta: Any = ctx.request_context.meta or {}
        return json.dumps({"header": (ctx.headers or {}).get("traceparent", ""), "meta": meta.get("traceparent", "")})

    return server


@asynccontextmanager
async def traced_gateway(tmp_path: Path, upstream: str) -> AsyncIterator[tuple[str, Receiver]]:
    """An OTLP receiver, the SDK upstream over `upstream` ("streamable_http" or "sse"), and a gateway
    process in front of it that traces to the receiver; yields the gateway's URL and the receiver."""
    server = build_upstream()
    app = server.streamable_http_app() if upstream == "streamable_http" else server.sse_app()
    async with otlp_receiver() as receiver, serve_asgi(app) as upstream_url:
        entry = (
            {"url": f"{upstream_url}/mcp", "type": "http"}
            if upstream == "streamable_http"
            else {"url": f"{upstream_url}/sse", "type": "sse"}
        )
        config = tmp_path / "gateway.json"
        config.write_text(json.dumps({"mcpServers": {"up": entry}, "database_url": "sqlite+aiosqlite://"}))
        env = {
            **os.environ,
            "OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
            "OTEL_SERVICE_NAME": "gateway-under-test",
            "OTEL_BSP_SCHEDULE_DELAY": "20",  # ms: the batches leave at once, the test waits less
        }
        async with mcpgate("serve", "--config", str(config), "--port", "0", env=env) as url:
            yield url, receiver


async def _chain(receiver: Receiver, tool: str) -> tuple[ReceivedSpan, ReceivedSpan, ReceivedSpan]:
    """The edge, hub and upstream-client spans of one call of `tool`, found by their links."""
    hub = await receiver.wait_for(lambda s: s.name == f"tools/call {tool}")
    edge = await receiver.wait_for(lambda s: s.span_id == hub.parent_id)
    upstream = await receiver.wait_for(lambda s: s.parent_id == hub.span_id)
    return edge, hub, upstream


@pytest.mark.parametrize("upstream", ["streamable_http", "sse"])
async def test_one_trace_runs_from_the_clients_traceparent_header_through_the_gateway_to_the_upstream(
    tmp_path: Path, upstream: str
) -> None:
    async with traced_gateway(tmp_path, upstream) as (url, receiver):
        http = create_mcp_http_client(headers={"traceparent": TRACEPARENT})
        async with mcp.Client(streamable_http_client(f"{url}/mcp", http_client=http), mode="legacy") as client:
            result = await client.call_tool("up_seen", {})
        seen = json.loads(result.content[0].text)

        edge, hub, call = await _chain(receiver, "up_seen")
        assert {edge.trace_id, hub.trace_id, call.trace_id} == {TRACE_ID}
        assert edge.parent_id == CLIENT_SPAN_ID and edge.kind == SERVER and edge.name == "POST /mcp"
        assert edge.attributes["http.route"] == "/mcp"
        assert edge.attributes["http.response.status_code"] == 200
        assert edge.attributes["mcp.method.name"] == "tools/call"
        assert hub.kind == SERVER and hub.attributes["gen_ai.tool.name"] == "up_seen"
        assert hub.attributes["mcpgate.upstream.name"] == "up" and hub.attributes["mcpgate.upstream.tool"] == "seen"
        assert hub.attributes["gen_ai.operation.name"] == "execute_tool"
        assert call.kind == CLIENT and call.name == "tools/call seen"
        assert call.attributes["mcpgate.upstream.transport"] == upstream
        assert call.attributes["server.address"] == "127.0.0.1"
        # A session is named by its shown prefix, never its id; the same one on the edge's span.
        assert hub.attributes["mcp.session.id"].endswith("…") and len(hub.attributes["mcp.session.id"]) == 7
        assert edge.attributes["mcp.session.id"] == hub.attributes["mcp.session.id"]
        assert call.resource["service.name"] == "gateway-under-test"

        # The upstream's request carries the gateway's client span as its parent: header and _meta.
        assert seen == {"header": f"00-{TRACE_ID}-{call.span_id}-01", "meta": f"00-{TRACE_ID}-{call.span_id}-01"}


async def test_a_2026_request_takes_its_trace_context_from_meta(tmp_path: Path) -> None:
    meta_trace, meta_parent = "0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331"
    async with traced_gateway(tmp_path, "streamable_http") as (url, receiver):
        async with mcp.Client(f"{url}/mcp", mode="auto") as client:  # 2026-07-28: no session, no traceparent header
            result = await client.call_tool("up_seen", {}, meta={"traceparent": f"00-{meta_trace}-{meta_parent}-01"})
        seen = json.loads(result.content[0].text)

        edge, hub, call = await _chain(receiver, "up_seen")
        assert {edge.trace_id, hub.trace_id, call.trace_id} == {meta_trace}
        assert edge.parent_id == meta_parent
        assert hub.attributes["mcp.protocol.version"] == "2026-07-28"
        assert "mcp.session.id" not in hub.attributes  # a stateless request belongs to no session
        assert seen["meta"] == f"00-{meta_trace}-{call.span_id}-01"
        assert seen["header"] == seen["meta"]
