"""The built-in authorization server's tokens: minted for a grant, checked on every request,
rotated on refresh, revoked with their grant or their key.

    issuer = Issuer(store, keys, auth, settings.oauth)
    tokens = await issuer.mint(grant, issuer_url, new=True)
    principal = await issuer.principal(access_token, resource)   # or Unauthorized

An access token is checked against the registry by its digest (the JWT's signature first, so a
forged one costs no query), then served from memory until it expires. Each use also asks the
`Authenticator` whether the key behind the grant is still valid, so revoking a key revokes its
tokens at once, on every replica (keys are shared within a second, see fleet/). Revoking a grant
here drops it from memory at once and `on_change` tells the other replicas.
"""

from __future__ import annotations

import hashlib
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from mcpgate.access.authentication import Authenticator
from mcpgate.access.principal import ALL, Principal
from mcpgate.errors import Unauthorized
from mcpgate.oauth.resources import Resource
from mcpgate.oauth.signing import SigningKeys
from mcpgate.settings import OAuthSettings
from mcpgate.store.oauth import Grant, OAuthStore

logger = logging.getLogger(__name__)

REFRESH_PREFIX = "mcpr_"
_CACHED_TOKENS = 10_000  # access tokens kept in memory (the oldest seen go first)


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", errors="surrogateescape")).hexdigest()


def _now() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class Tokens:
    access_token: str
    refresh_token: str
    expires_in: int
    scopes: frozenset[str]


