"""The Inspector CLI helper, verified against the SDK-built fixture server over SSE, Streamable HTTP and stdio."""

from __future__ import annotations

import socket
import sys

import pytest

from ..conformance.harness import FIXTURE_SERVER, gateway_over_fixture
from ..node_tools import require_node_tools
from .inspector import InspectorCLIError, inspector_cli

pytestmark = pytest.mark.node


@pytest.fixture(autouse=True)
def _node_tools() -> None:
    require_node_tools()  # skipped without them; under CI=true, failed


def _check_server(url_args: list[str]) -> None:
    tools = inspector_cli([*url_args, "--method", "tools/list"])["result"]["tools"]
    assert "test_simple_text" in {t["name"] for t in tools}

    out = inspector_cli([*url_args, "--method", "tools/call", "--tool-name", "test_simple_text"])
    assert out["result"]["content"][0]["text"] == "This is a simple text response for testing."

    out = inspector_cli(
        [*url_args, "--method", "tools/call", "--tool-name", "json_schema_2020_12_tool", "--tool-arg", "name=bob"]
    )
    assert out["result"]["content"][0]["text"] == 'Received: {"name": "bob"}'

    out = inspector_cli(
        [
            *url_args,
            "--method",
            "tools/call",
            "--tool-name",
            "json_schema_2020_12_tool",
            "--tool-args-json",
            '{"name": "x", "address": {"city": "Paris"}}',
        ]
    )
    assert out["result"]["isError"] is False

    with pytest.raises(InspectorCLIError) as info:
        inspector_cli([*url_args, "--method", "tools/call", "--tool-name", "test_error_handling"])
    assert info.value.exit_code == 5
    assert info.value.error["code"] == "tool_is_error"
    assert info.value.result["isError"] is True

    missing = inspector_cli([*url_args, "--method", "tools/call", "--tool-name", "no_such_tool"], check=False)
    assert missing["exit_code"] == 5 and missing["error"]["code"] == "tool_not_found"


@pytest.mark.timeout(120)
def test_inspector_lists_and_calls_tools_through_the_gateway_over_mcp_and_sse():
    with gateway_over_fixture() as url:
        base = url.rsplit("/mcp", 1)[0]
        _check_server([url])  # …/mcp is auto-detected as Streamable HTTP
        _check_server([f"{base}/sse"])  # …/sse is auto-detected as legacy SSE
        _check_server(["--transport", "http", "--server-url", url])


@pytest.mark.timeout(60)
def test_inspector_cli_stdio():
    out = inspector_cli(
        [
            "--method",
            "tools/call",
            "--tool-name",
            "test_simple_text",
            "--",
            sys.executable,
            str(FIXTURE_SERVER),
            "--stdio",
        ]
    )
    assert out["result"]["content"][0]["text"] == "This is a simple text response for testing."


@pytest.mark.timeout(60)
def test_inspector_cli_unreachable():
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(InspectorCLIError) as info:
        inspector_cli([f"http://127.0.0.1:{port}/mcp", "--method", "tools/list"], timeout=30)
    assert info.value.exit_code == 4
    assert info.value.error["code"] == "unreachable"
