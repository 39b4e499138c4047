"""Clients that connect and stall — half a request head, or nothing at all — are closed after
`edge.headerTimeoutSeconds`; at `edge.maxConnections` a new connection takes the place of the one
that has waited longest for its head, so `/health` answers through a flood of them."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import httpx
import pytest
import uvicorn

from mcpgate.app import create_app, open_services
from mcpgate.config import settings_from_mapping
from mcpgate.edge.http_server import server_config
from mcpgate.settings import EdgeSettings

pytestmark = pytest.mark.anyio

HALF_A_HEAD = b"GET /health HTTP/1.1\r\nhost: 127.0.0.1\r\n"  # the blank line that ends it never comes


async def _json_or_stream(scope: Any, receive: Any, send: Any) -> None:
    """`/stream`: a head and an event stream that never ends; anything else: a JSON body. A
    WebSocket is refused (uvicorn answers 403)."""
    if scope["type"] == "websocket":
        await send({"type": "websocket.close"})
        return
    if scope["path"] == "/stream":
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]})
        await send({"type": "http.response.body", "body": b": open\n\n", "more_body": True})
        await anyio.sleep_forever()
    body = b'{"ok":true}'
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": 200, "headers": headers})
    await send({"type": "http.response.body", "body": body})


@asynccontextmanager
async def serving(app: Any, edge: EdgeSettings) -> AsyncIterator[int]:
    """Serve `app` on 127.0.0.1:<free port> within `edge`'s limits; yields the port."""
    config = server_config(app, edge, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    server = uvicorn.Server(config)
    server.config.setup_event_loop = lambda: None  # type: ignore[method-assign]
    async with anyio.create_task_group() as tg:
        tg.start_soon(server.serve)
        with anyio.fail_after(10):
            while not server.started:
                await anyio.sleep(0.005)
        try:
            yield server.servers[0].sockets[0].getsockname()[1]
        finally:
            server.should_exit = True
            server.force_exit = True
            tg.cancel_scope.cancel()  # streams that never end


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
    async with serving(_json_or_stream, edge) as port:
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
    async with serving(_json_or_stream, edge) as port:
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


async def test_at_the_connection_cap_health_answers_through_a_flood_of_stalled_requests() -> None:
    settings = settings_from_mapping(
        {"database_url": "sqlite+aiosqlite://", "edge": {"maxConnections": 20, "headerTimeoutSeconds": 30}}
    )
    async with open_services(settings) as services, serving(create_app(settings, services), settings.edge) as port:
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
    async with serving(_json_or_stream, edge) as port:
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


async def test_a_connection_upgraded_to_a_websocket_leaves_the_count() -> None:
    """The WebSocket protocol takes such a connection over (and refuses it: no app route accepts
    one); it must not stay counted, or a few upgrades would fill the cap for good."""
    edge = EdgeSettings(max_connections=2, header_timeout_seconds=30)
    upgrade = (
        b"GET /ws HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
        b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
    )
    async with serving(_json_or_stream, edge) as port:
        for _ in range(3):
            reader, writer = await connect(port, upgrade)
            assert (await closed_by_server(reader, within=5)).startswith(b"HTTP/1.1 403")
            writer.close()
        client, client_writer = await connect(port)
        assert (await request(client, client_writer)).startswith(b"HTTP/1.1 200 OK\r\n")
        client_writer.close()
