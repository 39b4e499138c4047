"""A supervised MCP client session with one upstream server.

`UpstreamConnection.run()` keeps the session alive for the gateway's lifetime: it opens
the transport, performs the initialize handshake, lists the upstream's tools, and when
the connection drops (a stdio child dies, a remote server goes away) it reconnects with
exponential backoff. While it is down, `request()` fails at once with
`UpstreamUnavailable` instead of letting callers hang.

All sessions of the gateway share this one connection: the SDK's `JSONRPCDispatcher`
mints its own request ids, so ids chosen by different clients can never collide
upstream, and each reply is delivered to the caller that awaits it — not broadcast.

It deliberately knows nothing about client sessions, naming or routing (that is `hub/`).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import anyio
from mcp.shared.dispatcher import CallOptions, DispatchContext, ProgressFnT
from mcp.shared.exceptions import MCPError
from mcp.shared.jsonrpc_dispatcher import JSONRPCDispatcher
from mcp_types import CONNECTION_CLOSED, METHOD_NOT_FOUND, REQUEST_TIMEOUT
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION

from mcpgate import __version__
from mcpgate.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from mcpgate.upstream.transports import UpstreamSpec, open_transport

logger = logging.getLogger(__name__)

_MAX_LIST_PAGES = 1000  # a cursor loop longer than this is an upstream bug, not a big catalog
_PROTOCOL_HEADER = "MCP-Protocol-Version"


class UpstreamState(StrEnum):
    CONNECTING = "connecting"
    READY = "ready"
    DOWN = "down"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class Backoff:
    """Exponential reconnect delays: first, first*2, … capped at `maximum` seconds."""

    first: float = 0.5
    maximum: float = 30.0

    def delay(self, failures: int) -> float:
        return min(self.maximum, self.first * (2 ** max(0, failures - 1)))


@dataclass(slots=True)
class UpstreamStatus:
    state: UpstreamState = UpstreamState.CONNECTING
    error: str | None = None
    restarts: int = 0
    connected_at: float | None = None
    retry_at: float | None = None
    server_info: dict[str, Any] = field(default_factory=dict)
    protocol_version: str | None = None

    def as_dict(self) -> dict[str, Any]:
        report: dict[str, Any] = {"state": self.state.value, "restarts": self.restarts}
        if self.error:
            report["error"] = self.error
        if self.retry_at is not None and self.state is UpstreamState.DOWN:
            report["retryInSeconds"] = round(max(0.0, self.retry_at - time.monotonic()), 1)
        if self.server_info:
            report["server"] = self.server_info
        if self.protocol_version:
            report["protocolVersion"] = self.protocol_version
        return report


ToolsListener = Callable[["UpstreamConnection"], Awaitable[None]]
Notify = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True, slots=True)
class Caller:
    """Who an in-flight request belongs to, and where its related notifications go."""

    session_id: str
    notify: Notify


class UpstreamConnection:
    """One upstream, kept connected; see the module docstring."""

    def __init__(
        self,
        spec: UpstreamSpec,
        *,
        connect_timeout: float,
        call_timeout: float,
        list_timeout: float,
        backoff: Backoff | None = None,
        on_tools_changed: ToolsListener | None = None,
    ) -> None:
        self.spec = spec
        self.name = spec.name
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.list_timeout = list_timeout
        self.backoff = backoff or Backoff()
        self.status = UpstreamStatus()
        self.capabilities: dict[str, Any] = {}
        self.tools: list[dict[str, Any]] = []  # as the upstream lists them, original names
        self._on_tools_changed = on_tools_changed
        self._dispatcher: JSONRPCDispatcher[Any] | None = None
        self._headers: dict[str, str] = {}
        self._callers: dict[int, Caller] = {}  # in-flight requests, for attributing notifications
        self._next_call = 0
        self._settled = anyio.Event()  # first attempt finished, successfully or not
        self._ready = anyio.Event()

    # -- lifecycle -------------------------------------------------------------------

    async def run(self) -> None:
        """Connect, serve until the connection drops, back off, repeat — until cancelled."""
        if not self.spec.enabled:
            self.status.state = UpstreamState.DISABLED
            self._settled.set()
            return
        failures = 0
        while True:
            self.status.state = UpstreamState.CONNECTING
            try:
                await self._connect_and_serve()
                error = "connection closed by the upstream"
            except Exception as exc:  # top of a background task: record, log, retry
                error = _describe_failure(exc)
                logger.warning("upstream %s: %s", self.name, error)
            if self.status.connected_at is not None:
                self.status.restarts += 1
                failures = 0
            failures += 1
            delay = self.backoff.delay(failures)
            self._go_down(error, delay)
            await anyio.sleep(delay)  # the backoff itself, not a wait for an event

    async def wait_settled(self) -> None:
        """Until the first connection attempt has succeeded or failed."""
        await self._settled.wait()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    @property
    def is_ready(self) -> bool:
        return self.status.state is UpstreamState.READY

    async def _connect_and_serve(self) -> None:
        async with open_transport(self.spec, self.connect_timeout) as (read, write):
            dispatcher: JSONRPCDispatcher[Any] = JSONRPCDispatcher(read, write)
            async with anyio.create_task_group() as tg:
                await tg.start(dispatcher.run, self._on_request, self._on_notify)
                try:
                    with anyio.fail_after(self.connect_timeout):
                        await self._handshake(dispatcher)
                except Exception as exc:
                    # Say so now: tearing the transport down (stopping a stuck child) can take seconds.
                    self.status.state = UpstreamState.DOWN
                    self.status.error = _describe_failure(exc)
                    self._settled.set()
                    raise
                self._dispatcher = dispatcher
                self.tools = await self._list_tools()
                self.status.state = UpstreamState.READY
                self.status.error = None
                self.status.connected_at = time.monotonic()
                self._ready.set()
                self._settled.set()
                logger.info("upstream %s ready (%d tools)", self.name, len(self.tools))
                if self._on_tools_changed is not None:
                    await self._on_tools_changed(self)
            # The task group ends when the dispatcher's read loop does: the upstream went away.

    async def _handshake(self, dispatcher: JSONRPCDispatcher[Any]) -> None:
        result = await dispatcher.send_raw_request(
            "initialize",
            {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": {},
                "clientInfo": {"name": "mcpgate", "version": __version__},
            },
            {"cancel_on_abandon": False},
        )
        version = result.get("protocolVersion")
        if version not in HANDSHAKE_PROTOCOL_VERSIONS:
            raise UpstreamError(f"upstream answered initialize with unsupported protocol version {version!r}")
        self.capabilities = dict(result.get("capabilities") or {})
        self.status.server_info = dict(result.get("serverInfo") or {})
        self.status.protocol_version = version
        # HTTP transports send the negotiated version on every later request (spec 2025-06-18+).
        self._headers = {_PROTOCOL_HEADER: version}
        await dispatcher.notify("notifications/initialized", None)

    def _go_down(self, error: str, delay: float) -> None:
        was_ready = self._dispatcher is not None
        self._dispatcher = None
        self._ready = anyio.Event() if self._ready.is_set() else self._ready
        self.status.state = UpstreamState.DOWN
        self.status.error = error
        self.status.retry_at = time.monotonic() + delay
        self._settled.set()
        if was_ready:
            logger.warning("upstream %s is down (%s); reconnecting in %.1fs", self.name, error, delay)

    # -- calls -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the dispatcher owns the deadline and the courtesy cancel
        on_progress: ProgressFnT | None = None,
        caller: Caller | None = None,
    ) -> dict[str, Any]:
        """Forward one request; the upstream's result dict, or a `GatewayError` subclass."""
        dispatcher = self._dispatcher
        if dispatcher is None:
            raise self.unavailable()
        if caller is None:
            return await self._send(dispatcher, method, params, timeout, on_progress)
        self._next_call += 1
        key = self._next_call
        self._callers[key] = caller
        try:
            return await self._send(dispatcher, method, params, timeout, on_progress)
        finally:
            del self._callers[key]

    async def _send(
        self,
        dispatcher: JSONRPCDispatcher[Any],
        method: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,  # noqa: ASYNC109
        on_progress: ProgressFnT | None,
    ) -> dict[str, Any]:
        limit = timeout or self.call_timeout
        opts: CallOptions = {"timeout": limit, "headers": self._headers}
        if on_progress is not None:
            opts["on_progress"] = on_progress
        try:
            return await dispatcher.send_raw_request(method, params, opts)
        except MCPError as exc:
            if exc.code == REQUEST_TIMEOUT:
                raise UpstreamTimeout(f"upstream {self.name!r} did not answer {method} within {limit:g}s") from None
            if exc.code == CONNECTION_CLOSED:
                raise UpstreamUnavailable(f"upstream {self.name!r} closed the connection during {method}") from None
            # The upstream's own JSON-RPC error passes through unchanged.
            error = UpstreamError(exc.message, data=exc.data)
            error.code = exc.code
            raise error from None

    def unavailable(self) -> UpstreamUnavailable:
        status = self.status
        if status.state is UpstreamState.DISABLED:
            return UpstreamUnavailable(f"upstream {self.name!r} is disabled")
        reason = f": {status.error}" if status.error else ""
        retry = ""
        if status.state is UpstreamState.DOWN and status.retry_at is not None:
            retry = f"; retrying in {max(0.0, status.retry_at - time.monotonic()):.1f}s"
        return UpstreamUnavailable(f"upstream {self.name!r} is unavailable ({status.state.value}{reason}{retry})")

    async def _list_tools(self) -> list[dict[str, Any]]:
        tools: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            page = await self.request("tools/list", {"cursor": cursor} if cursor else None, timeout=self.list_timeout)
            tools.extend(tool for tool in page.get("tools", []) if isinstance(tool, dict) and tool.get("name"))
            cursor = page.get("nextCursor")
            if not cursor:
                return tools
        raise UpstreamError(f"upstream {self.name!r} returned more than {_MAX_LIST_PAGES} pages of tools")

    # -- messages the upstream sends us ----------------------------------------------

    async def _on_request(
        self, ctx: DispatchContext[Any], method: str, params: Mapping[str, Any] | None
    ) -> dict[str, Any]:
        if method == "ping":
            return {}
        # Server→client requests (sampling, elicitation, roots) need a client session to
        # answer them; the gateway declares no such capabilities to upstreams yet.
        raise MCPError(code=METHOD_NOT_FOUND, message=f"mcpgate does not support {method} from upstreams yet")

    async def _on_notify(self, ctx: DispatchContext[Any], method: str, params: Mapping[str, Any] | None) -> None:
        if method == "notifications/tools/list_changed" and self._dispatcher is not None:
            try:
                self.tools = await self._list_tools()
            except Exception as exc:  # top of a notification task
                logger.warning("upstream %s: re-listing tools failed: %s", self.name, _describe_failure(exc))
                return
            if self._on_tools_changed is not None:
                await self._on_tools_changed(self)
        elif method == "notifications/message":
            await self._to_caller(method, params)
        else:
            logger.debug("upstream %s: notification %s", self.name, method)

    async def _to_caller(self, method: str, params: Mapping[str, Any] | None) -> None:
        """Deliver a request-related notification to the one session that can have caused it.

        A shared upstream connection carries no link from a notification to the request
        behind it. When requests of a single session are in flight, it is that session's;
        when several sessions have requests in flight the origin is ambiguous and the
        notification is dropped — delivering it to all of them would leak one session's
        data into another's.
        """
        owners = {caller.session_id: caller for caller in self._callers.values()}
        if len(owners) != 1:
            logger.debug("upstream %s: %s with %d candidate sessions dropped", self.name, method, len(owners))
            return
        (caller,) = owners.values()
        message: dict[str, Any] = {"jsonrpc": "2.0", "method": method}
        if params is not None:
            message["params"] = dict(params)
        await caller.notify(message)


def _describe_failure(exc: BaseException) -> str:
    """One line a person can act on; never a raw traceback or a header value."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe_failure(inner) for inner in exc.exceptions)
    if isinstance(exc, TimeoutError):
        return "no answer to initialize within the connect timeout"
    if isinstance(exc, FileNotFoundError):
        return f"command not found: {exc.filename or exc}"
    if isinstance(exc, MCPError):
        return f"upstream error {exc.code}: {exc.message}"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, UpstreamError) else text
