"""A change made through one replica is served by all of them.

    shared = SharedState(link, hub, registry, auth, users, settings)
    async with shared: ...          # announces this replica's changes, applies the others'

The database is the truth; each replica keeps a copy in memory (the hub's upstreams and
virtual servers, the keys, end users' credentials, OAuth tokens seen). A replica that commits a change says
which part changed on the fleet's `events` channel; every other replica re-reads that part
and applies the difference as if the change had been made there: upstreams connected,
reconnected or dropped, views rebuilt — so their clients hear `list_changed` — keys
re-read, and the sessions of a revoked key or a removed user ended.

An announcement is one Redis message, so a change is served everywhere within milliseconds
of its commit. One can be missed (Redis restarted, this replica was away): after Redis comes
back and every `fleet.resyncSeconds` regardless, everything is re-read, which also picks up
changes made on the database by the offline CLI.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Literal

import anyio
import anyio.abc
import orjson

from mcpgate.access.authentication import Authenticator
from mcpgate.access.users import UserDirectory
from mcpgate.errors import GatewayError
from mcpgate.fleet.link import FleetLink, FleetUnavailable
from mcpgate.hub.gateway import Hub
from mcpgate.settings import GatewaySettings
from mcpgate.store.registry import Registry

if TYPE_CHECKING:
    from mcpgate.accounts.service import UpstreamAccounts
    from mcpgate.oauth.issuer import Issuer

logger = logging.getLogger(__name__)

Part = Literal["registry", "keys", "users", "accounts", "grants"]
PARTS: tuple[Part, ...] = ("registry", "keys", "users", "accounts", "grants")


class SharedState:
    def __init__(
        self,
        link: FleetLink,
        hub: Hub,
        registry: Registry,
        auth: Authenticator,
        users: UserDirectory,
        settings: GatewaySettings,
        accounts: UpstreamAccounts | None = None,
        issuer: Issuer | None = None,
    ) -> None:
        self.link = link
        self.hub = hub
        self.registry = registry
        self.auth = auth
        self.users = users
        self.settings = settings
        self.accounts = accounts  # users' OAuth tokens at upstreams (connected or refreshed elsewhere)
        self.issuer = issuer  # OAuth's built-in tokens: a grant revoked elsewhere stops working here
        self._declared_upstreams = {spec.name for spec in settings.upstreams}
        self._stale: set[Part] = set()
        self._wake = anyio.Event()
        self._task_group: anyio.abc.TaskGroup | None = None
        registry.on_change.append(lambda: self._announce("registry"))
        auth.on_change.append(lambda: self._announce("keys"))
        users.on_change.append(lambda: self._announce("users"))
        if accounts is not None:
            accounts.on_change.append(lambda: self._announce("accounts"))
        if issuer is not None:
            issuer.on_change.append(lambda: self._announce("grants"))
        link.on_message("events", self._heard)
        link.on_reconnect.append(self._everything_stale)

    async def _announce(self, part: Part) -> None:
        """Tell the other replicas (after the commit, before the API answers)."""
        try:
            await self.link.broadcast(orjson.dumps({"changed": part, "by": self.link.replica}))
        except FleetUnavailable as exc:  # the change is stored: the others re-read it when Redis is back
            logger.warning("fleet: could not announce a change of %s: %s", part, exc)

    def _heard(self, payload: bytes) -> None:
        try:
            event = orjson.loads(payload)
        except orjson.JSONDecodeError:
            logger.warning("fleet: ignoring an event that is not JSON")
            return
        if event.get("by") != self.link.replica and event.get("changed") in PARTS:
            self._stale.add(event["changed"])
            self._wake.set()

    async def _everything_stale(self) -> None:
        self._stale.update(PARTS)
        self._wake.set()

    async def __aenter__(self) -> SharedState:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        self._task_group.start_soon(self._apply_changes, name="fleet:apply")
        self._task_group.start_soon(self._resync_periodically, name="fleet:resync")
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        assert self._task_group is not None
        self._task_group.cancel_scope.cancel()
        await self._task_group.__aexit__(None, None, None)

    async def _resync_periodically(self) -> None:
        while True:
            await anyio.sleep(self.settings.fleet.resync_seconds)  # a safety net's period, not a wait
            await self._everything_stale()

    async def _apply_changes(self) -> None:
        while True:
            await self._wake.wait()
            self._wake = anyio.Event()
            stale, self._stale = self._stale, set()
            for part in PARTS:
                if part not in stale:
                    continue
                try:
                    await self.reread(part)
                except Exception:  # the database may be briefly away: tried again at the next resync
                    logger.exception("fleet: re-reading %s failed", part)

    async def reread(self, part: Part) -> None:
        if part == "keys":
            await self.auth.load()
        elif part == "users":
            await self.users.load()
        elif part == "accounts":
            if self.accounts is not None:
                await self.accounts.load()
        elif part == "grants":
            if self.issuer is not None:
                await self.issuer.forget_grants()
        else:
            await self._reread_registry()

    async def _reread_registry(self) -> None:
        """Bring the hub's API-made upstreams and servers to what the registry holds."""
        hub = self.hub
        stored = {
            r.spec.name: r.spec for r in await self.registry.upstreams() if r.spec.name not in self._declared_upstreams
        }
        declared_servers = {server.name for server in self.settings.servers}
        servers = {s.id: s for s in await self.registry.all_servers() if s.name not in declared_servers}
        running = {name: c.spec for name, c in hub.upstreams.items() if name not in self._declared_upstreams}
        for name in running.keys() - stored.keys():
            await _applied(hub.remove_upstream(name), f"removing upstream {name}")
        for name, spec in stored.items():
            if name not in running:
                await _applied(hub.add_upstream(spec), f"adding upstream {name}")
            elif running[name].model_dump(mode="json") != spec.model_dump(mode="json"):
                await _applied(hub.replace_upstream(spec), f"changing upstream {name}")
        for server_id in [i for i, s in hub.servers.items() if s.source == "api" and i not in servers]:
            await _applied(hub.remove_server(server_id), f"removing virtual server {server_id}")
        for server_id, server in servers.items():
            if hub.servers.get(server_id) != server:
                await _applied(hub.put_server(server), f"changing virtual server {server.name}")


async def _applied(change: object, what: str) -> None:
    try:
        await change  # type: ignore[misc]
    except GatewayError as exc:  # raced with a change made here meanwhile: the next re-read settles it
        logger.info("fleet: %s: %s", what, exc.message)
