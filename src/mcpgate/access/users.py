"""End users' stored credentials, served to the hub from memory.

    directory = UserDirectory(UserStore(database, box), hub)
    await directory.load()
    hub.credentials = directory

Loaded once at start and updated with every change made here; a change stops the user's
own children of that upstream so the next call starts one with the new credentials.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from mcpgate.hub.credentials import Authorizations, Credential
from mcpgate.hub.gateway import Hub
from mcpgate.store.users import User, UserConnection, UserStore


class UserDirectory:
    def __init__(self, store: UserStore, hub: Hub) -> None:
        self.store = store
        self.hub = hub
        self._credentials: dict[tuple[str, str], Credential] = {}
        self._users: set[str] = set()
        # Awaited after every change made here (fleet/shared_state.py tells the other replicas).
        self.on_change: list[Callable[[], Awaitable[None]]] = []
        self.accounts: Authorizations | None = None  # OAuth tokens at upstreams (accounts/), ahead of stored headers

    async def load(self) -> None:
        """(Re-)read users and credentials. What changed since the last read (another replica
        changed it) is applied as a change here would be: a user's children of an upstream whose
        credentials changed are stopped, a removed user's sessions end."""
        users = {user.name for user in await self.store.users()}
        credentials = {
            (c.user, c.upstream): Credential(dict(c.headers), dict(c.env)) for c in await self.store.connections()
        }
        changed = {
            key
            for key in self._credentials.keys() | credentials.keys()
            if self._credentials.get(key) != credentials.get(key)
        }
        removed = self._users - users
        self._credentials, self._users = credentials, users
        for user, upstream in changed:
            self.hub.forget_user(user, upstream)
        for name in removed:
            self._end_sessions_of(name)

    async def _changed(self) -> None:
        for listener in self.on_change:
            await listener()

    def for_user(self, user: str, upstream: str) -> Credential | None:
        if self.accounts is not None and (token := self.accounts.bearer(upstream, user)) is not None:
            return Credential({"Authorization": f"Bearer {token}"}, own_connection=True)
        return self._credentials.get((user, upstream))

    async def users(self) -> list[User]:
        return await self.store.users()

    async def add_user(self, name: str) -> User:
        user = await self.store.add_user(name)
        self._users.add(name)
        await self._changed()
        return user

    async def remove_user(self, name: str) -> None:
        await self.store.remove_user(name)
        for key in [k for k in self._credentials if k[0] == name]:
            del self._credentials[key]
        self._users.discard(name)
        self._end_sessions_of(name)
        await self._changed()

    def _end_sessions_of(self, name: str) -> None:
        self.hub.forget_user(name)
        for session in self.hub.sessions:  # its sessions would silently fall back to the default context
            if session.user == name:
                self.hub.sessions.remove(session.id)

    async def connections(self, user: str) -> list[UserConnection]:
        await self.store.user(user)  # 404 for an unknown user
        return [c for c in await self.store.connections() if c.user == user]

    async def put(self, connection: UserConnection) -> UserConnection:
        stored = await self.store.put_connection(connection)
        self._credentials[(stored.user, stored.upstream)] = Credential(dict(stored.headers), dict(stored.env))
        self.hub.forget_user(stored.user, stored.upstream)
        await self._changed()
        return stored

    async def keep(self, user: str, upstream: str, credential: Credential) -> None:
        await self.put(UserConnection(user, upstream, dict(credential.headers), dict(credential.env)))

    async def forget(self, user: str, upstream: str) -> None:
        if (user, upstream) in self._credentials:
            await self.remove(user, upstream)

    async def remove(self, user: str, upstream: str) -> None:
        await self.store.remove_connection(user, upstream)
        self._credentials.pop((user, upstream), None)
        self.hub.forget_user(user, upstream)
        await self._changed()
