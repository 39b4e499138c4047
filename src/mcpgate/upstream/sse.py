"""The legacy SSE channel (MCP 2024-11-05): one GET event stream in, POSTs out.

The stream's first event, `endpoint`, names the URL to POST messages to; it must be on
the stream's own origin (a server cannot send our messages, or our headers, elsewhere).
Every reply and notification then arrives on the one stream, so request-related
messages are routed by the peer (by id, by progress token, or to the only session with
requests in flight).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from urllib.parse import urljoin, urlsplit

import anyio
import orjson
from anyio.abc import TaskStatus

from mcpgate.errors import UpstreamError, UpstreamNeedsAuthorization, UpstreamUnavailable, shown_url
from mcpgate.settings import SSEUpstream
from mcpgate.upstream.event_stream import ServerSentEvent, describe_client_error, read_events
from mcpgate.upstream.http_client import HTTPClient, HTTPClientError, HTTPConnectionError
from mcpgate.upstream.peer import MAX_MESSAGE_BYTES, Exchange, Message, Peer

logger = logging.getLogger(__name__)


class SSEChannel:
    carries_stateless = False
    transport = "sse"

    def __init__(self, http: HTTPClient, name: str, endpoint: str, events: AsyncIterator[ServerSentEvent]):
        self.http = http
        self.name = name
        self.endpoint = endpoint
        self._events = events

    async def run(self, peer: Peer, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        task_status.started()
        try:
            async for event in self._events:
                if event.event != "message" or not event.data:
                    continue
                try:
                    message = orjson.loads(event.data)
                except orjson.JSONDecodeError:
                    logger.warning("upstream %s: ignored an event that is not JSON", self.name)
                    continue
                if isinstance(message, dict):
                    await peer.receive(message)
        except HTTPClientError as exc:
            reason = describe_client_error(exc)
            raise UpstreamUnavailable(f"upstream {self.name!r}: event stream lost: {reason}") from None

    async def send_request(self, message: Message, exchange: Exchange, headers: Mapping[str, str]) -> None:
        await self.send(message, headers)

    async def send(self, message: Message, headers: Mapping[str, str]) -> None:
        try:
            post_headers = {"Content-Type": "application/json", **headers}
            async with self.http.request(
                "POST", self.endpoint, headers=post_headers, body=orjson.dumps(message)
            ) as resp:
                if resp.status >= 300:
                    raise UpstreamError(f"upstream {self.name!r} refused a message with HTTP {resp.status}")
                await resp.read(limit=MAX_MESSAGE_BYTES)
        except HTTPConnectionError as exc:
            reason = describe_client_error(exc)
            raise UpstreamUnavailable(f"upstream {self.name!r}: cannot reach it: {reason}") from None
        except HTTPClientError as exc:
            raise UpstreamError(f"upstream {self.name!r}: {describe_client_error(exc)}") from None


@asynccontextmanager
async def open_sse(spec: SSEUpstream, connect_timeout: float) -> AsyncIterator[SSEChannel]:
    shown = shown_url(spec.url)
    try:
        http = HTTPClient(spec.headers, connect_timeout=connect_timeout)
    except HTTPClientError as exc:
        raise UpstreamError(f"upstream {spec.name!r}: {exc}") from None
    async with http:
        try:
            async with http.request("GET", spec.url, headers={"Accept": "text/event-stream"}) as resp:
                if resp.status == 401:
                    raise UpstreamNeedsAuthorization(
                        f"upstream {spec.name!r} wants authorization (HTTP 401)",
                        challenge=resp.headers.get("www-authenticate"),
                    )
                if resp.status != 200 or resp.content_type != "text/event-stream":
                    raise UpstreamError(f"{shown} is not an SSE endpoint (HTTP {resp.status})")
                events = read_events(resp, max_line_bytes=MAX_MESSAGE_BYTES)
                with anyio.fail_after(connect_timeout):
                    endpoint = await _endpoint(spec.url, events)
                yield SSEChannel(http, spec.name, endpoint, events)
        except HTTPConnectionError as exc:
            reason = describe_client_error(exc)
            raise UpstreamUnavailable(f"cannot reach {shown}: {reason}") from None
        except HTTPClientError as exc:
            raise UpstreamError(f"{shown}: {describe_client_error(exc)}") from None


async def _endpoint(url: str, events: AsyncIterator[ServerSentEvent]) -> str:
    async for event in events:
        if event.event == "endpoint":
            endpoint = urljoin(url, event.data.strip())
            if urlsplit(endpoint)[:2] != urlsplit(url)[:2]:
                raise UpstreamError("the SSE endpoint event points to another origin; refusing to post there")
            return endpoint
    raise UpstreamError("the SSE stream ended before its endpoint event")
