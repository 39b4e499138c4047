"""Which transport a remote MCP URL speaks: Streamable HTTP or the legacy SSE one.

A Streamable HTTP endpoint answers a POSTed `initialize` with JSON or an event stream;
a legacy SSE endpoint answers a GET with an event stream (whose first event names the
POST URL). The likelier one is tried first (a path ending in `/sse` is most likely the
legacy transport). A URL that answers neither way is "not an MCP server", which is a
different failure from "cannot reach it" — callers report the two differently. One that
answers 401 or 403 wants credentials (`NeedsCredentials`, saying which header its
WWW-Authenticate challenge asks for): it may well be an MCP server, behind a key.

It only probes; the channel modules do the real work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import suppress
from typing import Literal
from urllib.parse import urlsplit

import anyio
import orjson

from mcpgate import __version__
from mcpgate.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable, shown_url
from mcpgate.protocol.spec import LATEST_HANDSHAKE_VERSION
from mcpgate.upstream.event_stream import describe_client_error
from mcpgate.upstream.http_client import HTTPClient, HTTPClientError, HTTPConnectionError

logger = logging.getLogger(__name__)

MAX_PROBE_BYTES = 1 << 20  # an initialize reply is small; a page that answers is not read further

Transport = Literal["streamable_http", "sse"]

_INITIALIZE = orjson.dumps(
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {
            "protocolVersion": LATEST_HANDSHAKE_VERSION,
            "capabilities": {},
            "clientInfo": {"name": "mcpgate-probe", "version": __version__},
        },
    }
)


class NotMCP(UpstreamError):
    """The URL answers, but not as an MCP server."""


class NeedsCredentials(UpstreamError):
    """The URL answers 401 or 403: it wants credentials, or refused those it was sent.

    `challenge` is its WWW-Authenticate header, if it sent one."""

    def __init__(self, message: str, *, status: int, challenge: str | None) -> None:
        super().__init__(message)
        self.status = status
        self.challenge = challenge


class _Refused(Exception):
    def __init__(self, status: int, challenge: str | None) -> None:
        self.status = status
        self.challenge = challenge


async def detect_transport(url: str, headers: Mapping[str, str], timeout: float) -> Transport:  # noqa: ASYNC109
    """The transport `url` speaks; `UpstreamUnavailable` if unreachable, `NotMCP`, or `UpstreamTimeout`."""
    shown = shown_url(url)
    order: tuple[Transport, ...] = ("streamable_http", "sse")
    if urlsplit(url).path.rstrip("/").endswith("/sse"):
        order = ("sse", "streamable_http")
    answers: list[str] = []
    try:
        with anyio.fail_after(timeout):
            async with HTTPClient(headers, connect_timeout=timeout) as http:
                for transport in order:
                    probe = _probe_streamable if transport == "streamable_http" else _probe_sse
                    verdict = await probe(http, url)
                    if verdict is None:
                        logger.debug("%s speaks %s", shown, transport)
                        return transport
                    answers.append(verdict)
    except TimeoutError:
        raise UpstreamTimeout(f"{shown} did not answer within {timeout:g}s") from None
    except HTTPConnectionError as exc:
        raise UpstreamUnavailable(f"cannot reach {shown}: {describe_client_error(exc)}") from None
    except HTTPClientError as exc:
        raise UpstreamError(f"{shown}: {describe_client_error(exc)}") from None
    except _Refused as refused:
        raise _needs_credentials(shown, refused, sent=bool(headers)) from None
    raise NotMCP(f"{shown} is not an MCP server: {'; '.join(answers)}")


async def _probe_streamable(http: HTTPClient, url: str) -> str | None:
    """None if `url` answered initialize as Streamable HTTP does; else what it answered."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with http.request("POST", url, headers=headers, body=_INITIALIZE) as resp:
        _refuse_unauthenticated(resp.status, resp.headers)
        session_id = resp.headers.get("mcp-session-id")
        kind = resp.content_type
        status = resp.status
        is_mcp = status < 300 and kind in ("application/json", "text/event-stream")
        if is_mcp and kind == "application/json":
            body = await resp.read(limit=MAX_PROBE_BYTES)
            with suppress(orjson.JSONDecodeError):
                reply = orjson.loads(body)
                is_mcp = isinstance(reply, dict) and reply.get("jsonrpc") == "2.0"
    if session_id:  # end the session the probe opened
        with suppress(HTTPClientError), anyio.move_on_after(2):
            async with http.request("DELETE", url, headers={"Mcp-Session-Id": session_id}):
                pass
    return None if is_mcp else f"POST initialize answered HTTP {status} ({kind or 'no content type'})"


async def _probe_sse(http: HTTPClient, url: str) -> str | None:
    async with http.request("GET", url, headers={"Accept": "text/event-stream"}) as resp:
        _refuse_unauthenticated(resp.status, resp.headers)
        if resp.status == 200 and resp.content_type == "text/event-stream":
            return None
        return f"GET answered HTTP {resp.status} ({resp.content_type or 'no content type'})"


def _refuse_unauthenticated(status: int, headers: Mapping[str, str]) -> None:
    if status in (401, 403):
        raise _Refused(status, headers.get("www-authenticate"))


def _needs_credentials(shown: str, refused: _Refused, *, sent: bool) -> NeedsCredentials:
    """What to say of a 401/403: that credentials are wanted, and in which header if the server said."""
    challenge = (refused.challenge or "").strip()
    scheme = challenge.split(" ", 1)[0].rstrip(",") if challenge else ""
    if refused.status == 403:
        said = f"{shown} refused the request (HTTP 403): the credentials sent are not enough, or none were sent"
    elif sent:
        said = f"{shown} refused the credentials it was sent (HTTP 401)"
    else:
        said = f"{shown} needs credentials (HTTP 401)"
    if scheme:
        token = "<user:password in base64>" if scheme.lower() == "basic" else "<token>"
        said += f"; it asks for an 'Authorization: {scheme} {token}' header (WWW-Authenticate: {challenge[:200]})"
    elif refused.status == 401:
        said += "; it did not say which header (no WWW-Authenticate): keys usually go in Authorization or X-API-Key"
    return NeedsCredentials(said, status=refused.status, challenge=refused.challenge)
