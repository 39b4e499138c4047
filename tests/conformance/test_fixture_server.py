"""Smoke tests of the fixture server itself with the Python SDK client, over stdio and Streamable HTTP.

No Node needed: these make sure the fixture (the thing the gateway will front) works
on both transports before the conformance suite is pointed at it.
"""

from __future__ import annotations

import sys

import anyio
import mcp_types as types
import pytest
from mcp import Client, StdioServerParameters

from .fixture_server import TOOLS
from .harness import FIXTURE_SERVER, fixture_http_server

EXPECTED_TOOLS = {
    "test_simple_text",
    "test_image_content",
    "test_audio_content",
    "test_embedded_resource",
    "test_multiple_content_types",
    "test_tool_with_logging",
    "test_tool_with_progress",
    "test_error_handling",
    "test_sampling",
    "test_elicitation",
    "test_elicitation_sep1034_defaults",
    "test_elicitation_sep1330_enums",
    "json_schema_2020_12_tool",
    "test_reconnection",
}


async def _exercise(client: Client) -> None:
    tools = {t.name: t for t in (await client.list_tools()).tools}
    assert EXPECTED_TOOLS <= set(tools)
    assert tools["json_schema_2020_12_tool"].input_schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"

    result = await client.call_tool("test_simple_text", {})
    assert result.content[0].text == "This is a simple text response for testing."

    err = await client.call_tool("test_error_handling", {})
    assert err.is_error is True

    progress: list[float] = []

    async def on_progress(value: float, total: float | None, message: str | None) -> None:
        progress.append(value)

    await client.call_tool("test_tool_with_progress", {}, progress_callback=on_progress)
    assert progress == [0, 50, 100]

    text = await client.read_resource("test://static-text")
    assert text.contents[0].text == "This is the content of the static text resource."
    templ = await client.read_resource("test://template/123/data")
    assert '"id":"123"' in templ.contents[0].text

    prompt = await client.get_prompt("test_prompt_with_arguments", {"arg1": "hello", "arg2": "world"})
    assert prompt.messages[0].content.text == "Prompt with arguments: arg1='hello', arg2='world'"

    completion = await client.complete(
        types.PromptReference(type="ref/prompt", name="test_prompt_with_arguments"), {"name": "arg1", "value": "par"}
    )
    assert completion.completion.values == ["paris", "park", "party"]


async def _sampling(ctx, params: types.CreateMessageRequestParams) -> types.CreateMessageResult:
    return types.CreateMessageResult(
        role="assistant", content=types.TextContent(type="text", text="pong"), model="test-model"
    )


@pytest.mark.timeout(60)
def test_fixture_over_stdio():
    params = StdioServerParameters(command=sys.executable, args=[str(FIXTURE_SERVER), "--stdio"])

    async def main() -> None:
        async with Client(params, mode="legacy", sampling_callback=_sampling) as client:
            await _exercise(client)
            sampled = await client.call_tool("test_sampling", {"prompt": "ping"})
            assert sampled.content[0].text == "LLM response: pong"

    anyio.run(main)


@pytest.mark.timeout(60)
def test_fixture_over_streamable_http():
    async def main(url: str) -> None:
        async with Client(url, mode="legacy", sampling_callback=_sampling) as client:
            await _exercise(client)
            sampled = await client.call_tool("test_sampling", {"prompt": "ping"})
            assert sampled.content[0].text == "LLM response: pong"

    with fixture_http_server() as url:
        anyio.run(main, url)


def test_tool_registry_matches_expectations():
    assert set(TOOLS) == EXPECTED_TOOLS
