"""The stdio children the hub starts for one client rather than for everyone.

    children = OwnChildren(settings, make=..., start=...)
    connection = await children.for_session(upstream, session, shared)        # a `perSession` upstream
    connection = await children.for_user(upstream, session, shared, profile, env, headers)  # a user's own

Two kinds, both started on first use and capped together by `maxSessionChildren`: a child per
client session of a `perSession` stdio upstream (stopped with its session), and an end user's
own connection — a child of a stdio upstream run with the user's env on top of the upstream's,
or a connection to a remote one carrying the user's OAuth token (accounts/) — (one per profile
the user's sessions declare; at most `maxChildrenPerUser` per user; stopped after
`userChildIdleSeconds` unused, or when the user's credentials change).

It knows nothing of catalogs or routing: the hub says what a connection is (`make`) and runs it
in its own task group (`start`); this module decides which child serves a request, and when a
child goes.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

import anyio

from mcpgate.errors import UpstreamUnavailable
from mcpgate.hub.profiles import Profile
from mcpgate.hub.session import ClientSession
from mcpgate.settings import GatewaySettings
from mcpgate.upstream.connection import UpstreamConnection, UpstreamState
from mcpgate.upstream.transports import UpstreamSpec

logger = logging.getLogger(__name__)

# The hub's two parts: a connection to `spec` for `session` (its own child) or for a user
# (`session` None, declaring `profile`); and running `run` in the hub's task group under `scope`
# (False when the hub is not running).
MakeChild = Callable[[UpstreamSpec, ClientSession | None, Profile], UpstreamConnection]
StartChild = Callable[[anyio.CancelScope, Callable[[], Awaitable[None]], str], bool]


@dataclass(slots=True)
class Child:
    connection: UpstreamConnection
    scope: anyio.CancelScope
    credential: tuple[dict[str, str], dict[str, str]] = ({}, {})  # (env, headers) it was started with
    last_used: float = field(default_factory=time.monotonic)


class OwnChildren:
    def __init__(self, settings: GatewaySettings, make: MakeChild, start: StartChild) -> None:
        self.settings = settings
        self._make = make
        self._start = start
        self.of_sessions: dict[tuple[str, str], Child] = {}  # (session id, upstream) →
        self.of_users: dict[tuple[str, str, Profile], Child] = {}  # (user, upstream, profile) →

    async def for_session(
        self, upstream: str, session: ClientSession, shared: UpstreamConnection
    ) -> UpstreamConnection:
        """The session's own child of the `perSession` upstream `shared` connects to."""
        key = (session.id, upstream)
        running = self.of_sessions.get(key)
        if running is not None and running.connection.status.state is UpstreamState.FAILED:
            self._stop(self.of_sessions, key)  # given up on: the session's next call tries afresh
            running = None
        if running is None:
            if not shared.spec.enabled:
                raise shared.unavailable()
            if session.closed.is_set():
                raise UpstreamUnavailable(f"upstream {upstream!r} is unavailable (the session is closing)")
            if len(self.of_sessions) >= self.settings.max_session_children:
                raise UpstreamUnavailable(
                    f"upstream {upstream!r} is unavailable: {self.settings.max_session_children} per-session "
                    "children are running (maxSessionChildren)"
                )
            running = self._launch(self.of_sessions, key, shared.spec, session, None, f"{upstream}:{session.id[:8]}")
        return await self._ready(running)

    async def for_user(
        self,
        upstream: str,
        session: ClientSession,
        shared: UpstreamConnection,
        profile: Profile,
        env: dict[str, str],
        headers: dict[str, str] | None = None,
    ) -> UpstreamConnection:
        """The session's user's own connection to the upstream `shared` connects to, declaring
        `profile`: a child run with `env` on top of the upstream's, or a remote connection sending
        `headers` on every request."""
        user = session.user
        assert user is not None
        key = (user, upstream, profile)
        running = self.of_users.get(key)
        # The user's credentials changed, or the child was given up on: the next call tries afresh.
        credential = (env, headers or {})
        failed = running is not None and running.connection.status.state is UpstreamState.FAILED
        if running is not None and (running.credential != credential or failed):
            self._stop(self.of_users, key)
            running = None
        if running is None:
            if not shared.spec.enabled:
                raise shared.unavailable()
            per_user = sum(1 for owner, *_ in self.of_users if owner == user)
            if per_user >= self.settings.max_children_per_user:
                raise UpstreamUnavailable(
                    f"upstream {upstream!r} is unavailable: this user already runs {per_user} child "
                    f"process{'es' if per_user != 1 else ''} (maxChildrenPerUser)"
                )
            if len(self.of_users) + len(self.of_sessions) >= self.settings.max_session_children:
                raise UpstreamUnavailable(
                    f"upstream {upstream!r} is unavailable: {self.settings.max_session_children} child processes "
                    "are running (maxSessionChildren)"
                )
            spec = shared.spec
            if env:
                spec = spec.model_copy(update={"env": {**shared.spec.env, **env}})  # type: ignore[union-attr]
            running = self._launch(self.of_users, key, spec, None, profile, f"{upstream}:user", headers)
            running.credential = credential
        running.last_used = time.monotonic()
        connection = await self._ready(running)
        running.last_used = time.monotonic()
        return connection

    def _launch(
        self,
        table: dict,  # type: ignore[type-arg]
        key: tuple,  # type: ignore[type-arg]
        spec: UpstreamSpec,
        session: ClientSession | None,
        profile: Profile | None,
        name: str,
        headers: dict[str, str] | None = None,
    ) -> Child:
        connection = self._make(spec, session, profile)  # type: ignore[arg-type]
        connection.auth_headers = dict(headers or {})
        child = Child(connection, anyio.CancelScope())
        if not self._start(child.scope, connection.run, f"upstream:{name}"):
            raise UpstreamUnavailable(f"upstream {spec.name!r} is unavailable (the gateway is shutting down)")
        table[key] = child
        return child

    async def _ready(self, child: Child) -> UpstreamConnection:
        with anyio.move_on_after(self.settings.timeouts.connect + 1):
            await child.connection.wait_settled()
        if not child.connection.is_ready:
            raise child.connection.unavailable()
        return child.connection

    @staticmethod
    def _stop(table: dict, key: tuple) -> None:  # type: ignore[type-arg]
        if (child := table.pop(key, None)) is not None:
            child.scope.cancel()

    # -- when children go -----------------------------------------------------------------

    def stop_idle_users(self, now: float) -> None:
        """Stop users' children nobody called for `userChildIdleSeconds` (none starting or busy)."""
        limit = self.settings.user_child_idle_seconds
        for key, running in list(self.of_users.items()):
            starting = running.connection.status.state is UpstreamState.CONNECTING
            if not starting and now - running.last_used > limit and running.connection.in_flight == 0:
                logger.info("stopping an idle per-user child of upstream %s", key[1])
                self._stop(self.of_users, key)

    def stop_upstream(self, upstream: str) -> None:
        for key in [k for k in self.of_users if k[1] == upstream]:
            self._stop(self.of_users, key)
        for key in [k for k in self.of_sessions if k[1] == upstream]:
            self._stop(self.of_sessions, key)

    def stop_session(self, session_id: str) -> None:
        for key in [k for k in self.of_sessions if k[0] == session_id]:
            self._stop(self.of_sessions, key)

    def forget_user(self, user: str, upstream: str | None = None) -> None:
        """Stop the user's children (all, or of one upstream): their credentials changed or were removed."""
        for key in [k for k in self.of_users if k[0] == user and upstream in (None, k[1])]:
            self._stop(self.of_users, key)

    def sessions_children(self) -> Iterator[tuple[str, UpstreamConnection]]:
        """(session id, its child) for every running per-session child."""
        for (session_id, _), child in list(self.of_sessions.items()):
            yield session_id, child.connection
