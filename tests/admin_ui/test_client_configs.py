"""The client configurations the server page offers: valid JSON in each client's own shape, the
server's URL, a placeholder where the key goes (never a key), and no header when none is needed."""

from __future__ import annotations

import json
import shlex

from mcpgate.admin_ui.client_configs import (
    API_KEY_PLACEHOLDER,
    ClientConfig,
    client_configs,
    example_arguments,
    rest_base,
)

BASE = "https://gw.example.com/servers/support"
ENDPOINTS = {
    "mcp": f"{BASE}/mcp",
    "sse": f"{BASE}/sse",
    "messages": f"{BASE}/messages",
    "api": "https://gw.example.com/api/v1/mcp/0f0e",
}


def by_title(configs: list[ClientConfig]) -> dict[str, ClientConfig]:
    return {config.title: config for config in configs}


def commands(text: str) -> list[list[str]]:
    """Each command of a shell text as the shell splits it (continued lines joined, comments left out)."""
    lines = text.replace("\\\n", "").splitlines()
    return [shlex.split(line) for line in lines if line.strip() and not line.startswith("#")]


def test_every_client_is_offered_in_order_with_a_distinct_id() -> None:
    configs = client_configs("support", ENDPOINTS, needs_key=True)
    assert [c.title for c in configs] == ["Claude Desktop", "Cursor", "VS Code", "mcp-remote", "curl (REST)"]
    assert [c.slug for c in configs] == ["claude-desktop", "cursor", "vs-code", "mcp-remote", "curl-rest"]
    assert all(c.filename_hint for c in configs)


def test_claude_desktop_starts_mcp_remote_with_the_key_from_its_environment() -> None:
    config = by_title(client_configs("support", ENDPOINTS, needs_key=True))["Claude Desktop"]
    entry = json.loads(config.text)["mcpServers"]["support"]
    assert entry["command"] == "npx"
    assert entry["args"] == ["-y", "mcp-remote", ENDPOINTS["mcp"], "--header", "Authorization:${AUTH_HEADER}"]
    assert not any(" " in arg for arg in entry["args"])  # some clients split arguments on spaces
    assert entry["env"] == {"AUTH_HEADER": f"Bearer {API_KEY_PLACEHOLDER}"}
    assert "claude_desktop_config.json" in config.filename_hint


def test_cursor_connects_to_the_url_with_the_key_in_a_header() -> None:
    config = by_title(client_configs("support", ENDPOINTS, needs_key=True))["Cursor"]
    document = json.loads(config.text)
    assert document == {
        "mcpServers": {
            "support": {"url": ENDPOINTS["mcp"], "headers": {"Authorization": f"Bearer {API_KEY_PLACEHOLDER}"}}
        }
    }
    assert "~/.cursor/mcp.json" in config.filename_hint


def test_vscode_prompts_for_the_key_as_a_secret_input() -> None:
    config = by_title(client_configs("support", ENDPOINTS, needs_key=True))["VS Code"]
    document = json.loads(config.text)
    [prompt] = document["inputs"]
    assert prompt["type"] == "promptString" and prompt["password"] is True
    server = document["servers"]["support"]
    assert server == {
        "type": "http",
        "url": ENDPOINTS["mcp"],
        "headers": {"Authorization": f"Bearer ${{input:{prompt['id']}}}"},
    }
    assert ".vscode/mcp.json" in config.filename_hint


def test_the_command_lines_parse_as_shell_words() -> None:
    configs = by_title(client_configs("support", ENDPOINTS, needs_key=True, example_tool="demo_echo"))
    assert commands(configs["mcp-remote"].text) == [
        [
            "npx",
            "-y",
            "mcp-remote",
            ENDPOINTS["mcp"],
            "--header",
            f"Authorization: Bearer {API_KEY_PLACEHOLDER}",
        ]
    ]
    listing, call = commands(configs["curl (REST)"].text)
    assert listing == ["curl", "-s", f"{BASE}/tools", "-H", f"Authorization: Bearer {API_KEY_PLACEHOLDER}"]
    assert call[:4] == ["curl", "-s", "-X", "POST"] and call[4] == f"{BASE}/call-tool"
    assert json.loads(call[call.index("-d") + 1]) == {"name": "demo_echo", "arguments": {}}


def test_without_a_key_no_client_sends_a_header() -> None:
    configs = by_title(client_configs("support", ENDPOINTS, needs_key=False))
    assert json.loads(configs["Cursor"].text) == {"mcpServers": {"support": {"url": ENDPOINTS["mcp"]}}}
    assert json.loads(configs["VS Code"].text) == {"servers": {"support": {"type": "http", "url": ENDPOINTS["mcp"]}}}
    claude = json.loads(configs["Claude Desktop"].text)["mcpServers"]["support"]
    assert claude == {"command": "npx", "args": ["-y", "mcp-remote", ENDPOINTS["mcp"]]}
    for config in configs.values():
        assert "Authorization" not in config.text and API_KEY_PLACEHOLDER not in config.text


def test_mcp_remote_is_allowed_plain_http_only_beyond_loopback() -> None:
    local = {"mcp": "http://127.0.0.1:8080/servers/s/mcp"}
    lan = {"mcp": "http://gateway.lan:8080/servers/s/mcp"}
    for endpoints, flagged in ((local, False), (lan, True)):
        configs = by_title(client_configs("s", endpoints, needs_key=True))
        args = json.loads(configs["Claude Desktop"].text)["mcpServers"]["s"]["args"]
        assert ("--allow-http" in args) is flagged
        assert ("--allow-http" in commands(configs["mcp-remote"].text)[0]) is flagged


def test_a_server_name_starting_with_a_digit_gets_an_entry_name_starting_with_a_letter() -> None:
    configs = by_title(client_configs("7eleven", ENDPOINTS, needs_key=False))
    assert list(json.loads(configs["VS Code"].text)["servers"]) == ["mcpgate-7eleven"]


def test_the_curl_example_calls_a_tool_with_placeholder_arguments() -> None:
    schema = {
        "type": "object",
        "properties": {
            "text": {"type": "string"},
            "count": {"type": "integer"},
            "unit": {"enum": ["m", "km"]},
            "optional": {"type": "string"},
        },
        "required": ["text", "count", "unit"],
    }
    arguments = example_arguments(schema)
    assert arguments == {"text": "<text>", "count": 0, "unit": "m"}
    text = by_title(client_configs("s", ENDPOINTS, True, example_tool="x_y", example_arguments=arguments))[
        "curl (REST)"
    ]
    _, call = commands(text.text)
    assert json.loads(call[call.index("-d") + 1]) == {"name": "x_y", "arguments": arguments}


def test_the_rest_face_is_the_endpoint_without_mcp() -> None:
    assert rest_base("http://h/servers/a/mcp") == "http://h/servers/a"
    assert rest_base("http://h/api/v1/mcp/abc/mcp/") == "http://h/api/v1/mcp/abc"
