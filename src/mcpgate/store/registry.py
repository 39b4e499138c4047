"""The registry: upstreams and virtual servers created through the API or the CLI.

    registry = Registry(database, box)
    await registry.add_upstream(spec)                 # Conflict if the name is taken
    page, total = await registry.servers(limit=20)    # oldest first

Every method is one transaction and returns plain records (settings models and
`VirtualServer`s), with secrets already decrypted; they are encrypted again on the way
in. Objects declared in the config file never come here.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

from pydantic import TypeAdapter
from sqlalchemy import delete, func, insert, select, tuple_, update
from sqlalchemy.exc import IntegrityError

from mcpgate.errors import Conflict, NotFound
from mcpgate.hub.servers import ExternalMCP, VirtualServer
from mcpgate.settings import UpstreamSettings
from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import Database
from mcpgate.store.tables import UpstreamRow, VirtualServerRow
from mcpgate.upstream.transports import UpstreamSpec

_UPSTREAM = TypeAdapter(UpstreamSettings)
_SECRET_FIELDS = ("env", "headers")
upstreams_table = UpstreamRow.__table__
servers_table = VirtualServerRow.__table__


@dataclass(frozen=True, slots=True)
class RegisteredUpstream:
    spec: UpstreamSpec
    created_at: datetime
    updated_at: datetime


class Registry:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.database = database
        self.box = box
        # Awaited after every committed change (fleet/shared_state.py tells the other replicas).
        self.on_change: list[Callable[[], Awaitable[None]]] = []

    async def _changed(self) -> None:
        for listener in self.on_change:
            await listener()

    # -- upstreams ---------------------------------------------------------------------

    async def upstreams(self) -> list[RegisteredUpstream]:
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(upstreams_table).order_by(upstreams_table.c.created_at))).all()
        return [self._upstream(row._mapping) for row in rows]

    async def upstream(self, name: str) -> RegisteredUpstream:
        async with self.database.transaction() as tx:
            row = (await tx.execute(select(upstreams_table).where(upstreams_table.c.name == name))).first()
        if row is None:
            raise NotFound(f"no upstream named {name!r}")
        return self._upstream(row._mapping)

    async def add_upstream(self, spec: UpstreamSpec) -> RegisteredUpstream:
        now = _now()
        try:
            async with self.database.transaction() as tx:
                await tx.execute(insert(upstreams_table).values(**self._upstream_values(spec), created_at=now))
        except IntegrityError:
            raise Conflict(f"an upstream named {spec.name!r} already exists") from None
        await self._changed()
        return RegisteredUpstream(spec, now, now)

    async def replace_upstream(self, spec: UpstreamSpec) -> RegisteredUpstream:
        async with self.database.transaction() as tx:
            values = self._upstream_values(spec)
            result = await tx.execute(
                update(upstreams_table).where(upstreams_table.c.name == spec.name).values(**values)
            )
            if result.rowcount == 0:
                raise NotFound(f"no upstream named {spec.name!r}")
            row = (await tx.execute(select(upstreams_table).where(upstreams_table.c.name == spec.name))).one()
        await self._changed()
        return self._upstream(row._mapping)

    async def remove_upstream(self, name: str) -> None:
        async with self.database.transaction() as tx:
            result = await tx.execute(delete(upstreams_table).where(upstreams_table.c.name == name))
        if result.rowcount == 0:
            raise NotFound(f"no upstream named {name!r}")
        await self._changed()

    def _upstream_values(self, spec: UpstreamSpec) -> dict[str, Any]:
        data = spec.model_dump(mode="json", exclude={"name", "kind", "enabled", *_SECRET_FIELDS})
        secrets = {key: dict(value) for key in _SECRET_FIELDS if (value := getattr(spec, key, None))}
        return {
            "name": spec.name,
            "kind": spec.kind,
            "spec": data,
            "secrets": self.box.seal(secrets),
            "enabled": spec.enabled,
            "updated_at": _now(),
        }

    def _upstream(self, row: Any) -> RegisteredUpstream:
        data = {**row["spec"], **self.box.open(row["secrets"])}
        spec = _UPSTREAM.validate_python({**data, "name": row["name"], "kind": row["kind"], "enabled": row["enabled"]})
        return RegisteredUpstream(spec, utc(row["created_at"]), utc(row["updated_at"]))

    # -- virtual servers ---------------------------------------------------------------

    async def servers(
        self, *, limit: int, offset: int = 0, after: tuple[datetime, str] | None = None
    ) -> tuple[list[VirtualServer], int]:
        """A page of servers, oldest first, and how many there are in all.

        `after` (the creation time and id of the last server of the previous page) is a
        keyset cursor: stable while servers are added or removed; `offset` is for `page`.
        """
        query = select(servers_table).order_by(servers_table.c.created_at, servers_table.c.id).limit(limit)
        if after is not None:
            query = query.where(tuple_(servers_table.c.created_at, servers_table.c.id) > tuple_(*after))
        else:
            query = query.offset(offset)
        async with self.database.transaction() as tx:
            rows = (await tx.execute(query)).all()
            total = (await tx.execute(select(func.count()).select_from(servers_table))).scalar_one()
        return [self._server(row._mapping) for row in rows], total

    async def all_servers(self) -> list[VirtualServer]:
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(servers_table).order_by(servers_table.c.created_at))).all()
        return [self._server(row._mapping) for row in rows]

    async def server(self, server_id: str) -> VirtualServer:
        async with self.database.transaction() as tx:
            row = (await tx.execute(select(servers_table).where(servers_table.c.id == server_id))).first()
        if row is None:
            raise NotFound(f"no virtual server with id {server_id!r}")
        return self._server(row._mapping)

    async def add_server(self, server: VirtualServer) -> VirtualServer:
        now = _now()
        server = replace(server, created_at=now, updated_at=now, source="api")
        try:
            async with self.database.transaction() as tx:
                await tx.execute(insert(servers_table).values(**self._server_values(server)))
        except IntegrityError:
            raise Conflict(f"a virtual server named {server.name!r} already exists") from None
        await self._changed()
        return server

    async def replace_server(self, server: VirtualServer) -> VirtualServer:
        server = replace(server, updated_at=_now())
        values = self._server_values(server)
        del values["created_at"]
        try:
            async with self.database.transaction() as tx:
                result = await tx.execute(update(servers_table).where(servers_table.c.id == server.id).values(**values))
        except IntegrityError:
            raise Conflict(f"a virtual server named {server.name!r} already exists") from None
        if result.rowcount == 0:
            raise NotFound(f"no virtual server with id {server.id!r}")
        await self._changed()
        return server

    async def remove_server(self, server_id: str) -> None:
        async with self.database.transaction() as tx:
            result = await tx.execute(delete(servers_table).where(servers_table.c.id == server_id))
        if result.rowcount == 0:
            raise NotFound(f"no virtual server with id {server_id!r}")
        await self._changed()

    def _server_values(self, server: VirtualServer) -> dict[str, Any]:
        headers = {e.name: dict(e.headers) for e in server.external if e.headers}
        return {
            "id": server.id,
            "name": server.name,
            "description": server.description,
            "mode": server.mode,
            "selected_tools": list(server.selected_tools),
            "external_configs": [{"name": e.name, "url": e.url, "tools": list(e.tools)} for e in server.external],
            "secrets": self.box.seal(headers),
            "config": dict(server.config),
            "is_public": server.is_public,
            "created_at": server.created_at,
            "updated_at": server.updated_at,
        }

    def _server(self, row: Any) -> VirtualServer:
        headers = self.box.open(row["secrets"])
        external = tuple(
            ExternalMCP(e["name"], e["url"], dict(headers.get(e["name"]) or {}), tuple(e.get("tools") or ()))
            for e in row["external_configs"]
        )
        return VirtualServer(
            id=row["id"],
            name=row["name"],
            description=row["description"],
            mode=row["mode"],
            selected_tools=tuple(row["selected_tools"]),
            external=external,
            config=dict(row["config"]),
            is_public=row["is_public"],
            source="api",
            created_at=utc(row["created_at"]),
            updated_at=utc(row["updated_at"]),
        )

    # -- start-up ----------------------------------------------------------------------

    async def check_secrets(self) -> None:
        """Decrypt every stored secret once, so a wrong key fails at start-up, not on first use."""
        async with self.database.transaction() as tx:
            for table in (upstreams_table, servers_table):
                for (token,) in (await tx.execute(select(table.c.secrets).where(table.c.secrets.is_not(None)))).all():
                    self.box.open(token)


def _now() -> datetime:
    return datetime.now(UTC)


def utc(moment: datetime) -> datetime:
    """`moment` in UTC: how every time is written, compared and read back. SQLite keeps no zone —
    it stores and compares the wall-clock digits — so a time in another zone must be converted
    first, and one read back (or given without a zone) is UTC."""
    return moment.astimezone(UTC) if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
