"""A crashed stdio child: its tools fail fast, /health says so, the others carry on, and it comes back."""

from __future__ import annotations

import os
import signal

import anyio
import pytest

from mcpgate.upstream.connection import Backoff, UpstreamState
from tests.conftest import running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio


async def test_killed_child_fails_fast_shows_in_health_and_is_restarted():
    config = {"mcpServers": {"flaky": stdio_echo("flaky"), "steady": stdio_echo("steady")}}
    # A backoff long enough that the test observes the down window deterministically.
    async with running_gateway(config, backoff=Backoff(first=2.0)) as gateway, gateway.client("sse") as client:
        flaky = gateway.hub.upstreams["flaky"]
        pid = (await client.call_tool("flaky_pid", {})).structured_content["result"]

        async with anyio.create_task_group() as tg:
            in_flight: list = []

            async def slow_call() -> None:
                in_flight.append(await client.call_tool("flaky_wait", {"seconds": 60}))

            tg.start_soon(slow_call)
            await wait_until(lambda: flaky.in_flight > 0)
            os.kill(pid, signal.SIGKILL)
        # The call that was in flight when the child died gets an answer, not a hang.
        assert in_flight[0].is_error
        assert "closed the connection" in in_flight[0].content[0].text

        await wait_until(lambda: flaky.status.state is UpstreamState.DOWN)
        with anyio.fail_after(1):  # "at once": no waiting for a timeout
            result = await client.call_tool("flaky_echo", {"text": "x"})
        assert result.is_error
        assert "upstream 'flaky' is unavailable" in result.content[0].text

        async with gateway.http() as http:
            health = (await http.get("/health")).json()
        assert health["status"] == "ok"
        assert health["upstreams"]["flaky"]["state"] == "down"
        assert health["degraded"] == ["flaky"]
        assert health["upstreams"]["steady"]["state"] == "ready"

        assert (await client.call_tool("steady_echo", {"text": "fine"})).content[0].text == "fine"

        await wait_until(lambda: flaky.is_ready, timeout=15)
        new_pid = (await client.call_tool("flaky_pid", {})).structured_content["result"]
        assert new_pid != pid
        assert flaky.status.restarts == 1
        assert (await client.call_tool("flaky_echo", {"text": "back"})).content[0].text == "back"


async def test_health_is_503_when_no_upstream_can_serve():
    config = {"timeouts": {"connect": 2}, "mcpServers": {"broken": {"command": "/nonexistent/mcp-server"}}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        response = await http.get("/health")
        assert response.status_code == 503
        body = response.json()
        assert body["status"] == "unavailable"
        assert body["reason"] == "no upstream is available"
        assert "command not found" in body["upstreams"]["broken"]["error"]


async def test_an_upstream_that_never_answers_initialize_is_bounded_by_the_connect_timeout():
    # `sleep` never reads our initialize, let alone answers it.
    config = {
        "timeouts": {"connect": 2.5},
        "mcpServers": {"mute": {"command": "sleep", "args": ["600"]}, "ok": stdio_echo()},
    }
    with anyio.fail_after(10):
        async with running_gateway(config) as gateway, gateway.http() as http:
            body = (await http.get("/health")).json()
    assert body["upstreams"]["mute"]["state"] in ("down", "connecting")
    assert "no answer to initialize within the connect timeout" in body["upstreams"]["mute"].get("error", "")
    assert body["upstreams"]["ok"]["state"] == "ready"
