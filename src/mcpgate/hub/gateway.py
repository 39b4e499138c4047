"""The hub: the upstream connections, the merged catalog built from them, and the sessions.

`Hub` is an async context manager that owns a task group running every upstream's
supervised connection. Entering it waits (bounded by the connect timeout) until each
upstream's first attempt has settled, then builds the catalog strictly: a name or URI
collision at start-up is a `ToolNameCollision` naming both upstreams. Later changes
(`*/list_changed`, a restarted upstream) rebuild the catalog leniently — the first
claimant keeps the name, the collision is logged and shown in `/health` — and every
connected session is told which merged lists changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from mcpgate import __version__
from mcpgate.errors import Conflict, NotFound, ToolNameCollision, UpstreamUnavailable
from mcpgate.hub.bridging import Bridge
from mcpgate.hub.catalog import Catalog, UpstreamListing
from mcpgate.hub.credentials import Credentials, NoCredentials
from mcpgate.hub.servers import (
    View,
    VirtualServer,
    build_view,
    external_spec,
    external_upstream_key,
    listed_tools,
)
from mcpgate.hub.session import ClientSession, SessionRegistry
from mcpgate.hub.subscriptions import Subscriptions
from mcpgate.protocol.jsonrpc import notification
from mcpgate.settings import GatewaySettings
from mcpgate.upstream.connection import (
    Backoff,
    ListKind,
    Liveness,
    NotificationListener,
    UpstreamConnection,
    UpstreamState,
)
from mcpgate.upstream.transports import OwnAPI, UpstreamSpec

logger = logging.getLogger(__name__)

# RFC 5424 severities as MCP names them, least severe first.
LOG_LEVELS = ("debug", "info", "notice", "warning", "error", "critical", "alert", "emergency")
LOG_SEVERITY = {level: rank for rank, level in enumerate(LOG_LEVELS)}

_MAX_PENDING_ELICITATIONS = 10_000
# The merged list a kind of upstream list feeds, and the notification that says it changed.
_SECTIONS: dict[ListKind, tuple[str, str]] = {
    "tools": ("tools", "notifications/tools/list_changed"),
    "prompts": ("prompts", "notifications/prompts/list_changed"),
    "resources": ("resources", "notifications/resources/list_changed"),
    "templates": ("templates", "notifications/resources/list_changed"),
}


class Hub:
    def __init__(
        self,
        settings: GatewaySettings,
        *,
        backoff: Backoff | None = None,
        registered: Sequence[UpstreamSpec] = (),
        servers: Sequence[VirtualServer] = (),
    ) -> None:
        """`settings.upstreams` and `settings.servers` come from the config file; `registered`
        upstreams and API-created `servers` from the registry (they may change at run time)."""
        self.settings = settings
        self._backoff = backoff
        self.sessions = SessionRegistry(on_remove=self._session_closed)
        self.subscriptions = Subscriptions()
        self.bridge = Bridge(self._spawn)  # 2026-07-28 clients' input_required rounds
        # (upstream, elicitationId) → session: where a URL elicitation's completion notice goes.
        self._url_elicitations: dict[tuple[str, str], str] = {}
        self.catalog = Catalog()
        self._listings: list[UpstreamListing] = []
        # (session id, upstream) → that session's own child of a `perSession` stdio upstream.
        self._session_children: dict[tuple[str, str], tuple[UpstreamConnection, anyio.CancelScope]] = {}
        self._declared = {spec.name for spec in settings.upstreams}
        # This gateway's own management API, for catalogs of it (served once the app exists).
        self.own_api = OwnAPI()
        self.upstreams: dict[str, UpstreamConnection] = {
            spec.name: self._new_connection(spec) for spec in (*settings.upstreams, *registered)
        }
        # Virtual servers by id, what each one's clients can reach, and their external servers' connections.
        self.servers: dict[str, VirtualServer] = {}
        self.views: dict[str, View] = {}
        self.externals: dict[str, UpstreamConnection] = {}
        for server in (*(VirtualServer.from_settings(s) for s in settings.servers), *servers):
            self.servers[server.id] = server
            self._attach_externals(server)
        self._scopes: dict[str, anyio.CancelScope] = {}  # each running connection's, to stop it alone
        # End users' credentials, and (user, upstream) → that user's own child of a stdio upstream.
        self.credentials: Credentials = NoCredentials()
        # Told of every tool call (the audit trail, metrics): callables taking a forwarding.ToolCall.
        self.observers: list[Callable[[Any], None]] = []
        self._user_children: dict[tuple[str, str], _UserChild] = {}
        self._task_group: anyio.abc.TaskGroup | None = None
        self._started = False
        self._stopping = False

    def _new_connection(
        self,
        spec: UpstreamSpec,
        per_session: ClientSession | None = None,
        *,
        shared: bool = True,
        label: str | None = None,
    ) -> UpstreamConnection:
        """A connection to `spec`: the shared one (its lists feed the catalog), a session's own
        child (`per_session`), or a user's own child (`shared=False`)."""
        if per_session is not None:
            # A session's own child: the catalog comes from the shared connection; what the
            # child announces is that session's alone.
            on_lists, on_notification = None, self._child_notification(per_session)
        elif shared:
            on_lists, on_notification = self._lists_changed, self._upstream_notification
        else:
            on_lists, on_notification = None, self._upstream_notification
        timeouts = self.settings.timeouts
        return UpstreamConnection(
            spec,
            connect_timeout=timeouts.connect,
            call_timeout=self.settings.call_timeout(spec),
            list_timeout=timeouts.list,
            backoff=self._backoff,
            liveness=Liveness(timeouts.ping_interval, timeouts.ping, timeouts.missed_pings)
            if timeouts.ping_interval > 0
            else None,
            on_lists_changed=on_lists,
            on_notification=on_notification,
            own_api=self.own_api,
            label=label,
        )

    def _child_notification(self, session: ClientSession) -> NotificationListener:
        async def deliver(connection: UpstreamConnection, method: str, params: Mapping[str, Any] | None) -> None:
            if method == "notifications/resources/updated" and params and isinstance(params.get("uri"), str):
                exposed = self.catalog.expose_uri(connection.name, params["uri"])
                await session.push(notification(method, {**params, "uri": exposed}))
            elif method == "notifications/elicitation/complete":
                await session.push(notification(method, dict(params or {})))

        return deliver

    async def __aenter__(self) -> Hub:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        try:
            connections = [*self.upstreams.values(), *self.externals.values()]
            for connection in connections:
                self._start(connection)
            self._task_group.start_soon(self._reap_idle_sessions, name="session-reaper")
            # Bounded: an upstream that neither connects nor fails in time is left connecting.
            # Not waited for: a catalog of this gateway's own API, which needs the app built after this.
            with anyio.move_on_after(self.settings.timeouts.connect + 1):
                async with anyio.create_task_group() as waiters:
                    for connection in connections:
                        if not getattr(connection.spec, "is_own_api", False):
                            waiters.start_soon(connection.wait_settled)
            self.catalog = self._build_catalog()
            # Fatal only between config-file upstreams: the file is where it gets fixed. One
            # registered through the API loses the name (logged, in /health) and can be edited.
            declared = [c for c in self.catalog.collisions if {c.kept.upstream, c.dropped.upstream} <= self._declared]
            if declared:
                raise ToolNameCollision(Catalog.describe(declared))
            for collision in self.catalog.collisions:
                logger.error("%s (kept the first)", collision.describe())
            for server in self.servers.values():
                self.views[server.id] = self._build_view(server)
            self._started = True
            for connection in self.upstreams.values():
                if "resourceUris" in (exposure := self._exposure(connection)):
                    logger.info("upstream %s: resource URIs exposed as %s", connection.name, exposure["resourceUris"])
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping = True
        for session in self.sessions:
            self.sessions.remove(session.id)
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            self._task_group = None

    async def _reap_idle_sessions(self) -> None:
        """End sessions a client abandoned without DELETE (Streamable HTTP has no disconnect to see),
        and stop users' children nobody has called for a while."""
        limit = self.settings.edge.session_idle_seconds
        child_limit = self.settings.user_child_idle_seconds
        while True:
            await anyio.sleep(min(60.0, limit / 4, child_limit / 4))  # a periodic sweep, not a wait for an event
            now = time.monotonic()
            for key, running in list(self._user_children.items()):
                starting = running.connection.status.state is UpstreamState.CONNECTING
                if not starting and now - running.last_used > child_limit and running.connection.in_flight == 0:
                    logger.info("stopping an idle per-user child of upstream %s", key[1])
                    self._stop_user_child(key)
            for session in self.sessions:
                if session.idle_for(now) > limit:
                    logger.info("session %s idle for %.0fs; closing it", session.shown_id, now - session.last_seen)
                    self.sessions.remove(session.id)

    # -- catalog -----------------------------------------------------------------------

    def _build_catalog(self) -> Catalog:
        self._listings = [_listing(c) for c in self.upstreams.values() if c.spec.enabled]
        return Catalog(self._listings, self.settings.name_separator)

    def _build_view(self, server: VirtualServer) -> View:
        external = {
            key: _listing(connection)
            for config in server.external
            if (connection := self.externals.get(key := external_upstream_key(server.id, config.name))) is not None
        }
        return build_view(server, self._listings, external, self.settings.name_separator)

    async def _lists_changed(self, connection: UpstreamConnection, kinds: frozenset[ListKind]) -> None:
        if not self._started:
            return  # the start-up build covers it
        await self._refresh(kinds)
        if len(kinds) == len(_SECTIONS):  # a (re)connected upstream: it starts from its default level
            await self.apply_log_levels()

    async def _refresh(self, kinds: frozenset[ListKind] | tuple[ListKind, ...] = tuple(_SECTIONS)) -> None:
        """Rebuild the catalog and every view; tell each session which of *its* lists changed."""
        previous, catalog = self.catalog, self._build_catalog()
        for collision in catalog.collisions:
            if collision not in previous.collisions:
                logger.error("%s (kept the first)", collision.describe())
        self.catalog = catalog
        changed = {
            method
            for kind, (section, method) in _SECTIONS.items()
            if kind in kinds and getattr(previous, section) != getattr(catalog, section)
        }
        for method in sorted(changed):
            await self.broadcast(notification(method), server=None)
        for server in list(self.servers.values()):
            await self._refresh_view(server)

    async def _refresh_view(self, server: VirtualServer) -> None:
        before = self.views.get(server.id)
        view = self.views[server.id] = self._build_view(server)
        if before is not None and listed_tools(before) != listed_tools(view):
            await self.broadcast(notification("notifications/tools/list_changed"), server=server.id)
        if before is not None and (before.catalog.resources, before.catalog.templates) != (
            view.catalog.resources,
            view.catalog.templates,
        ):
            await self.broadcast(notification("notifications/resources/list_changed"), server=server.id)

    def find_server(self, ident: str) -> VirtualServer | None:
        """A virtual server by id or by name."""
        server = self.servers.get(ident)
        if server is None:
            server = next((s for s in self.servers.values() if s.name == ident), None)
        return server

    def catalog_for(self, server: str | None) -> Catalog:
        """What a session of `server` (None: the default endpoint) may reach."""
        if server is None:
            return self.catalog
        view = self.views.get(server)
        if view is None:
            raise UpstreamUnavailable("this virtual server was deleted; connect to another one")
        return view.catalog

    # -- run-time changes --------------------------------------------------------------

    def _start(self, connection: UpstreamConnection) -> None:
        assert self._task_group is not None
        scope = self._scopes[connection.name] = anyio.CancelScope()
        self._task_group.start_soon(_run_in, scope, connection.run, name=f"upstream:{connection.name}")

    def _stop(self, name: str) -> None:
        if (scope := self._scopes.pop(name, None)) is not None:
            scope.cancel()
        for key in [k for k in self._user_children if k[1] == name]:
            self._stop_user_child(key)
        for key in [k for k in self._session_children if k[1] == name]:
            self._session_children.pop(key)[1].cancel()
        self.subscriptions.drop_upstream(name)

    async def add_upstream(self, spec: UpstreamSpec) -> UpstreamConnection:
        """Connect a new upstream; its tools appear (and sessions hear of them) once it is ready."""
        if spec.name in self.upstreams:
            raise Conflict(f"an upstream named {spec.name!r} already exists")
        connection = self.upstreams[spec.name] = self._new_connection(spec)
        self._start(connection)
        return connection

    async def replace_upstream(self, spec: UpstreamSpec) -> UpstreamConnection:
        """Reconnect an upstream with new settings (or enable/disable it)."""
        if spec.name not in self.upstreams:
            raise NotFound(f"no upstream named {spec.name!r}")
        self._stop(spec.name)
        connection = self.upstreams[spec.name] = self._new_connection(spec)
        self._start(connection)
        await self._refresh()  # its old tools are gone until the new connection lists them
        return connection

    async def remove_upstream(self, name: str) -> None:
        if self.upstreams.pop(name, None) is None:
            raise NotFound(f"no upstream named {name!r}")
        self._stop(name)
        self._declared.discard(name)
        await self._refresh()

    async def put_server(self, server: VirtualServer) -> View:
        """Create or replace a virtual server; its sessions hear of any change to their tools."""
        previous = self.servers.get(server.id)
        self.servers[server.id] = server
        unchanged = {c.name for c in server.external if previous is not None and c in previous.external}
        for config in previous.external if previous is not None else ():
            if config.name not in unchanged:
                self._stop(key := external_upstream_key(server.id, config.name))
                self.externals.pop(key, None)
        for connection in self._attach_externals(server, skip=unchanged):
            self._start(connection)
        await self._refresh_view(server)
        return self.views[server.id]

    async def remove_server(self, server_id: str) -> None:
        """Delete a virtual server: its sessions are closed and its external connections stopped."""
        server = self.servers.pop(server_id, None)
        if server is None:
            raise NotFound(f"no virtual server with id {server_id!r}")
        self.views.pop(server_id, None)
        for config in server.external:
            self._stop(key := external_upstream_key(server_id, config.name))
            self.externals.pop(key, None)
        for session in self.sessions:
            if session.server == server_id:
                self.sessions.remove(session.id)

    def _attach_externals(self, server: VirtualServer, skip: Set[str] = frozenset()) -> list[UpstreamConnection]:
        """Connections for the server's external MCP servers (except those named in `skip`), not started."""
        added = []
        for config in server.external:
            if config.name in skip:
                continue
            spec = external_spec(server.id, config)
            # Logs and errors name it as people know it, not by the server's id.
            label = f"{server.name}/{config.name}"
            connection = self.externals[spec.name] = self._new_connection(spec, label=label)
            added.append(connection)
        return added

    async def apply_log_levels(self) -> None:
        """Ask each logging upstream for the least severe level any session wants.

        Upstream connections are shared, so the upstream logs at the most verbose level
        asked for and each session's own level is applied on the way out.
        """
        wanted = [s.log_level for s in self.sessions if s.log_level in LOG_SEVERITY]
        if not wanted:
            return
        level: str = min(wanted, key=LOG_SEVERITY.__getitem__)
        targets = [(connection, level) for connection in self.upstreams.values()]
        for (session_id, _), (child, _) in list(self._session_children.items()):
            owner = self.sessions.get(session_id)
            if owner is not None and owner.log_level in LOG_SEVERITY:
                targets.append((child, owner.log_level))  # a session's own child logs at its level
        for connection, wanted_level in targets:
            await _set_level(connection, wanted_level)

    async def _upstream_notification(
        self, connection: UpstreamConnection, method: str, params: Mapping[str, Any] | None
    ) -> None:
        """Notifications that belong to no request: resource updates go to their subscribers only."""
        if method == "notifications/elicitation/complete":
            elicitation = (params or {}).get("elicitationId")
            owner = self._url_elicitations.pop((connection.name, elicitation), None)
            if (session := self.sessions.get(owner)) is not None:
                await session.push(notification(method, dict(params or {})))
            return
        if method != "notifications/resources/updated" or not params or not isinstance(params.get("uri"), str):
            logger.debug("upstream %s: notification %s not forwarded", connection.label, method)
            return
        for session_id, exposed in self.subscriptions.holders((connection.name, params["uri"])).items():
            session = self.sessions.get(session_id)
            if session is not None:
                await session.push(notification(method, {**params, "uri": exposed}))

    def _spawn(self, run: Callable[[], Awaitable[None]]) -> None:
        """Run `run` for as long as the hub (not the request that started it) lives."""
        if self._task_group is None:
            raise UpstreamUnavailable("the gateway is shutting down")
        self._task_group.start_soon(run)

    def connection(self, upstream: str) -> UpstreamConnection:
        """The shared connection to an upstream or to a virtual server's external server."""
        connection = self.upstreams.get(upstream) or self.externals.get(upstream)
        if connection is None:
            raise UpstreamUnavailable(f"upstream {upstream!r} was removed")
        return connection

    async def connection_for(self, upstream: str, session: ClientSession) -> UpstreamConnection:
        """The connection that serves `session`'s requests to `upstream`: the shared one; for a
        stdio upstream the session's user has env credentials for, that user's own child; for a
        `perSession` stdio upstream a child of the session's own — children start on first use."""
        shared = self.connection(upstream)
        if session.user is not None and shared.spec.kind == "stdio":
            credential = self.credentials.for_user(session.user, upstream)
            if credential is not None and credential.env:
                return await self._user_child(upstream, session.user, shared, dict(credential.env))
        if not shared.per_session or session.ephemeral:
            return shared
        key = (session.id, upstream)
        if key in self._session_children and self._session_children[key][0].status.state is UpstreamState.FAILED:
            self._session_children.pop(key)[1].cancel()  # given up on: the session's next call tries afresh
        if key not in self._session_children:
            if not shared.spec.enabled:
                raise shared.unavailable()
            if self._task_group is None or session.closed.is_set():
                raise UpstreamUnavailable(f"upstream {upstream!r} is unavailable (the session is closing)")
            if len(self._session_children) >= self.settings.max_session_children:
                raise UpstreamUnavailable(
                    f"upstream {upstream!r} is unavailable: {self.settings.max_session_children} per-session "
                    "children are running (maxSessionChildren)"
                )
            child = self._new_connection(shared.spec, per_session=session)
            scope = anyio.CancelScope()
            self._session_children[key] = (child, scope)
            self._task_group.start_soon(_run_in, scope, child.run, name=f"upstream:{upstream}:{session.id[:8]}")
        child = self._session_children[key][0]
        with anyio.move_on_after(self.settings.timeouts.connect + 1):
            await child.wait_settled()
        if not child.is_ready:
            raise child.unavailable()
        if session.log_level is not None:
            await _set_level(child, session.log_level)
        return child

    async def _user_child(
        self, upstream: str, user: str, shared: UpstreamConnection, env: dict[str, str]
    ) -> UpstreamConnection:
        """`user`'s own child of a stdio upstream, run with the user's env on top of the upstream's."""
        key = (user, upstream)
        running = self._user_children.get(key)
        # The user's credentials changed, or the child was given up on: the next call tries afresh.
        if running is not None and (running.env != env or running.connection.status.state is UpstreamState.FAILED):
            self._stop_user_child(key)
            running = None
        if running is None:
            if not shared.spec.enabled:
                raise shared.unavailable()
            if self._task_group is None:
                raise UpstreamUnavailable("the gateway is shutting down")
            per_user = sum(1 for owner, _ in self._user_children if owner == user)
            if per_user >= self.settings.max_children_per_user:
                raise UpstreamUnavailable(
                    f"upstream {upstream!r} is unavailable: this user already runs {per_user} child processes "
                    "(maxChildrenPerUser)"
                )
            if len(self._user_children) + len(self._session_children) >= self.settings.max_session_children:
                raise UpstreamUnavailable(
                    f"upstream {upstream!r} is unavailable: {self.settings.max_session_children} child processes "
                    "are running (maxSessionChildren)"
                )
            spec = shared.spec.model_copy(update={"env": {**shared.spec.env, **env}})  # type: ignore[union-attr]
            child = self._new_connection(spec, shared=False)
            running = self._user_children[key] = _UserChild(child, anyio.CancelScope(), env)
            self._task_group.start_soon(_run_in, running.scope, child.run, name=f"upstream:{upstream}:user")
        running.last_used = time.monotonic()
        with anyio.move_on_after(self.settings.timeouts.connect + 1):
            await running.connection.wait_settled()
        if not running.connection.is_ready:
            raise running.connection.unavailable()
        running.last_used = time.monotonic()
        return running.connection

    def _stop_user_child(self, key: tuple[str, str]) -> None:
        if (running := self._user_children.pop(key, None)) is not None:
            running.scope.cancel()

    def forget_user(self, user: str, upstream: str | None = None) -> None:
        """Stop the user's children (all, or of one upstream): their credentials changed or were removed."""
        for key in [k for k in self._user_children if k[0] == user and upstream in (None, k[1])]:
            self._stop_user_child(key)

    def note_url_elicitation(self, upstream: str, elicitation_id: object, session_id: str) -> None:
        if isinstance(elicitation_id, str):
            if len(self._url_elicitations) >= _MAX_PENDING_ELICITATIONS:
                self._url_elicitations.pop(next(iter(self._url_elicitations)))  # the oldest
            self._url_elicitations[(upstream, elicitation_id)] = session_id

    def _session_closed(self, session: ClientSession) -> None:
        for key in [k for k in self._session_children if k[0] == session.id]:
            self._session_children.pop(key)[1].cancel()  # stops that child
        for key in [k for k, owner in self._url_elicitations.items() if owner == session.id]:
            del self._url_elicitations[key]
        released = self.subscriptions.drop_session(session.id)
        if released and self._task_group is not None and not self._stopping:
            self._task_group.start_soon(self._unsubscribe_upstream, released)

    async def _unsubscribe_upstream(self, keys: list[tuple[str, str]]) -> None:
        for upstream, uri in keys:
            connection = self.upstreams.get(upstream) or self.externals.get(upstream)
            if connection is None or not connection.is_ready:
                continue
            try:
                await connection.request("resources/unsubscribe", {"uri": uri})
            except Exception as exc:  # top of a background task: the upstream may be gone
                logger.debug("upstream %s: unsubscribe after session end failed: %s", upstream, exc)

    async def broadcast(self, message: dict[str, Any], server: str | None | object = ...) -> None:
        """Push `message` to every initialized session, or to those of one `server` (None: the default endpoint)."""
        for session in self.sessions:
            if session.initialized and (server is ... or session.server == server):
                await session.push(message)

    # -- health ------------------------------------------------------------------------

    def _exposure(self, connection: UpstreamConnection) -> dict[str, Any]:
        """How this upstream's names and resource URIs appear to clients (for operators)."""
        spec = connection.spec
        prefix = spec.name if spec.prefix is True else (spec.prefix or None)
        exposure: dict[str, Any] = {"names": f"{prefix}{self.settings.name_separator}<name>" if prefix else "<name>"}
        if "resources" in connection.capabilities:
            exposure["resourceUris"] = f"{prefix}+<uri>" if prefix else "<uri> (unchanged)"
        return exposure

    def health(self) -> tuple[bool, dict[str, Any]]:
        """`(serving, report)`; not serving while starting/stopping or with every upstream down."""
        upstreams = {name: {**c.status.as_dict(), **self._exposure(c)} for name, c in self.upstreams.items()}
        enabled = [c for c in self.upstreams.values() if c.status.state is not UpstreamState.DISABLED]
        ready = [c for c in enabled if c.is_ready]
        report: dict[str, Any] = {
            "status": "ok",
            "service": "mcpgate",
            "version": __version__,
            "connections": len(self.sessions),
            "tools": len(self.catalog),
            "upstreams": upstreams,
        }
        if self.catalog.collisions:
            report["collisions"] = [c.describe() for c in self.catalog.collisions]
        reason = None
        if self._stopping:
            reason = "shutting down"
        elif not self._started:
            reason = "starting"
        elif enabled and not ready:
            reason = "no upstream is available"
        if reason:
            report["status"] = "unavailable"
            report["reason"] = reason
            return False, report
        if len(ready) < len(enabled):
            report["degraded"] = [c.name for c in enabled if not c.is_ready]
        return True, report


@dataclass(slots=True)
class _UserChild:
    connection: UpstreamConnection
    scope: anyio.CancelScope
    env: dict[str, str]
    last_used: float = field(default_factory=time.monotonic)


def _listing(connection: UpstreamConnection) -> UpstreamListing:
    spec, lists = connection.spec, connection.lists
    return UpstreamListing(
        spec.name,
        spec.name if spec.prefix is True else (spec.prefix or None),
        tools=tuple(lists["tools"]),
        prompts=tuple(lists["prompts"]),
        resources=tuple(lists["resources"]),
        templates=tuple(lists["templates"]),
        serves_resources="resources" in connection.capabilities,
        resource_tool=connection.resource_tool,
    )


async def _run_in(scope: anyio.CancelScope, run: Callable[[], Awaitable[None]]) -> None:
    with scope:
        await run()


async def _set_level(connection: UpstreamConnection, level: str) -> None:
    if not connection.is_ready or "logging" not in connection.capabilities or connection.log_level == level:
        return
    try:
        await connection.request("logging/setLevel", {"level": level})
        connection.log_level = level
    except Exception as exc:  # one upstream's refusal must not fail the client's setLevel
        logger.warning("upstream %s: logging/setLevel %s failed: %s", connection.label, level, exc)
