"""The same client journeys over every client-facing transport, against real upstreams."""

from __future__ import annotations

import anyio
import pytest

from tests.conftest import TRANSPORTS, serve_asgi, stdio_echo
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio


@pytest.fixture(params=TRANSPORTS)
def transport(request: pytest.FixtureRequest) -> str:
    return request.param


async def test_tools_of_all_upstream_kinds_are_merged_and_callable(gateway_factory, transport):
    async with (
        serve_asgi(build_server("over-sse").sse_app()) as sse_url,
        serve_asgi(build_server("over-http").streamable_http_app()) as http_url,
    ):
        config = {
            "mcpServers": {
                "local": stdio_echo("over-stdio"),
                "legacy": {"url": f"{sse_url}/sse"},
                "modern": {"url": f"{http_url}/mcp", "type": "http"},
            }
        }
        async with gateway_factory(config) as gateway, gateway.client(transport) as client:
            expected_version = "2026-07-28" if transport == "stateless" else "2025-11-25"
            assert client.protocol_version == expected_version
            names = {tool.name for tool in (await client.list_tools()).tools}
            for upstream in ("local", "legacy", "modern"):
                assert {f"{upstream}_echo", f"{upstream}_whoami", f"{upstream}_add"} <= names
            for upstream, label in (("local", "over-stdio"), ("legacy", "over-sse"), ("modern", "over-http")):
                result = await client.call_tool(f"{upstream}_whoami", {})
                assert result.content[0].text == label
            result = await client.call_tool("modern_add", {"a": 2, "b": 40})
            assert result.structured_content == {"result": 42}


async def test_prefix_can_be_turned_off_or_replaced(gateway_factory, transport):
    config = {
        "nameSeparator": ".",
        "mcpServers": {"plain": stdio_echo(prefix=False), "other": stdio_echo("b", prefix="b")},
    }
    async with gateway_factory(config) as gateway, gateway.client(transport) as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"echo", "whoami", "b.echo", "b.whoami"} <= names
        assert (await client.call_tool("b.whoami", {})).content[0].text == "b"


async def test_unknown_tool_is_a_precise_error(gateway_factory, transport):
    async with gateway_factory({"mcpServers": {"e": stdio_echo()}}) as gateway, gateway.client(transport) as client:
        with pytest.raises(Exception, match="Unknown tool: 'e_nope'"):
            await client.call_tool("e_nope", {})
        # The session is still fine afterwards.
        assert (await client.call_tool("e_echo", {"text": "still here"})).content[0].text == "still here"


async def test_bad_arguments_name_the_field(gateway_factory, transport):
    async with gateway_factory({"mcpServers": {"e": stdio_echo()}}) as gateway, gateway.client(transport) as client:
        result = await client.call_tool("e_add", {"a": "not a number", "b": 1})
        assert result.is_error
        assert "a" in result.content[0].text and "int" in result.content[0].text.lower()


async def test_progress_reaches_the_caller_with_its_own_token(gateway_factory, transport):
    async with gateway_factory({"mcpServers": {"e": stdio_echo()}}) as gateway, gateway.client(transport) as client:
        seen: list[tuple[float, float | None, str | None]] = []
        all_seen = anyio.Event()

        async def on_progress(progress: float, total: float | None, message: str | None) -> None:
            seen.append((progress, total, message))
            if len(seen) == 3:
                all_seen.set()

        result = await client.call_tool("e_count", {"steps": 3}, progress_callback=on_progress)
        assert result.content[0].text == "counted 3"
        with anyio.fail_after(5):  # progress callbacks may run just after the result arrives
            await all_seen.wait()
        assert [s[0] for s in seen] == [1, 2, 3]


async def test_upstream_call_timeout_is_a_clear_tool_error(gateway_factory, transport):
    config = {"mcpServers": {"e": stdio_echo(timeout=0.3)}}
    async with gateway_factory(config) as gateway, gateway.client(transport) as client:
        with anyio.fail_after(5):
            result = await client.call_tool("e_wait", {"seconds": 30})
        assert result.is_error
        assert "did not answer tools/call within 0.3s" in result.content[0].text
        assert (await client.call_tool("e_echo", {"text": "ok"})).content[0].text == "ok"
