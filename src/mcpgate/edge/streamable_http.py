"""The Streamable HTTP transport at `/mcp` (protocol 2025-03-26 and later).

    POST   /mcp   one JSON-RPC message (or a batch); answered with JSON, or with an SSE
                  stream when the request wants progress on the way (or `responseMode: sse`)
    GET    /mcp   the session's stream for messages not tied to a request (list_changed…)
    DELETE /mcp   ends the session

`initialize` creates a session and returns its `Mcp-Session-Id`; every later request
must carry it (400 without, 404 when unknown, so clients know to start over). A POST's
answers travel on that POST's own response — never on another session's — and a
client that disconnects mid-request cancels the upstream call.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
from collections.abc import Mapping
from contextlib import suppress
from types import ModuleType
from typing import TYPE_CHECKING, Any

import anyio
from starlette.datastructures import Headers
from starlette.types import Receive, Scope, Send

from mcpgate.cancellation import CallOff
from mcpgate.edge.exchange import answer_all, has_requests, read_messages
from mcpgate.edge.http import (
    KEEPALIVE_COMMENT,
    SESSIONLESS_KEY,
    SSE_HEADERS,
    USER_KEY,
    caller_headers,
    cancel_on_disconnect,
    cancel_when_set,
    foreign,
    owner_of,
    request_headers,
    send_empty,
    send_json,
    server_of,
    sse_event,
)
from mcpgate.edge.listen import serve_listen
from mcpgate.edge.outbox import Outbox, pump
from mcpgate.errors import INVALID_REQUEST, SESSION_NOT_FOUND
from mcpgate.hub.profiles import Profile
from mcpgate.hub.routing import RequestRouter
from mcpgate.hub.session import CALLER_HEADERS, ClientSession, Undeliverable
from mcpgate.protocol.jsonrpc import Envelope, Message, Rejected, dumps, error_response
from mcpgate.protocol.param_headers import declares_param_headers
from mcpgate.protocol.spec import (
    KNOWN_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    LOG_LEVEL_META_KEY,
    MODERN_PROTOCOL_VERSIONS,
    PROTOCOL_VERSION_META_KEY,
)
from mcpgate.settings import EdgeSettings

if TYPE_CHECKING:
    from mcp.shared.inbound import InboundLadderRejection

logger = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
VERSION_HEADER = "mcp-protocol-version"
_CLOSING_WRITE_SECONDS = 5.0
_WATCH_AFTER_SECONDS = 0.05  # a call still running after this starts watching for its client to hang up


async def _nowhere(message: Message) -> None:
    """Progress for a request answered as plain JSON has no channel to travel on."""


class StreamableHTTPTransport:
    def __init__(self, router: RequestRouter, settings: EdgeSettings) -> None:
        self.router = router
        self.sessions = router.hub.sessions
        self.settings = settings
        self._get_streams: set[str] = set()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        CALLER_HEADERS.set(caller_headers(scope))  # this request's task: its own headers only
        headers = request_headers(scope)
        method = scope["method"]
        if headers.get(VERSION_HEADER) in MODERN_PROTOCOL_VERSIONS:
            await self._modern(scope, receive, send, headers)
        elif method == "POST":
            await self._post(scope, receive, send, headers)
        elif method == "GET":
            await self._get(scope, receive, send, headers)
        elif method == "DELETE":
            await self._delete(scope, send, headers)
        else:
            await send_json(
                send,
                405,
                error_response(None, INVALID_REQUEST, f"Method {method} not allowed; use POST, GET or DELETE"),
                [(b"allow", b"GET, POST, DELETE")],
            )

    # -- POST ------------------------------------------------------------------------

    async def _post(self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str]) -> None:
        parsed = await read_messages(receive, send, headers, self.settings.max_body_bytes)
        if parsed is None:
            return
        items, is_batch = parsed
        version = headers.get(VERSION_HEADER)
        if version is not None and version not in KNOWN_PROTOCOL_VERSIONS:
            if not is_batch and isinstance(items[0], Envelope) and _carries_envelope(items[0]):
                # A per-request envelope with a version we don't speak: the 2026-07-28 rejection
                # (UnsupportedProtocolVersion, with the versions we do support) is what it needs.
                await self._modern_exchange(scope, receive, send, headers, items, is_batch)
                return
            await send_json(
                send,
                400,
                error_response(
                    None,
                    INVALID_REQUEST,
                    f"Bad Request: unsupported MCP-Protocol-Version {version!r}; "
                    f"supported: {', '.join(KNOWN_PROTOCOL_VERSIONS)}",
                ),
            )
            return

        session, extra_headers = self._session_for(items, headers, scope)
        if isinstance(session, tuple):
            await send_json(send, session[0], session[1])
            return

        if not has_requests(items):
            await answer_all(self.router, session, items, _nowhere)
            await send_empty(send, 202, extra_headers)
            return

        await self._respond(session, items, is_batch, receive, send, extra_headers, self._stream_mode(headers))

    def _session_for(
        self, items: list[Envelope | Rejected], headers: Mapping[str, str], scope: Scope
    ) -> tuple[ClientSession | tuple[int, Message], list[tuple[bytes, bytes]]]:
        """The session a POST belongs to, creating it for `initialize`; or an error to answer."""
        session_id = headers.get(SESSION_HEADER)
        initializing = any(isinstance(i, Envelope) and i.method == "initialize" for i in items)
        if initializing:
            if len(items) > 1:
                return (400, error_response(None, INVALID_REQUEST, "initialize must be sent on its own")), []
            session = self.sessions.add(
                ClientSession(
                    "streamable_http",
                    server=server_of(scope),
                    owner=owner_of(scope),
                    user=scope.get(USER_KEY),
                    headers=dict(caller_headers(scope)),  # kept for the session's life: a copy
                )
            )
            logger.debug("streamable HTTP session %s opened", session.shown_id)
            return session, [(SESSION_HEADER.encode(), session.id.encode())]
        if not session_id and scope.get(SESSIONLESS_KEY):
            # A bare request where seed-era clients send one: answered alone, as if just initialized.
            oneshot = ClientSession(
                "oneshot",
                server=server_of(scope),
                owner=owner_of(scope),
                user=scope.get(USER_KEY),
                protocol_version=LATEST_HANDSHAKE_VERSION,
                initialized=True,
            )
            return oneshot, []
        if not session_id:
            return (
                400,
                error_response(
                    None, INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required (send initialize first)"
                ),
            ), []
        session = self._own_session(session_id, server_of(scope))
        if session is None:
            return (404, error_response(None, SESSION_NOT_FOUND, "Session not found: send initialize again")), []
        if (refusal := foreign(session, scope)) is not None:
            return (403, error_response(None, INVALID_REQUEST, refusal)), []
        return session, []

    def _own_session(self, session_id: str | None, server: str | None) -> ClientSession | None:
        """Handshake session `session_id` if it began at this endpoint (a session is reached only there)."""
        session = self.sessions.get(session_id)
        if session is None or session.transport != "streamable_http" or session.server != server:
            return None
        return session

    def _stream_mode(self, headers: Mapping[str, str]) -> str:
        """ "never" (client takes only JSON), "always" (SSE only, or `responseMode: sse`), or "deferred"."""
        accept = headers.get("accept", "")
        if "text/event-stream" not in accept:
            return "never"
        if self.settings.response_mode == "sse" or "application/json" not in accept:
            return "always"
        return "deferred"

    async def _respond(
        self,
        session: ClientSession,
        items: list[Envelope | Rejected],
        is_batch: bool,
        receive: Receive,
        send: Send,
        extra_headers: list[tuple[bytes, bytes]],
        mode: str,
    ) -> None:
        """Answer a POST on its own response: JSON, unless something must be said before the answer.

        Like the SDK's server, the choice is deferred: a request whose handler emits a
        notification (progress, a log line) commits the response to `text/event-stream`
        at that moment; one that just answers gets a plain JSON body. A client that hangs
        up cancels the work it asked for.
        """
        response = _DeferredResponse(send, extra_headers, mode, session.transport in ("stateless", "oneshot"))
        responses: list[Message] | None = None
        try:
            with CallOff() as call_off:
                # The handler runs in this task; the watcher only cancels it if the client hangs up.
                watcher = _ClientWatcher(receive, call_off, response, self.settings.keepalive_seconds)
                try:
                    if mode == "always":
                        await response.start_stream()
                    responses = await answer_all(self.router, session, items, response.notify)
                finally:
                    watcher.stop()
            if responses is None:
                return  # the client hung up; its work was cancelled
            final: Any = responses if is_batch else (responses[0] if responses else None)
            if response.streaming:
                await response.finish_stream(final)
            elif final is None:
                await send_empty(send, 202, extra_headers)
            else:
                await send_json(send, _status_of(items, responses, session), final, extra_headers)
        except OSError:
            pass  # the client went away mid-write

    # -- 2026-07-28: one self-contained request per POST --------------------------------

    async def _modern(self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str]) -> None:
        """The stateless revision: no handshake and no session; the envelope travels in `_meta`."""
        if scope["method"] != "POST":
            await send_json(
                send,
                405,
                error_response(None, INVALID_REQUEST, "Protocol 2026-07-28 has no GET or DELETE on /mcp; use POST"),
                [(b"allow", b"POST")],
            )
            return
        parsed = await read_messages(receive, send, headers, self.settings.max_body_bytes)
        if parsed is not None:
            await self._modern_exchange(scope, receive, send, headers, *parsed)

    async def _modern_exchange(
        self,
        scope: Scope,
        receive: Receive,
        send: Send,
        headers: Mapping[str, str],
        items: list[Envelope | Rejected],
        is_batch: bool,
    ) -> None:
        item = items[0]
        if is_batch or isinstance(item, Rejected) or item.kind != "request":
            if not is_batch and isinstance(item, Envelope) and item.kind == "notification":
                await send_empty(send, 202)  # the 2026 HTTP wire defines no client notifications
                return
            message = "Body must be a single JSON-RPC request or notification object"
            await send_json(
                send, 400, item.error if isinstance(item, Rejected) else error_response(None, INVALID_REQUEST, message)
            )
            return
        inbound = await _sdk_inbound()
        raw_headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in scope["headers"]]
        duplicated = inbound.find_duplicated_routing_header(raw_headers)
        route = (
            inbound.InboundLadderRejection(INVALID_REQUEST, f"header {duplicated} appears more than once")
            if duplicated
            else inbound.classify_inbound_request(item.message, headers={k.lower(): v for k, v in raw_headers})
        )
        server = server_of(scope)
        if not isinstance(route, inbound.InboundLadderRejection) and item.method == "tools/call":
            capabilities = route.client_capabilities if isinstance(route.client_capabilities, dict) else {}
            route = self._check_param_headers(inbound, item, scope, server, Profile.of(capabilities)) or route
        if isinstance(route, inbound.InboundLadderRejection):
            response = error_response(item.id, route.code, route.message, route.data)
            await send_json(send, inbound.ERROR_CODE_HTTP_STATUS.get(route.code, 400), response)
            return
        session = ClientSession(
            "stateless",
            server=server,
            owner=owner_of(scope),
            user=scope.get(USER_KEY),
            protocol_version=route.protocol_version,
            client_info=route.client_info if isinstance(route.client_info, dict) else {},
            capabilities=route.client_capabilities if isinstance(route.client_capabilities, dict) else {},
            initialized=True,
        )
        level = (item.params.get("_meta") or {}).get(LOG_LEVEL_META_KEY)
        if isinstance(level, str):
            session.log_level = level
        if item.method == "subscriptions/listen":
            edge = self.settings
            await serve_listen(self.router, session, item, receive, send, edge.keepalive_seconds, edge.max_queued_bytes)
            return
        await self._respond(session, [item], False, receive, send, [], self._stream_mode(headers))

    def _check_param_headers(
        self, inbound: ModuleType, item: Envelope, scope: Scope, server: str | None, profile: Profile
    ) -> InboundLadderRejection | None:
        """2026-07-28 `Mcp-Param-*` headers must agree with the arguments they mirror (intermediaries route on them)."""
        name, arguments = item.params.get("name"), item.params.get("arguments")
        hub = self.router.hub
        view = hub.view_for(server, profile) if server is not None else None
        catalog = hub.catalog_for(None, profile) if server is None else view.catalog if view is not None else None
        tool = catalog.tool_definition(name) if isinstance(name, str) and catalog is not None else None
        if tool is None or "inputSchema" not in tool:
            return None  # an unknown tool gets its own precise error from the router
        if not declares_param_headers(tool["inputSchema"]):
            return None
        # Starlette's Headers keep repeated headers, which the check must see.
        return inbound.validate_mcp_param_headers(
            tool["inputSchema"], arguments if isinstance(arguments, dict) else {}, Headers(raw=scope["headers"])
        )

    # -- GET / DELETE ----------------------------------------------------------------

    async def _get(self, scope: Scope, receive: Receive, send: Send, headers: Mapping[str, str]) -> None:
        if "text/event-stream" not in headers.get("accept", ""):
            await send_json(
                send,
                406,
                error_response(None, INVALID_REQUEST, "Not Acceptable: GET /mcp needs Accept: text/event-stream"),
            )
            return
        session = self._own_session(headers.get(SESSION_HEADER), server_of(scope))
        if session is not None and (refusal := foreign(session, scope)) is not None:
            await send_json(send, 403, error_response(None, INVALID_REQUEST, refusal))
            return
        if session is None:
            status, message = (
                (400, "Bad Request: Mcp-Session-Id header is required")
                if not headers.get(SESSION_HEADER)
                else (404, "Session not found: send initialize again")
            )
            code = INVALID_REQUEST if status == 400 else SESSION_NOT_FOUND
            await send_json(send, status, error_response(None, code, message))
            return
        if session.id in self._get_streams:
            await send_json(
                send, 409, error_response(None, INVALID_REQUEST, "Conflict: this session already has a GET stream open")
            )
            return
        outbox = Outbox(self.settings.max_queued_bytes)
        ending = anyio.CancelScope()

        async def push(message: Message) -> None:
            if not outbox.offer(sse_event(dumps(message), "message")) and not ending.cancel_called:
                # The client stopped reading: end this stream (it may open another), not the session.
                logger.warning(
                    "session %s is not reading its GET stream (%d bytes unread); closing the stream",
                    session.shown_id,
                    outbox.queued_bytes,
                )
                outbox.clear()
                ending.cancel()

        self._get_streams.add(session.id)
        session.push = push
        session.open_streams += 1
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        try:
            with ending:
                async with anyio.create_task_group() as tg:
                    tg.start_soon(cancel_on_disconnect, receive, ending)
                    tg.start_soon(cancel_when_set, session.closed, ending)
                    await pump(outbox, send, self.settings.keepalive_seconds)
            with anyio.move_on_after(_CLOSING_WRITE_SECONDS):  # a client that stopped reading may never take it
                await send({"type": "http.response.body", "body": b""})
        except OSError:
            pass
        finally:
            outbox.clear()
            self._get_streams.discard(session.id)
            session.push = _nowhere
            session.open_streams -= 1
            session.touch()

    async def _delete(self, scope: Scope, send: Send, headers: Mapping[str, str]) -> None:
        session_id = headers.get(SESSION_HEADER)
        if not session_id:
            await send_json(
                send, 400, error_response(None, INVALID_REQUEST, "Bad Request: Mcp-Session-Id header is required")
            )
            return
        session = self._own_session(session_id, server_of(scope))
        if session is None:
            await send_json(send, 404, error_response(None, SESSION_NOT_FOUND, "Session not found"))
            return
        if (refusal := foreign(session, scope)) is not None:
            await send_json(send, 403, error_response(None, INVALID_REQUEST, refusal))
            return
        self.sessions.remove(session_id)
        logger.debug("streamable HTTP session %s deleted by the client", session.shown_id)
        await send_empty(send, 200)


def _carries_envelope(item: Envelope) -> bool:
    meta = item.params.get("_meta")
    return isinstance(meta, dict) and PROTOCOL_VERSION_META_KEY in meta


class _DeferredResponse:
    """A POST's response that stays JSON until something has to be said before the answer."""

    def __init__(self, send: Send, extra_headers: list[tuple[bytes, bytes]], mode: str, stateless: bool) -> None:
        self.send = send
        self.extra_headers = extra_headers
        self.mode = mode
        self.stateless = stateless
        self.streaming = False
        self._lock: asyncio.Lock | None = None  # made when a stream starts: most answers are one JSON body

    async def start_stream(self) -> None:
        if not self.streaming:
            self.streaming = True
            await self.send(
                {"type": "http.response.start", "status": 200, "headers": [*SSE_HEADERS, *self.extra_headers]}
            )

    async def notify(self, message: Message) -> None:
        if "id" in message and (self.mode == "never" or self.stateless):
            # A request without a session has no way back for the client's answer; a JSON-only client can't read it.
            why = "it has no session" if self.stateless else "it accepts only application/json"
            raise Undeliverable(f"the client cannot receive requests on this exchange ({why})")
        if self.mode == "never":
            return  # this client reads only a JSON answer: nowhere to put a notification
        await self._write(sse_event(dumps(message), "message"))

    async def keepalive(self) -> None:
        """A long silent call: commit to a stream (as the SDK does) so proxies see traffic."""
        if self.mode != "never":
            await self._write(KEEPALIVE_COMMENT)

    def _frame_lock(self) -> asyncio.Lock:
        """Progress callbacks run in their own tasks; SSE frames must not interleave."""
        if self._lock is None:
            self._lock = asyncio.Lock()
        return self._lock

    async def finish_stream(self, final: Any) -> None:
        async with self._frame_lock():
            if final is not None:
                await self.send(
                    {"type": "http.response.body", "body": sse_event(dumps(final), "message"), "more_body": True}
                )
            await self.send({"type": "http.response.body", "body": b""})

    async def _write(self, chunk: bytes) -> None:
        async with self._frame_lock():
            await self.start_stream()
            await self.send({"type": "http.response.body", "body": chunk, "more_body": True})


