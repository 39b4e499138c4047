"""Each virtual server's own endpoints: a client sees exactly its tools, over every
transport and both URL styles; edits are announced, deletes close sessions; external
MCP servers are really proxied with their headers; SMART mode's meta-tools work."""

from __future__ import annotations

from typing import Any

import anyio
import anyio.abc
import pytest
from mcp import MCPError, types

from tests.conftest import TRANSPORTS, Gateway, running_gateway, serve_asgi, stdio_echo, wait_until
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio

CONFIG = {"mcpServers": {"demo": stdio_echo("demo"), "other": stdio_echo("other")}}


async def create(gateway: Gateway, **body: Any) -> dict[str, Any]:
    async with gateway.http() as http:
        response = await http.post("/api/v1/mcp_manager", json=body)
    assert response.status_code == 201, response.text
    return response.json()


def names(result: types.ListToolsResult) -> set[str]:
    return {tool.name for tool in result.tools}


@pytest.mark.parametrize("by_id", [False, True], ids=["by-name", "by-id"])
@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_a_client_of_a_virtual_server_sees_and_calls_exactly_its_tools(transport: str, by_id: bool) -> None:
    async with running_gateway(CONFIG) as gateway:
        server = await create(gateway, name="curated", mode="NORMAL", selectedTools=["demo_echo", "other_whoami"])
        target = server["id"] if by_id else "curated"
        async with gateway.client(transport, server=target, by_id=by_id) as client:
            assert names(await client.list_tools()) == {"demo_echo", "other_whoami"}
            assert (await client.call_tool("demo_echo", {"text": "hi"})).content[0].text == "hi"
            assert (await client.call_tool("other_whoami", {})).content[0].text == "other"
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("demo_whoami", {})  # on the gateway, but not selected here
            assert (await client.list_prompts()).prompts == []
        async with gateway.client(transport) as everything:
            assert {"demo_whoami", "other_echo"} <= names(await everything.list_tools())


async def test_unknown_servers_and_foreign_session_ids_are_refused() -> None:
    async with running_gateway(CONFIG) as gateway:
        await create(gateway, name="a", mode="NORMAL", selectedTools=["demo_echo"])
        await create(gateway, name="b", mode="NORMAL", selectedTools=["other_echo"])
        async with gateway.http() as http:
            headers = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
            init = {
                "jsonrpc": "2.0",
                "id": 1,
                "method": "initialize",
                "params": {
                    "protocolVersion": "2025-11-25",
                    "capabilities": {},
                    "clientInfo": {"name": "t", "version": "1"},
                },
            }
            opened = await http.post("/servers/a/mcp", json=init, headers=headers)
            session = {"mcp-session-id": opened.headers["mcp-session-id"], **headers}
            listing = {"jsonrpc": "2.0", "id": 2, "method": "tools/list"}
            assert (await http.post("/servers/a/mcp", json=listing, headers=session)).status_code == 200
            assert (await http.post("/servers/b/mcp", json=listing, headers=session)).status_code == 404
            assert (await http.post("/mcp", json=listing, headers=session)).status_code == 404
            missing = await http.post("/servers/ghost/mcp", json=init, headers=headers)
            assert missing.status_code == 404 and "ghost" in missing.json()["error"]["message"]
            assert (await http.get("/servers/a/elsewhere")).status_code == 404


async def test_edits_are_announced_to_that_servers_sessions_and_deletes_close_them() -> None:
    async with running_gateway(CONFIG) as gateway:
        edited = await create(gateway, name="edited", mode="NORMAL", selectedTools=["demo_echo"])
        untouched = await create(gateway, name="untouched", mode="NORMAL", selectedTools=["demo_echo"])
        heard: dict[str, int] = {"edited": 0, "untouched": 0}

        def listener(name: str):
            async def on_message(message: Any) -> None:
                if isinstance(message, types.ToolListChangedNotification):
                    heard[name] += 1

            return on_message

        async with (
            gateway.client("sse", server="edited", message_handler=listener("edited")) as client,
            gateway.client("sse", server="untouched", message_handler=listener("untouched")) as other,
            gateway.http() as http,
        ):
            await other.list_tools()
            patched = await http.patch(
                f"/api/v1/mcp_manager/{edited['id']}", json={"selectedTools": ["demo_echo", "demo_add"]}
            )
            assert patched.status_code == 200
            await wait_until(lambda: heard["edited"] == 1)
            assert names(await client.list_tools()) == {"demo_echo", "demo_add"}
            assert heard["untouched"] == 0

            sessions = [s for s in gateway.hub.sessions if s.server == edited["id"]]
            assert len(sessions) == 1
            assert (await http.delete(f"/api/v1/mcp_manager/{edited['id']}")).status_code == 204
            await wait_until(lambda: sessions[0].closed.is_set())
            assert all(s.server != edited["id"] for s in gateway.hub.sessions)
            assert (await other.call_tool("demo_echo", {"text": "still here"})).content[0].text == "still here"
            assert untouched["id"] in gateway.hub.servers


