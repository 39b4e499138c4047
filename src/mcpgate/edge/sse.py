"""The legacy HTTP+SSE transport (protocol 2024-11-05), as every older client speaks it.

    GET  /sse                          → text/event-stream; first event `endpoint` names the POST URL
    POST /messages?sessionId=<id>      → 202; the JSON-RPC answer arrives on that session's stream
    POST /message?session_id=<id>      (the other spellings seen in the wild)

Each stream is one `ClientSession` with its own outbox: a reply is written to the outbox
of the session whose POST asked for it and nowhere else (the bug that makes one popular
bridge deliver replies to the wrong client is broadcasting one child's stdout to every
stream). Handlers run in tasks that end with the stream, so a client that disconnects
cancels its in-flight upstream calls. Idle streams get a comment line every
`keepalive_seconds` so proxies don't cut them. What a session has queued is bounded
(`edge.maxQueuedBytes`, see `outbox.py`): a client that stops reading loses its session,
and nobody else notices.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from typing import Any

import anyio
from starlette.types import Receive, Scope, Send

from mcpgate.edge.exchange import answer_all, read_messages
from mcpgate.edge.http import (
    MESSAGES_PATH_KEY,
    SSE_HEADERS,
    USER_KEY,
    caller_headers,
    cancel_on_disconnect,
    foreign,
    owner_of,
    query_param,
    request_headers,
    send_json,
    server_of,
    sse_event,
)
from mcpgate.edge.outbox import Outbox
from mcpgate.errors import INVALID_REQUEST, SESSION_NOT_FOUND
from mcpgate.hub.routing import RequestRouter
from mcpgate.hub.session import CALLER_HEADERS, ClientSession
from mcpgate.protocol.jsonrpc import Envelope, Message, dumps, error_response
from mcpgate.settings import EdgeSettings

logger = logging.getLogger(__name__)

_CLOSING_WRITE_SECONDS = 5.0


@dataclass(slots=True)
class _Stream:
    session: ClientSession
    tasks: set[asyncio.Task[None]]  # its POSTs' handlers: they end with the stream


class SSETransport:
    def __init__(self, router: RequestRouter, settings: EdgeSettings, messages_path: str = "/messages") -> None:
        self.router = router
        self.sessions = router.hub.sessions
        self.settings = settings
        self.messages_path = messages_path
        self._streams: dict[str, _Stream] = {}

    async def handle_stream(self, scope: Scope, receive: Receive, send: Send) -> None:
        """GET: open a session and stream its messages until either side goes away."""
        outbox = Outbox(self.settings.max_queued_bytes)
        session = ClientSession(
            "sse",
            server=server_of(scope),
            owner=owner_of(scope),
            user=scope.get(USER_KEY),
            headers=dict(caller_headers(scope)),  # kept for the session's life: a copy
        )

        async def push(message: Message) -> None:
            if not outbox.offer(sse_event(dumps(message), "message")) and not session.closed.is_set():
                logger.warning(
                    "SSE session %s is not reading its stream (%d bytes unread); closing it",
                    session.shown_id,
                    outbox.queued_bytes,
                )
                outbox.clear()
                self.sessions.remove(session.id)

        session.push = push
        messages_path = scope.get(MESSAGES_PATH_KEY, self.messages_path)
        endpoint = f"{scope.get('root_path', '')}{messages_path}?sessionId={session.id}"
        stream = _Stream(session, set())
        await send({"type": "http.response.start", "status": 200, "headers": SSE_HEADERS})
        watcher: asyncio.Task[None] | None = None
        try:
            await send(
                {"type": "http.response.body", "body": sse_event(endpoint.encode(), "endpoint"), "more_body": True}
            )
            # One cancel scope ends the stream, whoever ends it: the client (the watcher task, the
            # session's only helper) or the gateway (a deleted server, a revoked key: `on_close`).
            with anyio.CancelScope() as ending:
                session.on_close = ending.cancel
                watcher = asyncio.get_running_loop().create_task(cancel_on_disconnect(receive, ending))
                self._streams[session.id] = stream
                self.sessions.add(session)
                session.open_streams += 1
                logger.debug("SSE session %s opened", session.shown_id)
                while True:
                    chunk = await outbox.take(self.settings.keepalive_seconds)
                    await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if session.closed.is_set():  # ended by the gateway (deleted server, revoked key): end the body cleanly
                with anyio.move_on_after(_CLOSING_WRITE_SECONDS):  # unless the client stopped reading
                    await send({"type": "http.response.body", "body": b""})
        except OSError:
            pass  # the client went away mid-write
        finally:
            session.on_close = None
            if watcher is not None:
                watcher.cancel()
            for task in list(stream.tasks):
                task.cancel()
            self._streams.pop(session.id, None)
            self.sessions.remove(session.id)
            logger.debug("SSE session %s closed", session.shown_id)

    async def handle_message(self, scope: Scope, receive: Receive, send: Send) -> None:
        """POST: accept messages for a session; answers go to its stream."""
        if scope["method"] != "POST":
            await send_json(
                send,
                405,
                error_response(None, INVALID_REQUEST, f"Method {scope['method']} not allowed; POST messages here"),
                [(b"allow", b"POST")],
            )
            return
        headers = request_headers(scope)
        session_id = query_param(scope, "sessionId", "session_id")
        if not session_id:
            await send_json(
                send,
                400,
                error_response(None, INVALID_REQUEST, "Bad Request: the sessionId query parameter is required"),
            )
            return
        stream = self._streams.get(session_id)
        if stream is not None and (refusal := foreign(stream.session, scope)) is not None:
            await send_json(send, 403, error_response(None, INVALID_REQUEST, refusal))
            return
        # A session is reached only where it began, and not once it has ended (its stream may still be closing).
        if stream is None or stream.session.server != server_of(scope) or stream.session.closed.is_set():
            await send_json(
                send,
                404,
                error_response(
                    None, SESSION_NOT_FOUND, "Session not found: it expired or never existed; reconnect to /sse"
                ),
            )
            return
        parsed = await read_messages(receive, send, headers, self.settings.max_body_bytes)
        if parsed is None:
            return
        items, _ = parsed
        rejected = [item for item in items if not isinstance(item, Envelope)]
        accepted = [item for item in items if isinstance(item, Envelope)]
        passed = caller_headers(scope)
        loop = asyncio.get_running_loop()
        for item in accepted:  # answered on the stream, in tasks that end with it
            task = loop.create_task(self._answer(stream.session, item, passed))
            stream.tasks.add(task)
            task.add_done_callback(stream.tasks.discard)
        if rejected:
            errors: Any = [item.error for item in rejected]
            for error in errors:
                if error.get("id") is not None:
                    await stream.session.push(error)
            await send_json(send, 400, errors[0] if len(errors) == 1 else errors)
            return
        await send({"type": "http.response.start", "status": 202, "headers": [(b"content-type", b"text/plain")]})
        await send({"type": "http.response.body", "body": b"Accepted"})

    async def _answer(self, session: ClientSession, envelope: Envelope, passed: dict[str, str]) -> None:
        CALLER_HEADERS.set(passed)  # this task's own context: this POST's headers only
        for response in await answer_all(self.router, session, [envelope], session.push):
            await session.push(response)
