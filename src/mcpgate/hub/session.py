"""Client sessions as the hub sees them, whatever transport carries them.

A `ClientSession` is one MCP client connected to the gateway (an SSE stream, a
Streamable HTTP `Mcp-Session-Id`, or a single stateless exchange). Messages that are
not an answer to one of its requests — `list_changed`, say — go out through `push`,
which each transport implements (an SSE stream's queue, a GET stream). Nothing here
is shared between sessions; that is the point.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import anyio

Message = dict[str, Any]
Push = Callable[[Message], Awaitable[None]]


async def _drop(message: Message) -> None:
    """A session with nowhere to deliver unsolicited messages (stateless, or no GET stream yet)."""


def new_session_id() -> str:
    # 128 bits from the OS CSPRNG, URL-safe; the session id is a bearer capability.
    return secrets.token_urlsafe(16)


@dataclass(eq=False)
class ClientSession:
    transport: str  # "sse" | "streamable_http" | "stateless"
    id: str = field(default_factory=new_session_id)
    push: Push = _drop
    protocol_version: str | None = None
    client_info: dict[str, Any] = field(default_factory=dict)
    capabilities: dict[str, Any] = field(default_factory=dict)
    initialized: bool = False
    # Least severe log level the client wants (logging/setLevel, or 2026's per-request
    # `_meta`); None = all before setLevel on the handshake era, none on 2026-07-28.
    log_level: str | None = None
    created_at: float = field(default_factory=time.monotonic)
    last_seen: float = field(default_factory=time.monotonic)
    # In-flight requests of this session, by the client's own request id: cancelling one
    # (notifications/cancelled, or the client going away) stops the upstream call too.
    in_flight: dict[str | int, anyio.CancelScope] = field(default_factory=dict)
    closed: anyio.Event = field(default_factory=anyio.Event)
    open_streams: int = 0  # SSE streams currently attached; a session with one is never idle

    def idle_for(self, now: float) -> float:
        if self.open_streams or self.in_flight:
            return 0.0
        return now - self.last_seen

    def touch(self) -> None:
        self.last_seen = time.monotonic()

    def cancel(self, request_id: str | int) -> bool:
        scope = self.in_flight.get(request_id)
        if scope is None:
            return False
        scope.cancel()
        return True

    def close(self) -> None:
        for scope in self.in_flight.values():
            scope.cancel()
        self.closed.set()


class SessionRegistry:
    """The live sessions of this process, by id."""

    def __init__(self) -> None:
        self._sessions: dict[str, ClientSession] = {}

    def add(self, session: ClientSession) -> ClientSession:
        self._sessions[session.id] = session
        return session

    def get(self, session_id: str | None) -> ClientSession | None:
        if not session_id:
            return None
        return self._sessions.get(session_id)

    def remove(self, session_id: str) -> ClientSession | None:
        session = self._sessions.pop(session_id, None)
        if session is not None:
            session.close()
        return session

    def __len__(self) -> int:
        return len(self._sessions)

    def __iter__(self):  # type: ignore[no-untyped-def]
        return iter(list(self._sessions.values()))
