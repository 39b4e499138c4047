"""End users and their credentials per upstream (headers for remote upstreams, env vars for
stdio ones), sealed at rest like every other secret."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import delete, insert, select, update
from sqlalchemy.exc import IntegrityError

from mcpgate.errors import Conflict, NotFound
from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import Database
from mcpgate.store.registry import utc
from mcpgate.store.tables import UserConnectionRow, UserRow

users_table = UserRow.__table__
connections_table = UserConnectionRow.__table__


@dataclass(frozen=True, slots=True)
class UserConnection:
    user: str
    upstream: str
    headers: dict[str, str] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)
    created_at: datetime | None = None
    updated_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class User:
    name: str
    created_at: datetime
    connections: tuple[str, ...] = ()  # the upstreams it has credentials for


class UserStore:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.database = database
        self.box = box

    async def users(self) -> list[User]:
        async with self.database.transaction() as tx:
            users = (await tx.execute(select(users_table).order_by(users_table.c.name))).all()
            links = (await tx.execute(select(connections_table.c.user, connections_table.c.upstream))).all()
        by_user: dict[str, list[str]] = {}
        for user, upstream in links:
            by_user.setdefault(user, []).append(upstream)
        return [User(row.name, utc(row.created_at), tuple(sorted(by_user.get(row.name, [])))) for row in users]

    async def user(self, name: str) -> User:
        for user in await self.users():
            if user.name == name:
                return user
        raise NotFound(f"no user named {name!r}")

    async def add_user(self, name: str) -> User:
        now = datetime.now(UTC)
        try:
            async with self.database.transaction() as tx:
                await tx.execute(insert(users_table).values(name=name, created_at=now))
        except IntegrityError:
            raise Conflict(f"a user named {name!r} already exists") from None
        return User(name, now)

    async def remove_user(self, name: str) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(delete(connections_table).where(connections_table.c.user == name))
            result = await tx.execute(delete(users_table).where(users_table.c.name == name))
        if result.rowcount == 0:
            raise NotFound(f"no user named {name!r}")

    async def connections(self) -> list[UserConnection]:
        """Every stored connection, opened (the gateway keeps them in memory to serve calls)."""
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(connections_table))).all()
        return [self._connection(row._mapping) for row in rows]

    async def put_connection(self, connection: UserConnection) -> UserConnection:
        """Create or replace one user's credentials for one upstream (creating the user if need be)."""
        now = datetime.now(UTC)
        sealed = self.box.seal({"headers": connection.headers, "env": connection.env}) or ""
        async with self.database.transaction() as tx:
            if (
                await tx.execute(select(users_table.c.name).where(users_table.c.name == connection.user))
            ).first() is None:
                await tx.execute(insert(users_table).values(name=connection.user, created_at=now))
            match = (connections_table.c.user == connection.user) & (
                connections_table.c.upstream == connection.upstream
            )
            existing = (await tx.execute(select(connections_table.c.created_at).where(match))).first()
            if existing is None:
                await tx.execute(
                    insert(connections_table).values(
                        user=connection.user,
                        upstream=connection.upstream,
                        secrets=sealed,
                        created_at=now,
                        updated_at=now,
                    )
                )
                created = now
            else:
                await tx.execute(update(connections_table).where(match).values(secrets=sealed, updated_at=now))
                created = utc(existing.created_at)
        return UserConnection(connection.user, connection.upstream, connection.headers, connection.env, created, now)

    async def remove_connection(self, user: str, upstream: str) -> None:
        match = (connections_table.c.user == user) & (connections_table.c.upstream == upstream)
        async with self.database.transaction() as tx:
            result = await tx.execute(delete(connections_table).where(match))
        if result.rowcount == 0:
            raise NotFound(f"user {user!r} has no connection to {upstream!r}")

    async def check_secrets(self) -> None:
        await self.connections()

    def _connection(self, row: Mapping[str, Any]) -> UserConnection:
        values = self.box.open(row["secrets"])
        headers, env = values.get("headers") or {}, values.get("env") or {}
        return UserConnection(
            row["user"],
            row["upstream"],
            dict(headers) if isinstance(headers, dict) else {},
            dict(env) if isinstance(env, dict) else {},
            utc(row["created_at"]),
            utc(row["updated_at"]),
        )
