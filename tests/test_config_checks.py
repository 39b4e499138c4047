"""A config file is held to the same checks as the management API: a NUL, a URL no HTTP client
can use or a header that would split a request is refused at load, naming the field."""

from __future__ import annotations

import pytest

from mcpgate.config import settings_from_mapping
from mcpgate.errors import ConfigError


@pytest.mark.parametrize(
    ("server", "reason"),
    [
        ({"type": "openapi", "spec": "docs/a\x00b.yaml"}, "NUL"),
        ({"type": "collection", "location": "a\x00b"}, "NUL"),
        ({"command": "python", "args": ["-c", "x\x00"]}, "NUL"),
        ({"url": "http://[bad/mcp"}, "not a valid URL"),
        ({"url": "http://host:abc/mcp"}, "not a valid URL"),
        ({"url": f"http://{'a' * 64}.example/mcp"}, "is not valid"),
        ({"url": "http://host/mcp", "headers": {"X-Evil": "a\r\nX-Injected: 1"}}, "line break"),
        ({"url": "http://host/mcp", "headers": {"Bad Name": "x"}}, "headers"),
        ({"type": "openapi", "spec": "http://[bad/spec.json"}, "not a valid URL"),
    ],
)
def test_a_config_file_value_that_cannot_work_is_refused_naming_it(server: dict, reason: str) -> None:
    with pytest.raises(ConfigError, match=reason) as refused:
        settings_from_mapping({"mcpServers": {"bad": server}}, "gateway.yaml")
    assert "gateway.yaml" in str(refused.value) and "bad" in str(refused.value)


def test_an_external_server_of_a_virtual_server_is_checked_too() -> None:
    external = {"name": "wiki", "url": "http://wiki.example/mcp", "headers": {"x-api-key": "a\nb"}}
    with pytest.raises(ConfigError, match="line break"):
        settings_from_mapping({"servers": [{"name": "s", "externalMcpConfigs": [external]}]}, "gateway.yaml")


def test_good_values_still_load() -> None:
    settings = settings_from_mapping(
        {
            "mcpServers": {
                "web": {"url": "https://example.com:8443/mcp", "headers": {"Authorization": "Bearer\tx"}},
                "pets": {"type": "openapi", "spec": "docs/pets.yaml", "baseUrl": "https://api.example.com"},
            }
        },
        "gateway.yaml",
    )
    assert [upstream.name for upstream in settings.upstreams] == ["web", "pets"]
