"""The web UI's sign-in sessions (admin_ui/): a cookie's SHA-256 digest and the key it signed in with.

The cookie is 256 random bits, so a plain digest is what is kept (as for API keys): a copy of
the table opens no browser's session. Kept in the registry's database so that any replica of a
fleet serves any page, and so that signing out ends the session everywhere at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, insert, select

from mcpgate.store.database import Database
from mcpgate.store.registry import utc
from mcpgate.store.tables import AdminSessionRow

sessions_table = AdminSessionRow.__table__


@dataclass(frozen=True, slots=True)
class AdminSession:
    digest: str
    key_ref: str
    created_at: datetime
    expires_at: datetime


class AdminSessionStore:
    def __init__(self, database: Database) -> None:
        self.database = database

    async def add(self, session: AdminSession) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(
                insert(sessions_table).values(
                    digest=session.digest,
                    key_ref=session.key_ref,
                    created_at=utc(session.created_at),
                    expires_at=utc(session.expires_at),
                )
            )

    async def find(self, digest: str, now: datetime) -> AdminSession | None:
        """The session, if it exists and has not expired."""
        async with self.database.transaction() as tx:
            row = (await tx.execute(select(sessions_table).where(sessions_table.c.digest == digest))).first()
        if row is None:
            return None
        found = AdminSession(
            digest=row.digest, key_ref=row.key_ref, created_at=utc(row.created_at), expires_at=utc(row.expires_at)
        )
        return found if found.expires_at > now else None

    async def remove(self, digest: str) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(delete(sessions_table).where(sessions_table.c.digest == digest))

    async def remove_expired(self, now: datetime) -> int:
        async with self.database.transaction() as tx:
            result = await tx.execute(delete(sessions_table).where(sessions_table.c.expires_at <= utc(now)))
        return result.rowcount or 0
