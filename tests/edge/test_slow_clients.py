"""Clients that keep a connection without using it are reset: half a request head, or nothing at all,
after `edge.headerTimeoutSeconds`; a body that stalls, after `edge.bodyTimeoutSeconds`; a response the
client stopped reading, after `edge.writeTimeoutSeconds` without progress, or at once when the app
gives up on it. At `edge.maxConnections` a new connection takes the place of the one that has waited
longest for its peer, so `/health` answers through a flood of them."""

from __future__ import annotations

import asyncio
import errno
import socket
from typing import Any

import anyio
import httpx
import httpx2
import pytest

from mcpgate.app import create_app, open_services
from mcpgate.config import settings_from_mapping
from mcpgate.settings import EdgeSettings
from tests.conftest import running_gateway, serve_asgi, stdio_echo, wait_until
from tests.edge.test_slow_readers import _stalled_sse_session, flood

pytestmark = pytest.mark.anyio

HALF_A_HEAD = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n"  # the blank line that ends it never comes
# A complete head, and a tenth of the body it announces; the app is reading it (it asked for the
# body, so the server answered 100 Continue).
HALF_A_BODY = (
    b"POST /json HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 100\r\nexpect: 100-continue\r\n\r\n",
    b"x" * 10,
)
BIG = 8 * 1024 * 1024  # far more than a non-reading client's buffers take


