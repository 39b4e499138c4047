"""The hub: the upstream connections, the merged catalog built from them, and the sessions.

`Hub` is an async context manager that owns a task group running every upstream's
supervised connection. Entering it waits (bounded by the connect timeout) until each
upstream's first attempt has settled, then builds the catalog strictly: a name or URI
collision at start-up is a `ToolNameCollision` naming both upstreams. Later changes
(`*/list_changed`, a restarted upstream) rebuild the catalog leniently — the first
claimant keeps the name, the collision is logged and shown in `/health` — and every
connected session is told which merged lists changed.

Each upstream's shared connection declares every client capability the gateway relays;
sessions that declare other capabilities are served by connections for their capability
profile (`profiles.py`), whose lists feed a catalog and views of that profile's own
(`profile_catalogs.py`): the hub runs those connections and tells sessions what changed.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from mcpgate import __version__
from mcpgate.errors import AuthorizationNeeded, Conflict, NotFound, ToolNameCollision, UpstreamUnavailable
from mcpgate.hub.bridging import Bridge
from mcpgate.hub.catalog import Catalog
from mcpgate.hub.children import OwnChildren
from mcpgate.hub.credentials import Authorizations, Credentials, NoCredentials
from mcpgate.hub.profile_catalogs import Audience, ProfileCatalogs
from mcpgate.hub.profiles import FULL, Profile
from mcpgate.hub.servers import View, VirtualServer, external_spec, external_upstream_key
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
_LIST_KINDS = 4  # tools, prompts, resources, templates: a connection that (re)connected lists them all


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
        # The upstreams of the config file (the registry's are the others).
        self._declared = {spec.name for spec in settings.upstreams}
        # This gateway's own management API, for catalogs of it (served once the app exists).
        self.own_api = OwnAPI()
        # Upstreams that want OAuth (accounts/); the token each one's shared connection lists with.
        self.authorizations: Authorizations | None = None
        self.upstream_auth: dict[str, dict[str, str]] = {}
        self.upstreams: dict[str, UpstreamConnection] = {
            spec.name: self._new_connection(spec) for spec in (*settings.upstreams, *registered)
        }
        # Virtual servers by id, and their external servers' connections.
        self.servers: dict[str, VirtualServer] = {}
        self.externals: dict[str, UpstreamConnection] = {}
        for server in (*(VirtualServer.from_settings(s) for s in settings.servers), *servers):
            self.servers[server.id] = server
            self._attach_externals(server)
        # What clients can reach (`catalog`, each virtual server's `views`), and the connections for
        # sessions that declare other capabilities than the shared ones (`links`) with what they list.
        self.profile_catalogs = ProfileCatalogs(
            settings, self._new_connection, self._start_soon, self.upstreams, self.externals, self.servers
        )
        self.links = self.profile_catalogs.links
        self._scopes: dict[str, anyio.CancelScope] = {}  # each running connection's, to stop it alone
        # End users' credentials (the access layer's, loaded from the registry).
        self.credentials: Credentials = NoCredentials()
        # Told of every tool call (the audit trail, metrics): callables taking a forwarding.ToolCall.
        self.observers: list[Callable[[Any], None]] = []
        # Awaited with every tool call before its answer is sent (the audit trail of a fleet, whose
        # rows must not be lost with a killed replica). Each bounds its own wait.
        self.recorders: list[Callable[[Any], Awaitable[None]]] = []
        # Children started for one session (`perSession`) or one user (env credentials).
        self.children = OwnChildren(settings, self._make_child, self._start_soon)
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
        profile: Profile = FULL,
        key: str | None = None,
    ) -> UpstreamConnection:
        """A connection to `spec` declaring `profile`: the shared one (its lists feed the catalog),
        a profile's link (`key`: its lists feed that profile's catalog), a session's own child
        (`per_session`, declaring the session's profile), or a user's own child (`shared=False`)."""
        if per_session is not None:
            # A session's own child: the catalog comes from a connection shared by its profile;
            # what the child announces is that session's alone.
            on_lists, on_notification = None, self._child_notification(per_session)
            profile = self.profile_of(per_session)
        elif shared:
            on_lists, on_notification = self._lists_changed, self._notifications(key or spec.name)
        else:
            on_lists, on_notification = None, self._notifications(spec.name)
        timeouts = self.settings.timeouts
        connection = UpstreamConnection(
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
            client_capabilities=profile.declaration(),
        )
        if shared and per_session is None:
            connection.auth_headers = dict(self.upstream_auth.get(spec.name, {}))
        return connection

    def _make_child(self, spec: UpstreamSpec, session: ClientSession | None, profile: Profile) -> UpstreamConnection:
        """A session's own child (declaring its profile), or a user's (declaring `profile`)."""
        if session is not None:
            return self._new_connection(spec, per_session=session)
        return self._new_connection(spec, shared=False, profile=profile)

    def _start_soon(self, scope: anyio.CancelScope, run: Callable[[], Awaitable[None]], name: str) -> bool:
        """Run a child or a link under `scope` in the hub's task group (False: the hub is not running)."""
        if self._task_group is None:
            return False
        self._task_group.start_soon(_run_in, scope, run, name=name)
        return True

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
            self.profile_catalogs.rebuild()
            # Fatal only between config-file upstreams: the file is where it gets fixed. One
            # registered through the API loses the name (logged, in /health) and can be edited.
            declared = [c for c in self.catalog.collisions if {c.kept.upstream, c.dropped.upstream} <= self._declared]
            if declared:
                raise ToolNameCollision(Catalog.describe(declared))
            for collision in self.catalog.collisions:
                logger.error("%s (kept the first)", collision.describe())
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
        and stop users' children and profiles' connections nobody has used for a while."""
        limit = self.settings.edge.session_idle_seconds
        child_limit = self.settings.user_child_idle_seconds
        while True:
            await anyio.sleep(min(60.0, limit / 4, child_limit / 4))  # a periodic sweep, not a wait for an event
            now = time.monotonic()
            self.children.stop_idle_users(now)
            for session in self.sessions:
                if session.idle_for(now) > limit:
                    logger.info("session %s idle for %.0fs; closing it", session.shown_id, now - session.last_seen)
                    self.sessions.remove(session.id)
            live = {self.profile_of(session) for session in self.sessions}
            self.profile_catalogs.reap(now, live, self.subscriptions.held)

    # -- catalog -----------------------------------------------------------------------

    @property
    def catalog(self) -> Catalog:
        """What the default endpoint shows sessions that declare what the shared connections do."""
        return self.profile_catalogs.catalog

    @property
    def views(self) -> dict[str, View]:
        """What each virtual server shows sessions that declare what the shared connections do."""
        return self.profile_catalogs.views

    async def _lists_changed(self, connection: UpstreamConnection, kinds: frozenset[ListKind]) -> None:
        if not self._started:
            return  # the start-up build covers it
        await self._refresh()
        if len(kinds) == _LIST_KINDS:  # a (re)connected upstream: it starts from its default level
            await self.apply_log_levels()

    async def _refresh(self) -> None:
        """Rebuild the catalogs and views; tell each session which of *its* lists changed."""
        audiences = {self._audience(session) for session in self.sessions if session.initialized}
        previous = self.catalog
        changed = self.profile_catalogs.rebuild(audiences)
        for collision in self.catalog.collisions:
            if collision not in previous.collisions:
                logger.error("%s (kept the first)", collision.describe())
        for session in self.sessions:
            if session.initialized:
                # A profile given lists of its own just now is in no `changed`: none of it was shown any yet.
                for method in changed.get(self._audience(session), ()):
                    await session.push(notification(method))

    def _audience(self, session: ClientSession) -> Audience:
        return self.profile_catalogs.audience(session.server, self.profile_of(session))

    def find_server(self, ident: str) -> VirtualServer | None:
        """A virtual server by id or by name."""
        server = self.servers.get(ident)
        if server is None:
            server = next((s for s in self.servers.values() if s.name == ident), None)
        return server

    def profile_of(self, session: ClientSession) -> Profile:
        """The relayable part of what `session` declared (see `profiles.py`); worked out once per
        declaration, not per call."""
        known = session.profile
        if known is not None and known[0] is session.capabilities:
            return known[1]
        profile = Profile.of(session.capabilities)
        session.profile = (session.capabilities, profile)
        return profile

    def view_for(self, server: str, profile: Profile = FULL) -> View | None:
        """What sessions of virtual server `server` and `profile` are shown (None: it was deleted)."""
        return self.profile_catalogs.view_for(server, profile)

    def catalog_for(self, server: str | None, profile: Profile = FULL) -> Catalog:
        """What a session of `server` (None: the default endpoint) and `profile` may reach."""
        return self.profile_catalogs.catalog_for(server, profile)

    def catalog_of(self, session: ClientSession) -> Catalog:
        return self.catalog_for(session.server, self.profile_of(session))

    async def prepare(self, session: ClientSession, upstreams: Set[str] | None = None) -> None:
        """Before `session` is shown a list: its profile's connections to the upstreams behind its
        endpoint (or to `upstreams` of them) are up, so it is shown what they show a client like it."""
        await self.profile_catalogs.prepare(session.server, self.profile_of(session), upstreams)

    # -- run-time changes --------------------------------------------------------------

    def _start(self, connection: UpstreamConnection) -> None:
        assert self._task_group is not None
        scope = self._scopes[connection.name] = anyio.CancelScope()
        self._task_group.start_soon(_run_in, scope, connection.run, name=f"upstream:{connection.name}")

    def _stop(self, name: str) -> None:
        if (scope := self._scopes.pop(name, None)) is not None:
            scope.cancel()
        self.children.stop_upstream(name)
        self.links.forget(name)
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

    async def authorize_upstream(self, name: str, headers: dict[str, str]) -> None:
        """The shared connection to `name` lists with these headers (an OAuth token, accounts/):
        restarted when they change."""
        if self.upstream_auth.get(name, {}) == headers:
            return
        self.upstream_auth[name] = headers
        connection = self.upstreams.get(name)
        if connection is not None:
            await self.replace_upstream(connection.spec)

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
        await self._refresh()
        return self.views[server.id]

    async def remove_server(self, server_id: str) -> None:
        """Delete a virtual server: its sessions are closed and its external connections stopped."""
        server = self.servers.pop(server_id, None)
        if server is None:
            raise NotFound(f"no virtual server with id {server_id!r}")
        self.profile_catalogs.forget_server(server_id)
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
        shared = [*self.upstreams.values(), *(link.connection for link in self.links if link.running)]
        targets = [(connection, level) for connection in shared]
        for session_id, child in self.children.sessions_children():
            owner = self.sessions.get(session_id)
            if owner is not None and owner.log_level in LOG_SEVERITY:
                targets.append((child, owner.log_level))  # a session's own child logs at its level
        for connection, wanted_level in targets:
            await _set_level(connection, wanted_level)

    def _notifications(self, key: str) -> NotificationListener:
        """What a connection shared under `key` (its upstream's name, or a link's) says about no request."""

        async def deliver(connection: UpstreamConnection, method: str, params: Mapping[str, Any] | None) -> None:
            await self._upstream_notification(key, connection, method, params)

        return deliver

    async def _upstream_notification(
        self, key: str, connection: UpstreamConnection, method: str, params: Mapping[str, Any] | None
    ) -> None:
        """Notifications that belong to no request: resource updates go to their subscribers only
        (those who subscribed over this very connection)."""
        if method == "notifications/elicitation/complete":
            elicitation = (params or {}).get("elicitationId")
            owner = self._url_elicitations.pop((connection.name, elicitation), None)
            if (session := self.sessions.get(owner)) is not None:
                await session.push(notification(method, dict(params or {})))
            return
        if method != "notifications/resources/updated" or not params or not isinstance(params.get("uri"), str):
            logger.debug("upstream %s: notification %s not forwarded", connection.label, method)
            return
        for session_id, exposed in self.subscriptions.holders((key, params["uri"])).items():
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
        """The connection that serves `session`'s requests to `upstream`: the shared one, or its
        profile's link when the session declared other capabilities (a 2026-07-28 request to an
        upstream that takes 2026-07-28 requests carries the client's own, and needs none); for a
        stdio upstream the session's user has env credentials for, that user's own child; for a
        `perSession` stdio upstream a child of the session's own — all start on first use, and
        children declare their session's capabilities."""
        shared = self.connection(upstream)
        if session.user is not None:
            credential = self.credentials.for_user(session.user, upstream)
            if credential is not None and (
                credential.env if shared.spec.kind == "stdio" else credential.own_connection
            ):
                profile = self.profile_of(session)
                return await self.children.for_user(
                    upstream, session, shared, profile, dict(credential.env), dict(credential.headers)
                )
        if self.authorizations is not None and self.authorizations.wanted(upstream):
            self._check_authorized(upstream, shared, session)
        if not shared.per_session or session.ephemeral:
            return await self.profile_catalogs.link_for(shared, self.profile_of(session), session.protocol_version)
        child = await self.children.for_session(upstream, session, shared)
        if session.log_level is not None:
            await _set_level(child, session.log_level)
        return child

    def _check_authorized(self, upstream: str, shared: UpstreamConnection, session: ClientSession) -> None:
        """A call to an upstream that wants OAuth goes over the shared connection only with the
        gateway's own token there (which that connection then carries): never on a token a user
        connected, which it may be listing with."""
        assert self.authorizations is not None
        if self.authorizations.bearer(upstream, None) is None or getattr(shared.spec, "credentials_required", False):
            raise AuthorizationNeeded(f"upstream {upstream!r} wants you to connect your account", data=upstream)

    def sharing_key(self, upstream: str, connection: UpstreamConnection) -> str | None:
        """The key under which sessions share `connection` to `upstream` — the upstream's name, or
        a link's — so that their subscriptions are counted together; None for a session's or a
        user's own child."""
        return self.profile_catalogs.sharing_key(upstream, connection)

    def forget_user(self, user: str, upstream: str | None = None) -> None:
        """Stop the user's children (all, or of one upstream): their credentials changed or were removed."""
        self.children.forget_user(user, upstream)

    def note_url_elicitation(self, upstream: str, elicitation_id: object, session_id: str) -> None:
        if isinstance(elicitation_id, str):
            if len(self._url_elicitations) >= _MAX_PENDING_ELICITATIONS:
                self._url_elicitations.pop(next(iter(self._url_elicitations)))  # the oldest
            self._url_elicitations[(upstream, elicitation_id)] = session_id

    def _session_closed(self, session: ClientSession) -> None:
        self.children.stop_session(session.id)  # stops its own children
        for key in [k for k, owner in self._url_elicitations.items() if owner == session.id]:
            del self._url_elicitations[key]
        released = self.subscriptions.drop_session(session.id)
        if released and self._task_group is not None and not self._stopping:
            self._task_group.start_soon(self._unsubscribe_upstream, released)

    async def _unsubscribe_upstream(self, keys: list[tuple[str, str]]) -> None:
        for shared_by, uri in keys:
            connection = self.profile_catalogs.shared_by_key(shared_by)
            if connection is None or not connection.is_ready:
                continue
            try:
                await connection.request("resources/unsubscribe", {"uri": uri})
            except Exception as exc:  # top of a background task: the upstream may be gone
                logger.debug("upstream %s: unsubscribe after session end failed: %s", connection.label, exc)

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
        for link in self.links:  # connections for sessions that declared other capabilities, by what they declare
            if link.running and (upstream := upstreams.get(link.upstream)) is not None:
                upstream.setdefault("profiles", {})[str(link.profile)] = link.connection.status.state.value
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
