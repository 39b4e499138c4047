"""`maxSessionChildren`: a `perSession` stdio upstream starts a child for each client session,
up to the cap for all sessions together; past it a call is refused with a clear error (naming
the upstream and the setting), and a session that ends makes room again."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

REFUSAL = "upstream 'solo' is unavailable: 2 per-session children are running (maxSessionChildren)"


async def pid_of(client: Any) -> str:
    result = await client.call_tool("solo_pid", {})
    assert not result.is_error, result.content[0].text
    return result.content[0].text


async def test_per_session_children_stop_at_the_cap_and_a_session_that_ends_makes_room() -> None:
    config = {"mcpServers": {"solo": stdio_echo("solo", perSession=True)}, "maxSessionChildren": 2}
    async with running_gateway(config) as gateway:
        children = gateway.hub.children.of_sessions
        shared = gateway.hub.upstreams["solo"]
        async with gateway.client("sse") as first:
            async with gateway.client("streamable_http") as second:
                pids = {await pid_of(first), await pid_of(second)}
                assert len(pids) == 2 and len(children) == 2  # a child each
                assert await pid_of(first) in pids  # and the same one on every call of the session
                async with gateway.client("streamable_http") as third:
                    refused = await third.call_tool("solo_pid", {})
                    assert refused.is_error and refused.content[0].text == REFUSAL
                    assert len(children) == 2  # nothing was started for it
                    assert (await third.call_tool("solo_echo", {"text": "still here"})).is_error
            await wait_until(lambda: len(children) == 1)  # the second session ended, and its child with it
            async with gateway.client("streamable_http") as fourth:
                assert await pid_of(fourth) not in pids
                assert len(children) == 2
        assert shared.is_ready  # the shared connection (the catalog's) was never one of them
