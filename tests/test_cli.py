"""The command line as a user runs it: real processes, real ports."""

from __future__ import annotations

import asyncio
import json
import re
import socket
import subprocess
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import anyio
import httpx
import mcp
import pytest
from anyio.abc import Process
from anyio.streams.text import TextReceiveStream

from tests.conftest import ECHO_SERVER

pytestmark = pytest.mark.anyio

MCPGATE = [sys.executable, "-m", "mcpgate"]
_LISTENING = re.compile(r"Uvicorn running on http://127\.0\.0\.1:(\d+)")


@asynccontextmanager
async def mcpgate(
    *args: str, env: dict[str, str] | None = None, command: Sequence[str] = MCPGATE
) -> AsyncIterator[str]:
    """Run `mcpgate <args> --port 0` and yield its base URL once it listens."""
    process: Process = await anyio.open_process([*command, *args], stderr=subprocess.PIPE, env=env)
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


def test_a_port_in_use_is_one_line_naming_it_and_exit_status_1():
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        for command in (["serve"], ["wrap", "--", sys.executable, "-m", "mcpgate.demo_server"]):
            result = _run(*command[:1], "--port", str(port), *command[1:])
            assert result.returncode == 1
            assert result.stderr.splitlines() == [
                f"mcpgate: error: cannot listen on 127.0.0.1:{port}: address already in use; "
                "stop what uses it or choose another --port"
            ]


def test_an_unknown_log_level_is_one_line_naming_it_and_exit_status_2(tmp_path):
    result = _run("serve", "--log-level", "bogus")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mcpgate: error: unknown log level 'bogus'; use one of critical, error, warning, info, debug, trace"
    ]
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"logLevel": "loud"}))
    result = _run("wrap", "--config", str(config), "--", sys.executable, "-m", "mcpgate.demo_server")
    assert result.returncode == 2 and result.stderr.splitlines() == [
        "mcpgate: error: unknown log level 'loud'; use one of critical, error, warning, info, debug, trace"
    ]


def test_wrap_of_a_command_that_cannot_run_is_one_line_naming_it_and_exit_status_2(tmp_path):
    result = _run("wrap", "--", "no-such-command-for-mcpgate")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mcpgate: error: mcpgate wrap: command not found: 'no-such-command-for-mcpgate' is not on the PATH"
    ]
    script = tmp_path / "server.sh"
    script.write_text("#!/bin/sh\n")  # not executable
    result = _run("wrap", "--", str(script))
    assert result.returncode == 2 and result.stderr.splitlines() == [
        f"mcpgate: error: mcpgate wrap: command {str(script)!r} is not executable"
    ]


async def test_wrap_takes_its_key_and_settings_from_a_config_file(tmp_path):
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"api_key": "wrap-key-0123456789", "edge": {"maxConnections": 50}}))
    demo = (sys.executable, "-m", "mcpgate.demo_server")
    async with mcpgate("wrap", "--config", str(config), "--port", "0", "--", *demo) as url:
        async with httpx.AsyncClient(base_url=url, timeout=10) as http:
            assert (await http.get("/tools")).status_code == 401
            assert (await http.get("/health")).status_code == 200
            answer = await http.get("/tools", headers={"Authorization": "Bearer wrap-key-0123456789"})
            assert answer.status_code == 200
            assert {"echo", "current_time", "calculate"} <= {tool["name"] for tool in answer.json()["tools"]}


def test_wrap_refuses_a_config_file_with_upstreams_of_its_own(tmp_path):
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"mcpServers": {"other": {"command": "other-server"}}}))
    result = _run("wrap", "--config", str(config), "--", sys.executable, "-m", "mcpgate.demo_server")
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        f"mcpgate: error: {config} declares upstreams ('other'), but `mcpgate wrap` serves only the command "
        "after `--`; use `mcpgate serve --config` for several"
    ]


# `mcpgate` in a process whose open-file limit is 256, soft and hard: it cannot raise it.
_AT_256_FILES = [
    sys.executable,
    "-c",
    "import resource, runpy, sys; resource.setrlimit(resource.RLIMIT_NOFILE, (256, 256)); "
    "sys.argv[0] = 'mcpgate'; runpy.run_module('mcpgate', run_name='__main__')",
]


async def test_at_the_open_file_limit_health_still_answers(tmp_path):
    """More stalled half-requests than the process has files: the connection cap (derived from the
    limit) keeps the accept loop clear of EMFILE, and newcomers take the stalled ones' places."""
    config = tmp_path / "gateway.json"
    config.write_text(json.dumps({"mcpServers": {}, "database_url": "sqlite+aiosqlite://"}))
    async with mcpgate("serve", "--config", str(config), "--port", "0", command=_AT_256_FILES) as url:
        port = int(url.rsplit(":", 1)[1])
        stalled = []
        try:
            with anyio.fail_after(30):
                for _ in range(300):
                    _, writer = await asyncio.open_connection("127.0.0.1", port)
                    writer.write(b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n")
                    stalled.append(writer)
            async with httpx.AsyncClient(base_url=url, timeout=5) as http:
                for _ in range(3):
                    assert (await http.get("/health")).status_code == 200
        finally:
            for writer in stalled:
                writer.close()


def test_workers_without_redis_are_refused_in_one_line():
    """`serve --workers N` shares sessions and changes through Redis: without one it does not start."""
    result = _run("serve", "--port", "0", "--workers", "2")
    assert result.returncode == 2
    assert result.stderr.strip() == (
        "mcpgate: error: --workers 2 needs Redis, through which workers share sessions and changes: "
        "set MCPGATE_REDIS_URL (or `redis:` in the config file), or run one process"
    )
    assert _run("serve", "--port", "0", "--workers", "0").stderr.strip() == (
        "mcpgate: error: --workers must be 1 or more, not 0"
    )
