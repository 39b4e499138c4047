"""SMART mode through the official SDK client, over SSE and Streamable HTTP: only the meta-tools
are listed; search finds a tool from a paraphrase and says whether the caller is connected to
its upstream; execute runs one call or a batch (a failing call fails alone), never a tool
outside the selection; the end user's connections are reported, stored and removed."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from mcp import MCPError

from tests.conftest import TESTS, running_gateway, serve_asgi, stdio_echo, wait_until
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio

SHAPES_SERVER = str(TESTS / "upstreams" / "shapes_server.py")
SELECTION = ["echo_add", "echo_echo", "shapes_plan_trip", "shapes_fail", "crm_header"]
META = {"search_tools", "get_tool_schemas", "execute_tool", "manage_connections"}


def config(upstream_url: str) -> dict[str, Any]:
    return {
        "mcpServers": {
            "echo": stdio_echo("echo"),
            "shapes": {"command": sys.executable, "args": [SHAPES_SERVER]},
            "crm": {
                "url": f"{upstream_url}/mcp",
                "type": "http",
                "passthroughHeaders": ["Authorization"],
                "credentialsRequired": True,
            },
        },
        "virtualServers": {"assistant": {"mode": "SMART", "selectedTools": SELECTION}},
    }


def kept_digests(path: Path) -> int:
    """How many vectors the cache file at path holds (0 before it is written); it is replaced atomically."""
    if not path.exists():
        return 0
    with np.load(path) as stored:
        assert str(stored["model"]) == "minilm-l6-int8"
        return len(stored["digests"])


async def search(client: Any, query: str, **extra: Any) -> list[dict[str, Any]]:
    result = await client.call_tool("search_tools", {"query": query, **extra})
    assert not result.is_error, result.content
    return result.structured_content["tools"]


@pytest.mark.parametrize("transport", ["sse", "streamable_http"])
async def test_search_finds_tools_from_a_paraphrase_and_execute_runs_one_or_many(transport: str) -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
        gateway.client(transport, server="assistant") as client,
    ):
        assert {tool.name for tool in (await client.list_tools()).tools} == META

        journey = await search(client, "organise a journey by train and plane with a few overnight stays")
        assert journey[0]["name"] == "shapes_plan_trip"
        assert journey[0]["upstream"] == "shapes" and journey[0]["connected"] is True
        assert "legs" in journey[0]["inputSchema"]["properties"]
        total = await search(client, "compute the sum of two whole numbers", limit=3)
        assert "echo_add" in [t["name"] for t in total]
        everything = await search(client, "anything at all", limit=50)
        assert {t["name"] for t in everything} == set(SELECTION)  # nothing outside the selection, ever
        only_echo = await search(client, "numbers", upstreams=["echo"], limit=50)
        assert {t["upstream"] for t in only_echo} == {"echo"}
        crm = next(t for t in everything if t["name"] == "crm_header")
        assert crm["connected"] is False  # it needs the caller's own Authorization
        # The encoder's vectors of the tools are kept in the data directory for the next start.
        kept = gateway.hub.settings.data_dir / "search" / "minilm-l6-int8.npz"
        # Upstreams become ready one by one, so an earlier save may hold only the first one's tools.
        await wait_until(lambda: kept_digests(kept) >= len(SELECTION), timeout=60)

        added = await client.call_tool("execute_tool", {"name": "echo_add", "arguments": {"a": 2, "b": 40}})
        assert added.content[0].text == "42"
        batch = await client.call_tool(
            "execute_tool",
            {
                "calls": [
                    {"name": "echo_echo", "arguments": {"text": "one"}},
                    {"name": "shapes_fail", "arguments": {"reason": "on purpose"}},
                    {"name": "echo_env", "arguments": {"name": "HOME"}},  # outside the selection
                    {"name": "echo_add", "arguments": {"a": 1, "b": 1}},
                ]
            },
        )
        results = batch.structured_content["results"]
        assert [r["isError"] for r in results] == [False, True, True, False]
        assert results[0]["result"]["content"][0]["text"] == "one"
        assert "Unknown tool" in results[2]["error"]
        assert results[3]["result"]["content"][0]["text"] == "2"
        assert batch.structured_content["failed"] == 2

        long_text = "x" * 5000
        capped = await client.call_tool(
            "execute_tool", {"name": "echo_echo", "arguments": {"text": long_text}, "maxResultChars": 100}
        )
        texts = [block.text for block in capped.content]
        assert texts[0] == "x" * 100 and "truncated: 4900 more characters" in texts[-1]
        with pytest.raises(MCPError, match="Unknown tool"):
            await client.call_tool("execute_tool", {"name": "echo_env", "arguments": {"name": "HOME"}})
        with pytest.raises(MCPError, match="either"):
            await client.call_tool("execute_tool", {"name": "echo_echo", "calls": [{"name": "echo_echo"}]})


@pytest.mark.parametrize("transport", ["sse", "streamable_http"])
async def test_connections_are_reported_stored_and_removed_per_end_user(transport: str) -> None:
    async with (
        serve_asgi(build_server("crm").streamable_http_app()) as upstream,
        running_gateway(config(upstream)) as gateway,
    ):
        async with gateway.client(transport, server="assistant", headers={"x-username": "alice"}) as alice:
            status = (await alice.call_tool("manage_connections", {})).structured_content["connections"]
            by_name = {entry["upstream"]: entry for entry in status}
            assert set(by_name) == {"echo", "shapes", "crm"}
            assert by_name["echo"]["connected"] is True and by_name["echo"]["credentials"] == "not needed"
            assert by_name["crm"]["connected"] is False and by_name["crm"]["needs"] == {"headers": ["Authorization"]}
            assert "connect" in by_name["crm"]["how"]

            stored = await alice.call_tool(
                "manage_connections",
                {"action": "connect", "upstream": "crm", "headers": {"Authorization": "Bearer alice-crm"}},
            )
            assert stored.structured_content["connections"][0]["connected"] is True
            assert "alice-crm" not in str(stored.content)  # never echoed back
            answered = await alice.call_tool(
                "execute_tool", {"name": "crm_header", "arguments": {"name": "authorization"}}
            )
            assert answered.content[0].text == "Bearer alice-crm"
            found = await search(alice, "read a request header", limit=50)
            assert next(t for t in found if t["name"] == "crm_header")["connected"] is True

        async with gateway.client(transport, server="assistant", headers={"x-username": "bob"}) as bob:
            crm = await bob.call_tool("execute_tool", {"name": "crm_header", "arguments": {"name": "authorization"}})
            assert crm.is_error and "credentials" in crm.content[0].text  # alice's never reach bob
            with pytest.raises(MCPError, match="no service"):
                await bob.call_tool("manage_connections", {"action": "connect", "upstream": "nope", "headers": {}})

        async with gateway.client(transport, server="assistant", headers={"x-username": "alice"}) as alice:
            await alice.call_tool("manage_connections", {"action": "disconnect", "upstream": "crm"})
            status = (await alice.call_tool("manage_connections", {})).structured_content["connections"]
            assert next(e for e in status if e["upstream"] == "crm")["connected"] is False

        async with gateway.client(transport, server="assistant") as nobody:  # no end user: nothing to store
            with pytest.raises(MCPError, match="x-username"):
                await nobody.call_tool(
                    "manage_connections", {"action": "connect", "upstream": "crm", "headers": {"Authorization": "x"}}
                )