async def test_external_mcp_servers_are_proxied_with_their_headers_and_masked_in_the_api() -> None:
    async with (
        serve_asgi(build_server("remote-http").streamable_http_app()) as http_url,
        serve_asgi(build_server("remote-sse").sse_app()) as sse_url,
        running_gateway(CONFIG) as gateway,
    ):
        server = await create(
            gateway,
            name="with-externals",
            mode="NORMAL",
            selectedTools=["demo_echo"],
            externalMcpConfigs=[
                {
                    "name": "crm",
                    "url": f"{http_url}/mcp",
                    "headers": {"X-Api-Key": "crm-secret-1"},
                    "tools": ["header", "whoami"],
                },
                {
                    "name": "legacy",
                    "url": f"{sse_url}/sse",
                    "headers": {"Authorization": "Bearer legacy-2"},
                    "tools": [],
                },
            ],
        )
        assert all(h == dict.fromkeys(h, "********") for h in (e["headers"] for e in server["externalMcpConfigs"]))
        await wait_until(lambda: len(gateway.hub.views[server["id"]].catalog.tools) > 3)
        async with gateway.client("streamable_http", server="with-externals") as client:
            listed = names(await client.list_tools())
            assert {"demo_echo", "crm_header", "crm_whoami", "legacy_echo", "legacy_header"} <= listed
            assert "crm_echo" not in listed  # not in that config's `tools`
            assert (await client.call_tool("crm_whoami", {})).content[0].text == "remote-http"
            assert (await client.call_tool("crm_header", {"name": "x-api-key"})).content[0].text == "crm-secret-1"
            legacy = await client.call_tool("legacy_header", {"name": "authorization"})
            assert legacy.content[0].text == "Bearer legacy-2"

        async with gateway.http() as http:
            shown = (await http.get(f"/api/v1/mcp_manager/{server['id']}/config")).text
            listed_servers = (await http.get("/api/v1/mcp_manager")).text
        for text in (shown, listed_servers):
            assert "crm-secret-1" not in text and "legacy-2" not in text
        config = await http_config(gateway, server["id"])
        assert {e["name"]: e["state"] for e in config["externalMcpConfigs"]} == {"crm": "ready", "legacy": "ready"}


async def http_config(gateway: Gateway, server_id: str) -> dict[str, Any]:
    async with gateway.http() as http:
        return (await http.get(f"/api/v1/mcp_manager/{server_id}/config")).json()


async def test_smart_mode_offers_meta_tools_that_reach_only_the_servers_tools() -> None:
    async with running_gateway(CONFIG) as gateway:
        await create(gateway, name="smart", mode="SMART", selectedTools=["demo_echo", "demo_add"])
        async with gateway.client("streamable_http", server="smart") as client:
            assert names(await client.list_tools()) == {
                "search_tools",
                "get_tool_schemas",
                "execute_tool",
                "manage_connections",
            }
            found = await client.call_tool("search_tools", {"query": "add two integers"})
            assert found.structured_content["tools"][0]["name"] == "demo_add"
            assert all(t["name"] in {"demo_echo", "demo_add"} for t in found.structured_content["tools"])
            schemas = await client.call_tool("get_tool_schemas", {"names": ["demo_add", "demo_whoami"]})
            assert [t["name"] for t in schemas.structured_content["tools"]] == ["demo_add"]
            assert schemas.structured_content["unknown"] == ["demo_whoami"]
            added = await client.call_tool("execute_tool", {"name": "demo_add", "arguments": {"a": 2, "b": 3}})
            assert added.content[0].text == "5"
            with pytest.raises(MCPError, match="Unknown tool"):
                await client.call_tool("execute_tool", {"name": "demo_whoami", "arguments": {}})
            with pytest.raises(MCPError, match="query"):
                await client.call_tool("search_tools", {"query": ""})


async def test_a_smart_server_without_a_selection_reaches_every_tool() -> None:
    async with running_gateway(CONFIG) as gateway:
        await create(gateway, name="all")
        async with gateway.client("sse", server="all") as client:
            whoami = await client.call_tool("execute_tool", {"name": "other_whoami"})
            assert whoami.content[0].text == "other"


