"""The command line as a user runs it: real processes, real ports."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import mcp
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from tests.conftest import ECHO_SERVER

pytestmark = pytest.mark.anyio

MCPGATE = [sys.executable, "-m", "mcpgate"]
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@asynccontextmanager
async def mcpgate(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[str]:
    """Run `mcpgate <args> --port 0` and yield its base URL once it listens."""
    process: Process = await anyio.open_process([*MCPGATE, *args], stderr=subprocess.PIPE, env=env)
    try:
        seen = ""
        with anyio.fail_after(30):
            async for chunk in TextReceiveStream(process.stderr):
                seen += chunk
                if match := _LISTENING.search(seen):
                    break
            else:
                raise AssertionError(f"mcpgate exited before listening:\n{seen}")
        yield f"http://127.0.0.1:{match.group(1)}"
    finally:
        process.terminate()
        with anyio.fail_after(10):
            await process.aclose()  # waits for the exit and closes the pipes


async def test_serve_without_config_runs_the_bundled_demo():
    async with mcpgate("serve", "--port", "0") as url, mcp.Client(f"{url}/mcp", mode="legacy") as client:
        names = {tool.name for tool in (await client.list_tools()).tools}
        assert {"demo_echo", "demo_current_time", "demo_calculate"} <= names
        assert (await client.call_tool("demo_echo", {"text": "hello"})).content[0].text == "hello"
        product = await client.call_tool("demo_calculate", {"operation": "multiply", "a": 6, "b": 7})
        assert product.content[0].text == "42"
        now = await client.call_tool("demo_current_time", {"timezone": "Europe/Paris"})
        assert re.match(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+0[12]:00", now.content[0].text)
        bad_zone = await client.call_tool("demo_current_time", {"timezone": "Mars/Olympus"})
        assert bad_zone.is_error and "unknown time zone" in bad_zone.content[0].text


async def test_wrap_exposes_one_stdio_server_unprefixed():
    async with mcpgate("wrap", "--port", "0", "--", sys.executable, ECHO_SERVER, "--stdio") as url:
        async with mcp.Client(f"{url}/mcp", mode="legacy") as client:
            names = {tool.name for tool in (await client.list_tools()).tools}
            assert {"echo", "add", "whoami"} <= names
            assert (await client.call_tool("add", {"a": 1, "b": 2})).structured_content == {"result": 3}


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*MCPGATE, *args], capture_output=True, text=True, timeout=60)


def test_colliding_tool_names_stop_start_up_with_both_upstreams_named(tmp_path):
    echo = {"command": sys.executable, "args": [ECHO_SERVER, "--stdio"], "prefix": False}
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"mcpServers": {"first": echo, "second": echo}}))
    result = _run("serve", "--config", str(config), "--port", "0")
    assert result.returncode == 2
    assert "mcpgate: error: upstreams 'first' and 'second' both expose tool names 'echo', 'whoami'" in result.stderr
    assert "Traceback" not in result.stderr


def test_bad_config_and_missing_wrap_command_exit_2_with_one_line():
    result = _run("serve", "--config", "/nonexistent/gateway.yaml")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mcpgate: error: cannot read config file /nonexistent/gateway.yaml: No such file or directory"
    )
    result = _run("wrap", "--port", "0")
    assert result.returncode == 2 and "needs the server's command after `--`" in result.stderr
