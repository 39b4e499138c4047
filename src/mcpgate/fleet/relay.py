"""Requests for a session another replica holds are carried to it, and its answer back.

    app = SessionRelay(guarded_app, link, settings)   # in front of the guard

A session lives in the replica where it began (its upstream calls, its event stream, what it
is waiting for); its id names that replica (`hub/session.py`). Behind a balancer that spreads
every request, a legacy SSE POST or a Streamable HTTP request with `Mcp-Session-Id` may land
on any replica: this one reads the request, publishes it to the owner's channel, and writes
out the answer the owner publishes back — status, headers, then the body as it comes (a JSON
reply, a POST's event stream, a GET stream that lasts for hours). The owner runs the request
through its own guard and transports exactly as if the client had reached it, so a relayed
request is authenticated, rate-limited, audited and answered once, by the replica that can.

What can go wrong, and what the client sees:
  owner gone (no heartbeat, nobody subscribed)  answered here: 404 session not found (the
                                                client starts a new session, as the spec says)
  owner stops mid-answer (killed)               the stream ends (seen when its heartbeat stops)
  owner silent past relayTimeoutSeconds         504
  Redis unreachable                             503 with Retry-After
  client hangs up                               the owner hears http.disconnect (cancels)
  client stops reading                          past edge.maxQueuedBytes the relay gives up
Stateless (2026-07-28) requests carry no session and are never relayed.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import anyio
import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from mcpgate.edge.http import cancel_on_disconnect, query_param, read_body, request_headers, send_json
from mcpgate.errors import INTERNAL_ERROR, GatewayError
from mcpgate.fleet.link import FleetLink, FleetUnavailable
from mcpgate.hub.session import owner_of_session
from mcpgate.protocol.jsonrpc import error_response
from mcpgate.settings import GatewaySettings

logger = logging.getLogger(__name__)

SESSION_HEADER = "mcp-session-id"
_RESUBSCRIBING_PAUSES = (0.05, 0.1, 0.2, 0.4, 0.8, 0.0)
_SCOPE_KEYS = ("http_version", "method", "scheme", "path", "root_path", "client", "server")


class SessionRelay:
    def __init__(self, app: ASGIApp, link: FleetLink, settings: GatewaySettings) -> None:
        self.app = app
        self.link = link
        self.max_body_bytes = settings.edge.max_body_bytes
        self.max_queued_bytes = settings.edge.max_queued_bytes
        self.timeout = settings.fleet.relay_timeout_seconds
        self._ids = itertools.count()
        self._waiting: dict[str, _Answer] = {}  # relayed from here, by id: the owner's answer arriving
        self._serving: dict[str, _Served] = {}  # relayed to here, by id: being answered
        link.on_message("direct", self._frame)
        link.on_gone.append(self._gone)
        link.on_unreachable.append(self._cut_off)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        owner = self._owner(scope) if scope["type"] == "http" else None
        if owner is None:
            await self.app(scope, receive, send)
        else:
            await self._relay(owner, scope, receive, send)

    def _owner(self, scope: Scope) -> str | None:
        """The replica holding the session this request names, when it is another one."""
        session_id = request_headers(scope).get(SESSION_HEADER)
        if session_id is None and scope.get("query_string"):
            session_id = query_param(scope, "sessionId", "session_id")
        owner = owner_of_session(session_id) if session_id else None
        return owner if owner != self.link.replica else None

    # -- this replica relays -----------------------------------------------------------

    async def _relay(self, owner: str, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            body = await read_body(receive, request_headers(scope), self.max_body_bytes)
        except GatewayError as exc:
            await send_json(send, exc.http_status, error_response(None, exc.code, exc.message))
            return
        # While Redis is away nothing can be relayed: the request waits for it (a legacy SSE client
        # whose POST fails cannot send again), within the relay's bound.
        if not self.link.reachable and not await self.link.reached(self.timeout):
            await _refuse(send, 503, "the replica holding this session cannot be reached now (Redis is away); retry")
            return
        relay_id = f"{self.link.replica}:{next(self._ids)}"
        answer = self._waiting[relay_id] = _Answer(owner, self.max_queued_bytes)
        request = {"op": "request", "id": relay_id, "from": self.link.replica, "scope": _portable(scope)}
        try:
            try:
                delivered = await self._deliver(owner, _pack(request, body))
            except FleetUnavailable:  # Redis went away just now: once it is back (within the bound), again
                if not await self.link.reached(self.timeout):
                    raise
                delivered = await self._deliver(owner, _pack(request, body))
        except FleetUnavailable as exc:
            del self._waiting[relay_id]
            await _refuse(send, 503, f"the replica holding this session cannot be reached now ({exc}); retry")
            return
        if not delivered:  # nobody listens there: that replica, and its sessions, are gone
            del self._waiting[relay_id]
            await self.app(scope, _replay(body, receive), send)  # which answers 404 session not found
            return
        finished = False
        try:
            with anyio.CancelScope() as hung_up:
                watcher = asyncio.get_running_loop().create_task(cancel_on_disconnect(receive, hung_up))
                try:
                    finished = await self._pass_on(answer, send)
                finally:
                    watcher.cancel()
        finally:
            del self._waiting[relay_id]
            if not finished:  # the client left, or stopped reading: the owner stops too
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    try:
                        await self.link.send(owner, _pack({"op": "cancel", "id": relay_id}))
                    except FleetUnavailable:
                        pass

    async def _deliver(self, owner: str, request: bytes) -> bool:
        """Publish to the owner; True once it listens. A replica still beating but not listening is
        between two subscriptions (Redis just came back): it is given a moment before it counts as gone."""
        for pause in _RESUBSCRIBING_PAUSES:
            if await self.link.send(owner, request):
                return True
            if not self.link.alive(owner):
                return False
            await anyio.sleep(pause)  # a bounded retry, not a wait for an event
        return False

    async def _pass_on(self, answer: _Answer, send: Send) -> bool:
        """Write the owner's answer out as it arrives; True once it was whole."""
        head: dict[str, Any] | None = None
        first = b""
        with anyio.move_on_after(self.timeout):
            head, first = await answer.next()
        if head is None or head["op"] != "start":
            message = (
                "the replica holding this session stopped answering"
                if answer.ended
                else f"the replica holding this session did not answer within {self.timeout:g}s"
            )
            await _refuse(send, 502 if answer.ended else 504, message)
            return False
        await send({"type": "http.response.start", "status": head["status"], "headers": _headers(head["headers"])})
        if head.get("body"):  # the start frame carries the first body too
            more = bool(head.get("more"))
            await send({"type": "http.response.body", "body": first, "more_body": more})
            if not more:
                return True
        while True:
            head, chunk = await answer.next()
            if head["op"] == "body":
                more = bool(head.get("more"))
                await send({"type": "http.response.body", "body": chunk, "more_body": more})
                if not more:
                    return True
            else:  # "end" before the last body: the owner stopped mid-answer; end ours the same way
                await send({"type": "http.response.body", "body": b""})
                return head.get("whole", False)

    # -- frames from other replicas ----------------------------------------------------

    def _frame(self, payload: bytes) -> None:
        if not payload:
            return  # the link's own check that this replica is subscribed
        head, body = _unpack(payload)
        op, relay_id = head.get("op"), head.get("id")
        if op == "request":
            served = self._serving[relay_id] = _Served(head["from"])
            task = asyncio.get_running_loop().create_task(self._serve(relay_id, head, body, served))
            served.task = task
        elif op == "cancel":
            if (served := self._serving.get(relay_id)) is not None:
                served.disconnected.set()
        elif (answer := self._waiting.get(relay_id)) is not None:
            if not answer.offer(head, body):
                logger.warning("relayed request %s: the client is not reading its answer; giving up", relay_id)

    def _cut_off(self) -> None:
        """Redis is lost: no frame can come or go, so every relayed exchange ends now."""
        for answer in self._waiting.values():
            answer.offer({"op": "end"}, b"")
        for served in self._serving.values():
            served.disconnected.set()

    def _gone(self, replica: str) -> None:
        for answer in self._waiting.values():
            if answer.owner == replica:
                answer.offer({"op": "end"}, b"")
        for served in self._serving.values():
            if served.relayer == replica:
                served.disconnected.set()

    # -- this replica answers ----------------------------------------------------------

    async def _serve(self, relay_id: str, head: dict[str, Any], body: bytes, served: _Served) -> None:
        relayer = served.relayer
        scope = _restored(head["scope"])
        delivered = True

        async def until_disconnected() -> Message:
            await served.disconnected.wait()
            return {"type": "http.disconnect"}

        receive = _replay(body, until_disconnected)

        held: dict[str, Any] | None = None  # a response's start, sent with its first body

        async def send(message: Message) -> None:
            nonlocal delivered, held
            if served.disconnected.is_set() or not delivered:
                raise OSError("the client of the relaying replica went away")
            chunk = b""
            if message["type"] == "http.response.start":
                headers = message.get("headers", ())
                frame = {"op": "start", "id": relay_id, "status": message["status"]}
                frame["headers"] = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in headers]
                if not _is_event_stream(headers):
                    # Its body follows at once: the two travel together and are written out as one,
                    # so a relaying replica that dies leaves its client nothing or everything.
                    held = frame
                    return
            elif message["type"] == "http.response.body":
                more = message.get("more_body", False)
                chunk = message.get("body", b"")
                served.finished = not more
                if held is not None:
                    frame, held = {**held, "body": True, "more": more}, None
                else:
                    frame = {"op": "body", "id": relay_id, "more": more}
            else:
                return
            try:
                delivered = await self.link.send(relayer, _pack(frame, chunk))
            except FleetUnavailable:
                delivered = False
            if not delivered:
                served.disconnected.set()
                raise OSError("the relaying replica is gone")

        try:
            await self.app(scope, receive, send)
        except OSError:
            pass  # the relaying replica or its client went away
        except Exception:
            logger.exception("relayed request %s failed", relay_id)
        finally:
            self._serving.pop(relay_id, None)
            if not served.finished and delivered:
                with anyio.CancelScope(shield=True), anyio.move_on_after(1):
                    try:
                        await self.link.send(relayer, _pack({"op": "end", "id": relay_id, "whole": False}))
                    except FleetUnavailable:
                        pass


