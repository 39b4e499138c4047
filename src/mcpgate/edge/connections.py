"""How many client connections the server holds, and how long one may take to send a request's head.

    limits = ConnectionLimits(max_connections=10_000, header_timeout=10.0)
    limits.opened(transport)      # connection made: counted, and waiting for a head
    limits.waiting(transport)     # a kept-alive connection's next request has begun
    limits.received(transport)    # the head is complete: no longer waiting
    limits.closed(transport)      # connection lost

A connection waiting for its request's head longer than `header_timeout` is closed: a socket that
sends half a head and stalls, or nothing at all, cannot be held forever. At `max_connections`, a new
connection takes the place of the one that has waited longest for its head, so a flood of stalled
half-requests never locks out `/health`; only when no connection is waiting is the new one refused
(a 503, then closed). The default cap (`default_max_connections`) leaves room below the process's
open-file limit for everything else, so accepting a connection never fails with EMFILE.

The waiting connections are one insertion-ordered mapping (oldest first) swept by one timer, armed
for the oldest's deadline: no task or timer per connection. What this does not do: parse HTTP, time
request bodies, or close kept-alive connections idle between requests (uvicorn's keep-alive timer).
"""

from __future__ import annotations

import asyncio
import logging
import resource
from collections import OrderedDict
from typing import Protocol

logger = logging.getLogger(__name__)

# Descriptors kept for everything but client connections: the accept loop's bursts (up to the
# listen backlog, 2,048, several turns of the loop deep), upstream sockets, stdio children's pipes,
# the database, logs.
RESERVED_FILES = 8192

_REFUSED = (
    b"HTTP/1.1 503 Service Unavailable\r\ncontent-type: text/plain; charset=utf-8\r\n"
    b"content-length: 21\r\nconnection: close\r\n\r\ntoo many connections\n"
)
_WARN_EVERY = 60.0  # seconds between two warnings that the cap is reached


class ClientTransport(Protocol):
    def write(self, data: bytes) -> None: ...

    def close(self) -> None: ...

    def abort(self) -> None: ...


def open_file_limit() -> int:
    """The process's soft RLIMIT_NOFILE."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections(open_files: int) -> int:
    """All the open-file limit but `RESERVED_FILES`, or half of it when that is more."""
    return max(open_files - RESERVED_FILES, open_files // 2, 1)


class ConnectionLimits:
    """One server's client connections: the cap, and the deadline for each request's head."""

    def __init__(self, max_connections: int, header_timeout: float) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self._open: set[ClientTransport] = set()
        # waiting for a request's head → since when (loop time); oldest first
        self._waiting: OrderedDict[ClientTransport, float] = OrderedDict()
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # the first connection's
        self._timer: asyncio.TimerHandle | None = None
        self._warned_at = -_WARN_EVERY

    def opened(self, connection: ClientTransport) -> None:
        """A new connection: counted and waiting for its first head, or refused at the cap."""
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
        if len(self._open) >= self.max_connections and not self._make_room():
            connection.write(_REFUSED)
            connection.close()
            return
        self._open.add(connection)
        self.waiting(connection)

    def waiting(self, connection: ClientTransport) -> None:
        """The connection's next request head is due within `header_timeout` from now."""
        self._waiting[connection] = self._loop.time()
        if self._timer is None:
            self._arm()

    def received(self, connection: ClientTransport) -> None:
        self._waiting.pop(connection, None)

    def closed(self, connection: ClientTransport) -> None:
        self._open.discard(connection)
        self._waiting.pop(connection, None)

    def _make_room(self) -> bool:
        """Close the connection that has waited longest for its head; False when none is waiting."""
        now = self._loop.time()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            logger.warning(
                "%d client connections open (edge.maxConnections): a new one replaces the one waiting longest "
                "for its request, or is refused when none is waiting",
                self.max_connections,
            )
        if not self._waiting:
            return False
        oldest, _ = self._waiting.popitem(last=False)
        self._drop(oldest)
        return True

    def _drop(self, connection: ClientTransport) -> None:
        self._open.discard(connection)
        connection.abort()  # not close(): that would wait for a reply the peer may never read

    def _arm(self) -> None:
        """Wake at the oldest waiting connection's deadline (not sooner than a tenth of the timeout
        from now, so heads that keep arriving just in time cannot make the timer spin)."""
        since = next(iter(self._waiting.values()))
        when = max(since + self.header_timeout, self._loop.time() + self.header_timeout / 10)
        self._timer = self._loop.call_at(when, self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        waiting = self._waiting
        cutoff = self._loop.time() - self.header_timeout
        while waiting:
            connection, since = next(iter(waiting.items()))
            if since > cutoff:
                self._arm()
                return
            del waiting[connection]
            logger.debug("closing a connection whose request head did not arrive in %s s", self.header_timeout)
            self._drop(connection)
