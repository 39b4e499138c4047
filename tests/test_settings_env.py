"""Which environment variables configure the gateway: MCPGATE_* (nested with `__`) and MCP_API_KEY,
nothing else — a LOG_LEVEL or PAGE_SIZE set for another program must not change mcpgate."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from mcpgate.config import settings_from_mapping
from mcpgate.errors import ConfigError
from mcpgate.settings import GatewaySettings


@pytest.fixture(autouse=True)
def _no_mcpgate_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts from an environment without the gateway's variables (but the data dir)."""
    for name in os.environ:
        upper = name.upper()
        if (upper.startswith("MCPGATE_") and upper != "MCPGATE_DATA_DIR") or upper == "MCP_API_KEY":
            monkeypatch.delenv(name)


def test_unprefixed_variables_named_like_settings_change_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    stray = {
        "LOG_LEVEL": "debug",
        "LOGLEVEL": "debug",
        "PAGE_SIZE": "7",
        "PAGESIZE": "7",
        "API_KEY": "not-ours",
        "PORT": "9999",
        "EDGE__MAX_CONNECTIONS": "3",
        "RATE_LIMITS": '{"perKey": "1/second"}',
        "RATE_LIMITS__PER_KEY": "1/second",
        "NAME_SEPARATOR": ".",
    }
    for name, value in stray.items():
        monkeypatch.setenv(name, value)
    settings = GatewaySettings()
    assert settings.log_level == "info"
    assert settings.page_size == 500
    assert settings.api_key is None
    assert settings.port == 8080
    assert settings.edge.max_connections is None
    assert settings.rate_limits.per_key is None
    assert settings.name_separator == "_"


def test_prefixed_variables_set_top_level_and_nested_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPGATE_LOG_LEVEL", "debug")
    monkeypatch.setenv("MCPGATE_PAGE_SIZE", "7")
    monkeypatch.setenv("MCPGATE_EDGE__MAX_CONNECTIONS", "3")
    monkeypatch.setenv("MCPGATE_EDGE__BODY_TIMEOUT_SECONDS", "12.5")
    monkeypatch.setenv("MCPGATE_RATE_LIMITS__PER_KEY", "10/second")
    monkeypatch.setenv("MCPGATE_TIMEOUTS", '{"call": 9, "pingInterval": 0}')
    settings = GatewaySettings()
    assert settings.log_level == "debug"
    assert settings.page_size == 7
    assert settings.edge.max_connections == 3
    assert settings.edge.body_timeout_seconds == 12.5
    assert settings.rate_limits.per_key == "10/second"
    assert settings.timeouts.call == 9 and settings.timeouts.ping_interval == 0


@pytest.mark.parametrize(
    ("environment", "key"),
    [
        ({"MCPGATE_API_KEY": "gate"}, "gate"),
        ({"MCP_API_KEY": "mcp"}, "mcp"),
        ({"MCPGATE_API_KEY": "gate", "MCP_API_KEY": "mcp"}, "gate"),
    ],
)
def test_the_key_comes_from_mcpgate_api_key_or_mcp_api_key(
    monkeypatch: pytest.MonkeyPatch, environment: dict[str, str], key: str
) -> None:
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    settings = GatewaySettings()
    assert settings.api_key is not None and settings.api_key.get_secret_value() == key


def test_a_config_file_takes_both_spellings_and_wins_over_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MCPGATE_PAGE_SIZE", "7")
    monkeypatch.setenv("MCPGATE_LOG_LEVEL", "error")
    monkeypatch.setenv("MCP_API_KEY", "from-the-environment")
    settings = settings_from_mapping(
        {
            "pageSize": 3,
            "log_level": "debug",
            "api_key": "from-the-file",
            "edge": {"maxConnections": 4, "body_timeout_seconds": 2},
            "rateLimits": {"perKey": "5/second"},
        }
    )
    assert settings.page_size == 3
    assert settings.log_level == "debug"
    assert settings.api_key is not None and settings.api_key.get_secret_value() == "from-the-file"
    assert settings.edge.max_connections == 4 and settings.edge.body_timeout_seconds == 2
    assert settings.rate_limits.per_key == "5/second"


@pytest.mark.parametrize(
    ("name", "value", "error"),
    [
        ("MCPGATE_EDGE", "{bad", "environment variable MCPGATE_EDGE: not valid JSON (Expecting property name"),
        ("MCPGATE_EDGE__ALLOWED_HOSTS", "[bad", "environment variable MCPGATE_EDGE__ALLOWED_HOSTS: not valid JSON"),
        ("MCPGATE_RATELIMITS", "{", "environment variable MCPGATE_RATELIMITS: not valid JSON"),
        (
            "MCPGATE_EDGE__MAX_CONNECTIONS",
            "many",
            "environment variable MCPGATE_EDGE__MAX_CONNECTIONS: edge.max_connections:",
        ),
        ("MCPGATE_PORT", "http", "environment variable MCPGATE_PORT: port: Input should be a valid integer"),
    ],
)
def test_a_variable_that_cannot_be_used_is_a_config_error_naming_it(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, error: str
) -> None:
    monkeypatch.setenv("MCPGATE_EDGE__RESPONSE_MODE", "json")  # a good neighbour is not blamed
    monkeypatch.setenv(name, value)
    with pytest.raises(ConfigError) as refused:
        settings_from_mapping({}, source="embedded default")
    assert str(refused.value).startswith(error), str(refused.value)
    assert "embedded default" not in str(refused.value)  # the value did not come from there


def test_mcpgate_serve_with_a_broken_variable_says_so_in_one_line() -> None:
    environment = {name: value for name, value in os.environ.items() if not name.upper().startswith("MCPGATE_")}
    environment |= {"MCPGATE_DATA_DIR": os.environ["MCPGATE_DATA_DIR"], "MCPGATE_EDGE": "{bad"}
    result = subprocess.run(
        [sys.executable, "-m", "mcpgate", "serve", "--port", "0"],
        env=environment,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.splitlines() == [
        "mcpgate: error: environment variable MCPGATE_EDGE: not valid JSON "
        "(Expecting property name enclosed in double quotes: line 1 column 2 (char 1))"
    ]


def test_the_public_url_is_read_from_the_file_and_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    assert settings_from_mapping({"publicUrl": "https://gw.example.com/mcp-gw"}, "t").public_url == (
        "https://gw.example.com/mcp-gw"
    )
    monkeypatch.setenv("MCPGATE_PUBLIC_URL", "https://env.example.com")
    assert GatewaySettings().public_url == "https://env.example.com"
    with pytest.raises(ConfigError, match="publicUrl: must be an http"):
        settings_from_mapping({"publicUrl": "ftp://gw.example.com"}, "t")
