"""A session's recent answers (kept to answer a resent request once) are let go `seconds` after
they were given, also when the session says nothing more: an idle session keeps none of them."""

from __future__ import annotations

import anyio
import pytest

from mcpgate.hub.session import RecentAnswers
from tests.conftest import running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio


class QuickAnswers(RecentAnswers):
    seconds = 0.2


def request(request_id: int) -> dict[str, object]:
    return {"jsonrpc": "2.0", "id": request_id, "method": "tools/call", "params": {"name": "echo"}}


def answered(answers: RecentAnswers, request_id: int) -> None:
    key = ("int", request_id)
    assert answers.start(key, request(request_id))
    answers.finish(key, {"jsonrpc": "2.0", "id": request_id, "result": {}}, cancelled=False)


async def test_answers_are_let_go_after_their_time_with_no_further_request() -> None:
    answers = QuickAnswers()
    answered(answers, 1)
    await anyio.sleep(0.1)  # the second is given later: it outlives the first
    answered(answers, 2)
    assert answers.earlier(("int", 1), request(1)) is not None
    await wait_until(lambda: answers.earlier(("int", 1), request(1)) is None and len(answers._answered) == 1)
    assert answers.earlier(("int", 2), request(2)) is not None  # still within its own time
    await wait_until(lambda: not answers._answered)
    assert answers._expiry is None  # nothing kept, nothing to wake for


async def test_closing_lets_go_at_once() -> None:
    answers = QuickAnswers()
    answered(answers, 1)
    answers.close()
    assert not answers._answered and answers._expiry is None


async def test_only_tool_calls_are_kept_lists_and_initialize_run_again() -> None:
    """A resent list or initialize does nothing twice: it runs again, and its answer (a tool list may
    be tens of KB) is not kept for every open session."""
    async with running_gateway({"mcpServers": {"echo": stdio_echo()}}) as gateway:
        async with gateway.client("sse") as client:
            await client.list_tools()
            (session,) = gateway.hub.sessions
            assert session.answers is None or not session.answers._answered
            await client.call_tool("echo_echo", {"text": "kept"})
            assert session.answers is not None and len(session.answers._answered) == 1