async def test_load_tools_from_url_detects_the_transport_caches_and_fails_clearly() -> None:
    async def not_mcp(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/html")]})
        await send({"type": "http.response.body", "body": b"<h1>no</h1>"})

    async with (
        serve_asgi(build_server("remote-http").streamable_http_app()) as http_url,
        serve_asgi(build_server("remote-sse").sse_app()) as sse_url,
        serve_asgi(not_mcp) as web_url,
        running_gateway(CONFIG) as gateway,
        gateway.http() as http,
    ):
        load = "/api/v1/mcp_manager/load-tools-from-url"
        first = await http.post(load, json={"url": f"{http_url}/mcp", "cacheMinutes": 5})
        assert first.status_code == 200, first.text
        assert first.json()["transport"] == "streamable_http" and first.json()["cached"] is False
        assert {"echo", "whoami", "header"} <= {t["name"] for t in first.json()["tools"]}
        assert "inputSchema" in first.json()["tools"][0]
        again = await http.post(load, json={"url": f"{http_url}/mcp", "cacheMinutes": 5})
        assert again.json()["cached"] is True
        fresh = await http.post(load, json={"url": f"{http_url}/mcp", "cacheMinutes": 0})
        assert fresh.json()["cached"] is False

        sse = await http.post(load, json={"url": f"{sse_url}/sse"})
        assert sse.status_code == 200 and sse.json()["transport"] == "sse"

        not_an_mcp_server = await http.post(load, json={"url": f"{web_url}/page"})
        assert not_an_mcp_server.status_code == 502
        assert "not an MCP server" in not_an_mcp_server.json()["error"]["message"]

        with anyio.fail_after(10):
            unreachable = await http.post(load, json={"url": "http://127.0.0.1:9/mcp"})
        assert unreachable.status_code == 502 and "cannot reach" in unreachable.json()["error"]["message"]
        assert (await http.post(load, json={"url": "file:///etc/passwd"})).status_code == 422


async def test_a_server_that_never_answers_is_a_504_not_a_hang() -> None:
    async def hold(stream: Any) -> None:
        async with stream:
            await anyio.sleep_forever()  # accept the connection, never answer

    async with await anyio.create_tcp_listener(local_host="127.0.0.1") as listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, hold)
        port = listener.extra(anyio.abc.SocketAttribute.local_port)
        async with running_gateway({**CONFIG, "timeouts": {"connect": 3}}) as gateway, gateway.http() as http:
            with anyio.fail_after(10):
                response = await http.post(
                    "/api/v1/mcp_manager/load-tools-from-url", json={"url": f"http://127.0.0.1:{port}/mcp"}
                )
        assert response.status_code == 504
        assert "did not answer within 3s" in response.json()["error"]["message"]
        tg.cancel_scope.cancel()


async def test_a_bare_request_at_the_runtime_endpoint_is_answered_without_a_session() -> None:
    """Seed-era clients POST `tools/list` or `tools/call` to /api/v1/mcp/<id> with no initialize:
    each is answered on its own, and leaves no session behind."""
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        server = await create(gateway, name="curated", mode="NORMAL", selectedTools=["demo_echo"])
        url = f"/api/v1/mcp/{server['id']}"
        accept = {"accept": "application/json, text/event-stream"}
        listed = await http.post(url, json={"jsonrpc": "2.0", "id": 1, "method": "tools/list"}, headers=accept)
        assert listed.status_code == 200, listed.text
        assert "mcp-session-id" not in listed.headers
        assert [tool["name"] for tool in listed.json()["result"]["tools"]] == ["demo_echo"]
        arguments = {"name": "demo_echo", "arguments": {"text": "hi"}}
        call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": arguments}
        called = await http.post(url, json=call, headers={"accept": "application/json"})
        assert called.status_code == 200 and "hi" in called.json()["result"]["content"][0]["text"]
        outside = {"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "other_whoami"}}
        refused = await http.post(url, json=outside, headers=accept)
        assert refused.json()["error"]["code"] == -32602  # not this server's tool: an error, not a session error
        assert len(gateway.hub.sessions) == 0
        # The named endpoint keeps the Streamable HTTP rule: a request without a session is told to initialize.
        bare = await http.post("/servers/curated/mcp", json={"jsonrpc": "2.0", "id": 4, "method": "tools/list"})
        assert bare.status_code == 400 and "initialize" in bare.json()["error"]["message"]
