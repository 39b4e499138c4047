"""The Streamable HTTP channel (MCP 2025-03-26 and later): one POST per message.

Each request is POSTed on a keep-alive connection and answered with either one JSON
body or an event stream that carries the reply — preceded, perhaps, by progress, log
messages and server→client requests that belong to *that* request. Reading them here,
in the caller's own task, is what lets the peer route them to the right client session
without guessing. Once the session is initialised, a GET stream (when the server offers
one) carries the messages that belong to no request: list changes, resource updates.

Our own lean HTTP client (upstream/http_client.py) rather than the SDK's httpx-based one or
aiohttp: on this path the HTTP client's own CPU was most of the gateway's added latency
(see docs/benchmarks.md).
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress
from typing import Any

import anyio
import orjson
from anyio.abc import TaskStatus

from mcpgate.errors import UpstreamError, UpstreamNeedsAuthorization, UpstreamUnavailable, shown_url
from mcpgate.settings import StreamableHTTPUpstream
from mcpgate.upstream.event_stream import describe_client_error, read_events
from mcpgate.upstream.http_client import HTTPClient, HTTPClientError, HTTPConnectionError, Response
from mcpgate.upstream.peer import MAX_MESSAGE_BYTES, Exchange, Message, Peer

logger = logging.getLogger(__name__)

SESSION_HEADER = "Mcp-Session-Id"
_SESSION_FIELD = SESSION_HEADER.lower()  # how the client keys response headers
_ACCEPT = "application/json, text/event-stream"
_DRAIN_SECONDS = 1.0  # after the reply, let the server end its stream so the connection is reused
_CLOSE_SECONDS = 2.0
_LISTEN_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0)


class StreamableHTTPChannel:
    carries_stateless = True
    transport = "streamable_http"

    def __init__(self, http: HTTPClient, spec: StreamableHTTPUpstream) -> None:
        self.http = http
        self.url = spec.url
        self.shown_url = shown_url(spec.url)
        self.name = spec.name
        self.session_id: str | None = None
        self._peer: Peer | None = None
        self._gone = anyio.Event()
        self._gone_reason = ""
        self._listen_headers: dict[str, str] | None = None
        self._listening = False

    # -- lifecycle -------------------------------------------------------------------

    async def run(self, peer: Peer, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        self._peer = peer
        async with anyio.create_task_group() as tg:
            self._tasks = tg
            task_status.started()
            await self._gone.wait()
            tg.cancel_scope.cancel()
        raise UpstreamUnavailable(self._gone_reason)

    def _give_up(self, reason: str) -> UpstreamUnavailable:
        """Mark the channel dead (the connection reconnects with backoff) and return the error to raise."""
        if not self._gone.is_set():
            self._gone_reason = reason
            self._gone.set()
        return UpstreamUnavailable(f"upstream {self.name!r}: {reason}")

    async def aclose(self) -> None:
        """End the upstream session politely (DELETE), bounded."""
        if self.session_id is None:
            return
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CLOSE_SECONDS):
            with suppress(HTTPClientError):
                async with self.http.request("DELETE", self.url, headers={SESSION_HEADER: self.session_id}):
                    pass

    # -- sending ---------------------------------------------------------------------

    def _headers(self, extra: Mapping[str, str], stateless: bool = False) -> dict[str, str]:
        headers = {"Accept": _ACCEPT, "Content-Type": "application/json", **extra}
        if self.session_id is not None and not stateless:
            headers[SESSION_HEADER] = self.session_id
        return headers

    async def send_request(self, message: Message, exchange: Exchange, headers: Mapping[str, str]) -> None:
        await self._post(message, exchange, headers)

    async def send(self, message: Message, headers: Mapping[str, str]) -> None:
        await self._post(message, None, headers)
        if message.get("method") == "notifications/initialized" and not self._listening:
            self._listening = True
            self._listen_headers = dict(headers)
            self._tasks.start_soon(self._listen)

    async def _post(self, message: Message, exchange: Exchange | None, headers: Mapping[str, str]) -> None:
        stateless = exchange is not None and exchange.stateless
        try:
            post_headers = self._headers(headers, stateless)
            body = orjson.dumps(message)
            async with self.http.request("POST", self.url, headers=post_headers, body=body) as resp:
                if self.session_id is None and not stateless:
                    self.session_id = resp.headers.get(_SESSION_FIELD)
                if resp.status == 202:
                    return
                if resp.status == 404 and self.session_id is not None and not stateless:
                    raise self._give_up("the upstream ended its session (HTTP 404)")
                challenge = resp.headers.get("www-authenticate")
                if resp.status == 401:
                    raise UpstreamNeedsAuthorization(
                        f"upstream {self.name!r} wants authorization (HTTP 401)", challenge=challenge
                    )
                if resp.status == 403 and challenge and "insufficient_scope" in challenge:  # RFC 6750 §3.1
                    raise UpstreamNeedsAuthorization(
                        f"upstream {self.name!r} wants a token of more scope (HTTP 403 insufficient_scope)",
                        challenge=challenge,
                    )
                content_type = resp.content_type
                if resp.status < 300 and content_type == "text/event-stream":
                    await self._read_reply_stream(resp, exchange)
                    return
                reply = await resp.read(limit=MAX_MESSAGE_BYTES)
                if content_type == "application/json" and reply:
                    await self._deliver(reply, exchange)  # a reply, or a JSON-RPC error for a refused message
                if resp.status >= 300 and not (exchange is not None and exchange.answered):
                    raise UpstreamError(
                        f"upstream {self.name!r} answered {message.get('method', 'a message')} "
                        f"with HTTP {resp.status} {resp.reason or ''}".rstrip()
                    )
        except HTTPConnectionError as exc:
            raise self._give_up(f"cannot reach {self.shown_url}: {describe_client_error(exc)}") from None
        except HTTPClientError as exc:
            raise UpstreamError(f"upstream {self.name!r}: {describe_client_error(exc)}") from None

    async def _read_reply_stream(self, resp: Response, exchange: Exchange | None) -> None:
        async for event in read_events(resp, max_line_bytes=MAX_MESSAGE_BYTES):
            if event.event == "message" and event.data:
                await self._deliver(event.data.encode(), exchange)
            if exchange is not None and exchange.answered:
                with anyio.move_on_after(_DRAIN_SECONDS):
                    while await resp.next_chunk():
                        pass
                return

    async def _deliver(self, body: bytes, exchange: Exchange | None) -> None:
        assert self._peer is not None
        try:
            parsed: Any = orjson.loads(body)
        except orjson.JSONDecodeError:
            logger.warning("upstream %s: ignored a message that is not JSON", self.name)
            return
        for message in parsed if isinstance(parsed, list) else [parsed]:
            if isinstance(message, dict):
                await self._peer.receive(message, exchange)

    # -- the GET stream --------------------------------------------------------------

    async def _listen(self) -> None:
        """Messages that belong to no request; reopened (with Last-Event-ID) when it ends."""
        last_event_id: str | None = None
        failures = 0
        while True:
            headers = self._headers(self._listen_headers or {})
            headers["Accept"] = "text/event-stream"
            del headers["Content-Type"]
            if last_event_id is not None:
                headers["Last-Event-ID"] = last_event_id
            retry_ms: int | None = None
            try:
                async with self.http.request("GET", self.url, headers=headers) as resp:
                    if resp.status == 405:
                        logger.debug("upstream %s offers no GET stream", self.name)
                        return
                    if resp.status == 404 and self.session_id is not None:
                        self._give_up("the upstream ended its session (HTTP 404)")
                        return
                    if resp.status >= 300 or resp.content_type != "text/event-stream":
                        logger.warning("upstream %s: GET stream refused with HTTP %d", self.name, resp.status)
                        return
                    failures = 0
                    async for event in read_events(resp, max_line_bytes=MAX_MESSAGE_BYTES):
                        last_event_id = event.id or last_event_id
                        retry_ms = event.retry_ms or retry_ms
                        if event.event == "message" and event.data:
                            await self._deliver(event.data.encode(), None)
            except HTTPConnectionError as exc:
                self._give_up(f"GET stream lost: {describe_client_error(exc)}")
                return
            except (HTTPClientError, UpstreamError) as exc:
                logger.warning("upstream %s: GET stream: %s", self.name, describe_client_error(exc))
            backoff = _LISTEN_RETRY_SECONDS[min(failures, len(_LISTEN_RETRY_SECONDS) - 1)]
            delay = retry_ms / 1000 if retry_ms else backoff
            failures += 1
            await anyio.sleep(delay)  # the server's (or our) reconnect delay, not a wait for an event


@asynccontextmanager
async def open_streamable_http(
    spec: StreamableHTTPUpstream, connect_timeout: float
) -> AsyncIterator[StreamableHTTPChannel]:
    try:
        http = HTTPClient(spec.headers, connect_timeout=connect_timeout)
    except HTTPClientError as exc:
        raise UpstreamError(f"upstream {spec.name!r}: {exc}") from None
    async with http:
        channel = StreamableHTTPChannel(http, spec)
        try:
            yield channel
        finally:
            await channel.aclose()
