"""The hub: the upstream connections, the merged catalog built from them, and the sessions.

`Hub` is an async context manager that owns a task group running every upstream's
supervised connection. Entering it waits (bounded by the connect timeout) until each
upstream's first attempt has settled, then builds the catalog strictly: a tool-name
collision at start-up is a `ToolNameCollision` naming both upstreams. Later changes
(`tools/list_changed`, a restarted upstream) rebuild the catalog leniently — the first
claimant keeps the name, the collision is logged and shown in `/health` — and every
connected session is told `notifications/tools/list_changed`.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from mcpgate import __version__
from mcpgate.errors import ToolNameCollision
from mcpgate.hub.catalog import ToolCatalog, UpstreamTools
from mcpgate.hub.session import SessionRegistry
from mcpgate.protocol.jsonrpc import notification
from mcpgate.settings import GatewaySettings
from mcpgate.upstream.connection import Backoff, UpstreamConnection, UpstreamState

logger = logging.getLogger(__name__)

_LIST_CHANGED = notification("notifications/tools/list_changed")


class Hub:
    def __init__(self, settings: GatewaySettings, *, backoff: Backoff | None = None) -> None:
        self.settings = settings
        self.sessions = SessionRegistry()
        self.catalog = ToolCatalog.empty()
        self.upstreams: dict[str, UpstreamConnection] = {
            spec.name: UpstreamConnection(
                spec,
                connect_timeout=settings.timeouts.connect,
                call_timeout=settings.call_timeout(spec),
                list_timeout=settings.timeouts.list,
                backoff=backoff,
                on_tools_changed=self._upstream_tools_changed,
            )
            for spec in settings.upstreams
        }
        self._task_group: anyio.abc.TaskGroup | None = None
        self._started = False
        self._stopping = False

    async def __aenter__(self) -> Hub:
        self._task_group = anyio.create_task_group()
        await self._task_group.__aenter__()
        try:
            for connection in self.upstreams.values():
                self._task_group.start_soon(connection.run, name=f"upstream:{connection.name}")
            self._task_group.start_soon(self._reap_idle_sessions, name="session-reaper")
            # Bounded: an upstream that neither connects nor fails in time is left connecting.
            with anyio.move_on_after(self.settings.timeouts.connect + 1):
                async with anyio.create_task_group() as waiters:
                    for connection in self.upstreams.values():
                        waiters.start_soon(connection.wait_settled)
            self.catalog = self._build_catalog()
            if self.catalog.collisions:
                raise ToolNameCollision(self.catalog.describe_collisions())
            self._started = True
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stopping = True
        for session in self.sessions:
            self.sessions.remove(session.id)
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()
            await self._task_group.__aexit__(None, None, None)
            self._task_group = None

    async def _reap_idle_sessions(self) -> None:
        """End sessions a client abandoned without DELETE (Streamable HTTP has no disconnect to see)."""
        limit = self.settings.edge.session_idle_seconds
        while True:
            await anyio.sleep(min(60.0, limit / 4))  # a periodic sweep, not a wait for an event
            now = time.monotonic()
            for session in self.sessions:
                if session.idle_for(now) > limit:
                    logger.info("session %s idle for %.0fs; closing it", session.id, now - session.last_seen)
                    self.sessions.remove(session.id)

    # -- catalog -----------------------------------------------------------------------

    def _build_catalog(self) -> ToolCatalog:
        separator = self.settings.name_separator
        sources = []
        for connection in self.upstreams.values():
            spec = connection.spec
            if not spec.enabled:
                continue
            prefix = spec.name if spec.prefix is True else (spec.prefix or None)
            sources.append(UpstreamTools(spec.name, prefix, tuple(connection.tools)))
        return ToolCatalog.build(sources, separator)

    async def _upstream_tools_changed(self, connection: UpstreamConnection) -> None:
        if not self._started:
            return  # the start-up build covers it
        catalog = self._build_catalog()
        for collision in catalog.collisions:
            logger.error("%s (kept the first)", collision.describe())
        if catalog.tools == self.catalog.tools:
            self.catalog = catalog
            return
        self.catalog = catalog
        await self.broadcast(_LIST_CHANGED)

    async def broadcast(self, message: dict[str, Any]) -> None:
        for session in self.sessions:
            if session.initialized:
                await session.push(message)

    # -- health ------------------------------------------------------------------------

    def health(self) -> tuple[bool, dict[str, Any]]:
        """`(serving, report)`; not serving while starting/stopping or with every upstream down."""
        upstreams = {name: c.status.as_dict() for name, c in self.upstreams.items()}
        enabled = [c for c in self.upstreams.values() if c.status.state is not UpstreamState.DISABLED]
        ready = [c for c in enabled if c.is_ready]
        report: dict[str, Any] = {
            "status": "ok",
            "service": "mcpgate",
            "version": __version__,
            "connections": len(self.sessions),
            "tools": len(self.catalog),
            "upstreams": upstreams,
        }
        if self.catalog.collisions:
            report["collisions"] = [c.describe() for c in self.catalog.collisions]
        reason = None
        if self._stopping:
            reason = "shutting down"
        elif not self._started:
            reason = "starting"
        elif enabled and not ready:
            reason = "no upstream is available"
        if reason:
            report["status"] = "unavailable"
            report["reason"] = reason
            return False, report
        if len(ready) < len(enabled):
            report["degraded"] = [c.name for c in enabled if not c.is_ready]
        return True, report
