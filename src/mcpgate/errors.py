"""The gateway's exception tree and the one table mapping it to JSON-RPC codes and HTTP statuses.

Foreign exceptions (httpx, the SDK, OS errors) are translated into these once, at the
boundary where both vocabularies are known; everything above that boundary speaks only
this tree.
"""

from __future__ import annotations

# JSON-RPC 2.0 error codes (spec §5.1) and the MCP-specific ones we emit.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# The SDK's request-timeout code.
REQUEST_TIMEOUT = -32001
# What the TypeScript SDK answers for an unknown Mcp-Session-Id; clients key reconnects on it and the 404.
SESSION_NOT_FOUND = -32001


class GatewayError(Exception):
    """Base of every error mcpgate raises on purpose."""

    code: int = INTERNAL_ERROR
    http_status: int = 500

    def __init__(self, message: str, *, data: object | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.data = data


class ConfigError(GatewayError):
    """The configuration cannot be used as given; the message says what and where."""


class MethodNotFound(GatewayError):
    code = METHOD_NOT_FOUND
    http_status = 404


class InvalidParams(GatewayError):
    code = INVALID_PARAMS
    http_status = 400


class PayloadTooLarge(GatewayError):
    code = INVALID_REQUEST
    http_status = 413


class Unauthorized(GatewayError):
    """No credentials, or ones that are wrong, expired or revoked."""

    http_status = 401


class Forbidden(GatewayError):
    """Valid credentials without the right to do this."""

    http_status = 403


class TooManyRequests(GatewayError):
    http_status = 429

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class NotFound(GatewayError):
    http_status = 404


class Conflict(GatewayError):
    """The change clashes with what exists (a name in use, say)."""

    http_status = 409


class ReadOnly(Conflict):
    """The object is declared in the config file: it is changed there, not through the API."""


class Unprocessable(GatewayError):
    """Well-formed, but names things that do not exist or cannot work together."""

    code = INVALID_PARAMS
    http_status = 422


class UpstreamError(GatewayError):
    """An upstream failed; its own JSON-RPC error (if any) is carried through unchanged."""

    http_status = 502


class UpstreamUnavailable(UpstreamError):
    """The upstream is not connected (starting, restarting, or given up on)."""

    http_status = 503


class UpstreamTimeout(UpstreamError):
    code = REQUEST_TIMEOUT
    http_status = 504


class ToolNameCollision(ConfigError):
    """Two upstreams would expose a tool under the same gateway name."""
