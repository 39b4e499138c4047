"""Sessions across replicas, with no stickiness: behind a balancer that sends every request to the
next replica, a session begun on one is served whichever replica a request reaches (#27)."""

from __future__ import annotations

from collections import Counter

import anyio
import httpx
import pytest

from tests.conftest import TRANSPORTS
from tests.fleet.clients import INITIALIZE, JSON_AND_SSE, ServedBy, fleet_client
from tests.fleet.cluster import Fleet

pytestmark = pytest.mark.anyio

CLIENTS = 6
CALLS = 15


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_every_reply_reaches_its_own_client_whichever_replica_a_request_lands_on(
    fleet: Fleet, transport: str
) -> None:
    """Several clients at once, each request to the next replica: every answer is the one asked for."""
    wrong: list[str] = []
    seen = [ServedBy() for _ in range(CLIENTS)]

    async def one_client(index: int) -> None:
        async with fleet_client(fleet.url, transport, seen[index]) as client:
            assert "demo_echo" in {tool.name for tool in (await client.list_tools()).tools}
            for call in range(CALLS):
                text = f"client {index} call {call}"
                result = await client.call_tool("demo_echo", {"text": text})
                if result.is_error or result.content[0].text != text:
                    wrong.append(f"{text!r} → {result.content}")

    with anyio.fail_after(120):
        async with anyio.create_task_group() as tg:
            for index in range(CLIENTS):
                tg.start_soon(one_client, index)
    assert wrong == []
    # Sessions served by both replicas. Not every one: the balancer alternates per request across all
    # clients, so a client whose requests fall in step with the others' can land on one replica only.
    spanning = [served.counts for served in seen if served.counts["r0"] >= 2 and served.counts["r1"] >= 2]
    assert len(spanning) >= CLIENTS // 2, [served.counts for served in seen]
    total = sum((served.counts for served in seen), start=Counter())
    assert min(total["r0"], total["r1"]) >= 0.4 * (total["r0"] + total["r1"]), total


async def test_streamable_http_requests_and_delete_on_the_other_replica(fleet: Fleet) -> None:
    r0, r1 = fleet.replicas
    async with httpx.AsyncClient(timeout=10) as http:
        started = await http.post(f"{r0.url}/mcp", json=INITIALIZE, headers=JSON_AND_SSE)
        session = started.headers["mcp-session-id"]
        headers = {**JSON_AND_SSE, "mcp-session-id": session, "mcp-protocol-version": "2025-11-25"}
        initialized = {"jsonrpc": "2.0", "method": "notifications/initialized"}
        assert (await http.post(f"{r1.url}/mcp", json=initialized, headers=headers)).status_code == 202
        call = {
            "jsonrpc": "2.0",
            "id": 2,
            "method": "tools/call",
            "params": {"name": "demo_echo", "arguments": {"text": "x"}},
        }
        # Answered as plain JSON, and as an event stream (a client that prefers one).
        answered = await http.post(f"{r1.url}/mcp", json=call, headers=headers)
        assert answered.status_code == 200 and answered.json()["result"]["content"][0]["text"] == "x"
        streamed = await http.post(
            f"{r1.url}/mcp",
            json={**call, "id": 3},
            headers={**headers, "accept": "text/event-stream, application/json"},
        )
        assert streamed.status_code == 200
        assert '"id":3' in streamed.text.replace(" ", "") and '"text":"x"' in streamed.text.replace(" ", "")
        assert (await http.delete(f"{r1.url}/mcp", headers=headers)).status_code == 200
        for replica in (r0, r1):  # ended everywhere: a client is told to start over
            gone = await http.post(f"{replica.url}/mcp", json={**call, "id": 4}, headers=headers)
            assert gone.status_code == 404, gone.text
            assert gone.json()["error"]["code"] == -32001


async def test_a_legacy_sse_stream_gets_answers_to_posts_made_on_the_other_replica(fleet: Fleet) -> None:
    r0, r1 = fleet.replicas
    async with httpx.AsyncClient(timeout=10) as http, http.stream("GET", f"{r0.url}/sse") as stream:
        data = (line.removeprefix("data:").strip() async for line in stream.aiter_lines() if line.startswith("data:"))
        with anyio.fail_after(10):
            endpoint = await anext(data)
            posted = await http.post(f"{r1.url}{endpoint}", json=INITIALIZE)
            assert posted.status_code == 202
            answer = await anext(data)
        assert '"id":1' in answer and "protocolVersion" in answer


async def test_a_session_of_a_replica_that_is_gone_is_not_found(fleet: Fleet) -> None:
    r0, r1 = fleet.replicas
    async with httpx.AsyncClient(timeout=10) as http:
        started = await http.post(f"{r0.url}/mcp", json=INITIALIZE, headers=JSON_AND_SSE)
        headers = {**JSON_AND_SSE, "mcp-session-id": started.headers["mcp-session-id"]}
        await r0.kill()
        listed = await http.post(
            f"{r1.url}/mcp", json={"jsonrpc": "2.0", "id": 2, "method": "tools/list"}, headers=headers
        )
        assert listed.status_code == 404 and listed.json()["error"]["code"] == -32001
