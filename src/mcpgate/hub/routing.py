"""Answer one client message: the MCP methods as the gateway implements them.

`RequestRouter.handle()` takes a classified JSON-RPC message of one client session and
returns the response to send (or `None` for notifications). Tool calls are routed by
exposed name to the owning upstream, with the upstream's own request id (minted by its
connection), so replies can only ever reach the session that asked. Errors become
JSON-RPC errors here, once; an unavailable or timed-out upstream answers a tool call
with a tool error (`isError`) so the model sees why, and the session carries on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Any

import anyio
from mcp_types import SERVER_INFO_META_KEY
from mcp_types.methods import CACHEABLE_METHODS
from mcp_types.version import HANDSHAKE_PROTOCOL_VERSIONS, LATEST_HANDSHAKE_VERSION, MODERN_PROTOCOL_VERSIONS

from mcpgate import __version__
from mcpgate.errors import GatewayError, InvalidParams, MethodNotFound, UpstreamTimeout, UpstreamUnavailable
from mcpgate.hub.gateway import Hub
from mcpgate.hub.session import ClientSession
from mcpgate.protocol.jsonrpc import Envelope, Message, error_from_exception, notification, result_response
from mcpgate.upstream.connection import Caller

logger = logging.getLogger(__name__)

Notify = Callable[[Message], Awaitable[None]]

_ENVELOPE_PREFIX = "io.modelcontextprotocol/"
# RFC 5424 severities as MCP names them, least severe first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
_SEVERITY = {level: rank for rank, level in enumerate(LOG_LEVELS)}
_IGNORED_NOTIFICATIONS = frozenset(
    {"notifications/initialized", "notifications/roots/list_changed", "notifications/progress"}
)


class RequestRouter:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._methods: dict[str, Callable[[ClientSession, dict[str, Any], Notify], Awaitable[dict[str, Any]]]] = {
            "initialize": self._initialize,
            "ping": self._ping,
            "tools/list": self._list_tools,
            "tools/call": self._call_tool,
            "logging/setLevel": self._set_log_level,
        }
        # 2026-07-28 replaced the handshake and ping with per-request envelopes and discovery.
        self._modern_methods = {
            **{k: v for k, v in self._methods.items() if k not in ("initialize", "ping")},
            "server/discover": self._discover,
        }

    async def handle(self, session: ClientSession, envelope: Envelope, notify: Notify) -> Message | None:
        """The response to one message of `session`, or None when there is none to send."""
        session.touch()
        if envelope.kind == "notification":
            self._notification(session, envelope)
            return None
        if envelope.kind != "request":
            # A response from the client to a server→client request; none are sent yet.
            return None
        modern = session.protocol_version in MODERN_PROTOCOL_VERSIONS
        method = (self._modern_methods if modern else self._methods).get(envelope.method)
        try:
            if method is None:
                raise MethodNotFound(f"Method not found: {envelope.method}")
            params = envelope.message.get("params")
            if params is not None and not isinstance(params, dict):
                raise InvalidParams(f"{envelope.method}: params must be an object")
            with anyio.CancelScope() as scope:
                session.in_flight[envelope.id] = scope  # type: ignore[index]
                try:
                    result = await method(session, params or {}, notify)
                    if modern:
                        result = _modern_result(envelope.method, result)
                    return result_response(envelope.id, result)
                finally:
                    session.in_flight.pop(envelope.id, None)  # type: ignore[arg-type]
            # Cancelled by the client: the spec says not to answer a cancelled request.
            return None
        except GatewayError as exc:
            return error_from_exception(envelope.id, exc)

    def _notification(self, session: ClientSession, envelope: Envelope) -> None:
        if envelope.method == "notifications/initialized":
            session.initialized = True
        elif envelope.method == "notifications/cancelled":
            request_id = envelope.params.get("requestId")
            if isinstance(request_id, str | int):
                session.cancel(request_id)
        elif envelope.method not in _IGNORED_NOTIFICATIONS:
            logger.debug("session %s: ignored notification %s", session.id, envelope.method)

    # -- methods -----------------------------------------------------------------------

    async def _initialize(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        requested = params.get("protocolVersion")
        version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        session.protocol_version = version
        session.client_info = dict(params.get("clientInfo") or {})
        session.capabilities = dict(params.get("capabilities") or {})
        return {
            "protocolVersion": version,
            "capabilities": self.capabilities(),
            "serverInfo": self._server_info(),
        }

    async def _discover(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        return {
            "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
            "capabilities": self.capabilities(),
            "resultType": "complete",
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {SERVER_INFO_META_KEY: self._server_info()},
        }

    def _server_info(self) -> dict[str, Any]:
        return {"name": self.hub.settings.name, "title": "mcpgate", "version": __version__}

    def capabilities(self) -> dict[str, Any]:
        """What this endpoint offers: tools always (the gateway itself announces list changes),
        logging when an upstream behind it logs."""
        capabilities: dict[str, Any] = {"tools": {"listChanged": True}}
        if any("logging" in c.capabilities for c in self.hub.upstreams.values()):
            capabilities["logging"] = {}
        return capabilities

    async def _set_log_level(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        level = params.get("level")
        if level not in _SEVERITY:
            raise InvalidParams(f"logging/setLevel: level must be one of {', '.join(LOG_LEVELS)}; got {level!r}")
        session.log_level = level
        return {}

    async def _ping(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        return {}

    async def _list_tools(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        return {"tools": self.hub.catalog.tools}

    async def _call_tool(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        name = params.get("name")
        if not isinstance(name, str) or not name:
            raise InvalidParams("tools/call needs params.name, the tool's name as a string")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise InvalidParams(f"tools/call {name}: arguments must be an object, got {type(arguments).__name__}")
        route = self.hub.catalog.route(name)
        if route is None:
            raise InvalidParams(f"Unknown tool: {name!r}. Call tools/list for the tools this server offers.")
        connection = self.hub.upstreams[route.upstream]
        forwarded = {**params, "name": route.tool}
        meta = params.get("_meta")
        on_progress = None
        if isinstance(meta, dict):
            # Per-request envelope keys describe *this* client hop; the upstream hop has its own.
            # The progress token is replaced by one the upstream connection mints (see below).
            kept = {k: v for k, v in meta.items() if k != "progressToken" and not k.startswith(_ENVELOPE_PREFIX)}
            if kept:
                forwarded["_meta"] = kept
            else:
                del forwarded["_meta"]
        if isinstance(meta, dict) and "progressToken" in meta:
            token = meta["progressToken"]

            # Two sessions may both use token 1: each upstream request gets its own token,
            # mapped back here to the token this caller chose.
            async def on_progress(progress: float, total: float | None, message: str | None) -> None:
                body: dict[str, Any] = {"progressToken": token, "progress": progress}
                if total is not None:
                    body["total"] = total
                if message is not None:
                    body["message"] = message
                await notify(notification("notifications/progress", body))

        try:
            return await connection.request(
                "tools/call",
                forwarded,
                on_progress=on_progress,
                caller=Caller(session.id, _log_filter(session, notify)),
            )
        except (UpstreamUnavailable, UpstreamTimeout) as exc:
            return tool_error(exc.message)


def _log_filter(session: ClientSession, notify: Notify) -> Notify:
    """`notify`, minus log messages below the level the session asked for."""

    async def filtered(message: Message) -> None:
        if message.get("method") == "notifications/message":
            wanted = session.log_level
            if wanted is None and session.protocol_version in MODERN_PROTOCOL_VERSIONS:
                return  # 2026-07-28 logging is opt-in per request
            level = (message.get("params") or {}).get("level")
            if wanted is not None and _SEVERITY.get(level, len(LOG_LEVELS)) < _SEVERITY[wanted]:
                return
        await notify(message)

    return filtered


def _modern_result(method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Fill the fields 2026-07-28 requires on results that handshake-era upstreams don't send."""
    stamped = {"resultType": "complete", **result}
    if method in CACHEABLE_METHODS:
        # "private": what a gateway lists can depend on who asks; ttl 0 until we know better.
        stamped.setdefault("ttlMs", 0)
        stamped.setdefault("cacheScope", "private")
    return stamped


def tool_error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}
