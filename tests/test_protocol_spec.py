"""The gateway's own copies of protocol constants and helpers (mcpgate.protocol.spec) are the SDK's,
and the gateway's process runs without importing the SDK, numpy or Alembic (issue #9: start-up
time and idle memory; docs/benchmarks.md), nor OpenTelemetry unless tracing is on (#27)."""

from __future__ import annotations

import subprocess
import sys

import mcp.shared.inbound as inbound
import mcp.shared.uri_template as sdk_uri_template
import mcp_types
import mcp_types.methods
import mcp_types.version
import pytest

from mcpgate.protocol import param_headers, spec, uri_templates


def test_versions_meta_keys_and_methods_are_the_sdks() -> None:
    assert spec.KNOWN_PROTOCOL_VERSIONS == mcp_types.version.KNOWN_PROTOCOL_VERSIONS
    assert spec.HANDSHAKE_PROTOCOL_VERSIONS == mcp_types.version.HANDSHAKE_PROTOCOL_VERSIONS
    assert spec.MODERN_PROTOCOL_VERSIONS == mcp_types.version.MODERN_PROTOCOL_VERSIONS
    assert spec.LATEST_HANDSHAKE_VERSION == mcp_types.version.LATEST_HANDSHAKE_VERSION
    for key in (
        "PROTOCOL_VERSION_META_KEY",
        "CLIENT_INFO_META_KEY",
        "CLIENT_CAPABILITIES_META_KEY",
        "LOG_LEVEL_META_KEY",
        "SERVER_INFO_META_KEY",
    ):
        assert getattr(spec, key) == getattr(mcp_types, key), key
    assert spec.CACHEABLE_METHODS == mcp_types.methods.CACHEABLE_METHODS
    assert spec.MCP_METHOD_HEADER == inbound.MCP_METHOD_HEADER
    assert spec.MCP_NAME_HEADER == inbound.MCP_NAME_HEADER
    assert dict(spec.NAME_BEARING_METHODS) == dict(inbound.NAME_BEARING_METHODS)


@pytest.mark.parametrize(
    "value",
    ["get_weather", "file:///a b.txt", " padded", "tab\there", "naïve", "日本", "=?base64?abc?=", "", "a" * 300]
    + ["\x7f"],
)
def test_header_values_are_encoded_as_the_sdk_does(value: str) -> None:
    assert spec.encode_header_value(value) == inbound.encode_header_value(value)
    assert inbound.decode_header_value(spec.encode_header_value(value)) == value


ANNOTATED = {
    "type": "object",
    "properties": {
        "region": {"type": "string", "x-mcp-header": "Region"},
        "options": {"type": "object", "properties": {"dry": {"type": "boolean", "x-mcp-header": "Dry-Run"}}},
        "count": {"type": "integer"},
    },
}


@pytest.mark.parametrize(
    ("schema", "arguments"),
    [
        (ANNOTATED, {"region": "eu-west", "options": {"dry": True}, "count": 2}),
        (ANNOTATED, {"region": "zürich"}),
        (ANNOTATED, {"options": "not an object"}),
        ({"type": "object", "properties": {"n": {"type": "number", "x-mcp-header": "N"}}}, {"n": 1.5}),  # invalid
        ({"type": "object", "properties": {"q": {"type": "string"}}}, {"q": "plain"}),
        (None, {"q": 1}),
    ],
)
def test_param_headers_are_the_sdks(schema: object, arguments: dict[str, object]) -> None:
    valid = inbound.find_invalid_x_mcp_header(schema) is None
    expected = inbound.mcp_param_headers(inbound.x_mcp_header_map(schema), arguments) if valid else {}
    assert param_headers.param_headers(schema, arguments) == expected


def test_uri_templates_run_the_sdks_code() -> None:
    # With the SDK imported (as here) the gateway uses its module as is; in the gateway's own
    # process it loads the same file by itself (checked below).
    assert uri_templates.UriTemplate is sdk_uri_template.UriTemplate
    assert uri_templates.UriTemplate.parse("weather://{city}/now").match("weather://Oslo/now") == {"city": "Oslo"}


def test_the_gateway_starts_without_the_sdk_numpy_alembic_or_the_web_ui() -> None:
    probe = (
        "import sys, mcpgate.cli, mcpgate.app\n"
        "from mcpgate.protocol.uri_templates import UriTemplate\n"
        "assert UriTemplate.parse('weather://{city}/now').match('weather://Oslo/now') == {'city': 'Oslo'}\n"
        "heavy = ['mcp', 'mcp_types', 'numpy', 'bm25s', 'alembic', 'httpx', 'cryptography', 'asyncpg', 'redis',\n"
        "         'aiohttp', 'jsonschema', 'yaml', 'Stemmer', 'opentelemetry', 'google.protobuf', 'jinja2',\n"
        "         'onnxruntime', 'tokenizers']\n"
        "print(sorted(name for name in heavy if name in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr
