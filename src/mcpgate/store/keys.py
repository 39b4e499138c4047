"""API keys in the registry: only their SHA-256 digests are stored.

A key is 256 random bits, so a plain (fast) digest is enough: there is nothing to guess
that a slow hash would protect. The clear key exists once, in the answer that creates it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update

from mcpgate.errors import NotFound
from mcpgate.store.database import Database
from mcpgate.store.registry import utc
from mcpgate.store.tables import ApiKeyRow

keys_table = ApiKeyRow.__table__


@dataclass(frozen=True, slots=True)
class ApiKey:
    id: str
    name: str
    prefix: str
    digest: str
    scopes: frozenset[str]
    servers: frozenset[str] | None  # virtual server ids it may use; None = any
    expires_at: datetime | None
    created_at: datetime
    last_used_at: datetime | None = None
    revoked_at: datetime | None = None

    def state(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        return "active"


class KeyStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, key: ApiKey) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(
                insert(keys_table).values(
                    id=key.id,
                    name=key.name,
                    prefix=key.prefix,
                    digest=key.digest,
                    scopes=sorted(key.scopes),
                    servers=sorted(key.servers) if key.servers is not None else None,
                    expires_at=utc(key.expires_at) if key.expires_at else None,
                    created_at=utc(key.created_at),
                )
            )

    async def all(self) -> list[ApiKey]:
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(keys_table).order_by(keys_table.c.created_at))).all()
        return [_key(row._mapping) for row in rows]

    async def revoke(self, key_id: str, at: datetime) -> ApiKey:
        async with self.database.transaction() as tx:
            await tx.execute(
                update(keys_table)
                .where(keys_table.c.id == key_id, keys_table.c.revoked_at.is_(None))
                .values(revoked_at=utc(at))
            )
            row = (await tx.execute(select(keys_table).where(keys_table.c.id == key_id))).first()
        if row is None:
            raise NotFound(f"no API key with id {key_id!r}")
        return _key(row._mapping)

    async def record_use(self, uses: Iterable[tuple[str, datetime]]) -> None:
        """Save when keys were last used (batched: not a write per request)."""
        async with self.database.transaction() as tx:
            for key_id, at in uses:
                await tx.execute(update(keys_table).where(keys_table.c.id == key_id).values(last_used_at=utc(at)))


def _key(row: Mapping[str, Any]) -> ApiKey:
    return ApiKey(
        id=row["id"],
        name=row["name"],
        prefix=row["prefix"],
        digest=row["digest"],
        scopes=frozenset(row["scopes"]),
        servers=frozenset(row["servers"]) if row["servers"] is not None else None,
        expires_at=utc(row["expires_at"]) if row["expires_at"] else None,
        created_at=utc(row["created_at"]),
        last_used_at=utc(row["last_used_at"]) if row["last_used_at"] else None,
        revoked_at=utc(row["revoked_at"]) if row["revoked_at"] else None,
    )