class _ClientWatcher:
    """Call the POST's work off when the client hangs up; keep a silent stream alive meanwhile.

    Bare asyncio timers and a task rather than an anyio task group: per POST, the task group
    cost more than the rest of the edge together (see docs/benchmarks.md). The watching task
    starts only once the call has taken `_WATCH_AFTER_SECONDS`: most calls are answered
    sooner, and a client that hangs up before then is still noticed at that moment.
    """

    def __init__(
        self, receive: Receive, call_off: CallOff, response: _DeferredResponse, keepalive_seconds: float
    ) -> None:
        self._receive = receive
        self._call_off = call_off
        self._response = response
        self._keepalive_seconds = keepalive_seconds
        self._loop = asyncio.get_running_loop()
        self._task: asyncio.Task[None] | None = None
        self._keepalive: asyncio.Task[None] | None = None
        # One timer per call, not two: the keep-alive clock starts once the call is being watched.
        self._timer = self._loop.call_later(_WATCH_AFTER_SECONDS, self._start_watching)

    def _start_watching(self) -> None:
        self._task = self._loop.create_task(self._watch())
        self._timer = self._loop.call_later(self._keepalive_seconds - _WATCH_AFTER_SECONDS, self._tick)

    async def _watch(self) -> None:
        while (await self._receive())["type"] != "http.disconnect":
            pass
        self._call_off.cancel()

    def _tick(self) -> None:
        if self._keepalive is None or self._keepalive.done():
            self._keepalive = self._loop.create_task(self._send_keepalive())
        self._timer = self._loop.call_later(self._keepalive_seconds, self._tick)

    async def _send_keepalive(self) -> None:
        with suppress(OSError):
            await self._response.keepalive()

    def stop(self) -> None:
        self._timer.cancel()
        if self._task is not None:
            self._task.cancel()
        if self._keepalive is not None:
            self._keepalive.cancel()


def _status_of(items: list[Envelope | Rejected], responses: list[Message], session: ClientSession) -> int:
    """HTTP status of a JSON answer: 400 when nothing in it was valid; for 2026-07-28, the SDK's table."""
    if all(isinstance(item, Rejected) for item in items):
        return 400
    if session.transport == "stateless" and len(responses) == 1:
        error = responses[0].get("error")
        if isinstance(error, dict):
            assert _inbound is not None  # loaded by the request that made this session
            return _inbound.ERROR_CODE_HTTP_STATUS.get(error.get("code"), 200)
    return 200


_inbound: ModuleType | None = None


async def _sdk_inbound() -> ModuleType:
    """The SDK's checks of a 2026-07-28 request (headers against body, `_meta`, version). Importing
    them builds all of the SDK's models (~18 MB, ~0.4 s; protocol/spec.py), so that happens with the
    first such request, in a worker thread: the event loop keeps serving meanwhile."""
    global _inbound
    if _inbound is None:
        _inbound = await anyio.to_thread.run_sync(importlib.import_module, "mcp.shared.inbound")
    return _inbound
