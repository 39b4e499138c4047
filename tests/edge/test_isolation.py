"""Replies reach only the session that asked, under heavy concurrency through one shared stdio child."""

from __future__ import annotations

import anyio
import pytest

from tests.conftest import TRANSPORTS, stdio_echo

pytestmark = pytest.mark.anyio

SESSIONS = 20
CALLS = 50


@pytest.mark.parametrize("transport", TRANSPORTS)
async def test_reply_never_reaches_another_session(gateway_factory, transport):
    misdelivered: list[tuple[int, int, str]] = []
    answered = 0
    async with gateway_factory({"mcpServers": {"shared": stdio_echo()}}) as gateway:
        child_pids: set[int] = set()

        async def one_session(session_no: int) -> None:
            nonlocal answered
            async with gateway.client(transport) as client:
                child_pids.add((await client.call_tool("shared_pid", {})).structured_content["result"])

                async def one_call(call_no: int) -> None:
                    nonlocal answered
                    text = f"session-{session_no}-call-{call_no}"
                    result = await client.call_tool("shared_echo", {"text": text})
                    got = result.content[0].text
                    answered += 1
                    if got != text:
                        misdelivered.append((session_no, call_no, got))

                # Every call of the session in flight at once, interleaved with the other sessions'.
                async with anyio.create_task_group() as calls:
                    for call_no in range(CALLS):
                        calls.start_soon(one_call, call_no)

        with anyio.fail_after(120):
            async with anyio.create_task_group() as sessions:
                for session_no in range(SESSIONS):
                    sessions.start_soon(one_session, session_no)

    assert len(child_pids) == 1, "all sessions must share one stdio child"
    assert answered == SESSIONS * CALLS
    assert misdelivered == [], f"{len(misdelivered)} replies reached the wrong session"