@dataclass(eq=False)
class _Answer:
    """The owner's answer to a request relayed from here, as its frames arrive (bounded)."""

    owner: str
    max_bytes: int
    frames: deque[tuple[dict[str, Any], bytes]] = field(default_factory=deque)
    queued: int = 0
    started: bool = False
    ended: bool = False
    _arrived: asyncio.Event = field(default_factory=asyncio.Event)

    def offer(self, head: dict[str, Any], chunk: bytes) -> bool:
        """Queue a frame; False when the client has not read enough of what came before (the
        answer then ends here, and the owner is told to stop)."""
        if self.ended:
            return True
        overflowed = self.queued + len(chunk) > self.max_bytes
        if overflowed:
            self.frames.clear()
            self.queued = 0
            head, chunk = {"op": "end", "whole": False}, b""
        if head["op"] == "start":
            self.started = True
        elif head["op"] == "end":
            self.ended = True
        self.frames.append((head, chunk))
        self.queued += len(chunk)
        self._arrived.set()
        return not overflowed

    async def next(self) -> tuple[dict[str, Any], bytes]:
        while not self.frames:
            self._arrived.clear()
            await self._arrived.wait()
        head, chunk = self.frames.popleft()
        self.queued -= len(chunk)
        return head, chunk


@dataclass(eq=False)
class _Served:
    """A request relayed to this replica, being answered."""

    relayer: str
    disconnected: anyio.Event = field(default_factory=anyio.Event)
    task: asyncio.Task[None] | None = None  # held: a task nobody references may be collected mid-run
    finished: bool = False


