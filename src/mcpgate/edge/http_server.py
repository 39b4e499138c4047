"""uvicorn, with each response's head and the body chunk that follows it sent in one write, with a
bound on connections and deadlines for slow peers, and with connections reset, not closed, when a
peer that stopped reading would hold them.

    sockets = listening_sockets("127.0.0.1", 8000)      # OSError here: the port is taken
    config = server_config(app, EdgeSettings(), host="127.0.0.1", port=8000)
    await GatewayServer(config).serve(sockets)

uvicorn writes a response's status line and headers when the app sends `http.response.start`,
and the body when it sends `http.response.body`: two writes, so two packets and two wake-ups of
the client for every JSON answer. The connection's transport here holds a response head until
the next write and sends both together; a head that nothing follows in the same turn of the event
loop (a stream that waits for its first event) goes out on the loop's next turn. Measured at
concurrency 1: 0.08 ms less per call (docs/benchmarks.md, "One write per response").

The protocol also reports each connection to the server's `ConnectionLimits` (`connections.py`):
opened, a request's head begun, its body begun and each chunk, the request complete, its response
complete with the connection kept alive, writing paused and resumed, closed. uvicorn's own keep-alive
timer still closes connections idle between requests (`edge.idleTimeoutSeconds`).

uvicorn closes a connection gracefully in every case, also when the app gave up on a response it
could not finish (a client dropped for not reading its stream); asyncio's `close()` then waits,
without end, for the peer to take what is buffered. Here such a close is a reset, and any other
close that leaves bytes unsent is watched: the peer gets `edge.writeTimeoutSeconds` to take them.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import functools
import logging
import socket
import struct
import termios
from collections.abc import Callable
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from mcpgate.edge.connections import ConnectionLimits, default_max_connections, open_file_limit
from mcpgate.settings import EdgeSettings

logger = logging.getLogger(__name__)

_HEAD_START = b"HTTP/1."
_HEAD_END = b"\r\n\r\n"
_BACKLOG = 2048  # uvicorn's default
_RESET = struct.pack("ii", 1, 0)  # SO_LINGER on, 0 s: close() sends a reset and drops what is unsent
_OUTQ = getattr(termios, "TIOCOUTQ", None)  # a socket's unacknowledged bytes (Linux: SIOCOUTQ)


def server_config(app: Any, edge: EdgeSettings | None = None, **options: Any) -> uvicorn.Config:
    """uvicorn's configuration for `app`, served by the coalescing protocol within `edge`'s limits
    (defaults: `EdgeSettings()`, and a connection cap derived from the open-file limit)."""
    edge = edge or EdgeSettings()
    open_files = open_file_limit()
    max_connections = edge.max_connections or default_max_connections(open_files)
    limits = ConnectionLimits(
        max_connections, edge.header_timeout_seconds, edge.body_timeout_seconds, edge.write_timeout_seconds
    )
    logger.info(
        "at most %d client connections (open-file limit %d); a request's head must arrive within %g s, its "
        "body pause at most %g s; a response the client stops reading is given up after %g s",
        max_connections,
        open_files,
        edge.header_timeout_seconds,
        edge.body_timeout_seconds,
        edge.write_timeout_seconds,
    )
    if max_connections >= open_files:
        logger.warning(
            "edge.maxConnections %d is not below the open-file limit %d: a flood of connections can exhaust "
            "the process's files",
            max_connections,
            open_files,
        )
    options.setdefault("timeout_keep_alive", edge.idle_timeout_seconds)
    options.setdefault("forwarded_allow_ips", list(edge.trusted_proxies))
    # One turn of the accept loop takes up to `backlog` connections before any is counted: a
    # burst that must fit in what the cap leaves of the open-file limit.
    options.setdefault("backlog", max(16, min(_BACKLOG, (open_files - max_connections) // 4)))
    protocol = functools.partial(CoalescingHttpToolsProtocol, limits=limits)
    return uvicorn.Config(app, http=protocol, **options)  # type: ignore[arg-type]


def listening_sockets(host: str, port: int, *, reuse_port: bool = False) -> list[socket.socket]:
    """Sockets bound to `host`:`port` (each address the name has), as asyncio's `create_server`
    would bind them, for `GatewayServer.serve`: a port in use fails here, before anything starts.
    Raises `OSError` (`socket.gaierror` for a host that does not resolve)."""
    infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if reuse_port:  # one socket per worker on the same port: the kernel spreads connections
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.setblocking(False)
    except OSError:
        for sock in sockets:
            sock.close()
        raise
    return sockets


class GatewayServer(uvicorn.Server):
    """uvicorn's server, saying where it listens also when handed its sockets (uvicorn leaves that
    to the process that bound them, which here is this one)."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets)
        if sockets is not None and self.started:
            self._log_started_message(sockets)


class CoalescingHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol writing through a `HeadHoldingTransport`, each connection
    reported to the server's `ConnectionLimits`."""

    def __init__(self, *args: Any, limits: ConnectionLimits, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._limits = limits
        self._between_requests = False  # a response ended and the next request has not begun

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(HeadHoldingTransport(transport, self._closed_with_unsent))  # type: ignore[arg-type]
        self._limits.opened(self.transport)

    def connection_lost(self, exc: Exception | None) -> None:
        self._limits.closed(self.transport)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._between_requests:  # the next request's first bytes: its head is now due
            self._between_requests = False
            self._limits.waiting(self.transport)
        super().data_received(data)

    def on_headers_complete(self) -> None:
        self._limits.receiving(self.transport)  # the body, if any, is due now
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._limits.receiving(self.transport)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._limits.received(self.transport)
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        # The WebSocket protocol takes the connection over, and this one never hears of it again.
        self._limits.closed(self.transport)
        super().handle_websocket_upgrade()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        # uvicorn arms its keep-alive timer when nothing pipelined follows: idle until the next request
        self._between_requests = self.timeout_keep_alive_task is not None
        if self._between_requests:
            self._limits.idle(self.transport)

    def pause_writing(self) -> None:
        super().pause_writing()
        self._limits.write_stalled(self.transport)

    def resume_writing(self) -> None:
        super().resume_writing()
        self._limits.write_resumed(self.transport)

    def _closed_with_unsent(self) -> None:
        """The transport was closed with bytes the peer has not taken yet."""
        cycle = self.cycle
        if cycle is not None and cycle.response_started and not cycle.response_complete:
            # The app gave up on this response: the rest of it is no use to the peer, and a peer
            # that stopped reading would hold the connection for good.
            self.transport.abort()
        else:
            self._limits.write_stalled(self.transport)


class HeadHoldingTransport:
    """A transport that keeps a response head back until the next write, then sends both at once.

    Only a write that is a whole response head (status line to blank line) is held, so the bytes
    always leave in the order they were written; anything else — and `close`, `write_eof` — sends
    the held head first. A `close` that leaves bytes unsent calls `on_unsent` (the protocol decides
    whether to wait for the peer); `abort` resets the connection, dropping what the kernel holds too.
    """

    __slots__ = ("_transport", "_held", "_loop", "_on_unsent")

    def __init__(self, transport: asyncio.Transport, on_unsent: Callable[[], None] | None = None) -> None:
        self._transport = transport
        self._held: bytes | None = None
        self._loop = asyncio.get_running_loop()
        self._on_unsent = on_unsent

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            self._transport.write(held + data)
        elif data.startswith(_HEAD_START) and data.endswith(_HEAD_END):
            self._held = bytes(data)
            self._loop.call_soon(self._flush)  # for a head with no body in this turn of the loop
        else:
            self._transport.write(data)

    def writelines(self, chunks: Any) -> None:
        self.write(b"".join(chunks))

    def _flush(self) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def write_eof(self) -> None:
        self._flush()
        self._transport.write_eof()

    def close(self) -> None:
        self._flush()
        if self._transport.is_closing():
            return
        self._transport.close()
        if self._on_unsent is not None and self._transport.get_write_buffer_size():
            self._on_unsent()

    def abort(self) -> None:
        self._held = None
        sock = self._transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, _RESET)
        self._transport.abort()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def is_reading(self) -> bool:
        return self._transport.is_reading()

    def pause_reading(self) -> None:
        self._transport.pause_reading()

    def resume_reading(self) -> None:
        self._transport.resume_reading()

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return self._transport.get_extra_info(name, default)

    def get_write_buffer_size(self) -> int:
        return self._transport.get_write_buffer_size() + len(self._held or b"")

    def unsent(self) -> int:
        """Bytes written that the peer has not acknowledged: held here, in the transport's buffer,
        and in the kernel's send queue — the last one moves as a slow reader reads, long before
        the transport's buffer does (where the system cannot say, only the first two count)."""
        queued = 0
        sock = self._transport.get_extra_info("socket")
        if sock is not None and _OUTQ is not None:
            with contextlib.suppress(OSError, ValueError):
                queued = struct.unpack("i", fcntl.ioctl(sock.fileno(), _OUTQ, bytes(4)))[0]
        return self.get_write_buffer_size() + queued

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)  # the rest of the transport's interface, unchanged
