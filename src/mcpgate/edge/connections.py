"""How many client connections the server holds, and how long one may keep it waiting.

    limits = ConnectionLimits(max_connections=10_000, header_timeout=10.0, body_timeout=30.0, write_timeout=60.0)
    limits.opened(transport)         # connection made: counted, and its first request's head is due
    limits.waiting(transport)        # a kept-alive connection's next request has begun: its head is due
    limits.receiving(transport)      # the head is complete: the body is due (each chunk restarts the clock)
    limits.received(transport)       # the request is complete: nothing more is due from the peer
    limits.idle(transport)           # its response is done too: kept alive for the client's next request
    limits.write_stalled(transport)  # the peer has stopped taking the response (or its last bytes)
    limits.write_resumed(transport)  # …and takes it again
    limits.closed(transport)         # connection lost

Three deadlines, so that no peer can hold a connection by going quiet:

- a request's head (request line and headers) must arrive whole within `header_timeout`: a socket that
  sends half a head and stalls, or nothing at all, is reset;
- its body may pause for at most `body_timeout` between two chunks (not counting time the server
  itself stopped reading, a body the app has not asked for yet): complete heads followed by stalled
  bodies are reset too;
- a response the peer stopped reading (the transport paused writing, or was closed with bytes still
  unsent) must make progress — fewer bytes unacknowledged, counting the kernel's send queue — within
  `write_timeout` (detected within one to two of them), or the connection is reset and what it
  buffered is released. A slow reader makes progress; an idle event stream is not stalled at all.

At `max_connections`, a new connection takes the place of the one idle longest between requests
(closed, as its keep-alive timeout would), else of the one that has waited longest for a request's
head or a body chunk, so neither idle clients nor a flood of stalled half-requests lock out
`/health`; only when no connection is idle or waiting for its peer is the new one refused (a 503,
then closed). The default
cap (`default_max_connections`) leaves room below the process's open-file limit for everything else,
so accepting a connection never fails with EMFILE.

Each deadline keeps its connections in one insertion-ordered mapping (oldest first: all share one
timeout), and one timer, armed for the earliest deadline, sweeps them all: no task or timer per
connection. What this does not do: parse HTTP, or close kept-alive connections idle between
requests (uvicorn's keep-alive timer).
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

    def is_closing(self) -> bool: ...

    def is_reading(self) -> bool: ...

    def unsent(self) -> int: ...  # bytes written that the peer has not acknowledged


def open_file_limit() -> int:
    """The process's soft RLIMIT_NOFILE."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def default_max_connections(open_files: int) -> int:
    """All the open-file limit but `RESERVED_FILES`, or half of it when that is more."""
    return max(open_files - RESERVED_FILES, open_files // 2, 1)


class _Deadline:
    """Connections that owe something, each with when its clock started, oldest first. With one
    timeout for all of them, the first is always the first to expire."""

    __slots__ = ("timeout", "since")

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.since: OrderedDict[ClientTransport, float] = OrderedDict()

    def start(self, connection: ClientTransport, now: float) -> None:
        self.since[connection] = now
        self.since.move_to_end(connection)

    def oldest(self) -> tuple[ClientTransport, float] | None:
        return next(iter(self.since.items()), None)

    def expires(self) -> float | None:
        first = self.oldest()
        return None if first is None else first[1] + self.timeout


class ConnectionLimits:
    """One server's client connections: the cap, and the deadlines of their peers."""

    def __init__(
        self, max_connections: int, header_timeout: float, body_timeout: float = 30.0, write_timeout: float = 60.0
    ) -> None:
        self.max_connections = max_connections
        self._open: set[ClientTransport] = set()
        self._head = _Deadline(header_timeout)  # since the head began
        self._body = _Deadline(body_timeout)  # since the last body chunk (or the head's end)
        self._write = _Deadline(write_timeout)  # since the response last made progress
        self._idle: OrderedDict[ClientTransport, None] = OrderedDict()  # between requests, longest idle first
        self._unsent: dict[ClientTransport, int] = {}  # a stalled write's unsent bytes, at its clock's start
        self._loop: asyncio.AbstractEventLoop = None  # type: ignore[assignment]  # the first connection's
        self._timer: asyncio.TimerHandle | None = None
        self._warned_at = -_WARN_EVERY

    @property
    def header_timeout(self) -> float:
        return self._head.timeout

    @property
    def body_timeout(self) -> float:
        return self._body.timeout

    @property
    def write_timeout(self) -> float:
        return self._write.timeout

    @property
    def count(self) -> int:
        """Connections held (counted against the cap)."""
        return len(self._open)

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
        self._idle.pop(connection, None)
        self._start(self._head, connection)

    def idle(self, connection: ClientTransport) -> None:
        """A response is done and nothing is due from the peer: the connection is kept for the
        client's next request (the server's keep-alive timer closes it if none comes)."""
        self._idle[connection] = None
        self._idle.move_to_end(connection)

    def receiving(self, connection: ClientTransport) -> None:
        """The head is complete, or a body chunk came: the next chunk is due within `body_timeout`."""
        self._head.since.pop(connection, None)
        self._start(self._body, connection)

    def received(self, connection: ClientTransport) -> None:
        """The request is whole: nothing is due from the peer until its next request begins."""
        self._head.since.pop(connection, None)
        self._body.since.pop(connection, None)

    def write_stalled(self, connection: ClientTransport) -> None:
        """The peer is not taking what is written (or, closing, what is left): it must make
        progress within `write_timeout`."""
        if connection not in self._write.since:
            self._unsent[connection] = connection.unsent()
            self._start(self._write, connection)

    def write_resumed(self, connection: ClientTransport) -> None:
        # A closing connection stays watched until it is gone: its last bytes may stall again.
        if not connection.is_closing():
            self._write.since.pop(connection, None)
            self._unsent.pop(connection, None)

    def closed(self, connection: ClientTransport) -> None:
        self._open.discard(connection)
        self._forget(connection)

    def _forget(self, connection: ClientTransport) -> None:
        self._idle.pop(connection, None)
        self._head.since.pop(connection, None)
        self._body.since.pop(connection, None)
        self._write.since.pop(connection, None)
        self._unsent.pop(connection, None)

    def _start(self, deadline: _Deadline, connection: ClientTransport) -> None:
        now = self._loop.time()
        deadline.start(connection, now)
        if self._timer is None or self._timer.when() > now + deadline.timeout:
            self._arm()

    def _make_room(self) -> bool:
        """Close the connection idle longest between requests, else reset the one that has waited
        longest for its peer's head or body; False when none is idle or waiting."""
        now = self._loop.time()
        if now - self._warned_at >= _WARN_EVERY:
            self._warned_at = now
            logger.warning(
                "%d client connections open (edge.maxConnections): a new one replaces the one idle or waiting "
                "longest for its request, or is refused when none is",
                self.max_connections,
            )
        if self._idle:
            # Nothing is owed on it either way: closed as the keep-alive timeout would close it.
            self._drop(next(iter(self._idle)), reset=False)
            return True
        head, body = self._head.oldest(), self._body.oldest()
        if head is None and body is None:
            return False
        oldest = head if body is None or (head is not None and head[1] <= body[1]) else body
        self._drop(oldest[0])
        return True

    def _drop(self, connection: ClientTransport, reset: bool = True) -> None:
        self._open.discard(connection)
        self._forget(connection)
        if reset:
            connection.abort()  # not close(): that would wait for a reply the peer may never read
        else:
            connection.close()  # an idle connection: nothing is unsent, nothing is awaited

    def _arm(self) -> None:
        """Wake at the earliest deadline (not sooner than a tenth of its timeout from now, so
        peers that keep answering just in time cannot make the timer spin)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        now = self._loop.time()
        wakes = [
            max(expires, now + deadline.timeout / 10)
            for deadline in (self._head, self._body, self._write)
            if (expires := deadline.expires()) is not None
        ]
        if wakes:
            self._timer = self._loop.call_at(min(wakes), self._sweep)

    def _sweep(self) -> None:
        self._timer = None
        now = self._loop.time()
        for connection in self._overdue(self._head, now):
            logger.debug("resetting a connection whose request head did not arrive in %g s", self._head.timeout)
            self._drop(connection)
        for connection in self._overdue(self._body, now):
            if not connection.is_reading():  # the server stopped reading, not the peer: not its delay
                self._body.start(connection, now)
                continue
            logger.debug("resetting a connection whose request body stalled for %g s", self._body.timeout)
            self._drop(connection)
        for connection in self._overdue(self._write, now):
            unsent = connection.unsent()
            if not unsent:  # all taken (or gone: a connection another protocol took over)
                self._unsent.pop(connection, None)
                continue
            if unsent < self._unsent.get(connection, 0):  # the peer took some: a new chance
                self._unsent[connection] = unsent
                self._write.start(connection, now)
                continue
            logger.debug("resetting a connection whose peer took nothing of its response in %g s", self._write.timeout)
            self._drop(connection)
        self._arm()

    @staticmethod
    def _overdue(deadline: _Deadline, now: float) -> list[ClientTransport]:
        """Take the connections past `deadline` out of it, oldest first."""
        cutoff = now - deadline.timeout
        overdue: list[ClientTransport] = []
        since = deadline.since
        while since:
            connection, started = next(iter(since.items()))
            if started > cutoff:
                break
            del since[connection]
            overdue.append(connection)
        return overdue
