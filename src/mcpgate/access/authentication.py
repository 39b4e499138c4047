"""Checking the key a request carries: the static key, or a managed one.

    auth = Authenticator(KeyStore(database), static_key="…", required=False)
    await auth.load()
    principal = auth.authenticate(headers)   # None: no key given; Unauthorized: a bad one
    secret, key = await auth.create("ci", {"tools:call"}, servers=None, expires_at=None)

Keys are looked up by their SHA-256 digest in memory (loaded at start, updated on every
create and revoke here, re-read periodically for changes made elsewhere — see
`app.open_services`), so a request costs one hash and one dict lookup, not a database
query. When a key was last used is written back in batches.

Authentication is enforced when a static key is set, when managed keys exist, or when
`required` says so; otherwise the gateway is open (and says so when it listens beyond
loopback).
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import uuid
from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from mcpgate.access.principal import ALL, SCOPES, STATIC, Principal
from mcpgate.errors import NotFound, Unauthorized, Unprocessable
from mcpgate.store.keys import ApiKey, KeyStore

logger = logging.getLogger(__name__)

KEY_PREFIX = "mcpg_"
_SHOWN = 12  # characters of a key kept for listings: the prefix and 7 random ones


def digest(key: str) -> str:
    return hashlib.sha256(key.encode("utf-8", errors="surrogateescape")).hexdigest()


def presented_key(headers: Mapping[str, str]) -> str | None:
    """`x-api-key: <key>`, else `Authorization: Bearer <key>`; None when neither is there.

    `x-api-key` first: a client that passes its own `Authorization` through to an upstream
    sends the gateway's key in `x-api-key`.
    """
    key = headers.get("x-api-key", "").strip()
    if key:
        return key
    scheme, _, value = headers.get("authorization", "").partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return None


def _now() -> datetime:
    return datetime.now(UTC)


class Authenticator:
    def __init__(
        self,
        store: KeyStore,
        *,
        static_key: str | None = None,
        required: bool = False,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.store = store
        self.clock = clock  # what "now" is when a key's expiry is checked (tests move it)
        self._static = digest(static_key) if static_key else None
        self._required = required
        self._keys: dict[str, ApiKey] = {}  # digest → live (unrevoked) key
        self._by_id: dict[str, ApiKey] = {}  # the same keys by id: looked up per call (audit), not scanned
        self._used: dict[str, datetime] = {}
        # Told the id of every key that stops being valid: revoked here, or gone when re-read
        # (revoked by another replica or the offline CLI). Its sessions end.
        self.on_revoke: list[Callable[[str], None]] = []
        # Awaited after a key is created or revoked here (fleet/shared_state.py tells the other replicas).
        self.on_change: list[Callable[[], Awaitable[None]]] = []

    async def load(self) -> None:
        """(Re-)read the keys; the sessions of any that is no longer valid are ended."""
        before = {key.id for key in self._keys.values()}
        self._keys = {key.digest: key for key in await self.store.all() if key.revoked_at is None}
        self._by_id = {key.id: key for key in self._keys.values()}
        for key_id in before - {key.id for key in self._keys.values()}:
            self._revoked(key_id)

    def _revoked(self, key_id: str) -> None:
        for listener in self.on_revoke:
            listener(key_id)

    @property
    def enforcing(self) -> bool:
        return self._static is not None or self._required or bool(self._keys)

    def authenticate(self, headers: Mapping[str, str]) -> Principal | None:
        """The principal of the key in `headers`, None if none was given; `Unauthorized` if it is not valid."""
        key = presented_key(headers)
        if key is None:
            return None
        given = digest(key)
        if self._static is not None and hmac.compare_digest(given, self._static):
            return STATIC
        found = self._keys.get(given)
        if found is None or not hmac.compare_digest(found.digest, given):
            raise Unauthorized("the API key is not valid (wrong, or revoked)")
        now = self.clock()
        if found.expires_at is not None and found.expires_at <= now:
            raise Unauthorized(f"the API key {found.prefix}… expired at {found.expires_at.isoformat()}")
        self._used[found.id] = now
        return Principal("key", found.id, found.name, found.scopes, found.servers)

    def key_ref(self, principal: Principal) -> str:
        """How a grant (oauth/) names the key `principal` came from: a managed key's id, or the
        static key with a prefix of its digest, so a changed MCPGATE_API_KEY ends its grants."""
        if principal.kind == "static" and self._static is not None:
            return f"static:{self._static[:16]}"
        return principal.id

    def holder(self, key_ref: str) -> Principal | None:
        """The principal of the key `key_ref` names, if it is still valid (not revoked, expired or changed)."""
        if key_ref.startswith("static:"):
            return STATIC if self._static is not None and key_ref == f"static:{self._static[:16]}" else None
        found = self._by_id.get(key_ref)
        if found is None or (found.expires_at is not None and found.expires_at <= self.clock()):
            return None
        return Principal("key", found.id, found.name, found.scopes, found.servers)

    def carries_gateway_key(self, headers: Mapping[str, str]) -> bool:
        """Whether `Authorization: Bearer …` holds one of the gateway's own keys (valid or not for
        this request): such a header is never the caller's token for an upstream."""
        scheme, _, value = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not value.strip():
            return False
        given = digest(value.strip())
        return given == self._static or given in self._keys

    def name_of(self, principal_id: str) -> str | None:
        """A key's name for records (None for the open gateway and anonymous callers)."""
        if principal_id == "static":
            return "MCPGATE_API_KEY"
        found = self._by_id.get(principal_id)
        return found.name if found is not None else None

    # -- managing keys -----------------------------------------------------------------

    async def create(
        self, name: str, scopes: Iterable[str], servers: Iterable[str] | None, expires_at: datetime | None
    ) -> tuple[str, ApiKey]:
        """A new key: the secret (shown once) and its stored record."""
        wanted = frozenset(scopes)
        unknown = sorted(wanted - set(SCOPES) - {ALL})
        if unknown or not wanted:
            raise Unprocessable(
                f"scopes must be some of {', '.join([*SCOPES, ALL])}"
                + (f"; unknown: {', '.join(unknown)}" if unknown else "")
            )
        now = self.clock()
        if expires_at is not None and expires_at <= now:
            raise Unprocessable("expiresAt is in the past")
        secret = KEY_PREFIX + secrets.token_urlsafe(32)
        key = ApiKey(
            id=str(uuid.uuid4()),
            name=name,
            prefix=secret[:_SHOWN],
            digest=digest(secret),
            scopes=wanted,
            servers=frozenset(servers) if servers is not None else None,
            expires_at=expires_at,
            created_at=now,
        )
        await self.store.add(key)
        self._keys[key.digest] = key
        self._by_id[key.id] = key
        logger.info("API key %s (%s) created", key.prefix, name)
        for listener in self.on_change:
            await listener()
        return secret, key

    async def revoke(self, key_id: str) -> ApiKey:
        key = await self.store.revoke(key_id, self.clock())
        self._keys.pop(key.digest, None)
        self._by_id.pop(key.id, None)
        self._revoked(key_id)
        logger.info("API key %s (%s) revoked", key.prefix, key.name)
        for listener in self.on_change:
            await listener()
        return key

    async def keys(self) -> list[ApiKey]:
        stored = await self.store.all()
        return [_with_use(key, self._used.get(key.id)) for key in stored]

    async def key(self, key_id: str) -> ApiKey:
        for key in await self.keys():
            if key.id == key_id:
                return key
        raise NotFound(f"no API key with id {key_id!r}")

    async def flush_uses(self) -> None:
        """Write the last-use times gathered since the previous flush."""
        used, self._used = self._used, {}
        if used:
            await self.store.record_use(used.items())


def _with_use(key: ApiKey, used: datetime | None) -> ApiKey:
    if used is None or (key.last_used_at is not None and key.last_used_at >= used):
        return key
    return replace(key, last_used_at=used)
