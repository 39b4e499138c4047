"""Config files: the Claude Desktop format unchanged, mcpgate's own keys, ${VAR}, and clear errors."""

from __future__ import annotations

import json

import pytest

from mcpgate.config import load_config
from mcpgate.errors import ConfigError
from mcpgate.settings import SSEUpstream, StdioUpstream, StreamableHTTPUpstream

CLAUDE_DESKTOP = {
    "mcpServers": {
        "filesystem": {
            "command": "npx",
            "args": ["-y", "@modelcontextprotocol/server-filesystem", "/tmp"],
            "env": {"DEBUG": "1"},
        },
        "remote-sse": {"url": "https://example.com/sse", "headers": {"Authorization": "Bearer ${TOKEN}"}},
        "remote-http": {"type": "http", "url": "https://example.com/mcp"},
        "off": {"command": "x", "disabled": True},
    }
}


def test_claude_desktop_file_loads_unchanged(tmp_path):
    path = tmp_path / "claude_desktop_config.json"
    path.write_text(json.dumps(CLAUDE_DESKTOP))
    settings = load_config(path, environ={"TOKEN": "s3cret"})
    by_name = {u.name: u for u in settings.upstreams}
    assert isinstance(by_name["filesystem"], StdioUpstream)
    assert by_name["filesystem"].args[-1] == "/tmp" and by_name["filesystem"].env == {"DEBUG": "1"}
    assert isinstance(by_name["remote-sse"], SSEUpstream)
    assert by_name["remote-sse"].headers == {"Authorization": "Bearer s3cret"}
    assert isinstance(by_name["remote-http"], StreamableHTTPUpstream)
    assert by_name["off"].enabled is False
    assert settings.port == 8080 and settings.host == "127.0.0.1"


def test_yaml_with_mcpgate_keys(tmp_path):
    path = tmp_path / "gateway.yaml"
    path.write_text(
        """
host: 0.0.0.0
port: 9000
nameSeparator: "."
timeouts: {call: 12, connect: 5}
edge: {allowedOrigins: ["https://app.example"], responseMode: sse}
mcpServers:
  git:
    command: uvx
    args: [mcp-server-git]
    cwd: /srv
    prefix: false
    timeout: 3
  api:
    url: ${API_URL:-http://127.0.0.1:9/mcp}
    type: streamable-http
    prefix: gh
    enabled: false
"""
    )
    settings = load_config(path, environ={})
    assert (settings.host, settings.port, settings.name_separator) == ("0.0.0.0", 9000, ".")
    assert settings.timeouts.call == 12 and settings.edge.response_mode == "sse"
    git, api = settings.upstreams
    assert git.prefix is False and git.cwd == "/srv" and settings.call_timeout(git) == 3
    assert api.url == "http://127.0.0.1:9/mcp" and api.prefix == "gh" and not api.enabled


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({"mcpServers": {"a": {"url": "${MISSING_VAR}"}}}, "environment variable MISSING_VAR is not set"),
        ({"mcpServers": {"a": {"command": "x", "colour": "red"}}}, "mcpServers.a.colour: Extra inputs"),
        (
            {"mcpServers": {"a": {"args": ["x"]}}},
            "mcpServers.a needs `command` (stdio), `url` (remote), `spec` (an OpenAPI catalog) or `location`",
        ),
        ({"mcpServers": {"a": {"url": "http://x", "type": "carrier-pigeon"}}}, "type 'carrier-pigeon' is unknown"),
        ({"mcpServers": {"bad name!": {"command": "x"}}}, "upstream name 'bad name!'"),
        ({"port": 99999}, "port: Input should be less than or equal to 65535"),
        ({"nameSeparator": "/"}, "nameSeparator: Value error, must use only letters"),
        ({"mcpServers": []}, "mcpServers must be a mapping"),
    ],
)
def test_bad_config_is_one_clear_error(tmp_path, document, message):
    path = tmp_path / "gateway.json"
    path.write_text(json.dumps(document))
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, environ={})
    assert message in str(excinfo.value)
    assert str(path) in str(excinfo.value)


def test_unreadable_and_unparsable_files(tmp_path):
    with pytest.raises(ConfigError, match="cannot read config file"):
        load_config(tmp_path / "absent.yaml")
    broken = tmp_path / "broken.yaml"
    broken.write_text("mcpServers: [unclosed")
    with pytest.raises(ConfigError, match="is not valid YAML"):
        load_config(broken)
