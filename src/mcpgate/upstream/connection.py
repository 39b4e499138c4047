"""A supervised MCP client session with one upstream server.

`UpstreamConnection.run()` keeps the session alive for the gateway's lifetime: it opens
the channel, performs the initialize handshake, lists what the upstream offers (tools,
and prompts, resources and resource templates when it declares them), and when
the connection drops (a stdio child dies, a remote server goes away) it reconnects with
exponential backoff. While it is down, `request()` fails at once with
`UpstreamUnavailable` instead of letting callers hang.

An upstream can also stop answering without going away (a stopped or deadlocked child, a
server that accepts connections and never replies): when it has been quiet for a while it
is pinged (`Liveness`), and after a few unanswered pings it is taken down like a crash — a
stdio child is killed — and reconnected. A child process that cannot start, or keeps dying
before it is up for long, is given up on after a bounded number of attempts (`failed`); a
remote upstream is retried for as long as the gateway runs (networks heal).

All sessions of the gateway share this one connection; its `Peer` mints the upstream
request ids and delivers each reply to the one caller that awaits it — never broadcast.

It deliberately knows nothing about client sessions, naming or routing (that is `hub/`).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Literal

import anyio
from anyio.abc import TaskGroup, TaskStatus

from mcpgate import __version__
from mcpgate.errors import (
    METHOD_NOT_FOUND,
    UpstreamError,
    UpstreamNeedsAuthorization,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mcpgate.protocol.param_headers import param_headers
from mcpgate.protocol.spec import (
    CLIENT_CAPABILITIES_META_KEY,
    CLIENT_INFO_META_KEY,
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MCP_METHOD_HEADER,
    MCP_NAME_HEADER,
    NAME_BEARING_METHODS,
    PROTOCOL_VERSION_META_KEY,
    encode_header_value,
)
from mcpgate.tracing import hook
from mcpgate.upstream.peer import Caller, Channel, Exchange, Peer, ProgressFn, no_session_for
from mcpgate.upstream.status import Backoff, Liveness, UpstreamState, UpstreamStatus
from mcpgate.upstream.stdio import CommandNotRunnable
from mcpgate.upstream.transports import OwnAPI, UpstreamSpec, open_channel

__all__ = ["Backoff", "Caller", "ListKind", "Liveness", "UpstreamConnection", "UpstreamState", "UpstreamStatus"]

logger = logging.getLogger(__name__)

_MAX_LIST_PAGES = 1000  # a cursor loop longer than this is an upstream bug, not a big catalog
_PROTOCOL_HEADER = "MCP-Protocol-Version"
_LISTEN_RETRY_SECONDS = (0.5, 1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
MODERN_VERSION = "2026-07-28"
# Everything the gateway can relay to a client: what a connection declares unless told otherwise.
FULL_CLIENT_CAPABILITIES: Mapping[str, Any] = {"sampling": {}, "elicitation": {"form": {}, "url": {}}, "roots": {}}
# Up this long, a connection that drops again was a success: its failures start over.
_STABLE_SECONDS = 10.0
# A command that cannot start is tried again this many times in all (it may be being installed).
_UNRUNNABLE_ATTEMPTS = 3


ListKind = Literal["tools", "prompts", "resources", "templates"]
NotificationListener = Callable[["UpstreamConnection", str, Mapping[str, Any] | None], Awaitable[None]]
ListsListener = Callable[["UpstreamConnection", frozenset[ListKind]], Awaitable[None]]

# kind → (list method, result field, the field every entry must have, capability that offers it)
_LISTS: dict[ListKind, tuple[str, str, str, str]] = {
    "tools": ("tools/list", "tools", "name", "tools"),
    "prompts": ("prompts/list", "prompts", "name", "prompts"),
    "resources": ("resources/list", "resources", "uri", "resources"),
    "templates": ("resources/templates/list", "resourceTemplates", "uriTemplate", "resources"),
}
_CHANGED: dict[str, tuple[ListKind, ...]] = {
    "notifications/tools/list_changed": ("tools",),
    "notifications/prompts/list_changed": ("prompts",),
    "notifications/resources/list_changed": ("resources", "templates"),
}


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
        liveness: Liveness | None = None,
        on_lists_changed: ListsListener | None = None,
        on_notification: NotificationListener | None = None,
        own_api: OwnAPI | None = None,
        label: str | None = None,
        client_capabilities: Mapping[str, Any] | None = None,
    ) -> None:
        self.spec = spec
        self.own_api = own_api  # for a catalog of this gateway's own API
        self.name = spec.name
        # How logs and errors name it: its name, or what a person knows an internal key by.
        self.label = label or spec.name
        self.connect_timeout = connect_timeout
        self.call_timeout = call_timeout
        self.list_timeout = list_timeout
        self.backoff = backoff or Backoff()
        # The client capabilities `initialize` declares: what the client sessions this connection
        # serves declared of what the gateway relays (hub/profiles.py); by default all it relays.
        self.client_capabilities: dict[str, Any] = dict(
            FULL_CLIENT_CAPABILITIES if client_capabilities is None else client_capabilities
        )
        self.liveness = liveness  # None: never pinged
        self.status = UpstreamStatus()
        self.auth_headers: dict[str, str] = {}  # sent besides the spec's own (an end user's or the gateway's token)
        self.capabilities: dict[str, Any] = {}
        # What the upstream lists, as it lists them (original names and URIs).
        self.lists: dict[ListKind, list[dict[str, Any]]] = {kind: [] for kind in _LISTS}
        self.log_level: str | None = None  # as last set by logging/setLevel on this connection
        # The caller's headers forwarded on calls, and whether calls need the caller's credentials:
        # as configured, or (catalogs) as the API's own document declares once it is read.
        self.passthrough_headers: list[str] = list(getattr(spec, "passthrough_headers", None) or [])
        self.needs_credentials = bool(getattr(spec, "credentials_required", False))
        # Read per call: a pydantic model's missing attribute costs an exception each time.
        self.per_session: bool = getattr(spec, "per_session", False)
        self.credentials_required: bool = self.needs_credentials  # as configured, whatever a catalog says
        self.resource_tool: str | None = None  # see catalogs.channel.LocalServer
        # Whether the upstream also takes self-contained 2026-07-28 requests (probed over
        # HTTP): then requests of 2026 clients go to it as such, input_required and all.
        self.modern = False
        self._on_lists_changed = on_lists_changed
        self._on_notification = on_notification
        self._peer: Peer | None = None
        self._headers: dict[str, str] = {}
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
            started = time.monotonic()
            unrunnable = False
            try:
                await self._connect_and_serve()
                error = "connection closed by the upstream"
            except Exception as exc:  # top of a background task: record, log, retry
                error = _describe_failure(exc)
                failed = _single(exc)
                unrunnable = isinstance(failed, CommandNotRunnable)
                if isinstance(failed, UpstreamNeedsAuthorization):  # a 401 after `initialize` too
                    self.status.authorization_required = failed.challenge or ""
            ready_at = self.status.connected_at
            if ready_at is not None and ready_at >= started and time.monotonic() - ready_at >= _STABLE_SECONDS:
                failures = 0
            failures += 1
            limit = self._attempts(unrunnable)
            if limit is not None and failures >= limit:
                self._go_down(error, failures, retry_in=None)
                return
            delay = self.backoff.delay(failures)
            self._go_down(error, failures, retry_in=delay)
            await anyio.sleep(delay)  # the backoff itself, not a wait for an event
            self.status.restarts += 1

    def _attempts(self, unrunnable: bool) -> int | None:
        """How many failures in a row end the retries; None: retry for as long as the gateway runs."""
        if self.spec.kind != "stdio":
            return None  # a remote server comes back once the network or the server does
        return min(_UNRUNNABLE_ATTEMPTS, self.backoff.attempts) if unrunnable else self.backoff.attempts

    @property
    def settled(self) -> bool:
        """Whether the first connection attempt has succeeded or failed."""
        return self._settled.is_set()

    async def wait_settled(self) -> None:
        """Until the first connection attempt has succeeded or failed."""
        await self._settled.wait()

    async def wait_ready(self) -> None:
        await self._ready.wait()

    @property
    def in_flight(self) -> int:
        """Requests sent upstream and not answered yet."""
        return self._peer.in_flight if self._peer is not None else 0

    @property
    def is_ready(self) -> bool:
        return self.status.state is UpstreamState.READY

    async def _connect_and_serve(self) -> None:
        spec = self.spec
        if self.auth_headers:  # an OAuth token (accounts/): on every request, never in the spec that is shown
            spec = spec.model_copy(update={"headers": {**spec.headers, **self.auth_headers}})  # type: ignore[union-attr]
        opened = open_channel(spec, self.connect_timeout, self.call_timeout, self.own_api, self.label)
        async with opened as channel, anyio.create_task_group() as tg:
            server = getattr(channel, "server", None)  # an in-process catalog says what it needs itself
            if server is not None:
                self.passthrough_headers = list(server.passthrough_headers)
                self.needs_credentials = server.needs_credentials
                self.resource_tool = server.resource_tool
            peer = Peer(channel, tg, name=self.label, on_request=self._on_request, on_notification=self._on_notify)
            await tg.start(self._read, channel, peer, tg)
            try:
                with anyio.fail_after(self.connect_timeout):
                    await self._handshake(peer)
            except Exception as exc:
                # Say so now: tearing the channel down (stopping a stuck child) can take seconds.
                self.status.state = UpstreamState.DOWN
                self.status.error = _describe_failure(exc)
                if isinstance(exc, UpstreamNeedsAuthorization):
                    self.status.authorization_required = exc.challenge or ""
                self._settled.set()
                raise
            self._peer = peer
            self.modern = channel.carries_stateless and await self._accepts_modern(peer)
            await self._refresh(tuple(_LISTS))
            self.status.state = UpstreamState.READY
            self.status.error = None
            self.status.authorization_required = None
            self.status.failures = 0
            self.status.connected_at = time.monotonic()
            self._ready.set()
            self._settled.set()
            logger.info("upstream %s ready (%d tools)", self.label, len(self.tools))
            if self.modern:
                tg.start_soon(self._listen, peer)
            if self.liveness is not None and server is None:  # an in-process catalog cannot freeze apart from us
                tg.start_soon(self._watch, peer, channel, self.liveness)
            if self._on_lists_changed is not None:
                await self._on_lists_changed(self, frozenset(_LISTS))
            # The task group ends when the channel's read loop does: the upstream went away.

    async def _watch(self, peer: Peer, channel: Channel, liveness: Liveness) -> None:
        """Ping the upstream whenever it has been quiet for `liveness.interval`; after
        `liveness.missed` unanswered pings in a row, take the connection down (raise)."""
        missed = 0
        while missed < liveness.missed:
            quiet = time.monotonic() - peer.last_heard
            if not missed and quiet < liveness.interval:
                await anyio.sleep(liveness.interval - quiet)  # until it has been quiet long enough
                continue
            sent = time.monotonic()
            try:
                await peer.request("ping", None, timeout=liveness.timeout, headers=self._headers)
            except UpstreamTimeout:
                missed = 0 if peer.last_heard > sent else missed + 1  # anything it said meanwhile will do
                continue
            except UpstreamUnavailable:
                return  # gone already: the read loop ends the connection
            except UpstreamError:
                pass  # an error is an answer too
            missed = 0
        reason = f"stopped answering pings ({missed} in a row, {liveness.timeout:g}s each)"
        # Calls fail at once from now on, those in flight included; then the channel goes.
        self.status.state = UpstreamState.DOWN
        self.status.error = reason
        peer.close(reason)
        kill = getattr(channel, "kill", None)  # a child process: SIGKILL, as a stopped one ignores the rest
        if kill is not None:
            kill()
        raise UpstreamUnavailable(reason)

    @staticmethod
    async def _read(channel: Channel, peer: Peer, tg: TaskGroup, *, task_status: TaskStatus[None]) -> None:
        try:
            await channel.run(peer, task_status=task_status)
        finally:
            peer.close("closed the connection")
        tg.cancel_scope.cancel()  # the upstream is gone: stop whatever still waits on it

    async def _handshake(self, peer: Peer) -> None:
        result = await peer.request(
            "initialize",
            {
                "protocolVersion": LATEST_HANDSHAKE_VERSION,
                "capabilities": self.client_capabilities,
                "clientInfo": {"name": "mcpgate", "version": __version__},
            },
            timeout=self.connect_timeout,
            headers={},
        )
        version = result.get("protocolVersion")
        if version not in HANDSHAKE_PROTOCOL_VERSIONS:
            raise UpstreamError(f"upstream answered initialize with unsupported protocol version {version!r}")
        self.capabilities = dict(result.get("capabilities") or {})
        self.log_level = None
        self.status.server_info = dict(result.get("serverInfo") or {})
        self.status.protocol_version = version
        # HTTP transports send the negotiated version on every later request (spec 2025-06-18+).
        self._headers = {_PROTOCOL_HEADER: version}
        await peer.notify("notifications/initialized", None, self._headers)

    async def _accepts_modern(self, peer: Peer) -> bool:
        envelope = {PROTOCOL_VERSION_META_KEY: MODERN_VERSION, CLIENT_CAPABILITIES_META_KEY: {}, **self._client_info()}
        try:
            result = await peer.request(
                "server/discover",
                {"_meta": envelope},
                timeout=self.list_timeout,
                headers=_modern_headers("server/discover", None),
                stateless=True,
            )
        except UpstreamError:
            return False  # a handshake-era server: 2026 clients are served over the handshake session
        return MODERN_VERSION in (result.get("supportedVersions") or ())

    async def _listen(self, peer: Peer) -> None:
        """A 2026-07-28 upstream may announce list changes only on `subscriptions/listen` streams."""
        envelope = {PROTOCOL_VERSION_META_KEY: MODERN_VERSION, CLIENT_CAPABILITIES_META_KEY: {}, **self._client_info()}
        every_list = {"toolsListChanged": True, "promptsListChanged": True, "resourcesListChanged": True}
        headers = _modern_headers("subscriptions/listen", None)
        for delay in _LISTEN_RETRY_SECONDS:
            try:
                # Open until the upstream ends it; its notifications reach `_on_notify` meanwhile.
                params = {"_meta": envelope, "notifications": every_list}
                await peer.request("subscriptions/listen", params, timeout=None, headers=headers, stateless=True)
            except UpstreamError as exc:
                if exc.code == METHOD_NOT_FOUND:
                    return  # no listen streams: the session's GET stream carries its notifications
                logger.debug("upstream %s: listen stream ended: %s", self.label, exc.message)
            await anyio.sleep(delay)  # a reconnect delay, not a wait for an event
        logger.warning("upstream %s: gave up re-opening its subscriptions/listen stream", self.label)

    @staticmethod
    def _client_info() -> dict[str, Any]:
        return {CLIENT_INFO_META_KEY: {"name": "mcpgate", "version": __version__}}

    def _go_down(self, error: str, failures: int, retry_in: float | None) -> None:
        """Down after `failures` failed attempts in a row: retried in `retry_in` seconds, or (None) given up on."""
        was_ready = self._peer is not None
        self._peer = None
        self._ready = anyio.Event() if self._ready.is_set() else self._ready
        self.status.failures = failures
        self._settled.set()
        if retry_in is None:
            self.status.state = UpstreamState.FAILED
            self.status.error = f"{error} (gave up after {failures} attempts in a row)"
            self.status.retry_at = None
            logger.error(
                "upstream %s: %s; not retried until it is changed or enabled again, or the gateway restarts",
                self.label,
                self.status.error,
            )
            return
        self.status.state = UpstreamState.DOWN
        self.status.error = error
        self.status.retry_at = time.monotonic() + retry_in
        if was_ready:
            logger.warning("upstream %s is down (%s); reconnecting in %.1fs", self.label, error, retry_in)
        else:
            logger.warning("upstream %s: %s (attempt %d); retrying in %.1fs", self.label, error, failures, retry_in)

    # -- calls -----------------------------------------------------------------------

    async def request(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        *,
        timeout: float | None = None,  # noqa: ASYNC109 - the peer owns the deadline and the cancel notice
        on_progress: ProgressFn | None = None,
        caller: Caller | None = None,
        modern: bool = False,
        extra_headers: Mapping[str, str] | None = None,
    ) -> dict[str, Any]:
        """Forward one request; the upstream's result dict, or a `GatewayError` subclass.

        `extra_headers` travel on this request only (HTTP upstreams): the caller's own
        credentials, passed through.

        `modern`: a 2026-07-28 request whose `params._meta` holds the client's envelope,
        sent as such (only when `self.modern`); its result, `input_required` included,
        comes back unchanged.
        """
        try:
            return await self._forward(method, params, timeout, on_progress, caller, modern, extra_headers)
        except UpstreamNeedsAuthorization as exc:  # a 401, or a 403 that wants more scope: say so (accounts/)
            self.status.authorization_required = exc.challenge or ""
            raise

    async def _forward(
        self,
        method: str,
        params: Mapping[str, Any] | None,
        timeout: float | None,  # noqa: ASYNC109
        on_progress: ProgressFn | None,
        caller: Caller | None,
        modern: bool,
        extra_headers: Mapping[str, str] | None,
    ) -> dict[str, Any]:
        peer = self._peer
        if peer is None:
            raise self.unavailable()
        if modern:
            # The client's own envelope travels in params._meta; the routing headers must agree with it.
            meta = (params or {}).get("_meta") or {}
            version = meta.get(PROTOCOL_VERSION_META_KEY, MODERN_VERSION)
            headers: Mapping[str, str] = _modern_headers(method, params, version)
            if method == "tools/call":
                headers = {**headers, **self._param_headers(params or {})}
        else:
            headers = self._headers
        if extra_headers:
            headers = {**headers, **extra_headers}
        if (tracer := hook.tracer) is not None:
            url = getattr(self.spec, "url", None)
            with tracer.calling(self.label, peer.channel.transport, url, method, params, headers) as call:
                result = await peer.request(
                    method,
                    call.params,
                    timeout=timeout or self.call_timeout,
                    headers=call.headers,
                    on_progress=on_progress,
                    caller=caller,
                    stateless=modern,
                )
                return call.answered(result)
        return await peer.request(
            method,
            params,
            timeout=timeout or self.call_timeout,
            headers=headers,
            on_progress=on_progress,
            caller=caller,
            stateless=modern,
        )

    def _param_headers(self, params: Mapping[str, Any]) -> dict[str, str]:
        """The `Mcp-Param-*` headers 2026-07-28 wants mirrored from a tool's annotated arguments."""
        name, arguments = params.get("name"), params.get("arguments")
        if not isinstance(arguments, Mapping):
            return {}
        tool = next((t for t in self.lists["tools"] if t.get("name") == name), None)
        return param_headers(tool.get("inputSchema"), arguments) if tool is not None else {}

    def unavailable(self) -> UpstreamUnavailable:
        status = self.status
        if status.state is UpstreamState.DISABLED:
            return UpstreamUnavailable(f"upstream {self.label!r} is disabled")
        reason = f": {status.error}" if status.error else ""
        retry, retry_after = "", 1
        if status.state is UpstreamState.DOWN and status.retry_at is not None:
            wait = max(0.0, status.retry_at - time.monotonic())
            retry, retry_after = f"; retrying in {wait:.1f}s", max(1, math.ceil(wait))
        return UpstreamUnavailable(
            f"upstream {self.label!r} is unavailable ({status.state.value}{reason}{retry})", retry_after=retry_after
        )

    @property
    def tools(self) -> list[dict[str, Any]]:
        return self.lists["tools"]

    async def _refresh(self, kinds: tuple[ListKind, ...]) -> None:
        for kind in kinds:
            method, field_name, key, capability = _LISTS[kind]
            if kind != "tools" and capability not in self.capabilities:
                continue  # tools are listed even when undeclared: many servers forget to declare them
            try:
                self.lists[kind] = await self._list_all(method, field_name, key)
            except UpstreamError as exc:
                if kind == "tools" and exc.code == METHOD_NOT_FOUND and "tools" not in self.capabilities:
                    continue
                raise

    async def _list_all(self, method: str, field_name: str, key: str) -> list[dict[str, Any]]:
        """Every page of one list; the gateway serves merged lists, so it holds them whole."""
        entries: list[dict[str, Any]] = []
        cursor: str | None = None
        for _ in range(_MAX_LIST_PAGES):
            page = await self._request_listing(method, cursor)
            entries.extend(e for e in page.get(field_name, []) if isinstance(e, dict) and isinstance(e.get(key), str))
            cursor = page.get("nextCursor")
            if not cursor:
                return entries
        raise UpstreamError(f"upstream {self.label!r} returned more than {_MAX_LIST_PAGES} pages of {method}")

    async def _request_listing(self, method: str, cursor: str | None) -> dict[str, Any]:
        peer = self._peer
        if peer is None:
            raise self.unavailable()
        params = {"cursor": cursor} if cursor else None
        return await peer.request(method, params, timeout=self.list_timeout, headers=self._headers)

    # -- messages the upstream sends us ----------------------------------------------

    async def _on_request(
        self, method: str, params: Mapping[str, Any] | None, exchange: Exchange | None
    ) -> dict[str, Any]:
        """A request from the upstream: put to the client session whose request caused it."""
        caller = exchange.caller if exchange is not None else None
        if caller is None or caller.ask is None:
            if method == "ping":
                return {}  # not about any session: the gateway itself answers for its liveness
            raise no_session_for(method)
        return await caller.ask(method, params)

    async def _on_notify(self, method: str, params: Mapping[str, Any] | None) -> None:
        kinds = _CHANGED.get(method)
        if kinds is not None:
            if self._peer is None:
                return  # the first listing after connecting is still to come
            try:
                await self._refresh(kinds)
            except Exception as exc:  # top of a notification task
                logger.warning(
                    "upstream %s: re-listing after %s failed: %s", self.label, method, _describe_failure(exc)
                )
                return
            if self._on_lists_changed is not None:
                await self._on_lists_changed(self, frozenset(kinds))
        elif self._on_notification is not None:
            await self._on_notification(self, method, params)
        else:
            logger.debug("upstream %s: notification %s", self.label, method)


def _modern_headers(method: str, params: Mapping[str, Any] | None, version: str = "") -> dict[str, str]:
    headers = {_PROTOCOL_HEADER: version or MODERN_VERSION, MCP_METHOD_HEADER: method}
    name_key = NAME_BEARING_METHODS.get(method)
    name = (params or {}).get(name_key) if name_key else None
    if isinstance(name, str):
        headers[MCP_NAME_HEADER] = encode_header_value(name)
    return headers


def _single(exc: BaseException) -> BaseException:
    """The one exception a task group (or nested ones) wrapped, else `exc` itself."""
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


def _describe_failure(exc: BaseException) -> str:
    """One line a person can act on; never a raw traceback or a header value."""
    exc = _single(exc)
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe_failure(inner) for inner in exc.exceptions)
    if isinstance(exc, TimeoutError):
        return "no answer to initialize within the connect timeout"
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text}" if not isinstance(exc, UpstreamError) else text
