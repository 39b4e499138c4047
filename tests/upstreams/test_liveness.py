"""A frozen upstream — a stdio child stopped with SIGSTOP, a remote that stops answering — is
noticed by pings: /health says down, calls fail at once naming it, and it is reconnected
(the child killed and started again)."""

from __future__ import annotations

import os
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress

import anyio
import pytest
from anyio.abc import SocketStream

from mcpgate.upstream.connection import Backoff, UpstreamState
from tests.conftest import DECLARES_EVERYTHING, running_gateway, serve_asgi, stdio_echo, wait_until
from tests.upstreams.echo_server import build_server

pytestmark = pytest.mark.anyio

# Small so the test is quick; the call timeout stays long, so "at once" cannot mean "timed out".
FAST_PINGS = {"pingInterval": 0.3, "ping": 0.4, "missedPings": 2, "call": 60}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


async def test_a_stopped_child_is_noticed_shown_down_failed_fast_killed_and_restarted() -> None:
    config = {"timeouts": FAST_PINGS, "mcpServers": {"frozen": stdio_echo("frozen"), "steady": stdio_echo("steady")}}
    # A client served by the shared child, the one /health reports on.
    async with (
        running_gateway(config, backoff=Backoff(first=0.5)) as gateway,
        gateway.client("sse", **DECLARES_EVERYTHING) as client,
    ):
        frozen = gateway.hub.upstreams["frozen"]
        pid = (await client.call_tool("frozen_pid", {})).structured_content["result"]
        try:
            async with anyio.create_task_group() as tg:
                in_flight: list = []

                async def slow_call() -> None:
                    in_flight.append(await client.call_tool("frozen_wait", {"seconds": 30}))

                tg.start_soon(slow_call)
                await wait_until(lambda: frozen.in_flight > 0)
                os.kill(pid, signal.SIGSTOP)
                await wait_until(lambda: frozen.status.state is UpstreamState.DOWN, timeout=10)
            # The call in flight when it froze ends with the reason, not after its 60 s timeout.
            assert in_flight[0].is_error
            assert "stopped answering pings" in in_flight[0].content[0].text

            async with gateway.http() as http:
                health = (await http.get("/health")).json()
            assert health["upstreams"]["frozen"]["state"] == "down"
            assert "stopped answering pings" in health["upstreams"]["frozen"]["error"]
            assert health["degraded"] == ["frozen"]

            with anyio.fail_after(2):  # at once, far below the call timeout
                result = await client.call_tool("frozen_echo", {"text": "x"})
            assert result.is_error
            assert "upstream 'frozen' is unavailable" in result.content[0].text

            # SIGKILL reached it although it is stopped (SIGTERM would wait for a SIGCONT).
            await wait_until(lambda: not alive(pid), timeout=10)
            await wait_until(lambda: frozen.is_ready, timeout=15)
            assert (await client.call_tool("frozen_pid", {})).structured_content["result"] != pid
            assert (await client.call_tool("frozen_echo", {"text": "back"})).content[0].text == "back"
            assert frozen.status.restarts == 1
        finally:
            with suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        # An upstream that answers its pings is left alone.
        steady = gateway.hub.upstreams["steady"]
        assert steady.is_ready and steady.status.restarts == 0


class Switch:
    on = False


@asynccontextmanager
async def freezable_proxy(target_port: int, frozen: Switch) -> AsyncIterator[int]:
    """A TCP proxy to 127.0.0.1:`target_port` on a port of its own (yielded); while `frozen.on`
    it accepts and reads but forwards nothing, either way: a server that stopped answering."""

    async def pump(source: SocketStream, sink: SocketStream) -> None:
        with suppress(anyio.EndOfStream, anyio.BrokenResourceError, anyio.ClosedResourceError, OSError):
            async for chunk in source:
                if not frozen.on:
                    await sink.send(chunk)

    async def handle(client: SocketStream) -> None:
        async with client, await anyio.connect_tcp("127.0.0.1", target_port) as upstream:
            async with anyio.create_task_group() as tg:
                tg.start_soon(pump, client, upstream)
                await pump(upstream, client)
                tg.cancel_scope.cancel()

    listener = await anyio.create_tcp_listener(local_host="127.0.0.1", local_port=0)
    async with listener, anyio.create_task_group() as tg:
        tg.start_soon(listener.serve, handle)
        yield listener.extra(anyio.abc.SocketAttribute.local_port)
        tg.cancel_scope.cancel()


async def test_a_remote_upstream_that_stops_answering_is_taken_down_and_reconnected() -> None:
    frozen = Switch()
    app = build_server("remote").streamable_http_app()
    async with serve_asgi(app) as upstream_url, freezable_proxy(int(upstream_url.rsplit(":", 1)[1]), frozen) as port:
        config = {
            "timeouts": FAST_PINGS,
            "mcpServers": {"remote": {"type": "streamable_http", "url": f"http://127.0.0.1:{port}/mcp"}},
        }
        # A backoff long enough that the test sees the down window whole.
        async with running_gateway(config, backoff=Backoff(first=2.0)) as gateway:
            # A client that declares everything is served by the shared connection: the one watched here.
            async with gateway.client("streamable_http", **DECLARES_EVERYTHING) as client:
                remote = gateway.hub.upstreams["remote"]
                assert (await client.call_tool("remote_echo", {"text": "up"})).content[0].text == "up"
                frozen.on = True
                await wait_until(lambda: remote.status.state is UpstreamState.DOWN, timeout=10)
                assert "stopped answering pings" in (remote.status.error or "")
                with anyio.fail_after(1):
                    result = await client.call_tool("remote_echo", {"text": "x"})
                assert result.is_error and "upstream 'remote' is unavailable" in result.content[0].text

                frozen.on = False
                await wait_until(lambda: remote.is_ready, timeout=10)
                assert (await client.call_tool("remote_echo", {"text": "back"})).content[0].text == "back"
