"""Answer one client message: the MCP methods as the gateway implements them.

`RequestRouter.handle()` takes a classified JSON-RPC message of one client session and
returns the response to send (or `None` for notifications). The gateway answers the
lifecycle (initialize, ping, discover) and the merged lists itself; everything that
names a tool, prompt or resource is forwarded to the upstream that owns it (see
`forwarding.py`). Errors become JSON-RPC errors here, once.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from mcpgate import __version__
from mcpgate.cancellation import CallOff
from mcpgate.errors import INTERNAL_ERROR, GatewayError, InvalidParams, MethodNotFound
from mcpgate.hub.connection_status import SessionConnections
from mcpgate.hub.forwarding import Forwarder, Notify
from mcpgate.hub.gateway import LOG_LEVELS, LOG_SEVERITY, Hub
from mcpgate.hub.pagination import page
from mcpgate.hub.servers import listed_tools
from mcpgate.hub.session import ANSWERED_ONCE, ClientSession, RecentAnswers
from mcpgate.hub.smart import META_NAMES, SmartTools, meta_tool
from mcpgate.protocol.jsonrpc import (
    Envelope,
    Message,
    RequestId,
    error_from_exception,
    error_response,
    result_response,
)
from mcpgate.protocol.spec import (
    CACHEABLE_METHODS,
    HANDSHAKE_PROTOCOL_VERSIONS,
    LATEST_HANDSHAKE_VERSION,
    MODERN_PROTOCOL_VERSIONS,
    SERVER_INFO_META_KEY,
)
from mcpgate.tracing import hook

logger = logging.getLogger(__name__)

Method = Callable[[ClientSession, dict[str, Any], Notify], Awaitable[dict[str, Any]]]

_IGNORED_NOTIFICATIONS = frozenset(
    {"notifications/initialized", "notifications/roots/list_changed", "notifications/progress"}
)
# method → (catalog section, field of the result, field naming an entry)
_LISTS = {
    "tools/list": ("tools", "tools", "name"),
    "prompts/list": ("prompts", "prompts", "name"),
    "resources/list": ("resources", "resources", "uri"),
    "resources/templates/list": ("templates", "resourceTemplates", "uriTemplate"),
}


class RequestRouter:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.forwarder = Forwarder(hub)
        self.smart = SmartTools(hub.settings.data_dir / "search")
        forward = self.forwarder
        lists = {method: self._lister(*spec) for method, spec in _LISTS.items()}
        self._methods: dict[str, Method] = {
            "initialize": self._initialize,
            "ping": self._ping,
            **lists,
            "tools/call": self._call_tool,
            "prompts/get": forward.get_prompt,
            "resources/read": forward.read_resource,
            "resources/subscribe": forward.subscribe,
            "resources/unsubscribe": forward.unsubscribe,
            "completion/complete": forward.complete,
            "logging/setLevel": self._set_log_level,
        }
        # 2026-07-28 replaced the handshake, ping, setLevel and the subscribe pair with
        # per-request envelopes, discovery and subscriptions/listen.
        gone = ("initialize", "ping", "logging/setLevel", "resources/subscribe", "resources/unsubscribe")
        self._modern_methods = {
            **{k: v for k, v in self._methods.items() if k not in gone},
            "server/discover": self._discover,
        }

    async def handle(self, session: ClientSession, envelope: Envelope, notify: Notify) -> Message | None:
        """The response to one message of `session`, or None when there is none to send."""
        session.touch()
        if envelope.kind == "notification":
            self._notification(session, envelope)
            return None
        if envelope.kind != "request":
            # The client's answer to a request the gateway relayed (sampling, elicitation, roots).
            if not session.answer(envelope.message):
                logger.debug("session %s: response to unknown request %r ignored", session.shown_id, envelope.id)
            return None
        if session.ephemeral or envelope.method not in ANSWERED_ONCE:
            return await self._answer(session, envelope, notify)
        return await self._answer_once(session, envelope, notify)

    async def _answer_once(self, session: ClientSession, envelope: Envelope, notify: Notify) -> Message | None:
        """`_answer`, unless this request was seen already (resent: see `RecentAnswers`)."""
        answers = session.answers
        if answers is None:
            answers = session.answers = RecentAnswers()
        key = (type(envelope.id).__name__, envelope.id)  # 1 and "1" are two ids
        earlier = answers.earlier(key, envelope.message)
        if earlier is not None:
            logger.info("session %s: request %r was sent again; answered once", session.shown_id, envelope.id)
            if isinstance(earlier, tuple):
                return earlier[2]
            try:
                return await asyncio.shield(earlier)
            except asyncio.CancelledError:
                if not earlier.cancelled():
                    raise  # this request was cancelled itself
                return await self._answer_once(session, envelope, notify)  # the first one was: run it now
        if not answers.start(key, envelope.message):
            return await self._answer(session, envelope, notify)
        answer: Message | None = None
        try:
            answer = await self._answer(session, envelope, notify)
        finally:
            answers.finish(key, answer, cancelled=answer is None)
        return answer

    async def _answer(self, session: ClientSession, envelope: Envelope, notify: Notify) -> Message | None:
        try:
            params = envelope.message.get("params")
            if params is not None and not isinstance(params, dict):
                raise InvalidParams(f"{envelope.method}: params must be an object")
            with CallOff() as call_off:
                session.in_flight[envelope.id] = call_off  # type: ignore[index]
                try:
                    result = await self.run(session, envelope.method, params or {}, notify, envelope.id)
                    if session.protocol_version in MODERN_PROTOCOL_VERSIONS:
                        result = _modern_result(envelope.method, result)
                    return result_response(envelope.id, result)
                finally:
                    session.in_flight.pop(envelope.id, None)  # type: ignore[arg-type]
            # Cancelled by the client: the spec says not to answer a cancelled request.
            return None
        except GatewayError as exc:
            return error_from_exception(envelope.id, exc)
        except Exception:  # the top of a request: a bug here must not take the session's stream down
            logger.exception("session %s: %s failed", session.shown_id, envelope.method)
            return error_response(envelope.id, INTERNAL_ERROR, f"Internal error while handling {envelope.method}")

    async def run(
        self,
        session: ClientSession,
        method_name: str,
        params: dict[str, Any],
        notify: Notify,
        request_id: RequestId | None = None,
    ) -> dict[str, Any]:
        """The result of one request of `session`, or the `GatewayError` saying why not.

        `handle` turns that error into a JSON-RPC one; the REST edge into an HTTP status.
        """
        modern = session.protocol_version in MODERN_PROTOCOL_VERSIONS
        method = (self._modern_methods if modern else self._methods).get(method_name)
        if method is None:
            raise MethodNotFound(f"Method not found: {method_name}")
        if (tracer := hook.tracer) is not None:
            with tracer.serving(session, method_name, params, request_id) as span:
                return span.answered(await method(session, params, notify))
        return await method(session, params, notify)

    def _notification(self, session: ClientSession, envelope: Envelope) -> None:
        if envelope.method == "notifications/initialized":
            session.initialized = True
        elif envelope.method == "notifications/cancelled":
            request_id = envelope.params.get("requestId")
            if isinstance(request_id, str | int):
                session.cancel(request_id)
        elif envelope.method not in _IGNORED_NOTIFICATIONS:
            logger.debug("session %s: ignored notification %s", session.shown_id, envelope.method)

    # -- lifecycle -----------------------------------------------------------------------

    async def _initialize(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        requested = params.get("protocolVersion")
        version = requested if requested in HANDSHAKE_PROTOCOL_VERSIONS else LATEST_HANDSHAKE_VERSION
        session.protocol_version = version
        session.client_info = dict(params.get("clientInfo") or {})
        session.capabilities = dict(params.get("capabilities") or {})
        return {
            "protocolVersion": version,
            "capabilities": self.capabilities(session.server),
            "serverInfo": self._server_info(session.server),
        }

    async def _discover(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        capabilities = self.capabilities(session.server)
        capabilities.pop("logging", None)  # 2026-07-28 logs by per-request level, not a capability
        if "resources" in capabilities:
            capabilities["resources"].pop("subscribe", None)
        return {
            "supportedVersions": list(MODERN_PROTOCOL_VERSIONS),
            "capabilities": capabilities,
            "resultType": "complete",
            "ttlMs": 0,
            "cacheScope": "private",
            "_meta": {SERVER_INFO_META_KEY: self._server_info(session.server)},
        }

    def _server_info(self, server: str | None) -> dict[str, Any]:
        virtual = self.hub.servers.get(server) if server is not None else None
        if virtual is not None:
            info = {"name": virtual.name, "title": f"{virtual.name} (mcpgate)", "version": __version__}
            return {**info, "description": virtual.description} if virtual.description else info
        return {"name": self.hub.settings.name, "title": "mcpgate", "version": __version__}

    def capabilities(self, server: str | None = None) -> dict[str, Any]:
        """The honest union of what the upstreams behind this endpoint offer.

        Nothing no upstream has is claimed, nothing one has is hidden. `listChanged` is
        the gateway's own promise: it re-lists and notifies whenever a merged list changes
        (an upstream restarting is enough), so it holds for every list it offers. A
        virtual server is a tool set: tools are what it offers, and resources where a selected
        tool reads them (see `build_view`).
        """
        if server is not None:
            view = self.hub.views.get(server)
            if view is not None and (view.catalog.resources or view.catalog.templates):
                return {"tools": {"listChanged": True}, "resources": {"listChanged": True}}
            return {"tools": {"listChanged": True}}
        offered: dict[str, Any] = {}
        for connection in self.hub.upstreams.values():
            if connection.spec.enabled:
                for name, value in connection.capabilities.items():
                    if name not in offered:
                        offered[name] = dict(value) if isinstance(value, dict) else {}
                    elif name == "resources" and isinstance(value, dict) and value.get("subscribe"):
                        offered[name]["subscribe"] = True
        capabilities: dict[str, Any] = {"tools": {"listChanged": True}}  # tools are always listed
        if "prompts" in offered:
            capabilities["prompts"] = {"listChanged": True}
        if "resources" in offered:
            capabilities["resources"] = {"listChanged": True}
            if offered["resources"].get("subscribe"):
                capabilities["resources"]["subscribe"] = True
        if "completions" in offered:
            capabilities["completions"] = {}
        if "logging" in offered:
            capabilities["logging"] = {}
        return capabilities

    async def _ping(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        return {}

    async def _set_log_level(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        level = params.get("level")
        if level not in LOG_SEVERITY:
            raise InvalidParams(f"logging/setLevel: level must be one of {', '.join(LOG_LEVELS)}; got {level!r}")
        session.log_level = level
        await self.hub.apply_log_levels()
        return {}

    # -- tools ------------------------------------------------------------------------------

    async def _call_tool(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        global_view = self.hub.views.get(session.server) if session.server is not None else None
        name = params.get("name")
        if global_view is not None and global_view.smart and name in META_NAMES:
            arguments = params.get("arguments") or {}
            if not isinstance(arguments, dict):
                raise InvalidParams(f"tools/call {name}: arguments must be an object")

            async def call(inner: dict[str, Any]) -> dict[str, Any]:
                return await self.forwarder.call_tool(session, {**inner, "_meta": params.get("_meta")}, notify)

            await self.hub.prepare(session)  # the meta-tools search and show the tools, as tools/list would
            profile = self.hub.profile_of(session)
            view = self.hub.view_for(global_view.server.id, profile) or global_view
            self.smart.prune(self.hub.views)
            connections = SessionConnections(self.hub, session)
            index = (view.server.id, str(profile))
            return await self.smart.call(name, arguments, index, view.catalog, connections, call)
        return await self.forwarder.call_tool(session, params, notify)

    # -- merged lists ----------------------------------------------------------------------

    def entries(self, session: ClientSession, section: str) -> list[dict[str, Any]]:
        """What `session` is shown of one section ("tools", "prompts", "resources", "templates"):
        exact once `hub.prepare(session)` has been awaited."""
        profile = self.hub.profile_of(session)
        if session.server is None:
            return getattr(self.hub.catalog_for(None, profile), section)
        view = self.hub.view_for(session.server, profile)
        if view is None:
            return []  # deleted while the session was open; it is being closed
        return listed_tools(view) if section == "tools" else getattr(view.catalog, section)

    def listed_tool(self, session: ClientSession, name: str) -> dict[str, Any] | None:
        """The definition `session` is shown of the tool `name`, or None if it is not shown that tool."""
        profile = self.hub.profile_of(session)
        if session.server is None:
            return self.hub.catalog_for(None, profile).tool_definition(name)
        view = self.hub.view_for(session.server, profile)
        if view is None:
            return None
        return meta_tool(name) if view.smart else view.catalog.tool_definition(name)

    def _lister(self, section: str, field_name: str, key: str) -> Method:
        async def list_entries(session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
            await self.hub.prepare(session)
            entries = self.entries(session, section)
            chunk, next_cursor = page(entries, key, params.get("cursor"), self.hub.settings.page_size, section)
            result: dict[str, Any] = {field_name: chunk}
            if next_cursor is not None:
                result["nextCursor"] = next_cursor
            return result

        return list_entries


def _modern_result(method: str, result: dict[str, Any]) -> dict[str, Any]:
    """Fill the fields 2026-07-28 requires on results that handshake-era upstreams don't send."""
    stamped = {"resultType": "complete", **result}
    if method in CACHEABLE_METHODS:
        # "private": what a gateway lists can depend on who asks; ttl 0 until we know better.
        stamped.setdefault("ttlMs", 0)
        stamped.setdefault("cacheScope", "private")
    return stamped
