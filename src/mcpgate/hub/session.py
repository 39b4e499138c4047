"""Client sessions as the hub sees them, whatever transport carries them.

A `ClientSession` is one MCP client connected to the gateway (an SSE stream, a
Streamable HTTP `Mcp-Session-Id`, or a single stateless exchange). Messages that are
not an answer to one of its requests — `list_changed`, say — go out through `push`,
which each transport implements (an SSE stream's queue, a GET stream). Nothing here
is shared between sessions; that is the point.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import Any

import anyio

from mcpgate.cancellation import CallOff
from mcpgate.errors import INTERNAL_ERROR, UpstreamError
from mcpgate.protocol.jsonrpc import notification

logger = logging.getLogger(__name__)

Message = dict[str, Any]
Push = Callable[[Message], Awaitable[None]]


# The headers of the HTTP request that carries the message being handled (set by the edge
# around each POST): where a passed-through credential comes from. Per request, so two
# requests of one session, or of two sessions, never see each other's.
CALLER_HEADERS: ContextVar[Mapping[str, str] | None] = ContextVar("caller_headers", default=None)


class Undeliverable(Exception):
    """A message that must reach the client (a request to it) has no way to get there."""


async def _drop(message: Message) -> None:
    """A session with nowhere to deliver unsolicited messages (stateless, or no GET stream yet)."""


# Which process a session id belongs to: "" alone, ".<replica id>" in a fleet, so that any
# replica can tell from the id where the session lives (fleet/relay.py) without a lookup.
_owner_suffix = ""


def sessions_belong_to(replica: str) -> None:
    """Mint every later session id of this process with `replica` in it (set once, at start)."""
    global _owner_suffix
    _owner_suffix = f".{replica}" if replica else ""


def new_session_id() -> str:
    # 128 bits from the OS CSPRNG, URL-safe; the session id is a bearer capability. The random part
    # comes first: it is what `shown_session_id` shows.
    return secrets.token_urlsafe(16) + _owner_suffix


def owner_of_session(session_id: str) -> str | None:
    """The replica a session id was minted by (None: minted outside a fleet)."""
    _, dot, replica = session_id.rpartition(".")
    return replica if dot and replica else None


def shown_session_id(session_id: str) -> str:
    """How a log line names a session: enough to follow one in the log, never enough to post into it."""
    return f"{session_id[:6]}…"


@dataclass(eq=False)
class ClientSession:
    # "sse" | "streamable_http" | "stateless" (2026-07-28) | "oneshot" (a handshake-era request
    # sent without a session, answered alone) | "rest"
    transport: str
    server: str | None = None  # the virtual server it is connected to; None = the default endpoint
    owner: str = "open"  # the principal (key id, "static", "anonymous") that opened it; only it may use it
    user: str | None = None  # the end user (x-username) it acts for
    # The headers of the request that opened it (an SSE stream's GET): passthrough values for
    # requests that carry none of their own. Memory only, gone with the session.
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    id: str = field(default_factory=new_session_id)
    push: Push = _drop
    protocol_version: str | None = None
    client_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    # (the capabilities it was worked out from, its profile): see `Hub.profile_of`
    profile: tuple[dict[str, Any], Any] | None = field(default=None, repr=False)
    initialized: bool = False
    # Least severe log level the client wants (logging/setLevel, or 2026's per-request
    # `_meta`); None = all before setLevel on the handshake era, none on 2026-07-28.
    log_level: str | None = None
    created_at: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    # In-flight requests of this session, by the client's own request id: cancelling one
    # (notifications/cancelled, or the client going away) stops the upstream call too.
    in_flight: dict[str | int, CallOff] = field(default_factory=dict)
    closed: anyio.Event = field(default_factory=anyio.Event)
    on_close: Callable[[], None] | None = None  # a stream's own way to end at once (SSE)
    open_streams: int = 0  # SSE streams currently attached; a session with one is never idle
    # Answers to its recent requests, by request id, for one resent (see `RecentAnswers`).
    answers: RecentAnswers | None = field(default=None, repr=False)
    # Requests the gateway sent this client (sampling, elicitation, roots…) awaiting its answer.
    _asked: dict[int, _Answer] = field(default_factory=dict)
    _next_ask: int = 0

    @property
    def shown_id(self) -> str:
        return shown_session_id(self.id)

    @property
    def ephemeral(self) -> bool:
        """One exchange, no session behind it (2026-07-28 stateless, REST): nothing outlives the request."""
        return self.transport in ("stateless", "oneshot", "rest")

    @property
    def speaks_http(self) -> bool:
        """A REST caller, told of failures by HTTP status rather than by a result it reads."""
        return self.transport == "rest"

    def idle_for(self, now: float) -> float:
        if self.open_streams or self.in_flight:
            return 0.0
        return now - self.last_seen

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def cancel(self, request_id: str | int) -> bool:
        call_off = self.in_flight.get(request_id)
        if call_off is None:
            return False
        call_off.cancel()
        return True

    def close(self) -> None:
        for call_off in self.in_flight.values():
            call_off.cancel()
        for answer in self._asked.values():
            answer.give_up("the client session ended")
        if self.answers is not None:
            self.answers.close()
        self.closed.set()
        if self.on_close is not None:
            self.on_close()

    async def ask(
        self,
        method: str,
        params: Any,
        send: Push,
        timeout: float,  # noqa: ASYNC109 - the deadline is ours: it triggers a cancel notice to the client
    ) -> dict[str, Any]:
        """Send this client a request on `send` (the stream of the request that caused it) and
        return its result; a JSON-RPC error from the client is raised as `UpstreamError` with
        the client's code, which the caller passes back to the upstream unchanged."""
        self._next_ask += 1
        request_id = self._next_ask
        answer = _Answer()
        self._asked[request_id] = answer
        message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if params is not None:
            message["params"] = params
        try:
            await send(message)
            with anyio.fail_after(timeout):
                await answer.arrived.wait()
        except TimeoutError:
            await self._withdraw(request_id, send, "timed out")
            raise UpstreamError(f"the client did not answer {method} within {timeout:g}s") from None
        except anyio.get_cancelled_exc_class():
            await self._withdraw(request_id, send, "cancelled by the server")
            raise
        finally:
            del self._asked[request_id]
        if answer.error is not None:
            error = UpstreamError(str(answer.error.get("message", "")), data=answer.error.get("data"))
            code = answer.error.get("code")
            error.code = code if isinstance(code, int) else INTERNAL_ERROR
            raise error
        return answer.result or {}

    async def _withdraw(self, request_id: int, send: Push, reason: str) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(2):
            try:
                await send(notification("notifications/cancelled", {"requestId": request_id, "reason": reason}))
            except Exception as exc:  # a courtesy: the stream may be gone
                logger.debug("session %s: cancel notice not sent: %s", self.shown_id, exc)

    def answer(self, message: Message) -> bool:
        """The client's response to one of our requests; False if we asked no such thing."""
        request_id = message.get("id")
        answer = self._asked.get(request_id) if isinstance(request_id, int) else None
        if answer is None:
            return False
        error = message.get("error")
        if isinstance(error, dict):
            answer.error = error
        else:
            result = message.get("result")
            answer.result = result if isinstance(result, dict) else {}
        answer.arrived.set()
        return True


