"""A crashed stdio child: its tools fail fast, /health says so, the others carry on, and it comes back;
one that cannot start or keeps crashing is given up on, named in every message."""

from __future__ import annotations

import logging
import os
import signal
import sys

import anyio
import pytest

from mcpgate.upstream.connection import Backoff, UpstreamState
from tests.conftest import DECLARES_EVERYTHING, running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio


async def test_killed_child_fails_fast_shows_in_health_and_is_restarted():
    config = {"mcpServers": {"flaky": stdio_echo("flaky"), "steady": stdio_echo("steady")}}
    # A backoff long enough that the test observes the down window deterministically; a client
    # served by the shared child, the one /health reports on.
    async with (
        running_gateway(config, backoff=Backoff(first=2.0)) as gateway,
        gateway.client("sse", **DECLARES_EVERYTHING) as client,
    ):
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
    with anyio.fail_after(20):
        async with running_gateway(config) as gateway, gateway.http() as http:
            # The echo child imports the SDK (~1.5 s of CPU): on a loaded 2-core machine its first
            # start can pass 2.5 s too, and it is retried; the mute one must not hold it up.
            await wait_until(lambda: gateway.hub.upstreams["ok"].is_ready, timeout=15)
            body = (await http.get("/health")).json()
    assert body["upstreams"]["mute"]["state"] in ("down", "connecting")
    assert "no answer to initialize within the connect timeout" in body["upstreams"]["mute"].get("error", "")
    assert body["upstreams"]["ok"]["state"] == "ready"


def messages(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records]


async def test_a_command_that_is_not_found_is_named_tried_a_few_times_then_given_up(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcpgate.upstream")
    config = {"mcpServers": {"ghost": {"command": "no-such-command-mcpgate"}, "ok": stdio_echo()}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        ghost = gateway.hub.upstreams["ghost"]
        await wait_until(lambda: ghost.status.state is UpstreamState.FAILED)
        report = (await http.get("/health")).json()["upstreams"]["ghost"]
    assert report["state"] == "failed"
    assert "command not found: 'no-such-command-mcpgate'" in report["error"]
    assert "gave up after 3 attempts" in report["error"]
    assert (report["restarts"], report["failures"]) == (2, 3)  # every retry counts, though none connected
    logged = [m for m in messages(caplog) if "no-such-command-mcpgate" in m]
    assert len(logged) == 3 and all(m.startswith("upstream ghost: ") for m in logged)


CRASHING = [
    "-c",
    "import sys; print('x' * 100_000, file=sys.stderr); print('boom: no config', file=sys.stderr); sys.exit(3)",
]


async def test_a_child_that_keeps_crashing_is_given_up_on_with_its_stderr_logged_under_its_name(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcpgate.upstream")
    config = {"mcpServers": {"crashy": {"command": sys.executable, "args": CRASHING}, "ok": stdio_echo()}}
    async with running_gateway(config, backoff=Backoff(first=0.01, maximum=0.05, attempts=4)) as gateway:
        crashy = gateway.hub.upstreams["crashy"]
        await wait_until(lambda: crashy.status.state is UpstreamState.FAILED)
        report = crashy.status.as_dict()
        assert report["state"] == "failed" and (report["restarts"], report["failures"]) == (3, 4)
        assert "gave up after 4 attempts" in report["error"]
        assert "upstream 'crashy' is unavailable (failed:" in crashy.unavailable().message
        assert gateway.hub.upstreams["ok"].is_ready
    logged = messages(caplog)
    assert logged.count("upstream crashy: boom: no config") == 4
    # A huge line is logged cut, saying how much was left out.
    cut = [m for m in logged if m.startswith("upstream crashy: xxx")]
    assert len(cut) == 4 and all(len(m) < 2100 and m.endswith("more bytes)") for m in cut)


async def test_an_unreachable_external_server_is_named_by_its_server_and_name_not_by_an_id(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="mcpgate")
    config = {
        "timeouts": {"connect": 2},
        "mcpServers": {"ok": stdio_echo()},
        "servers": [{"name": "support", "externalMcpConfigs": [{"name": "docs", "url": "http://127.0.0.1:9/mcp"}]}],
    }
    async with running_gateway(config) as gateway:
        server_id = next(iter(gateway.hub.servers))
        docs = gateway.hub.externals[f"{server_id}/docs"]
        await wait_until(lambda: docs.status.state is UpstreamState.DOWN)
        assert "upstream 'support/docs' is unavailable" in docs.unavailable().message
    reached = [m for m in messages(caplog) if "cannot reach" in m]
    assert reached and all(m.startswith("upstream support/docs: cannot reach") for m in reached)
    assert not [m for m in messages(caplog) if server_id in m]
