"""JSON-RPC with one upstream server, over any `Channel`.

The `Peer` mints the upstream-side request ids (so ids chosen by different client
sessions can never collide upstream), matches replies to the request that awaits them,
and decides where every other message the upstream sends belongs:

- a reply goes to the one `Exchange` (request in flight) with its id;
- progress goes to the exchange whose progress token it carries (tokens are minted here);
- other request-related messages (log messages, server→client requests) go to the
  exchange the channel read them for — Streamable HTTP answers each request on its own
  stream — and otherwise to the only session with requests in flight, if exactly one has;
- the rest (list changes, resource updates) goes to the connection's own handlers.

A `Channel` moves JSON-RPC messages (plain dicts) and nothing else; see `stdio.py`,
`sse.py` and `streamable_http.py`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

import anyio
from anyio.abc import TaskGroup, TaskStatus

from mcpgate.cancellation import CallOff
from mcpgate.errors import (
    INTERNAL_ERROR,
    METHOD_NOT_FOUND,
    GatewayError,
    UpstreamError,
    UpstreamTimeout,
    UpstreamUnavailable,
)

logger = logging.getLogger(__name__)

Message = dict[str, Any]
Notify = Callable[[Message], Awaitable[None]]
ProgressFn = Callable[[float, float | None, str | None], Awaitable[None]]
RequestHandler = Callable[[str, Mapping[str, Any] | None, "Exchange | None"], Awaitable[dict[str, Any]]]
NotificationHandler = Callable[[str, Mapping[str, Any] | None], Awaitable[None]]

# About the upstream as a whole, whichever stream carried them: the hub handles them.
SHARED_NOTIFICATIONS = frozenset(
    {
        "notifications/tools/list_changed",
        "notifications/prompts/list_changed",
        "notifications/resources/list_changed",
        "notifications/resources/updated",
    }
)
# About one request even when nothing on the wire says which (stdio, legacy SSE).
_REQUEST_SCOPED = frozenset({"notifications/message", "notifications/elicitation/complete"})

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # one message; images and embedded files can be large
# How long a courtesy `notifications/cancelled` may take; it must not hold up the caller.
_CANCEL_NOTICE_SECONDS = 2.0


Ask = Callable[[str, Mapping[str, Any] | None], Awaitable[dict[str, Any]]]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who an in-flight request belongs to: where its related notifications go, and how to
    put the upstream's requests (sampling, elicitation…) to that client."""

    session_id: str
    notify: Notify
    ask: Ask | None = None


class Channel(Protocol):
    """How messages reach one upstream. Implementations deliver what they read to `peer.receive`."""

    carries_stateless: bool  # can send self-contained 2026-07-28 requests beside the session
    transport: str  # how traces name it: "stdio", "sse", "streamable_http", "in_process"

    async def run(self, peer: Peer, *, task_status: TaskStatus[None]) -> None:
        """Read until the upstream goes away; `task_status.started()` once messages can be sent."""

    async def send_request(self, message: Message, exchange: Exchange, headers: Mapping[str, str]) -> None:
        """Send a request; its reply may arrive before this returns or later, through `peer.receive`."""

    async def send(self, message: Message, headers: Mapping[str, str]) -> None:
        """Send a notification or a response."""


class Exchange:
    """One request in flight upstream: its reply, once it arrives, and who is waiting for it."""

    __slots__ = ("_arrived", "caller", "error", "id", "lost", "method", "on_progress", "result", "stateless")

    def __init__(
        self,
        request_id: int,
        method: str,
        caller: Caller | None,
        on_progress: ProgressFn | None,
        stateless: bool = False,
    ) -> None:
        self.id = request_id
        self.method = method
        self.caller = caller
        self.on_progress = on_progress
        self.stateless = stateless  # a self-contained 2026-07-28 request, outside the upstream session
        self.result: dict[str, Any] | None = None
        self.error: dict[str, Any] | None = None
        self.lost: str | None = None  # why no reply can come any more
        # Made only if someone has to wait; asyncio's own, as the deadline in `Peer.request`.
        self._arrived: asyncio.Event | None = None

    @property
    def answered(self) -> bool:
        return self.result is not None or self.error is not None or self.lost is not None

    def give_up(self, reason: str) -> None:
        self.lost = reason
        if self._arrived is not None:
            self._arrived.set()

    def settle(self, message: Message) -> None:
        error = message.get("error")
        if error is not None:
            self.error = error if isinstance(error, dict) else {"code": INTERNAL_ERROR, "message": str(error)}
        else:
            result = message.get("result")
            self.result = result if isinstance(result, dict) else {}
        if self._arrived is not None:
            self._arrived.set()

    async def wait(self) -> None:
        if not self.answered:
            if self._arrived is None:
                self._arrived = asyncio.Event()
            await self._arrived.wait()


