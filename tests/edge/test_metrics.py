"""/metrics: Prometheus text with requests, tool calls by outcome, latency, failed logins,
open sessions and upstream states — behind a key like every other route."""

from __future__ import annotations

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import running_gateway, stdio_echo

pytestmark = pytest.mark.anyio

KEY = "metrics-key-0123456789abcdefghij"


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def test_metrics_count_what_happened() -> None:
    config = {"mcpServers": {"demo": stdio_echo("demo")}, "api_key": KEY}
    async with running_gateway(config) as gateway, gateway.http() as http:
        async with gateway.client("streamable_http", headers={"x-api-key": KEY}) as client:
            await client.call_tool("demo_echo", {"text": "x"})
            await client.call_tool("demo_echo", {"text": "y"})
            await client.call_tool("demo_wait", {"seconds": "not a number"})  # the tool answers an error
            assert (await http.post("/mcp", json={})).status_code == 401
            assert (await http.get("/metrics")).status_code == 401
            response = await http.get("/metrics", headers={"x-api-key": KEY})
        assert response.status_code == 200 and response.headers["content-type"].startswith("text/plain")
        seen = samples(response.text)
        assert seen[("mcpgate_tool_calls_total", (("outcome", "ok"),))] == 2
        assert seen[("mcpgate_tool_calls_total", (("outcome", "tool_error"),))] == 1
        assert seen[("mcpgate_tool_call_duration_seconds_count", ())] == 3
        assert seen[("mcpgate_auth_failures_total", ())] == 2
        assert seen[("mcpgate_upstreams", (("state", "ready"),))] == 1
        assert seen[("mcpgate_upstreams", (("state", "failed"),))] == 0  # every state is a series, failed too
        assert seen[("mcpgate_sessions", (("transport", "streamable_http"),))] == 1
        assert seen[("mcpgate_http_requests_total", (("endpoint", "mcp"), ("status", "200")))] >= 3
        assert seen[("mcpgate_http_requests_total", (("endpoint", "mcp"), ("status", "401")))] == 1
