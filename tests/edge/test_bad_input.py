"""Bad input gets a precise JSON answer and never disturbs other sessions; transports' edge cases."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx
import pytest

from tests.conftest import running_gateway, stdio_echo

pytestmark = pytest.mark.anyio

CONFIG = {
    "edge": {"maxBodyBytes": 4096, "keepaliveSeconds": 0.2},
    "mcpServers": {"e": stdio_echo()},
}
ACCEPT = {"accept": "application/json, text/event-stream"}
INIT = {
    "jsonrpc": "2.0",
    "id": 1,
    "method": "initialize",
    "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "1"}},
}


class RawSSE:
    """A legacy SSE session driven by hand over a real socket."""

    def __init__(self, http: httpx.AsyncClient, response: httpx.Response, endpoint: str) -> None:
        self.http = http
        self.response = response
        self.endpoint = endpoint
        self.lines = response.aiter_lines()

    async def next_event(self) -> tuple[str, str]:
        """The next `(event, data)`; comment lines are returned as ("comment", text)."""
        event, data = "message", []
        with anyio.fail_after(5):
            async for line in self.lines:
                if line.startswith(":"):
                    return "comment", line[1:].strip()
                if line.startswith("event:"):
                    event = line[6:].strip()
                elif line.startswith("data:"):
                    data.append(line[5:].strip())
                elif line == "" and data:
                    return event, "\n".join(data)
        raise AssertionError("stream ended")

    async def next_message(self) -> dict:
        while True:
            event, data = await self.next_event()
            if event == "message":
                return json.loads(data)

    async def post(self, body: bytes | dict, path: str | None = None) -> httpx.Response:
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return await self.http.post(
            path or self.endpoint, content=content, headers={"content-type": "application/json"}
        )


@asynccontextmanager
async def raw_sse(http: httpx.AsyncClient) -> AsyncIterator[RawSSE]:
    async with http.stream("GET", "/sse", headers={"accept": "text/event-stream"}) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        session = RawSSE(http, response, "")
        event, data = await session.next_event()
        assert event == "endpoint"
        session.endpoint = data
        yield session


async def initialized_sse(session: RawSSE) -> None:
    assert (await session.post(INIT)).status_code == 202
    assert (await session.next_message())["result"]["protocolVersion"] == "2025-06-18"
    await session.post({"jsonrpc": "2.0", "method": "notifications/initialized"})


async def test_sse_endpoint_event_names_the_post_url_and_both_spellings_work():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http, raw_sse(http) as sse:
        assert sse.endpoint.startswith("/messages?sessionId=")
        session_id = sse.endpoint.split("=", 1)[1]
        await initialized_sse(sse)
        ping = {"jsonrpc": "2.0", "id": 7, "method": "ping"}
        for path in (f"/message?sessionId={session_id}", f"/messages?session_id={session_id}"):
            response = await sse.post(ping, path)
            assert response.status_code == 202
            assert await sse.next_message() == {"jsonrpc": "2.0", "id": 7, "result": {}}


async def test_unknown_sse_session_is_404_with_a_jsonrpc_error():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        response = await http.post("/messages?sessionId=nope", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert response.status_code == 404
        body = response.json()
        assert body["jsonrpc"] == "2.0" and body["id"] is None
        assert "Session not found" in body["error"]["message"]
        missing = await http.post("/messages", json={"jsonrpc": "2.0", "id": 1, "method": "ping"})
        assert missing.status_code == 400
        assert "sessionId" in missing.json()["error"]["message"]


async def test_malformed_messages_get_precise_errors_and_the_session_carries_on():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http, raw_sse(http) as sse:
        await initialized_sse(sse)
        bad_json = await sse.post(b'{"jsonrpc": "2.0", "id": 1, "method": ')
        assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == -32700
        not_jsonrpc = await sse.post({"hello": "world"})
        assert not_jsonrpc.status_code == 400 and not_jsonrpc.json()["error"]["code"] == -32600
        assert (await sse.post({"jsonrpc": "2.0", "id": 3, "method": "no/such/method"})).status_code == 202
        error = (await sse.next_message())["error"]
        assert error["code"] == -32601 and "no/such/method" in error["message"]
        too_big = await sse.post({"jsonrpc": "2.0", "id": 4, "method": "ping", "params": {"x": "y" * 5000}})
        assert too_big.status_code == 413 and too_big.json()["error"]["message"].startswith("Request body")
        # After all that, the same session still answers.
        call = {
            "jsonrpc": "2.0",
            "id": 5,
            "method": "tools/call",
            "params": {"name": "e_echo", "arguments": {"text": "ok"}},
        }
        assert (await sse.post(call)).status_code == 202
        reply = await sse.next_message()
        assert reply["id"] == 5 and reply["result"]["content"][0]["text"] == "ok"


async def test_idle_sse_stream_gets_keepalive_comments():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http, raw_sse(http) as sse:
        assert await sse.next_event() == ("comment", "keep-alive")


async def test_streamable_http_session_rules():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        no_session = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers=ACCEPT)
        assert no_session.status_code == 400 and "Mcp-Session-Id" in no_session.json()["error"]["message"]
        unknown = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 1, "method": "ping"}, headers={**ACCEPT, "mcp-session-id": "nope"}
        )
        assert unknown.status_code == 404 and "Session not found" in unknown.json()["error"]["message"]

        init = await http.post("/mcp", json=INIT, headers=ACCEPT)
        assert init.status_code == 200
        session_id = init.headers["mcp-session-id"]
        assert len(session_id) >= 16
        headers = {**ACCEPT, "mcp-session-id": session_id, "mcp-protocol-version": "2025-06-18"}
        assert gateway.hub.health()[1]["connections"] == 1

        bad_json = await http.post("/mcp", content=b"{nope", headers=headers)
        assert bad_json.status_code == 400 and bad_json.json()["error"]["code"] == -32700
        unknown_method = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "x/y"}, headers=headers)
        assert unknown_method.json()["error"]["code"] == -32601
        bad_args = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"name": "e_echo", "arguments": [1]}},
            headers=headers,
        )
        assert bad_args.json()["error"]["code"] == -32602
        assert "arguments must be an object" in bad_args.json()["error"]["message"]
        too_big = await http.post("/mcp", content=b"x" * 5000, headers=headers)
        assert too_big.status_code == 413
        bad_version = await http.post(
            "/mcp",
            json={"jsonrpc": "2.0", "id": 4, "method": "ping"},
            headers={**headers, "mcp-protocol-version": "1999"},
        )
        assert (
            bad_version.status_code == 400
            and "unsupported MCP-Protocol-Version" in bad_version.json()["error"]["message"]
        )
        batch = await http.post(
            "/mcp",
            json=[{"jsonrpc": "2.0", "id": 5, "method": "ping"}, {"jsonrpc": "2.0", "id": 6, "method": "ping"}],
            headers=headers,
        )
        assert [r["id"] for r in batch.json()] == [5, 6]

        assert (await http.delete("/mcp", headers=headers)).status_code == 200
        gone = await http.post("/mcp", json={"jsonrpc": "2.0", "id": 7, "method": "ping"}, headers=headers)
        assert gone.status_code == 404
        assert gateway.hub.health()[1]["connections"] == 0


async def test_dns_rebinding_protection_refuses_foreign_hosts_and_origins():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        evil_origin = await http.post("/mcp", json=INIT, headers={**ACCEPT, "origin": "http://evil.example"})
        assert evil_origin.status_code == 403 and "Origin" in evil_origin.json()["error"]["message"]
        evil_host = await http.post("/mcp", json=INIT, headers={**ACCEPT, "host": "evil.example"})
        assert evil_host.status_code == 421
        sse_evil = await http.get("/sse", headers={"origin": "http://evil.example"})
        assert sse_evil.status_code == 403
        local_origin = await http.post("/mcp", json=INIT, headers={**ACCEPT, "origin": "http://localhost:3000"})
        assert local_origin.status_code == 200
    allowed = {**CONFIG, "edge": {"allowedOrigins": ["https://app.example"]}}
    async with running_gateway(allowed) as gateway, gateway.http() as http:
        ok = await http.post("/mcp", json=INIT, headers={**ACCEPT, "origin": "https://app.example"})
        assert ok.status_code == 200


async def test_health_counts_open_sessions():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        assert (await http.get("/health")).json()["connections"] == 0
        async with raw_sse(http):
            body = (await http.get("/health")).json()
            assert body["connections"] == 1
            assert body["service"] == "mcpgate" and body["status"] == "ok"
            assert body["upstreams"]["e"]["state"] == "ready"
        with anyio.fail_after(5):
            while (await http.get("/health")).json()["connections"] != 0:
                await anyio.sleep(0.02)


async def test_abandoned_streamable_sessions_are_reaped_but_open_streams_are_not():
    config = {**CONFIG, "edge": {"sessionIdleSeconds": 0.3}}
    async with running_gateway(config) as gateway, gateway.http() as http, raw_sse(http):
        init = await http.post("/mcp", json=INIT, headers=ACCEPT)
        abandoned = init.headers["mcp-session-id"]
        assert gateway.hub.sessions.get(abandoned) is not None
        with anyio.fail_after(5):
            while gateway.hub.sessions.get(abandoned) is not None:
                await anyio.sleep(0.05)
        gone = await http.post(
            "/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "ping"}, headers={**ACCEPT, "mcp-session-id": abandoned}
        )
        assert gone.status_code == 404
        assert len(gateway.hub.sessions) == 1  # the SSE stream, idle but attached, is still there
