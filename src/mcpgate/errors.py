"""The gateway's exception tree and the one table mapping it to JSON-RPC codes and HTTP statuses.

Foreign exceptions (httpx, the SDK, OS errors) are translated into these once, at the
boundary where both vocabularies are known; everything above that boundary speaks only
this tree.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit, urlunsplit

# JSON-RPC 2.0 error codes (spec §5.1) and the MCP-specific ones we emit.
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
# MCP's "resource not found" (the 2025-11-25 spec and the Python SDK send -32602 instead).
RESOURCE_NOT_FOUND = -32002
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


class BadRequest(GatewayError):
    """The request itself is malformed (a body that is not JSON, say)."""

    code = INVALID_REQUEST
    http_status = 400


class InvalidParams(GatewayError):
    code = INVALID_PARAMS
    http_status = 400


class UnknownName(InvalidParams):
    """A tool, prompt or resource this endpoint does not offer (JSON-RPC -32602, HTTP 404)."""

    http_status = 404


class PayloadTooLarge(GatewayError):
    code = INVALID_REQUEST
    http_status = 413


class Unauthorized(GatewayError):
    """No credentials, or ones that are wrong, expired or revoked."""

    http_status = 401

    def __init__(self, message: str, *, token_refused: bool = False, data: object | None = None) -> None:
        super().__init__(message, data=data)
        self.token_refused = token_refused  # an OAuth access token was given and refused (`invalid_token`)


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


class UpstreamNeedsAuthorization(UpstreamError):
    """The upstream answered 401: it wants credentials (an OAuth access token) it was not given.
    `challenge` is its WWW-Authenticate header, which may say where its resource metadata is."""

    def __init__(self, message: str, *, challenge: str | None) -> None:
        super().__init__(message)
        self.challenge = challenge


class AuthorizationNeeded(UpstreamError):
    """A call to an upstream that wants OAuth, by someone who has not connected their account
    there; the message carries the link that connects it."""

    http_status = 403


class UpstreamUnavailable(UpstreamError):
    """The upstream is not connected (starting, restarting, or given up on)."""

    http_status = 503

    def __init__(self, message: str, *, retry_after: int = 1) -> None:
        super().__init__(message)
        self.retry_after = retry_after  # seconds until it is worth trying again (HTTP Retry-After)


class UpstreamTimeout(UpstreamError):
    code = REQUEST_TIMEOUT
    http_status = 504


class ToolNameCollision(ConfigError):
    """Two upstreams would expose a tool under the same gateway name."""


def error_kind(exc: GatewayError) -> str:
    """The `type` of an HTTP error body: `UpstreamTimeout` → "upstream_timeout"; every 422 is a validation error."""
    if exc.http_status == 422:
        return "validation_error"
    return re.sub(r"(?<=[a-z])(?=[A-Z])", "_", type(exc).__name__).lower()


def error_body(kind: str, message: str, details: Any = None) -> dict[str, Any]:
    """The JSON body of every HTTP error outside JSON-RPC: `{"error": {"type", "message", "details"?}}`."""
    body: dict[str, Any] = {"type": kind, "message": message}
    if details is not None:
        body["details"] = details
    return {"error": body}


def shown_url(url: str) -> str:
    """`url` as an error or a log line may show it: without user info, query string or fragment,
    any of which may hold a secret (`https://user:pw@host/x?token=…` → `https://host/x`)."""
    try:
        parts = urlsplit(url)
    except ValueError:  # `http://[bad`: still shown, cut the same way by hand (never raise from here)
        scheme, _, rest = url.partition("://")
        rest = rest.split("?", 1)[0].split("#", 1)[0].rpartition("@")[2]
        return f"{scheme}://{rest}" if rest else url.split("?", 1)[0]
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit((parts.scheme, host, parts.path, "", "")) if parts.scheme else url.split("?", 1)[0]
