"""Which transport a remote MCP URL speaks: Streamable HTTP or the legacy SSE one.

A Streamable HTTP endpoint answers a POSTed `initialize` with JSON or an event stream;
a legacy SSE endpoint answers a GET with an event stream (whose first event names the
POST URL). The likelier one is tried first (a path ending in `/sse` is most likely the
legacy transport). A URL that answers neither way is "not an MCP server", which is a
different failure from "cannot reach it" — callers report the two differently.

It only probes; the channel modules do the real work.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from contextlib import suppress
from typing import Literal
from urllib.parse import urlsplit

import aiohttp
import anyio
import orjson

from mcpgate import __version__
from mcpgate.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from mcpgate.protocol.spec import LATEST_HANDSHAKE_VERSION
from mcpgate.upstream.event_stream import describe_client_error

logger = logging.getLogger(__name__)

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


async def detect_transport(url: str, headers: Mapping[str, str], timeout: float) -> Transport:  # noqa: ASYNC109
    """The transport `url` speaks; `UpstreamUnavailable` if unreachable, `NotMCP`, or `UpstreamTimeout`."""
    shown = url.split("?", 1)[0]
    order: tuple[Transport, ...] = ("streamable_http", "sse")
    if urlsplit(url).path.rstrip("/").endswith("/sse"):
        order = ("sse", "streamable_http")
    answers: list[str] = []
    client_timeout = aiohttp.ClientTimeout(total=None, connect=timeout, sock_connect=timeout, sock_read=timeout)
    try:
        with anyio.fail_after(timeout):
            async with aiohttp.ClientSession(headers=dict(headers), timeout=client_timeout) as http:
                for transport in order:
                    probe = _probe_streamable if transport == "streamable_http" else _probe_sse
                    verdict = await probe(http, url)
                    if verdict is None:
                        logger.debug("%s speaks %s", shown, transport)
                        return transport
                    answers.append(verdict)
    except TimeoutError:
        raise UpstreamTimeout(f"{shown} did not answer within {timeout:g}s") from None
    except aiohttp.ClientConnectionError as exc:
        raise UpstreamUnavailable(f"cannot reach {shown}: {describe_client_error(exc)}") from None
    except aiohttp.ClientError as exc:
        raise UpstreamError(f"{shown}: {describe_client_error(exc)}") from None
    raise NotMCP(f"{shown} is not an MCP server: {'; '.join(answers)}")


async def _probe_streamable(http: aiohttp.ClientSession, url: str) -> str | None:
    """None if `url` answered initialize as Streamable HTTP does; else what it answered."""
    headers = {"Accept": "application/json, text/event-stream", "Content-Type": "application/json"}
    async with http.post(url, data=_INITIALIZE, headers=headers) as resp:
        session_id = resp.headers.get("Mcp-Session-Id")
        kind = resp.content_type
        status = resp.status
        is_mcp = status < 300 and kind in ("application/json", "text/event-stream")
        if is_mcp and kind == "application/json":
            body = await resp.read()
            with suppress(orjson.JSONDecodeError):
                reply = orjson.loads(body)
                is_mcp = isinstance(reply, dict) and reply.get("jsonrpc") == "2.0"
    if session_id:  # end the session the probe opened
        with suppress(aiohttp.ClientError), anyio.move_on_after(2):
            async with http.delete(url, headers={"Mcp-Session-Id": session_id}):
                pass
    return None if is_mcp else f"POST initialize answered HTTP {status} ({kind or 'no content type'})"


async def _probe_sse(http: aiohttp.ClientSession, url: str) -> str | None:
    async with http.get(url, headers={"Accept": "text/event-stream"}) as resp:
        if resp.status == 200 and resp.content_type == "text/event-stream":
            return None
        return f"GET answered HTTP {resp.status} ({resp.content_type or 'no content type'})"
