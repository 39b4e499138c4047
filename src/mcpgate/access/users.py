"""End users' stored credentials, served to the hub from memory.

    directory = UserDirectory(UserStore(database, box), hub)
    await directory.load()
    hub.credentials = directory

Loaded once at start and updated with every change made here; a change stops the user's
own children of that upstream so the next call starts one with the new credentials.
"""

from __future__ import annotations

from mcpgate.hub.credentials import Credential
from mcpgate.hub.gateway import Hub
from mcpgate.store.users import User, UserConnection, UserStore


class UserDirectory:
    def __init__(self, store: UserStore, hub: Hub) -> None:
        self.store = store
        self.hub = hub
        self._credentials: dict[tuple[str, str], Credential] = {}

    async def load(self) -> None:
        self._credentials = {
            (c.user, c.upstream): Credential(dict(c.headers), dict(c.env)) for c in await self.store.connections()
        }

    def for_user(self, user: str, upstream: str) -> Credential | None:
        return self._credentials.get((user, upstream))

    async def users(self) -> list[User]:
        return await self.store.users()

    async def add_user(self, name: str) -> User:
        return await self.store.add_user(name)

    async def remove_user(self, name: str) -> None:
        await self.store.remove_user(name)
        for key in [k for k in self._credentials if k[0] == name]:
            del self._credentials[key]
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
