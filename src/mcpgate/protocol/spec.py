"""The protocol's names and numbers the gateway needs, as plain values.

The official SDK defines all of these, but importing any part of it (`mcp_types`, `mcp.shared`)
first runs its package `__init__`, which builds every protocol model in pydantic: ~18 MB of
resident memory and ~0.4 s of start-up, for constants. The gateway keeps its own copies and
tests/test_protocol_spec.py welds each one to the SDK's, so an SDK upgrade that changes one fails
the suite instead of drifting. The SDK's `Mcp-Param-*` validation (rare: only tools that annotate
`x-mcp-header`) is still the SDK's, imported when such a tool is first seen (`param_headers.py`).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

# Every released revision, oldest first; those reached by the initialize handshake; the stateless ones.
KNOWN_PROTOCOL_VERSIONS: Final = ("2024-11-05", "2025-03-26", "2025-06-18", "2025-11-25", "2026-07-28")
HANDSHAKE_PROTOCOL_VERSIONS: Final = KNOWN_PROTOCOL_VERSIONS[:4]
MODERN_PROTOCOL_VERSIONS: Final = KNOWN_PROTOCOL_VERSIONS[4:]
LATEST_HANDSHAKE_VERSION: Final = HANDSHAKE_PROTOCOL_VERSIONS[-1]

# `_meta` keys of the per-request envelope (2026-07-28).
PROTOCOL_VERSION_META_KEY: Final = "io.modelcontextprotocol/protocolVersion"
CLIENT_INFO_META_KEY: Final = "io.modelcontextprotocol/clientInfo"
CLIENT_CAPABILITIES_META_KEY: Final = "io.modelcontextprotocol/clientCapabilities"
LOG_LEVEL_META_KEY: Final = "io.modelcontextprotocol/logLevel"
SERVER_INFO_META_KEY: Final = "io.modelcontextprotocol/serverInfo"

# Methods whose results may carry `ttlMs`/`cacheScope`.
CACHEABLE_METHODS: Final = frozenset(
    {"prompts/list", "resources/list", "resources/read", "resources/templates/list", "server/discover", "tools/list"}
)

# HTTP headers that mirror the body for intermediaries (2026-07-28 Streamable HTTP).
MCP_METHOD_HEADER: Final = "mcp-method"
MCP_NAME_HEADER: Final = "mcp-name"
NAME_BEARING_METHODS: Final[Mapping[str, str]] = MappingProxyType(
    {"tools/call": "name", "prompts/get": "name", "resources/read": "uri"}
)

_PRINTABLE_ASCII = re.compile(r"[\x20-\x7E]*")
_BASE64_SENTINEL = re.compile(r"=\?base64\?.*\?=")


def encode_header_value(value: str) -> str:
    """`value` as an HTTP field value: verbatim when it is printable ASCII without edge
    whitespace (and doesn't look encoded), else wrapped as `=?base64?<UTF-8 bytes>?=`."""
    if _PRINTABLE_ASCII.fullmatch(value) and value == value.strip() and not _BASE64_SENTINEL.fullmatch(value):
        return value
    return f"=?base64?{base64.b64encode(value.encode()).decode('ascii')}?="
