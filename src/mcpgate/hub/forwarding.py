"""Requests that name a tool, prompt or resource: forwarded to the upstream that owns it.

Names and URIs are translated both ways (see `catalog.py`). Each forwarded request
carries a `Caller` for the session that sent it, which is where everything the upstream
says about that request goes: progress (under the client's own token), log messages
(filtered by the session's level), and requests back to the client — sampling,
elicitation, roots, ping — which are asked of that session only, on the stream of the
request that caused them, and answered back to the upstream.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any

import anyio

from mcpgate.cancellation import kept
from mcpgate.errors import (
    METHOD_NOT_FOUND,
    AuthorizationNeeded,
    GatewayError,
    InvalidParams,
    UnknownName,
    UpstreamError,
    UpstreamNeedsAuthorization,
    UpstreamTimeout,
    UpstreamUnavailable,
)
from mcpgate.hub.bridging import BRIDGED_METHODS, BridgedCall
from mcpgate.hub.catalog import Route
from mcpgate.hub.gateway import LOG_LEVELS, LOG_SEVERITY, Hub
from mcpgate.hub.profiles import Profile
from mcpgate.hub.session import CALLER_HEADERS, ClientSession, Undeliverable
from mcpgate.protocol.jsonrpc import Message, notification
from mcpgate.protocol.spec import MODERN_PROTOCOL_VERSIONS
from mcpgate.tracing import hook
from mcpgate.upstream.connection import Caller, UpstreamConnection
from mcpgate.upstream.peer import ProgressFn

logger = logging.getLogger(__name__)

Notify = Callable[[Message], Awaitable[None]]

_ENVELOPE_PREFIX = "io.modelcontextprotocol/"
# What an upstream may ask the client session that caused its request.
_RELAYED = frozenset({"ping", "sampling/createMessage", "elicitation/create", "roots/list"})


@dataclass(frozen=True, slots=True)
class ToolCall:
    """What observers (audit, metrics) learn of one tool call; the arguments are theirs to redact."""

    session: ClientSession
    tool: Any
    arguments: Any
    outcome: str  # ok | tool_error | error | cancelled
    seconds: float
    error: str | None = None  # for `error`: what the caller was told (the tool's own output is never kept)


class Forwarder:
    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    # -- tools, prompts ----------------------------------------------------------------

    async def call_tool(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        """Forward one tool call; every one — answered, refused or cancelled — is told to the hub's observers."""
        started = time.perf_counter()
        outcome, error = "error", None
        try:
            result = await self._call_tool(session, params, notify)
            outcome = "tool_error" if result.get("isError") else "ok"
            return result
        except anyio.get_cancelled_exc_class():
            outcome = "cancelled"
            raise
        except Exception as exc:
            error = _told(exc)
            raise
        finally:
            if self.hub.observers or self.hub.recorders:
                seconds = time.perf_counter() - started
                call = ToolCall(session, params.get("name"), params.get("arguments"), outcome, seconds, error)
                if self.hub.observers:
                    # Told once this task yields (the answer on its way): audit and metrics add no latency.
                    asyncio.get_running_loop().call_soon(_tell, self.hub.observers, call)
                if self.hub.recorders:  # must have kept it before the answer goes (a fleet's audit)
                    # Shielded both ways: anyio's scopes wait for it; a task's own cancel (a
                    # client's, see cancellation.py) stops the wait, never the record.
                    with anyio.CancelScope(shield=True):
                        await kept(_record(self.hub.recorders, call))

    async def _call_tool(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        name = _required_name(params, "tools/call")
        arguments = params.get("arguments")
        if arguments is not None and not isinstance(arguments, dict):
            raise InvalidParams(f"tools/call {name}: arguments must be an object, got {type(arguments).__name__}")
        route = self.hub.catalog_of(session).tool(name)
        if route is None:
            raise UnknownName(f"Unknown tool: {name!r}. Call tools/list for the tools this server offers.")
        if (missing := self._missing_credentials(session, route.upstream)) is not None:
            return tool_error(missing)  # the session and the other tools carry on
        try:
            return await self._forward(session, notify, route, "tools/call", {**params, "name": route.name})
        except AuthorizationNeeded as exc:
            return tool_error(exc.message)  # the link: the person connects, the model tries again
        except UpstreamNeedsAuthorization:
            # The upstream refused the token it was given (revoked there, or too narrow): connect again.
            if self.hub.authorizations is None or not self.hub.authorizations.wanted(route.upstream):
                raise
            return tool_error((await self._authorization_needed(route.upstream, session)).message)
        except (UpstreamUnavailable, UpstreamTimeout) as exc:
            if session.speaks_http:
                raise  # a REST caller is told by the status (503 + Retry-After, 504)
            # A tool result the model can read and act on; the session carries on.
            return tool_error(exc.message)

    async def get_prompt(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        name = _required_name(params, "prompts/get")
        route = self.hub.catalog_of(session).prompt(name)
        if route is None:
            raise UnknownName(f"Unknown prompt: {name!r}. Call prompts/list for the prompts this server offers.")
        return await self._forward(session, notify, route, "prompts/get", {**params, "name": route.name})

    # -- resources ---------------------------------------------------------------------

    async def read_resource(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        uri, route = self._resource(session, params, "resources/read")
        result = await self._forward(session, notify, route, "resources/read", {**params, "uri": route.name})
        contents = result.get("contents")
        if isinstance(contents, list) and (uri != route.name or any(_uri_of(c) != route.name for c in contents)):
            # Each part under the URI the client can read it back with.
            result = {**result, "contents": [self._expose_content(c, uri, route) for c in contents]}
        return result

    def _expose_content(self, content: Any, requested: str, route: Route) -> Any:
        part_uri = _uri_of(content)
        if part_uri is None:
            return content
        exposed = requested if part_uri == route.name else self.hub.catalog.expose_uri(route.upstream, part_uri)
        return {**content, "uri": exposed}

    async def subscribe(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        uri, route = self._resource(session, params, "resources/subscribe")
        connection = self._connection(route)
        if not (connection.capabilities.get("resources") or {}).get("subscribe"):
            raise InvalidParams(f"resources/subscribe: the upstream serving {uri!r} does not offer subscriptions")
        own = await self.hub.connection_for(route.upstream, session)
        shared_by = self.hub.sharing_key(route.upstream, own)
        if shared_by is None:  # the session's own child: its subscriptions are the session's alone
            await own.request("resources/subscribe", {"uri": route.name})
            return {}
        key = (shared_by, route.name)
        if self.hub.subscriptions.add(session.id, key, uri):
            try:
                await own.request("resources/subscribe", {"uri": route.name})
            except BaseException:
                self.hub.subscriptions.remove(session.id, key)
                raise
        return {}

    async def unsubscribe(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        uri, route = self._resource(session, params, "resources/unsubscribe")
        own = await self.hub.connection_for(route.upstream, session)
        shared_by = self.hub.sharing_key(route.upstream, own)
        if shared_by is None:
            await own.request("resources/unsubscribe", {"uri": route.name})
            return {}
        if self.hub.subscriptions.remove(session.id, (shared_by, route.name)):
            await own.request("resources/unsubscribe", {"uri": route.name})
        return {}

    def _resource(self, session: ClientSession, params: dict[str, Any], method: str) -> tuple[str, Route]:
        uri = params.get("uri")
        if not isinstance(uri, str) or not uri:
            raise InvalidParams(f"{method} needs params.uri, the resource's URI as a string")
        route = self.hub.catalog_of(session).resource(uri)
        if route is None:
            raise UnknownName(
                f"Unknown resource: {uri!r}. Call resources/list or resources/templates/list for the URIs "
                "this server offers; URIs of a prefixed upstream start with '<prefix>+'."
            )
        return uri, route

    # -- completions -------------------------------------------------------------------

    async def complete(self, session: ClientSession, params: dict[str, Any], notify: Notify) -> dict[str, Any]:
        ref = params.get("ref")
        if not isinstance(ref, dict):
            raise InvalidParams("completion/complete needs params.ref: a ref/prompt or ref/resource object")
        # What names the reference, how the catalog resolves it, and what to call it in an error.
        catalog = self.hub.catalog_of(session)
        kinds = {
            "ref/prompt": ("name", catalog.prompt, "prompt"),
            "ref/resource": ("uri", catalog.resource, "resource template"),
        }
        kind = kinds.get(ref.get("type"))  # type: ignore[arg-type]
        if kind is None:
            raise InvalidParams(
                f"completion/complete: ref.type must be ref/prompt or ref/resource, got {ref.get('type')!r}"
            )
        key, resolve, label = kind
        exposed = ref.get(key)
        route = resolve(exposed) if isinstance(exposed, str) else None
        if route is None:
            raise InvalidParams(f"completion/complete: unknown {label} {exposed!r}")
        forwarded_ref = {**ref, key: route.name}
        if "completions" not in self._connection(route).capabilities:
            return {"completion": {"values": [], "hasMore": False}}  # nothing to offer is not an error
        return await self._forward(session, notify, route, "completion/complete", {**params, "ref": forwarded_ref})

    # -- the forwarding itself -----------------------------------------------------------

    def _connection(self, route: Route) -> UpstreamConnection:
        connection = self.hub.connection(route.upstream)
        if not connection.is_ready:
            raise connection.unavailable()
        return connection

    async def _forward(
        self, session: ClientSession, notify: Notify, route: Route, method: str, params: dict[str, Any]
    ) -> dict[str, Any]:
        try:
            connection = await self.hub.connection_for(route.upstream, session)
        except AuthorizationNeeded:
            raise await self._authorization_needed(route.upstream, session) from None
        if (tracer := hook.tracer) is not None:
            tracer.routed(route.upstream, method, route.name)
        # A 2026-07-28 client reaching an upstream that speaks 2026-07-28 too: the request goes
        # as the client sent it, envelope included (the upstream decides by the client's own
        # capabilities), and `input_required` results with their requestState come back intact.
        modern = connection.modern and session.protocol_version in MODERN_PROTOCOL_VERSIONS
        meta = params.get("_meta")
        on_progress: ProgressFn | None = None
        if isinstance(meta, dict):
            # Otherwise the envelope keys describe *this* client hop; the upstream hop has its own.
            # The progress token is replaced by one the upstream connection mints (see below).
            kept = {
                k: v for k, v in meta.items() if k != "progressToken" and (modern or not k.startswith(_ENVELOPE_PREFIX))
            }
            params = {**params, "_meta": kept} if kept else {k: v for k, v in params.items() if k != "_meta"}
            if "progressToken" in meta:
                on_progress = _progress_relay(meta["progressToken"], notify)
        if session.protocol_version in MODERN_PROTOCOL_VERSIONS and not modern and method in BRIDGED_METHODS:
            token = meta.get("progressToken") if isinstance(meta, dict) else None
            return await self._bridged(session, notify, connection, method, params, token)
        return await connection.request(
            method,
            params,
            on_progress=on_progress,
            caller=self._caller(session, notify, route.upstream),
            modern=modern,
            extra_headers=self._credentials(connection, session, route.upstream),
        )

    def _credentials(self, connection: UpstreamConnection, session: ClientSession, upstream: str) -> dict[str, str]:
        """Headers this call carries besides the upstream's own: the end user's stored ones, then
        the caller's passed-through ones (the caller's own request has the last word)."""
        headers: dict[str, str] = {}
        if session.user is not None and connection.spec.kind != "stdio":
            credential = self.hub.credentials.for_user(session.user, upstream)
            if credential is not None:
                headers.update(credential.headers)
        headers.update(passed_through(connection, session))
        return headers

    async def _authorization_needed(self, upstream: str, session: ClientSession) -> AuthorizationNeeded:
        """The error for a call to an OAuth upstream its caller has not connected to: with the link."""
        assert self.hub.authorizations is not None
        who = f"the end user {session.user!r}" if session.user else "this gateway"
        try:
            link = await self.hub.authorizations.link(upstream, session.user)
        except GatewayError as exc:
            return AuthorizationNeeded(f"{upstream!r} wants OAuth and connecting {who} there failed: {exc.message}")
        return AuthorizationNeeded(
            f"{upstream!r} needs an account connected for {who}: open this link to connect it, then try again: {link}"
        )

    def _missing_credentials(self, session: ClientSession, upstream: str) -> str | None:
        """What a call to `upstream` lacks when the upstream needs the caller's own credentials."""
        if self.hub.authorizations is not None and self.hub.authorizations.wanted(upstream):
            return None  # OAuth: connection_for decides, and the answer carries the link
        connection = self.hub.connection(upstream)
        if not connection.credentials_required or passed_through(connection, session):
            return None
        if session.user is not None and self.hub.credentials.for_user(session.user, upstream) is not None:
            return None
        wanted = " or ".join(f"the {name} header" for name in connection.passthrough_headers) or "credentials"
        return (
            f"This tool needs your own credentials for {upstream!r}: send {wanted} with your requests, "
            f"or act as an end user (x-username) whose connection to {upstream!r} is stored."
        )

    async def _bridged(
        self,
        session: ClientSession,
        notify: Notify,
        connection: UpstreamConnection,
        method: str,
        params: dict[str, Any],
        progress_token: Any,
    ) -> dict[str, Any]:
        """A 2026-07-28 client on a handshake-era upstream: its requests back become input_required rounds."""
        upstream_params = {k: v for k, v in params.items() if k not in ("inputResponses", "requestState")}

        async def start(call: BridgedCall) -> dict[str, Any]:
            async def ask(asked: str, asked_params: Mapping[str, Any] | None) -> dict[str, Any]:
                _check_client_can(session, asked, asked_params or {})
                return await call.ask(asked, asked_params)

            # Progress and logs go to whichever round's stream is open (`call.relay`).
            caller = Caller(session.id, _log_filter(session, call.relay), ask)
            relay = _progress_relay(progress_token, call.relay) if progress_token is not None else None
            return await connection.request(method, upstream_params, on_progress=relay, caller=caller)

        return await self.hub.bridge.call(method, params, notify, start)

    def _caller(self, session: ClientSession, notify: Notify, upstream: str) -> Caller:
        async def ask(method: str, params: Mapping[str, Any] | None) -> dict[str, Any]:
            _check_client_can(session, method, params or {})
            if method == "elicitation/create" and (params or {}).get("mode") == "url":
                # Its completion notice may come later, unrelated to any request: remember whose it is.
                self.hub.note_url_elicitation(upstream, (params or {}).get("elicitationId"), session.id)
            try:
                return await session.ask(method, params, notify, self.hub.settings.timeouts.call)
            except Undeliverable as exc:
                raise _refusal(f"{method}: {exc}") from None

        return Caller(session.id, _log_filter(session, notify), ask)


def _progress_relay(token: Any, notify: Notify) -> ProgressFn:
    """Two sessions may both use token 1: each upstream request gets its own token,
    mapped back here to the token this caller chose."""

    async def relay(progress: float, total: float | None, message: str | None) -> None:
        body: dict[str, Any] = {"progressToken": token, "progress": progress}
        if total is not None:
            body["total"] = total
        if message is not None:
            body["message"] = message
        await notify(notification("notifications/progress", body))

    return relay


def _log_filter(session: ClientSession, notify: Notify) -> Notify:
    """`notify`, minus log messages below the level the session asked for."""

    async def filtered(message: Message) -> None:
        if message.get("method") == "notifications/message":
            wanted = session.log_level
            if wanted is None and session.protocol_version in MODERN_PROTOCOL_VERSIONS:
                return  # 2026-07-28 logging is opt-in per request
            level = (message.get("params") or {}).get("level")
            if wanted is not None and LOG_SEVERITY.get(level, len(LOG_LEVELS)) < LOG_SEVERITY[wanted]:
                return
        await notify(message)

    return filtered


def _check_client_can(session: ClientSession, method: str, params: Mapping[str, Any]) -> None:
    """Refuse, as the client itself would, a request its declared capabilities rule out. (The
    connection it came over declared no more than the session did; an upstream may still ask.)"""
    if method not in _RELAYED:
        raise _refusal(f"mcpgate does not relay {method} to clients")
    needed = Profile.of(session.capabilities).lacks(method, params)
    if needed is not None:
        raise _refusal(f"the client session did not declare the {needed} capability")


def _refusal(message: str) -> UpstreamError:
    error = UpstreamError(message)
    error.code = METHOD_NOT_FOUND
    return error


def _required_name(params: dict[str, Any], method: str) -> str:
    name = params.get("name")
    if not isinstance(name, str) or not name:
        raise InvalidParams(f"{method} needs params.name, a name as a string")
    return name


def _uri_of(content: Any) -> str | None:
    uri = content.get("uri") if isinstance(content, dict) else None
    return uri if isinstance(uri, str) else None


def passed_through(connection: UpstreamConnection, session: ClientSession) -> dict[str, str]:
    """The caller's values of the headers `connection` passes through: from the request that
    carries the call, else from the one that opened the session. Never logged."""
    names = connection.passthrough_headers
    if not names:
        return {}
    request = CALLER_HEADERS.get()
    found = {}
    for name in names:
        value = (request.get(name.lower()) if request is not None else None) or session.headers.get(name.lower())
        if value:
            found[name] = value
    return found


def tool_error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def _tell(observers: list[Callable[[Any], None]], call: ToolCall) -> None:
    for observe in observers:
        observe(call)


async def _record(recorders: list[Callable[[Any], Awaitable[None]]], call: ToolCall) -> None:
    for record in recorders:
        await record(call)


def _told(exc: Exception, limit: int = 300) -> str:
    """A failed call's error as its audit row keeps it: the message the caller got, cut short."""
    message = str(exc) or type(exc).__name__
    return message if len(message) <= limit else message[: limit - 1] + "…"