async def _test_app(scope: Any, receive: Any, send: Any) -> None:
    """`/stream`: a head and an event stream that never ends; `/big`: 8 MiB; `/abandoned`: 4 MiB of
    a stream, then the app gives up on it; anything else: a JSON body, once the request's body is
    read. A WebSocket is refused (uvicorn answers 403)."""
    if scope["type"] == "lifespan":
        while True:
            phase = (await receive())["type"]  # lifespan.startup, then lifespan.shutdown
            await send({"type": f"{phase}.complete"})
            if phase == "lifespan.shutdown":
                return
    if scope["type"] == "websocket":
        await send({"type": "websocket.close"})
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        await anyio.sleep_forever()
    if scope["path"] == "/abandoned":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b"z" * (BIG // 2), "more_body": True})
        return  # as edge/sse.py ends a stream whose client stopped reading
    body = b"z" * BIG if scope["path"] == "/big" else b'{"ok":true}'
    more_body = scope["method"] == "POST"
    while more_body:
        more_body = (await receive()).get("more_body", False)
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


async def connect(port: int, first: bytes = b"") -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    if first:
        writer.write(first)
        await writer.drain()
    return reader, writer


async def closed_by_server(reader: asyncio.StreamReader, within: float) -> bytes:
    """Everything the server sent until it closed the connection (bounded by `within` seconds)."""
    received = b""
    with anyio.fail_after(within):
        try:
            while chunk := await reader.read(65536):
                received += chunk
        except ConnectionResetError:
            pass
    return received


async def request(reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *parts: bytes) -> bytes:
    """Send a request (in `parts`, each written and drained apart) and read its JSON answer."""
    for part in parts or (b"GET /json HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n",):
        writer.write(part)
        await writer.drain()
    reply = b""
    with anyio.fail_after(5):
        while b'{"ok":true}' not in reply:
            chunk = await reader.read(65536)
            assert chunk, f"closed before the answer; got {reply!r}"
            reply += chunk
    return reply


async def test_a_stalled_request_head_and_a_silent_connection_are_closed_after_the_header_timeout() -> None:
    edge = EdgeSettings(header_timeout_seconds=0.5)
    async with serve_asgi(_test_app, edge) as url:
        port = port_of(url)
        started = anyio.current_time()
        half, half_writer = await connect(port, HALF_A_HEAD)
        silent, silent_writer = await connect(port)
        assert await closed_by_server(half, within=3) == b""
        assert await closed_by_server(silent, within=3) == b""
        assert anyio.current_time() - started >= 0.45  # not before the timeout (its clock starts at accept)
        half_writer.close()
        silent_writer.close()


async def test_a_kept_alive_client_is_not_hurried_by_the_header_timeout() -> None:
    """The timeout bounds a head once it has begun; between requests only the idle timeout applies."""
    edge = EdgeSettings(header_timeout_seconds=0.5, idle_timeout_seconds=30)
    async with serve_asgi(_test_app, edge) as url:
        port = port_of(url)
        client, client_writer = await connect(port)
        assert (await request(client, client_writer)).startswith(b"HTTP/1.1 200 OK\r\n")
        stalled, stalled_writer = await connect(port, HALF_A_HEAD)
        # Once the server has given up on the stalled head, the kept-alive client has been idle
        # longer than the header timeout, and its connection still serves the next request.
        await closed_by_server(stalled, within=3)
        assert (await request(client, client_writer)).startswith(b"HTTP/1.1 200 OK\r\n")
        in_two_parts = (b"GET /json HTTP/1.1\r\n", b"host: 127.0.0.1\r\n\r\n")  # well within the timeout
        assert (await request(client, client_writer, *in_two_parts)).startswith(b"HTTP/1.1 200 OK\r\n")
        client_writer.close()
        stalled_writer.close()


def test_by_default_an_idle_connection_outlasts_the_sdk_clients_own_idle_limit() -> None:
    """The client must be the one to drop an idle connection: one that reuses it just as the server
    closes it loses that request (the official SDK's httpx2 neither notices in time nor retries)."""
    assert EdgeSettings().idle_timeout_seconds > 2 * httpx2.Limits().keepalive_expiry


async def test_at_the_connection_cap_health_answers_through_a_flood_of_stalled_requests() -> None:
    settings = settings_from_mapping(
        {"database_url": "sqlite+aiosqlite://", "edge": {"maxConnections": 20, "headerTimeoutSeconds": 30}}
    )
    async with open_services(settings) as services, serve_asgi(create_app(settings, services), settings.edge) as url:
        port = port_of(url)
        stalled = [await connect(port, HALF_A_HEAD) for _ in range(60)]
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
            for _ in range(3):
                assert (await http.get("/health")).status_code == 200
        # The longest-waiting went first; the most recent still wait, and are served when their head ends.
        oldest_reader, _ = stalled[0]
        assert await closed_by_server(oldest_reader, within=5) == b""
        newest_reader, newest_writer = stalled[-1]
        newest_writer.write(b"\r\n")
        with anyio.fail_after(5):
            assert (await newest_reader.readuntil(b"\r\n")).startswith(b"HTTP/1.1 200")
        for _, writer in stalled:
            writer.close()


async def test_at_the_cap_with_no_connection_waiting_a_new_one_is_refused_at_once() -> None:
    edge = EdgeSettings(max_connections=2, header_timeout_seconds=30)
    async with serve_asgi(_test_app, edge) as url:
        port = port_of(url)
        streams = []
        for _ in range(2):  # two responses in progress: nothing to evict
            reader, writer = await connect(port, b"GET /stream HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
            with anyio.fail_after(5):
                await reader.readuntil(b": open\n\n")
            streams.append(writer)
        refused, refused_writer = await connect(port)
        assert (await closed_by_server(refused, within=5)).startswith(b"HTTP/1.1 503 Service Unavailable\r\n")
        for writer in [*streams, refused_writer]:
            writer.close()


async def test_at_the_cap_the_connection_idle_longest_gives_way_first_and_is_closed_not_reset() -> None:
    """Idle kept-alive connections owe nothing: closing one is what its keep-alive timeout would do,
    so at the cap they go before a client that is mid-request, and with a clean close."""
    edge = EdgeSettings(max_connections=3, header_timeout_seconds=30)
    async with serve_asgi(_test_app, edge) as url:
        port = port_of(url)
        idle = []
        for _ in range(2):  # each served once, then idle
            reader, writer = await connect(port)
            assert (await request(reader, writer)).startswith(b"HTTP/1.1 200 OK\r\n")
            idle.append((reader, writer))
        half, half_writer = await connect(port, HALF_A_HEAD)  # at the cap, mid-request
        newest, newest_writer = await connect(port)
        with anyio.fail_after(5):
            assert await idle[0][0].read() == b""  # the longest idle: a clean end (a reset would raise)
        assert (await request(newest, newest_writer)).startswith(b"HTTP/1.1 200 OK\r\n")
        # The other idle one still serves, and the half request is still waited for.
        assert (await request(*idle[1])).startswith(b"HTTP/1.1 200 OK\r\n")
        assert (await request(half, half_writer, b"\r\n")).startswith(b"HTTP/1.1 200 OK\r\n")
        for writer in (idle[0][1], idle[1][1], half_writer, newest_writer):
            writer.close()


async def test_a_connection_upgraded_to_a_websocket_leaves_the_count() -> None:
    """The WebSocket protocol takes such a connection over (and refuses it: no app route accepts
    one); it must not stay counted, or a few upgrades would fill the cap for good."""
    edge = EdgeSettings(max_connections=2, header_timeout_seconds=30)
    upgrade = (
        b"GET /ws HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
    async with serve_asgi(_test_app, edge) as url:
        port = port_of(url)
        for _ in range(3):
            reader, writer = await connect(port, upgrade)
            assert (await closed_by_server(reader, within=5)).startswith(b"HTTP/1.1 403")
            writer.close()
        client, client_writer = await connect(port)
        assert (await request(client, client_writer)).startswith(b"HTTP/1.1 200 OK\r\n")
        client_writer.close()


def reset_by_server(sock: socket.socket) -> bool:
    """Whether the server reset the connection; the socket's unread bytes are left unread (a client
    that reads would let a graceful close finish, and prove nothing)."""
    return sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == errno.ECONNRESET


def not_reading(port: int, request: bytes) -> socket.socket:
    """A socket with a tiny receive buffer that sends `request` and never reads the answer."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window stays small
    sock.connect(("127.0.0.1", port))  # loopback: at once
    sock.setblocking(False)
    sock.send(request)
    return sock


async def test_a_stalled_request_body_is_reset_after_the_body_timeout() -> None:
    edge = EdgeSettings(header_timeout_seconds=30, body_timeout_seconds=0.5)
    async with serve_asgi(_test_app, edge) as url:
        reader, writer = await connect(port_of(url), HALF_A_BODY[0])
        with anyio.fail_after(5):
            assert await reader.readuntil(b"\r\n\r\n") == b"HTTP/1.1 100 Continue\r\n\r\n"
        started = anyio.current_time()
        writer.write(HALF_A_BODY[1])
        assert await closed_by_server(reader, within=3) == b""
        assert anyio.current_time() - started >= 0.45
        writer.close()


async def test_a_slow_body_that_keeps_coming_is_not_cut() -> None:
    """The body timeout bounds a pause between chunks, not the whole body."""
    edge = EdgeSettings(body_timeout_seconds=0.5)
    async with serve_asgi(_test_app, edge) as url:
        reader, writer = await connect(
            port_of(url), b"POST /json HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-length: 5\r\n\r\n"
        )
        for _ in range(5):  # 1.25 s in all, each pause half the timeout
            await anyio.sleep(0.25)  # the client's pace, not a wait for the server
            writer.write(b"x")
        assert (await request(reader, writer)).startswith(b"HTTP/1.1 200 OK\r\n")
        writer.close()


async def test_at_the_cap_connections_stalled_mid_body_give_way_to_new_ones() -> None:
    edge = EdgeSettings(max_connections=3, header_timeout_seconds=30, body_timeout_seconds=30)
    async with serve_asgi(_test_app, edge) as url:
        port = port_of(url)
        stalled = []
        for _ in range(3):
            reader, writer = await connect(port, HALF_A_BODY[0])
            with anyio.fail_after(5):
                await reader.readuntil(b"HTTP/1.1 100 Continue\r\n\r\n")  # the head is in: a body is due
            writer.write(HALF_A_BODY[1])
            await writer.drain()
            stalled.append((reader, writer))
        client, client_writer = await connect(port)
        assert (await request(client, client_writer)).startswith(b"HTTP/1.1 200 OK\r\n")
        oldest_reader, _ = stalled[0]
        assert await closed_by_server(oldest_reader, within=5) == b""
        for _, writer in [*stalled, (client, client_writer)]:
            writer.close()


async def test_a_response_the_client_stops_reading_is_reset_after_the_write_timeout() -> None:
    edge = EdgeSettings(write_timeout_seconds=0.5)
    async with serve_asgi(_test_app, edge) as url:
        port = port_of(url)
        # An idle event stream: nothing waits to be sent to it, so it is never stalled.
        idle = not_reading(port, b"GET /stream HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        seen = b""
        with anyio.fail_after(5):
            while b": open\n\n" not in seen:
                await anyio.wait_readable(idle)
                seen += idle.recv(65536)
        stalled = not_reading(port, b"GET /big HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n")
        started = anyio.current_time()
        with idle, stalled:
            await wait_until(lambda: reset_by_server(stalled), timeout=5)
            assert anyio.current_time() - started >= 0.45
            assert idle.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0
            with pytest.raises(BlockingIOError):  # neither data nor the end: open, and quiet
                idle.recv(65536)


async def test_a_slow_reader_that_keeps_reading_is_not_reset() -> None:
    """The write timeout bounds a response making no progress, not a slow one."""
    edge = EdgeSettings(write_timeout_seconds=0.5)
    async with serve_asgi(_test_app, edge) as url:
        with not_reading(port_of(url), b"GET /big HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n") as sock:
            received = 0
            for _ in range(8):  # 1.6 s in all, over three write timeouts, each pause 0.2 s
                await anyio.sleep(0.2)  # the client's pace, not a wait for the server
                with anyio.fail_after(5):
                    await anyio.wait_readable(sock)
                    received += len(sock.recv(16384))
            assert not reset_by_server(sock)
            with anyio.fail_after(10):  # then the rest, at full speed: all of it
                while received < BIG:
                    await anyio.wait_readable(sock)
                    chunk = sock.recv(1 << 20)
                    assert chunk, f"closed after {received} bytes"
                    received += len(chunk)


async def test_a_response_the_app_gives_up_on_is_reset_at_once() -> None:
    """uvicorn closes such a connection gracefully: on asyncio, a close that waits without end for a
    client that does not read. It is reset instead, long before the write timeout."""
    edge = EdgeSettings(write_timeout_seconds=60)
    async with serve_asgi(_test_app, edge) as url:
        with not_reading(port_of(url), b"GET /abandoned HTTP/1.1\r\nhost: 127.0.0.1\r\n\r\n") as sock:
            await wait_until(lambda: reset_by_server(sock), timeout=5)


async def test_an_sse_client_dropped_for_not_reading_is_reset() -> None:
    """The gateway drops an SSE session whose client stopped reading (`edge.maxQueuedBytes`); its
    connection goes too, within the stream's bounded closing write, not when the client reads."""
    config = {"edge": {"maxQueuedBytes": 1024 * 1024}, "mcpServers": {"e": stdio_echo()}}
    async with running_gateway(config) as gateway, gateway.http() as http:
        stalled, session_id = await _stalled_sse_session(port_of(gateway.url))
        with stalled:
            await flood(http, session_id)
            await wait_until(lambda: gateway.hub.sessions.get(session_id) is None, timeout=20)
            await wait_until(lambda: reset_by_server(stalled), timeout=15)