def _is_event_stream(headers: Any) -> bool:
    return any(name.lower() == b"content-type" and value.startswith(b"text/event-stream") for name, value in headers)


def _pack(head: Mapping[str, Any], body: bytes = b"") -> bytes:
    return orjson.dumps(head) + b"\n" + body  # orjson writes no newline inside: the first one ends the head


def _unpack(payload: bytes) -> tuple[dict[str, Any], bytes]:
    head, _, body = payload.partition(b"\n")
    return orjson.loads(head), body


def _portable(scope: Scope) -> dict[str, Any]:
    """What the owner needs of the request's ASGI scope, as JSON."""
    portable = {key: scope.get(key) for key in _SCOPE_KEYS}
    portable["raw_path"] = (scope.get("raw_path") or scope["path"].encode()).decode("latin-1")
    portable["query_string"] = scope.get("query_string", b"").decode("latin-1")
    portable["headers"] = [[k.decode("latin-1"), v.decode("latin-1")] for k, v in scope["headers"]]
    return portable


def _restored(portable: dict[str, Any]) -> Scope:
    scope: dict[str, Any] = {"type": "http", "asgi": {"version": "3.0", "spec_version": "2.3"}, "state": {}}
    scope.update({key: portable.get(key) for key in _SCOPE_KEYS})
    scope["client"] = tuple(portable["client"]) if portable.get("client") else None
    scope["server"] = tuple(portable["server"]) if portable.get("server") else None
    scope["raw_path"] = portable["raw_path"].encode("latin-1")
    scope["query_string"] = portable["query_string"].encode("latin-1")
    scope["headers"] = _headers(portable["headers"])
    return scope


def _headers(pairs: list[list[str]]) -> list[tuple[bytes, bytes]]:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def _replay(body: bytes, receive: Receive) -> Receive:
    """`receive` for an app that reads a body this middleware already read."""
    given = False

    async def replayed() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replayed


async def _refuse(send: Send, status: int, message: str) -> None:
    headers = [(b"retry-after", b"1")] if status == 503 else []
    await send_json(send, status, error_response(None, INTERNAL_ERROR, message), headers)
