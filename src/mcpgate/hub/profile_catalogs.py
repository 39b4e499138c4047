"""What the sessions of each capability profile are shown, and which connection their requests take.

    catalogs = ProfileCatalogs(settings, make_link, start, upstreams, externals, servers)
    catalogs.rebuild()                                   # after any list changed
    await catalogs.prepare(server, profile)              # before a session of `profile` is shown a list
    catalog = catalogs.catalog_for(server, profile)      # what it may reach
    connection = await catalogs.link_for(shared, profile, protocol_version)  # a request of its

The shared connections declare `FULL`: their lists make `catalog` and `views`, which sessions
that declare as much, the management API and `/health` are shown. Another profile gets a catalog
and views of its own once its links (`profiles.py`) have all listed, or a session of it has waited
for them (`prepare`): its links' lists where they have listed, the shared connections' elsewhere
(in-process catalogs and upstreams that are not up get no links). Until then its sessions are
shown the shared lists.

It opens the links (`ProfileLinks`, which chooses, reaps and forgets them) with the hub's two
parts: what a connection is (`make_link`) and running it in the hub's task group (`start`).
Deliberately not here: the start-up check for colliding names, and pushing list-changed
notifications to sessions (`gateway.py`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from typing import Any, Protocol

import anyio

from mcpgate.errors import UpstreamUnavailable
from mcpgate.hub.catalog import Catalog, UpstreamListing
from mcpgate.hub.profiles import FULL, Profile, ProfileLinks
from mcpgate.hub.servers import View, VirtualServer, build_view, external_upstream_key, listed_tools
from mcpgate.protocol.spec import MODERN_PROTOCOL_VERSIONS
from mcpgate.settings import GatewaySettings
from mcpgate.upstream.connection import UpstreamConnection
from mcpgate.upstream.transports import UpstreamSpec

__all__ = ["Audience", "MakeLink", "ProfileCatalogs"]

# Whose lists a session is shown: its endpoint's (None: the default one), for this profile.
Audience = tuple[str | None, Profile]

# Runs `run` in the hub's task group under `scope`, named `name`; False when the hub is not running.
Start = Callable[[anyio.CancelScope, Callable[[], Awaitable[None]], str], bool]

# Served in-process: they ignore what a client declares, so they never get connections per profile.
_IN_PROCESS = frozenset({"openapi", "collection"})
_TOOLS_CHANGED = "notifications/tools/list_changed"
_PROMPTS_CHANGED = "notifications/prompts/list_changed"
_RESOURCES_CHANGED = "notifications/resources/list_changed"


class MakeLink(Protocol):
    """A connection to `spec` declaring `profile`, which logs name `label` and whose lists and
    notifications the hub knows by `key` (not started)."""

    def __call__(self, spec: UpstreamSpec, *, profile: Profile, label: str, key: str) -> UpstreamConnection: ...


@dataclass(frozen=True, slots=True)
class _ProfileLists:
    """What the sessions of one profile are shown: the default endpoint's catalog, each virtual server's view."""

    catalog: Catalog
    views: dict[str, View]


class ProfileCatalogs:
    """The catalog and views of the shared connections and of each profile; see the module docstring."""

    def __init__(
        self,
        settings: GatewaySettings,
        make_link: MakeLink,
        start: Start,
        upstreams: Mapping[str, UpstreamConnection],
        externals: Mapping[str, UpstreamConnection],
        servers: Mapping[str, VirtualServer],
    ) -> None:
        """`upstreams`, `externals` and `servers` are the hub's own: they change at run time, and
        each build reads them as they are then."""
        self.settings = settings
        self._make_link = make_link
        self._start = start
        self.links = ProfileLinks(self._open_link, settings.max_upstream_profiles)
        self._upstreams = upstreams
        self._externals = externals
        self._servers = servers
        self.catalog = Catalog()
        self.views: dict[str, View] = {}
        self._listings: list[UpstreamListing] = []  # the shared connections', that `views` select from
        self._own_lists: dict[Profile, _ProfileLists] = {}  # the profiles with lists of their own

    # -- building ----------------------------------------------------------------------

    def rebuild(self, audiences: Set[Audience] = frozenset()) -> dict[Audience, list[str]]:
        """Build the catalog and every view again, for the shared connections and for each profile
        a link has listed for; return, for each of `audiences`, the notifications that announce a
        change to what it was shown."""
        before = {audience: self._lists_seen(*audience) for audience in audiences}
        self._listings = self._listings_for(FULL)
        self.catalog = Catalog(self._listings, self.settings.name_separator)
        self.views = {sid: self._build_view(server, self._listings) for sid, server in self._servers.items()}
        # A profile is shown lists of its own once its links have listed (all of them: else a session
        # being shown its first lists would be told they changed while it waits for them).
        served = [(p, link) for link in self.links for p in (link.profile, *link.serves)]
        listed = {p for p, link in served if link.source() is not None} - {p for p, link in served if not link.settled}
        self._own_lists = {profile: self._build_profile(profile) for profile in {*self._own_lists, *listed} - {FULL}}
        changed: dict[Audience, list[str]] = {}
        for audience, seen in before.items():
            now = self._lists_seen(*audience)
            if seen is not None and now is not None:
                changed[audience] = [method for method, entries in now.items() if seen.get(method) != entries]
        return changed

    def _listings_for(self, profile: Profile) -> list[UpstreamListing]:
        return [_listing(self._source(c, profile)) for c in self._upstreams.values() if c.spec.enabled]

    def _source(self, connection: UpstreamConnection, profile: Profile) -> UpstreamConnection:
        """Whose lists of `connection`'s upstream sessions of `profile` are shown: their link's once
        it has listed; until then (and for upstreams without links) the shared connection's."""
        if profile != FULL and (link := self.links.serving(connection.name, profile)) is not None:
            return link.source() or connection
        return connection

    def _build_view(self, server: VirtualServer, listings: Sequence[UpstreamListing], profile: Profile = FULL) -> View:
        external = {
            key: _listing(self._source(connection, profile))
            for config in server.external
            if (connection := self._externals.get(key := external_upstream_key(server.id, config.name))) is not None
        }
        return build_view(server, listings, external, self.settings.name_separator)

    def _build_profile(self, profile: Profile) -> _ProfileLists:
        listings = self._listings_for(profile)
        views = {sid: self._build_view(server, listings, profile) for sid, server in self._servers.items()}
        return _ProfileLists(Catalog(listings, self.settings.name_separator), views)

    def forget_server(self, server_id: str) -> None:
        """Drop a deleted virtual server's views."""
        self.views.pop(server_id, None)
        for lists in self._own_lists.values():
            lists.views.pop(server_id, None)

    # -- what a session is shown -------------------------------------------------------

    def audience(self, server: str | None, profile: Profile) -> Audience:
        """Whose lists a session of `server` and `profile` is shown: its endpoint's, for its profile
        once that has lists of its own."""
        return server, profile if profile in self._own_lists else FULL

    def _lists_seen(self, server: str | None, profile: Profile) -> dict[str, Any] | None:
        """What the sessions of an endpoint and profile are shown, by the notification that announces a change."""
        state = self._own_lists.get(profile)
        if server is None:
            catalog = state.catalog if state is not None else self.catalog
            return {
                _TOOLS_CHANGED: catalog.tools,
                _PROMPTS_CHANGED: catalog.prompts,
                _RESOURCES_CHANGED: (catalog.resources, catalog.templates),
            }
        view = (state.views if state is not None else self.views).get(server)
        if view is None:
            return None
        catalog = view.catalog
        return {_TOOLS_CHANGED: listed_tools(view), _RESOURCES_CHANGED: (catalog.resources, catalog.templates)}

    def view_for(self, server: str, profile: Profile = FULL) -> View | None:
        """What sessions of virtual server `server` and `profile` are shown (None: it was deleted)."""
        state = self._own_lists.get(profile)
        return (state.views if state is not None else self.views).get(server)

    def catalog_for(self, server: str | None, profile: Profile = FULL) -> Catalog:
        """What a session of `server` (None: the default endpoint) and `profile` may reach."""
        if server is None:
            state = self._own_lists.get(profile)
            return state.catalog if state is not None else self.catalog
        view = self.view_for(server, profile)
        if view is None:
            raise UpstreamUnavailable("this virtual server was deleted; connect to another one")
        return view.catalog

    # -- the links behind them ---------------------------------------------------------

    def _open_link(self, shared: UpstreamConnection, profile: Profile) -> tuple[UpstreamConnection, anyio.CancelScope]:
        """Start a connection to `shared`'s upstream declaring `profile` (the opener of `links`)."""
        key = f"{shared.name}#{profile}"
        connection = self._make_link(shared.spec, profile=profile, label=shared.label, key=key)
        scope = anyio.CancelScope()
        if not self._start(scope, connection.run, f"upstream:{key}"):
            raise UpstreamUnavailable("the gateway is shutting down")
        return connection, scope

    async def prepare(self, server: str | None, profile: Profile, upstreams: Set[str] | None = None) -> None:
        """Before a session of `server` and `profile` is shown a list: the links to the upstreams
        behind its endpoint (or to `upstreams` of them) are up — opened on first use, waited for
        within the connect timeout — and its profile's lists are built."""
        if profile == FULL:
            return
        behind = [c for c in self._behind(server) if upstreams is None or c.name in upstreams]
        links = [self.links.open(c, profile) for c in behind if _takes_links(c)]
        with anyio.move_on_after(self.settings.timeouts.connect + 1):
            for link in links:  # they connect at once; this waits for the slowest
                await link.connection.wait_settled()
        # Its links' first lists built it (`rebuild`), unless none has listed (yet).
        if profile not in self._own_lists:
            self._own_lists[profile] = self._build_profile(profile)

    def _behind(self, server: str | None) -> list[UpstreamConnection]:
        """The connections whose lists make up an endpoint's (the shared ones)."""
        if server is None:
            return list(self._upstreams.values())
        view = self.views.get(server)
        names = view.catalog.upstreams() if view is not None else set()
        found = (self._upstreams.get(name) or self._externals.get(name) for name in sorted(names))
        return [connection for connection in found if connection is not None]

    async def link_for(
        self, shared: UpstreamConnection, profile: Profile, protocol_version: str | None
    ) -> UpstreamConnection:
        """The connection a request of a session of `profile` to `shared`'s upstream goes over:
        its profile's link, opened on first use, or `shared` itself."""
        if profile == FULL or not _takes_links(shared):
            return shared
        if shared.modern and protocol_version in MODERN_PROTOCOL_VERSIONS:
            return shared  # the request goes with the client's own envelope (see forwarding.py)
        connection = self.links.open(shared, profile).connection
        if not connection.settled:  # a timeout scope only when there is something to wait for: per call, it showed
            with anyio.move_on_after(self.settings.timeouts.connect + 1):
                await connection.wait_settled()
        if not connection.is_ready:
            raise connection.unavailable()
        return connection

    def sharing_key(self, upstream: str, connection: UpstreamConnection) -> str | None:
        """The key under which sessions share `connection` to `upstream`: the upstream's name, a
        link's, or None for a connection of one session's or one user's own."""
        if connection is self._upstreams.get(upstream) or connection is self._externals.get(upstream):
            return upstream
        return next((link.key for link in self.links.of(upstream) if link.connection is connection), None)

    def shared_by_key(self, key: str) -> UpstreamConnection | None:
        """The running connection sessions share under `key` (see `sharing_key`)."""
        if "#" not in key:
            return self._upstreams.get(key) or self._externals.get(key)
        link = self.links.by_key(key)
        return link.connection if link is not None and link.running else None

    def reap(self, now: float, live: set[Profile], held: Callable[[str], bool]) -> None:
        """Stop the links nobody used for `userChildIdleSeconds` (none `held` by its key: a session
        subscribed over it); forget the links and lists no `live` session's profile needs any more."""
        self.links.stop_idle(now, self.settings.user_child_idle_seconds, lambda link: held(link.key))
        self.links.forget_unused(live)
        for profile in list(self._own_lists):
            if profile not in live and not any(profile in (link.profile, *link.serves) for link in self.links):
                del self._own_lists[profile]


def _takes_links(shared: UpstreamConnection) -> bool:
    """Whether sessions of another profile get their own connection to this upstream: not for an
    in-process catalog (it ignores what a client declares), nor while the upstream is not up."""
    return shared.is_ready and shared.spec.kind not in _IN_PROCESS


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
