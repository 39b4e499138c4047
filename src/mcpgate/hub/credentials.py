"""End users' credentials as the hub uses them: a lookup, not a store.

The hub asks `Credentials.for_user(user, upstream)` on each call made in a user's context
(`x-username`). What comes back travels on that call only — headers for a remote
upstream; for a stdio upstream, env vars, which means a child process of the user's own.
The access layer implements it (in memory, loaded from the registry).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from mcpgate.errors import Unprocessable


@dataclass(frozen=True, slots=True)
class Credential:
    headers: Mapping[str, str] = field(default_factory=dict)
    env: Mapping[str, str] = field(default_factory=dict)
    # The headers open a connection of the user's own (an OAuth token the upstream binds its
    # sessions to) rather than riding on the shared one's requests.
    own_connection: bool = False


class Credentials(Protocol):
    def for_user(self, user: str, upstream: str) -> Credential | None: ...

    async def keep(self, user: str, upstream: str, credential: Credential) -> None:
        """Keep `credential` as `user`'s for `upstream` (encrypted at rest), replacing any."""

    async def forget(self, user: str, upstream: str) -> None: ...


class Authorizations(Protocol):
    """Upstreams that want OAuth, and who connected there (accounts/ implements it)."""

    def wanted(self, upstream: str) -> bool: ...

    def bearer(self, upstream: str, user: str | None) -> str | None:
        """The access token of `user` (None: the gateway's own) at `upstream`, if connected."""

    async def link(self, upstream: str, user: str | None) -> str:
        """Where a person connects `user`'s account at `upstream` (for the request being handled)."""

    async def disconnect(self, upstream: str, user: str | None) -> None: ...


class NoCredentials:
    """No place to keep users' credentials (a gateway without a registry)."""

    def for_user(self, user: str, upstream: str) -> Credential | None:
        return None

    async def keep(self, user: str, upstream: str, credential: Credential) -> None:
        raise Unprocessable("this gateway keeps no end-user credentials")

    async def forget(self, user: str, upstream: str) -> None:
        return None
