"""OAuth's records (#28): registered clients, grants, and codes and tokens by digest only.

A code or token is 256 random bits (an access token: a signed JWT holding such an id), so a
plain SHA-256 digest is what is kept, as for API keys. Every step that must happen once — a
code exchanged, a refresh token rotated — is a conditional UPDATE, so two replicas racing on
the same code cannot both win.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, Literal

from sqlalchemy import delete, insert, select, update

from mcpgate.errors import NotFound
from mcpgate.store.crypto import SecretBox
from mcpgate.store.database import Database
from mcpgate.store.registry import utc
from mcpgate.store.tables import OAuthClientRow, OAuthGrantRow, OAuthSigningKeyRow, OAuthTokenRow

clients_table = OAuthClientRow.__table__
grants_table = OAuthGrantRow.__table__
tokens_table = OAuthTokenRow.__table__
signing_keys_table = OAuthSigningKeyRow.__table__

TokenKind = Literal["code", "access", "refresh"]
_KEPT_AFTER_EXPIRY = timedelta(days=1)  # a reused code or refresh token is still recognised (and punished) this long


@dataclass(frozen=True, slots=True)
class RegisteredClient:
    client_id: str
    registration: dict[str, Any]
    secret: str | None  # a confidential client's secret (sealed at rest; the SDK's client check compares it)
    created_at: datetime


@dataclass(frozen=True, slots=True)
class Grant:
    id: str
    client_id: str
    client_name: str
    key_id: str
    server_id: str | None
    resource: str
    scopes: frozenset[str]
    created_at: datetime
    refreshed_at: datetime | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class Use:
    """The outcome of spending a code or refresh token once."""

    first: bool  # False: it had been spent before (a replay)
    grant_id: str | None
    details: dict[str, Any] | None
    expires_at: datetime


class OAuthStore:
    def __init__(self, database: Database, box: SecretBox) -> None:
        self.database = database
        self.box = box

    # -- clients -------------------------------------------------------------------------

    async def add_client(self, client: RegisteredClient) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(
                insert(clients_table).values(
                    client_id=client.client_id,
                    registration=client.registration,
                    secrets=self.box.seal({"client_secret": client.secret} if client.secret else {}),
                    created_at=utc(client.created_at),
                )
            )

    async def client(self, client_id: str) -> RegisteredClient | None:
        async with self.database.transaction() as tx:
            row = (await tx.execute(select(clients_table).where(clients_table.c.client_id == client_id))).first()
        return self._client(row._mapping) if row is not None else None

    async def clients(self) -> list[RegisteredClient]:
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(clients_table).order_by(clients_table.c.created_at))).all()
        return [self._client(row._mapping) for row in rows]

    async def remove_client(self, client_id: str, at: datetime) -> list[str]:
        """Forget a registered client and revoke its grants; the ids of the grants revoked."""
        async with self.database.transaction() as tx:
            removed = await tx.execute(delete(clients_table).where(clients_table.c.client_id == client_id))
            revoked = await _revoke_grants(tx, grants_table.c.client_id == client_id, at)
        if removed.rowcount == 0 and not revoked:
            raise NotFound(f"no OAuth client with id {client_id!r}")
        return revoked

    def _client(self, row: Mapping[str, Any]) -> RegisteredClient:
        secret = self.box.open(row["secrets"]).get("client_secret")
        return RegisteredClient(row["client_id"], dict(row["registration"]), secret, utc(row["created_at"]))  # type: ignore[arg-type]

    # -- grants ----------------------------------------------------------------------------

    async def grants(self) -> list[Grant]:
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(grants_table).order_by(grants_table.c.created_at))).all()
        return [_grant(row._mapping) for row in rows]

    async def grant(self, grant_id: str) -> Grant:
        async with self.database.transaction() as tx:
            row = (await tx.execute(select(grants_table).where(grants_table.c.id == grant_id))).first()
        if row is None:
            raise NotFound(f"no OAuth grant with id {grant_id!r}")
        return _grant(row._mapping)

    async def revoke_grant(self, grant_id: str, at: datetime) -> Grant:
        async with self.database.transaction() as tx:
            await _revoke_grants(tx, grants_table.c.id == grant_id, at)
        return await self.grant(grant_id)

    # -- codes and tokens ----------------------------------------------------------------

    async def add_code(self, digest: str, expires_at: datetime, details: Mapping[str, Any]) -> None:
        async with self.database.transaction() as tx:
            await tx.execute(
                insert(tokens_table).values(
                    digest=digest, kind="code", expires_at=utc(expires_at), details=dict(details)
                )
            )

    async def code(self, digest: str) -> Use | None:
        """A code as it stands (`first`: not exchanged yet); the exchange itself is `spend`."""
        async with self.database.transaction() as tx:
            row = (
                await tx.execute(
                    select(tokens_table).where(tokens_table.c.digest == digest, tokens_table.c.kind == "code")
                )
            ).first()
        if row is None:
            return None
        return Use(row.used_at is None, row.grant_id, row.details, utc(row.expires_at))

    async def spend(self, digest: str, kind: TokenKind, at: datetime) -> Use | None:
        """Mark a code or refresh token used, once; None if there is no such one."""
        async with self.database.transaction() as tx:
            marked = await tx.execute(
                update(tokens_table)
                .where(tokens_table.c.digest == digest, tokens_table.c.kind == kind, tokens_table.c.used_at.is_(None))
                .values(used_at=utc(at))
            )
            row = (
                await tx.execute(
                    select(tokens_table).where(tokens_table.c.digest == digest, tokens_table.c.kind == kind)
                )
            ).first()
        if row is None:
            return None
        return Use(marked.rowcount == 1, row.grant_id, row.details, utc(row.expires_at))

    async def issue(
        self,
        grant: Grant,
        tokens: list[tuple[str, TokenKind, datetime]],
        *,
        new: bool,
        code_digest: str | None = None,
    ) -> None:
        """Store `tokens` (digest, kind, expiry) of `grant`; the grant itself when `new` (a code's
        exchange, which the code then names), else mark it refreshed."""
        async with self.database.transaction() as tx:
            if new:
                await tx.execute(
                    insert(grants_table).values(
                        id=grant.id,
                        client_id=grant.client_id,
                        client_name=grant.client_name,
                        key_id=grant.key_id,
                        server_id=grant.server_id,
                        resource=grant.resource,
                        scopes=sorted(grant.scopes),
                        created_at=utc(grant.created_at),
                    )
                )
            else:
                await tx.execute(
                    update(grants_table).where(grants_table.c.id == grant.id).values(refreshed_at=utc(grant.created_at))
                )
            if code_digest is not None:
                await tx.execute(
                    update(tokens_table).where(tokens_table.c.digest == code_digest).values(grant_id=grant.id)
                )
            for digest, kind, expires_at in tokens:
                await tx.execute(
                    insert(tokens_table).values(digest=digest, kind=kind, grant_id=grant.id, expires_at=utc(expires_at))
                )

    async def token(self, digest: str, kind: TokenKind) -> tuple[Grant, datetime, bool] | None:
        """A token's grant, its expiry, and whether it was used (revoked or rotated); None if unknown."""
        async with self.database.transaction() as tx:
            row = (
                await tx.execute(
                    select(tokens_table.c.expires_at, tokens_table.c.used_at, grants_table)
                    .join(grants_table, grants_table.c.id == tokens_table.c.grant_id)
                    .where(tokens_table.c.digest == digest, tokens_table.c.kind == kind)
                )
            ).first()
        if row is None:
            return None
        return _grant(row._mapping), utc(row.expires_at), row.used_at is not None

    async def revoke_token(self, digest: str, at: datetime) -> str | None:
        """Revoke one token (RFC 7009); a refresh token takes its grant with it. The grant id revoked, if any."""
        async with self.database.transaction() as tx:
            row = (await tx.execute(select(tokens_table).where(tokens_table.c.digest == digest))).first()
            if row is None or row.kind == "code":
                return None
            await tx.execute(update(tokens_table).where(tokens_table.c.digest == digest).values(used_at=utc(at)))
            if row.kind == "refresh" and row.grant_id is not None:
                await _revoke_grants(tx, grants_table.c.id == row.grant_id, at)
                return row.grant_id
        return None

    async def purge(self, now: datetime) -> None:
        """Drop codes and tokens long expired."""
        async with self.database.transaction() as tx:
            await tx.execute(delete(tokens_table).where(tokens_table.c.expires_at < utc(now - _KEPT_AFTER_EXPIRY)))

    # -- signing keys ------------------------------------------------------------------

    async def signing_keys(self) -> list[tuple[str, dict[str, Any], datetime]]:
        """(kid, private JWK, created) for every signing key, oldest first."""
        async with self.database.transaction() as tx:
            rows = (await tx.execute(select(signing_keys_table).order_by(signing_keys_table.c.created_at))).all()
        return [(row.kid, dict(self.box.open(row.secrets)["jwk"]), utc(row.created_at)) for row in rows]

    async def add_signing_key(self, kid: str, jwk: Mapping[str, Any], at: datetime) -> None:
        async with self.database.transaction() as tx:
            sealed = self.box.seal({"jwk": dict(jwk)})
            await tx.execute(insert(signing_keys_table).values(kid=kid, secrets=sealed, created_at=utc(at)))


async def _revoke_grants(tx: Any, condition: Any, at: datetime) -> list[str]:
    ids = [
        row.id
        for row in (
            await tx.execute(select(grants_table.c.id).where(condition, grants_table.c.revoked_at.is_(None)))
        ).all()
    ]
    if ids:
        await tx.execute(update(grants_table).where(grants_table.c.id.in_(ids)).values(revoked_at=utc(at)))
        await tx.execute(
            update(tokens_table)
            .where(tokens_table.c.grant_id.in_(ids), tokens_table.c.kind != "code", tokens_table.c.used_at.is_(None))
            .values(used_at=utc(at))
        )
    return ids


def _grant(row: Mapping[str, Any]) -> Grant:
    return Grant(
        id=row["id"],
        client_id=row["client_id"],
        client_name=row["client_name"],
        key_id=row["key_id"],
        server_id=row["server_id"],
        resource=row["resource"],
        scopes=frozenset(row["scopes"]),
        created_at=utc(row["created_at"]),
        refreshed_at=utc(row["refreshed_at"]) if row["refreshed_at"] else None,
        revoked_at=utc(row["revoked_at"]) if row["revoked_at"] else None,
    )
