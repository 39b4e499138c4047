"""A request sent again with an id its session has already used is the same request resent (a
balancer retrying a POST whose connection broke: a replica killed mid-request): it is answered
once, with the first one's answer, and the upstream is not called twice."""

from __future__ import annotations

from typing import Any

import anyio
import httpx
import pytest

from mcpgate.hub.forwarding import ToolCall
from tests.conftest import running_gateway, stdio_echo
from tests.fleet.clients import INITIALIZE, JSON_AND_SSE

pytestmark = pytest.mark.anyio


def wait_call(request_id: Any, seconds: float = 0.3) -> dict[str, Any]:
    params = {"name": "echo_wait", "arguments": {"seconds": seconds}}
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": params}


async def test_a_resent_streamable_http_request_gets_the_first_answer_without_a_second_call() -> None:
    async with running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway, gateway.http() as http:
        calls: list[ToolCall] = []
        gateway.hub.observers.append(calls.append)
        started = await http.post("/mcp", json=INITIALIZE, headers=JSON_AND_SSE)
        headers = {**JSON_AND_SSE, "mcp-session-id": started.headers["mcp-session-id"]}
        answers: list[httpx.Response] = []

        async def post(message: dict[str, Any]) -> None:
            answers.append(await http.post("/mcp", json=message, headers=headers))

        async with anyio.create_task_group() as tg:  # the second while the first runs
            tg.start_soon(post, wait_call(7))
            await anyio.sleep(0.05)
            tg.start_soon(post, wait_call(7))
        await post(wait_call(7))  # and once more after it was answered
        assert [answer.status_code for answer in answers] == [200, 200, 200]
        assert answers[0].json() == answers[1].json() == answers[2].json()
        assert answers[0].json()["result"]["content"][0]["text"].startswith("waited")
        await post(wait_call("7", 0))  # "7" is another id than 7
        assert answers[3].json()["id"] == "7"
        assert len([call for call in calls if call.tool == "echo_wait"]) == 2


async def test_a_resent_legacy_sse_post_runs_once() -> None:
    async with running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway, gateway.http() as http:
        calls: list[ToolCall] = []
        gateway.hub.observers.append(calls.append)
        async with http.stream("GET", "/sse") as stream:
            data = (line[5:].strip() async for line in stream.aiter_lines() if line.startswith("data:"))
            with anyio.fail_after(10):
                endpoint = await anext(data)
                assert (await http.post(endpoint, json=INITIALIZE)).status_code == 202
                await anext(data)
                for _ in range(2):
                    assert (await http.post(endpoint, json=wait_call(9, 0.2))).status_code == 202
                # The answer comes for each POST (the first may be the one that was lost), the call once.
                first, second = await anext(data), await anext(data)
                assert first == second and '"id":9' in first
        assert len([call for call in calls if call.tool == "echo_wait"]) == 1


async def test_an_id_reused_for_another_request_is_not_a_resend() -> None:
    """Some clients number every request 1: a different request under an id already answered runs."""
    async with running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway, gateway.http() as http:
        started = await http.post("/mcp", json=INITIALIZE, headers=JSON_AND_SSE)
        headers = {**JSON_AND_SSE, "mcp-session-id": started.headers["mcp-session-id"]}
        for text in ("one", "two"):
            call = {"jsonrpc": "2.0", "id": 1, "method": "tools/call"}
            call["params"] = {"name": "echo_echo", "arguments": {"text": text}}
            answer = await http.post("/mcp", json=call, headers=headers)
            assert answer.json()["result"]["content"][0]["text"] == text