class Peer:
    """The gateway as the client of one upstream; see the module docstring."""

    def __init__(
        self,
        channel: Channel,
        tasks: TaskGroup,
        *,
        name: str,
        on_request: RequestHandler,
        on_notification: NotificationHandler,
    ) -> None:
        self.channel = channel
        self.name = name
        self._tasks = tasks  # server→client requests are answered off the read loop
        self._on_request = on_request
        self._on_notification = on_notification
        self._pending: dict[int, Exchange] = {}
        self._answering: dict[Any, anyio.CancelScope] = {}  # the upstream's requests we are relaying
        self._next_id = 0
        self._closed: str | None = None
        self.last_heard = time.monotonic()  # when the upstream last said anything: liveness needs no more

    @property
    def in_flight(self) -> int:
        """Requests made for client sessions, awaiting their answer (not the gateway's own, like a listen stream)."""
        return sum(1 for exchange in self._pending.values() if exchange.caller is not None)

    # -- outbound --------------------------------------------------------------------

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float | None,  # noqa: ASYNC109 - the deadline is ours: it triggers a cancel notice upstream
        headers: Mapping[str, str],
        on_progress: ProgressFn | None = None,
        caller: Caller | None = None,
        stateless: bool = False,
    ) -> dict[str, Any]:
        """The upstream's result for one request, or a `GatewayError` subclass.

        `stateless`: send it as a self-contained 2026-07-28 request (the envelope is in
        `params._meta`); only channels with `carries_stateless` can.
        """
        if self._closed is not None:
            raise UpstreamUnavailable(f"upstream {self.name!r} is unavailable ({self._closed})")
        self._next_id += 1
        request_id = self._next_id
        exchange = Exchange(request_id, method, caller, on_progress, stateless)
        message: Message = {"jsonrpc": "2.0", "id": request_id, "method": method}
        if on_progress is not None:
            # Our id doubles as the progress token: unique on this connection, whatever token the client chose.
            params = dict(params or {})
            params["_meta"] = {**(params.get("_meta") or {}), "progressToken": request_id}
        if params is not None:
            message["params"] = params
        self._pending[request_id] = exchange
        # The deadline is a timer calling the wait off (cancellation.py): on this per-call
        # path anyio's deadline, and even asyncio.timeout, cost a measurable share of the CPU.
        deadline = CallOff()
        timer = None if timeout is None else asyncio.get_running_loop().call_later(timeout, deadline.cancel)
        try:
            with deadline:
                await self.channel.send_request(message, exchange, headers)
                await exchange.wait()
        except anyio.get_cancelled_exc_class():
            # A stateless request is cancelled by closing its HTTP exchange, which just happened.
            if not exchange.answered and self._closed is None and not stateless:
                # The caller went away (client cancel or disconnect): stop the upstream's work too.
                await self._cancel_upstream(request_id, headers, "cancelled by the client")
            raise
        finally:
            if timer is not None:
                timer.cancel()
            del self._pending[request_id]
        if deadline.cancelled_caught and not exchange.answered:  # answered as time ran out: taken
            if not stateless:
                await self._cancel_upstream(request_id, headers, "timed out")
            raise UpstreamTimeout(f"upstream {self.name!r} did not answer {method} within {timeout or 0:g}s")
        if exchange.lost is not None:
            raise UpstreamUnavailable(f"upstream {self.name!r} {exchange.lost} during {method}")
        if exchange.error is not None:
            error = UpstreamError(str(exchange.error.get("message", "")), data=exchange.error.get("data"))
            code = exchange.error.get("code")
            error.code = code if isinstance(code, int) else INTERNAL_ERROR
            raise error
        assert exchange.result is not None
        return exchange.result

    async def notify(self, method: str, params: Mapping[str, Any] | None, headers: Mapping[str, str]) -> None:
        message: Message = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = params
        await self.channel.send(message, headers)

    async def _cancel_upstream(self, request_id: int, headers: Mapping[str, str], reason: str) -> None:
        with anyio.CancelScope(shield=True), anyio.move_on_after(_CANCEL_NOTICE_SECONDS):
            try:
                await self.notify("notifications/cancelled", {"requestId": request_id, "reason": reason}, headers)
            except Exception as exc:  # a courtesy: the upstream may be gone already
                logger.debug("upstream %s: cancel notice for %s not sent: %s", self.name, request_id, exc)

    def close(self, reason: str) -> None:
        """Fail every request in flight: the channel is gone and no reply can arrive.

        The first reason given is the one every later request hears."""
        if self._closed is None:
            self._closed = reason
        for exchange in list(self._pending.values()):
            if not exchange.answered:
                exchange.give_up(reason)

    # -- inbound ---------------------------------------------------------------------

    async def receive(self, message: Message, exchange: Exchange | None = None) -> None:
        """Take one message the channel read; `exchange` is the request whose stream carried it, if known."""
        self.last_heard = time.monotonic()
        method = message.get("method")
        if not isinstance(method, str):
            self._settle(message)
        elif "id" in message:
            self._tasks.start_soon(self._answer, message, exchange or self._sole_exchange())
        elif method == "notifications/progress":
            await self._progress(message.get("params") or {})
        elif method == "notifications/cancelled":
            # The upstream withdrew a request it sent us: stop relaying it (the client is told).
            scope = self._answering.get((message.get("params") or {}).get("requestId"))
            if scope is not None:
                scope.cancel()
        elif method not in SHARED_NOTIFICATIONS and (exchange is not None or method in _REQUEST_SCOPED):
            # About one request: a log line, an elicitation completed…
            target = exchange or self._sole_exchange()
            if target is not None and target.caller is not None:
                await target.caller.notify(message)
            elif exchange is None and method != "notifications/message":
                self._tasks.start_soon(self._on_notification, method, message.get("params"))
            else:
                logger.debug("upstream %s: %s with no single owning session dropped", self.name, method)
        else:
            # Off the read loop: a handler may ask the upstream something (re-list its tools).
            self._tasks.start_soon(self._on_notification, method, message.get("params"))

    def _settle(self, message: Message) -> None:
        request_id = message.get("id")
        exchange = self._pending.get(request_id) if isinstance(request_id, int) else None
        if exchange is None:
            logger.debug("upstream %s: reply to unknown or finished request %r", self.name, request_id)
        elif not exchange.answered:
            exchange.settle(message)

    async def _progress(self, params: Mapping[str, Any]) -> None:
        token = params.get("progressToken")
        exchange = self._pending.get(token) if isinstance(token, int) else None
        if exchange is None or exchange.on_progress is None:
            return
        progress = params.get("progress")
        if isinstance(progress, int | float):
            total = params.get("total")
            text = params.get("message")
            await exchange.on_progress(
                progress, total if isinstance(total, int | float) else None, text if isinstance(text, str) else None
            )

    def _sole_exchange(self) -> Exchange | None:
        """The in-flight exchange of the only session with requests in flight, else None.

        Over stdio and legacy SSE nothing links a log message or a server→client request
        to the request behind it. When one session has requests in flight it is that
        session's; when several have, delivering it to all would leak one session's data
        into another's, so it belongs to none.
        """
        owner: Exchange | None = None
        for exchange in self._pending.values():
            if exchange.caller is None:
                continue  # the gateway's own request (a listing, a listen stream)
            if owner is not None and owner.caller.session_id != exchange.caller.session_id:  # type: ignore[union-attr]
                return None
            owner = exchange
        return owner

    async def _answer(self, message: Message, exchange: Exchange | None) -> None:
        method, request_id = message["method"], message["id"]
        reply: Message = {"jsonrpc": "2.0", "id": request_id}
        try:
            with anyio.CancelScope() as scope:
                self._answering[request_id] = scope
                try:
                    reply["result"] = await self._on_request(method, message.get("params"), exchange)
                finally:
                    self._answering.pop(request_id, None)
            if scope.cancelled_caught:
                return  # withdrawn by the upstream: no answer is expected
        except GatewayError as exc:
            reply["error"] = {"code": exc.code, "message": exc.message}
            if exc.data is not None:
                reply["error"]["data"] = exc.data
        except Exception:  # top of a task: the upstream still gets an answer
            logger.exception("upstream %s: answering %s failed", self.name, method)
            reply["error"] = {"code": INTERNAL_ERROR, "message": f"mcpgate could not answer {method}"}
        try:
            await self.channel.send(reply, {})
        except Exception as exc:  # the upstream went away meanwhile
            logger.debug("upstream %s: reply to %s not sent: %s", self.name, method, exc)


def no_session_for(method: str) -> UpstreamError:
    """The answer to a server→client request that cannot be tied to one client session."""
    error = UpstreamError(
        f"mcpgate cannot tell which client session {method} is for: send it while handling that "
        "session's request (over Streamable HTTP, on that request's stream)"
    )
    error.code = METHOD_NOT_FOUND
    return error