# Requests that would do something twice if run twice: a resend of one of these is answered with the
# first one's answer. Any other (initialize, a list, a read) simply runs again, which is as good,
# and its answer (a tool list may be tens of KB) is not kept.
ANSWERED_ONCE = frozenset({"tools/call"})

# The context a timer runs its callback in: by default a copy of the caller's, which would keep the
# request's context variables (and what they hold) alive until the timer fires.
_NO_CONTEXT = contextvars.Context()


class RecentAnswers:
    """A session's answers by request id, while they run and for a few seconds after.

    Request ids are unique within a session (the spec says so), so a request that arrives again,
    the same in every byte, with an id already seen is the same request resent — by a balancer
    that lost the connection it first went on (a replica killed mid-request) and tried another.
    It gets the first one's answer instead of running twice: a tool call is not made twice
    because a proxy retried it. A request that reuses an id for something else (some clients
    number every request 1) is no resend: it runs. Only `ANSWERED_ONCE` requests are kept. Bounded:
    the last `keep` answers, `seconds` each, then let go by a timer (armed only while some are
    kept): an idle session holds none, where it used to hold its last answers, its `initialize`
    among them, for as long as it stayed open.
    """

    __slots__ = ("_running", "_answered", "_expiry")

    keep = 8
    seconds = 10.0

    def __init__(self) -> None:
        # A running request's future is made only when a resend waits for it: nearly never.
        self._running: dict[tuple[str, Any], tuple[Message, asyncio.Future[Message | None] | None]] = {}
        self._answered: dict[tuple[str, Any], tuple[float, Message, Message | None]] = {}
        self._expiry: asyncio.TimerHandle | None = None

    def earlier(
        self, key: tuple[str, Any], request: Message
    ) -> asyncio.Future[Message | None] | tuple[float, Message, Message | None] | None:
        """The answer to the same request sent before: running (a future) or given; None if new."""
        running = self._running.get(key)
        if running is not None:
            if running[0] != request:
                return None
            future = running[1]
            if future is None:
                future = asyncio.get_running_loop().create_future()
                self._running[key] = (running[0], future)
            return future
        given = self._answered.get(key)
        if given is not None and given[1] == request and time.monotonic() - given[0] < self.seconds:
            return given
        return None

    def start(self, key: tuple[str, Any], request: Message) -> bool:
        """Note a request as running; False when another with its id runs (an id reused): not noted."""
        if key in self._running:
            return False
        self._running[key] = (request, None)
        return True

    def finish(self, key: tuple[str, Any], answer: Message | None, cancelled: bool) -> None:
        request, future = self._running.pop(key)
        if cancelled:  # nothing was answered: a resent request runs again
            if future is not None:
                future.cancel()
            return
        if future is not None:
            future.set_result(answer)
        self._answered.pop(key, None)
        self._answered[key] = (time.monotonic(), request, answer)
        while len(self._answered) > self.keep:
            del self._answered[next(iter(self._answered))]
        if self._expiry is None:
            self._expiry = asyncio.get_running_loop().call_later(self.seconds, self._expire, context=_NO_CONTEXT)

    def _expire(self) -> None:
        """Let go of the answers older than `seconds` (oldest first), and wake again for the rest."""
        now = time.monotonic()
        while self._answered:
            given_at = next(iter(self._answered.values()))[0]
            if now - given_at < self.seconds:
                wait = given_at + self.seconds - now
                self._expiry = asyncio.get_running_loop().call_later(wait, self._expire, context=_NO_CONTEXT)
                return
            del self._answered[next(iter(self._answered))]
        self._expiry = None

    def close(self) -> None:
        """The session ended: nothing more to keep, nor to wake for."""
        if self._expiry is not None:
            self._expiry.cancel()
            self._expiry = None
        self._answered.clear()


@dataclass(slots=True)
class _Answer:
    result: dict[str, Any] | None = None
    error: dict[str, Any] | None = None
    arrived: anyio.Event = field(default_factory=anyio.Event)

    def give_up(self, reason: str) -> None:
        self.error = {"code": INTERNAL_ERROR, "message": reason}
        self.arrived.set()


class SessionRegistry:
    """The live sessions of this process, by id."""

    def __init__(self, on_remove: Callable[[ClientSession], None] | None = None) -> None:
        self._sessions: dict[str, ClientSession] = {}
        self._on_remove = on_remove

    def add(self, session: ClientSession) -> ClientSession:
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ClientSession | None:
        if not session_id:
            return None
        return self._sessions.get(session_id)

    def remove(self, session_id: str) -> ClientSession | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close()
            if self._on_remove is not None:
                self._on_remove(session)
        return session

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._sessions.values()))