class Issuer:
    def __init__(
        self,
        store: OAuthStore,
        keys: SigningKeys,
        auth: Authenticator,
        settings: OAuthSettings,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.keys = keys
        self.auth = auth
        self.settings = settings
        self.clock = clock
        self._access: OrderedDict[str, tuple[Grant, datetime]] = OrderedDict()  # digest → (grant, expiry)
        # Counts the times remembered tokens were dropped: a look-up that read the registry before a
        # drop must not remember what it read (it may be a grant revoked meanwhile).
        self._forgotten = 0
        # Awaited after a grant is revoked here (fleet/shared_state.py tells the other replicas).
        self.on_change: list[Callable[[], Awaitable[None]]] = []
        # Told the ids of grants revoked: the sessions their tokens opened (owner `<key>#<grant>`) end.
        self.on_revoke: list[Callable[[frozenset[str]], None]] = []

    # -- minting -------------------------------------------------------------------------

    async def mint(self, grant: Grant, issuer_url: str, *, new: bool, code_digest: str | None = None) -> Tokens:
        """An access token and a refresh token for `grant`, stored (as digests) with it."""
        now = self.clock()
        lifetime = self.settings.access_token_seconds
        access = self.keys.sign(
            {
                "iss": issuer_url,
                "sub": grant.key_id,
                "aud": grant.resource,
                "client_id": grant.client_id,
                "scope": " ".join(sorted(grant.scopes)),
                "iat": int(now.timestamp()),
                "nbf": int(now.timestamp()),
                "exp": int(now.timestamp()) + lifetime,
                "jti": secrets.token_urlsafe(16),
            }
        )
        refresh = REFRESH_PREFIX + secrets.token_urlsafe(32)
        expires = now + timedelta(seconds=lifetime)
        stored = grant if new else replace(grant, created_at=now)  # `issue` reads it as the refresh time
        await self.store.issue(
            stored,
            [
                (digest(access), "access", expires),
                (digest(refresh), "refresh", now + timedelta(seconds=self.settings.refresh_token_seconds)),
            ],
            new=new,
            code_digest=code_digest,
        )
        self._remember(digest(access), grant, expires)
        return Tokens(access, refresh, lifetime, grant.scopes)

    # -- checking ------------------------------------------------------------------------

    async def principal(self, token: str, resource: Resource) -> Principal:
        """Who an access token speaks for at `resource`; `Unauthorized` when it may not."""
        given = digest(token)
        found = self._access.get(given)
        if found is None:
            found = await self._look_up(token, given)
        grant, expires = found
        if expires <= self.clock():
            self._access.pop(given, None)
            raise Unauthorized("the access token expired")
        if grant.server_id != resource.server_id:
            raise Unauthorized("the access token was issued for another resource")
        holder = self.auth.holder(grant.key_id)
        if holder is None:
            raise Unauthorized("the access token's API key was revoked or expired")
        scopes = grant.scopes if ALL in holder.scopes or "admin" in holder.scopes else grant.scopes & holder.scopes
        servers = frozenset({grant.server_id}) if grant.server_id is not None else holder.servers
        return Principal("oauth", holder.id, f"{holder.name} via {grant.client_name}", scopes, servers, grant.id)

    async def judge(self, token: str, resource: Resource, base: str) -> tuple[Principal, str | None]:
        """bearer.TokenJudge: a built-in token names no end user (x-username does, as with keys)."""
        return await self.principal(token, resource), None

    async def _look_up(self, token: str, given: str) -> tuple[Grant, datetime]:
        generation = self._forgotten
        if not await self.keys.signed_here(token):
            raise Unauthorized("the access token is not valid")
        stored = await self.store.token(given, "access")
        if stored is None:
            raise Unauthorized("the access token is not valid")
        grant, expires, used = stored
        if used or grant.revoked_at is not None:
            raise Unauthorized("the access token was revoked")
        if generation == self._forgotten:
            self._remember(given, grant, expires)
        return grant, expires

    def _remember(self, token_digest: str, grant: Grant, expires: datetime) -> None:
        self._access[token_digest] = (grant, expires)
        while len(self._access) > _CACHED_TOKENS:
            self._access.popitem(last=False)

    # -- refreshing and revoking ----------------------------------------------------------

    async def refreshable(self, refresh_token: str, client_id: str) -> Grant | None:
        """The grant a refresh token continues, if it may still be used by `client_id`. A token
        used before (rotated away) is a replay: its whole grant is revoked (OAuth 2.1 §4.3.1)."""
        stored = await self.store.token(digest(refresh_token), "refresh")
        if stored is None:
            return None
        grant, expires, used = stored
        if grant.client_id != client_id or grant.revoked_at is not None or expires <= self.clock():
            return None
        if used:
            logger.warning("OAuth: a rotated refresh token of grant %s was used again; the grant is revoked", grant.id)
            await self.revoke_grant(grant.id)
            return None
        if self.auth.holder(grant.key_id) is None:
            return None
        return grant

    async def refresh(self, refresh_token: str, grant: Grant, scopes: frozenset[str], issuer_url: str) -> Tokens:
        """New tokens for `grant`, the refresh token spent (once: a concurrent second use loses and revokes)."""
        use = await self.store.spend(digest(refresh_token), "refresh", self.clock())
        if use is None or not use.first:
            await self.revoke_grant(grant.id)
            raise Unauthorized("the refresh token was already used")
        return await self.mint(replace(grant, scopes=scopes), issuer_url, new=False)

    async def revoke_grant(self, grant_id: str) -> Grant:
        grant = await self.store.revoke_grant(grant_id, self.clock())
        await self.forget_grants({grant_id})
        for listener in self.on_change:
            await listener()
        return grant

    async def revoke_token(self, token: str) -> None:
        """RFC 7009: an access token stops working; a refresh token takes its grant with it."""
        given = digest(token)
        grant_id = await self.store.revoke_token(given, self.clock())
        self._access.pop(given, None)
        if grant_id is not None:
            await self.forget_grants({grant_id})
        for listener in self.on_change:
            await listener()

    async def forget_grants(self, grant_ids: set[str] | None = None) -> None:
        """Drop remembered tokens (of `grant_ids`, or all: another replica revoked something) and
        end the sessions of the grants revoked."""
        self._forgotten += 1
        if grant_ids is None:
            grant_ids = {grant.id for grant in await self.store.grants() if grant.revoked_at is not None}
            self._access.clear()
        else:
            for token_digest, (grant, _) in list(self._access.items()):
                if grant.id in grant_ids:
                    del self._access[token_digest]
        for listener in self.on_revoke:
            listener(frozenset(grant_ids))
