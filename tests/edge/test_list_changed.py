"""An upstream's tools/list_changed reaches connected sessions, and the merged list is refreshed."""

from __future__ import annotations

import anyio
import mcp_types as types
import pytest

from tests.conftest import stdio_echo

pytestmark = pytest.mark.anyio


@pytest.mark.parametrize("transport", ["sse", "streamable_http"])
async def test_upstream_list_changed_reaches_other_sessions_and_refreshes_the_list(gateway_factory, transport):
    async with gateway_factory({"mcpServers": {"e": stdio_echo()}}) as gateway:
        announced = anyio.Event()

        async def on_message(message) -> None:
            if isinstance(message, types.ToolListChangedNotification):
                announced.set()

        async with (
            gateway.client(transport, message_handler=on_message) as watcher,
            gateway.client(transport) as actor,
        ):
            assert "e_added" not in {t.name for t in (await watcher.list_tools()).tools}
            assert (await actor.call_tool("e_grow", {"name": "added"})).content[0].text == "added added"
            with anyio.fail_after(10):
                await announced.wait()
            assert "e_added" in {t.name for t in (await watcher.list_tools()).tools}
            assert (await watcher.call_tool("e_added", {"text": "new"})).content[0].text == "new"
