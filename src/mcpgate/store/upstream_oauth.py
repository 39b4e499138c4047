"""The gateway as an OAuth client of upstreams: its registration at each upstream's
authorization server, and each end user's tokens there (user "" is the gateway's own) —
sealed at rest like every other credential."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, insert, or_, select, update

from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import Database
from mcpgate.store.registry import utc
from mcpgate.store.tables import UpstreamOAuthClientRow, UpstreamOAuthTokenRow

clients_table = UpstreamOAuthClientRow.__table__
tokens_table = UpstreamOAuthTokenRow.__table__

GATEWAY = ""  # the user whose tokens are the gateway's own (an operator authorized the upstream for everyone)


@dataclass(frozen=True, slots=True)
class UpstreamTokens:
    upstream: str
    user: str
    access_token: str
    refresh_token: str | None
    scope: str | None
    expires_at: datetime | None


class UpstreamOAuthStore:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.database = database
        self.box = box

    async def registration(self, upstream: str) -> dict[str, Any] | None:
        async with self.database.transaction() as tx:
            row = (await tx.execute(select(clients_table).where(clients_table.c.upstream == upstream))).first()
        return self.box.open(row.secrets) if row is not None else None

    async def keep_registration(self, upstream: str, registration: Mapping[str, Any], at: datetime) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(delete(clients_table).where(clients_table.c.upstream == upstream))
            await tx.execute(
                insert(clients_table).values(upstream=upstream, secrets=self.box.seal(registration), created_at=utc(at))
            )

    async def tokens(self) -> list[UpstreamTokens]:
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(tokens_table))).all()
        return [self._tokens(row._mapping) for row in rows]

    async def keep_tokens(self, tokens: UpstreamTokens, at: datetime) -> None:
        sealed = self.box.seal(
            {"access_token": tokens.access_token, "refresh_token": tokens.refresh_token, "scope": tokens.scope}
        )
        key = and_(tokens_table.c.upstream == tokens.upstream, tokens_table.c.user == tokens.user)
        async with self.database.transaction() as tx:
            await tx.execute(delete(tokens_table).where(key))
            await tx.execute(
                insert(tokens_table).values(
                    upstream=tokens.upstream,
                    user=tokens.user,
                    secrets=sealed,
                    expires_at=utc(tokens.expires_at) if tokens.expires_at else None,
                    updated_at=utc(at),
                )
            )

    async def forget_tokens(self, upstream: str, user: str | None = None) -> None:
        """Drop a user's tokens for `upstream` (or everyone's, with the registration: the upstream is gone)."""
        async with self.database.transaction() as tx:
            if user is None:
                await tx.execute(delete(tokens_table).where(tokens_table.c.upstream == upstream))
                await tx.execute(delete(clients_table).where(clients_table.c.upstream == upstream))
            else:
                await tx.execute(
                    delete(tokens_table).where(tokens_table.c.upstream == upstream, tokens_table.c.user == user)
                )

    async def claim_refresh(self, upstream: str, user: str, now: datetime, until: datetime) -> bool:
        """Whether this replica is the one to refresh these tokens now (others skip until `until`)."""
        async with self.database.transaction() as tx:
            claimed = await tx.execute(
                update(tokens_table)
                .where(
                    tokens_table.c.upstream == upstream,
                    tokens_table.c.user == user,
                    or_(tokens_table.c.refreshing_until.is_(None), tokens_table.c.refreshing_until < utc(now)),
                )
                .values(refreshing_until=utc(until))
            )
        return claimed.rowcount == 1

    def _tokens(self, row: Mapping[str, Any]) -> UpstreamTokens:
        opened = self.box.open(row["secrets"])
        return UpstreamTokens(
            upstream=row["upstream"],
            user=row["user"],
            access_token=str(opened["access_token"]),
            refresh_token=opened.get("refresh_token"),  # type: ignore[arg-type]
            scope=opened.get("scope"),  # type: ignore[arg-type]
            expires_at=utc(row["expires_at"]) if row["expires_at"] else None,
        )
