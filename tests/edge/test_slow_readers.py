"""A client that stops reading its event stream costs a bounded amount of memory, and only itself."""

from __future__ import annotations

import re
import socket

import anyio
import httpx
import pytest

from mcpgate.edge.http import KEEPALIVE_COMMENT
from mcpgate.edge.outbox import Outbox
from tests.conftest import running_gateway, stdio_echo, wait_until

pytestmark = pytest.mark.anyio

QUEUE_BOUND = 1024 * 1024
CONFIG = {"edge": {"maxQueuedBytes": QUEUE_BOUND}, "mcpServers": {"e": stdio_echo()}}


async def test_an_outbox_is_bounded_in_bytes_but_takes_one_large_chunk_when_empty():
    outbox = Outbox(max_bytes=1000)
    assert outbox.offer(b"x" * 5000)  # one large answer to a reading client still goes
    assert not outbox.offer(b"y")  # …but nothing queues behind it
    assert await outbox.take(1) == b"x" * 5000 and outbox.queued_bytes == 0
    assert outbox.offer(b"a" * 600) and outbox.offer(b"b" * 400)
    assert not outbox.offer(b"c")
    assert outbox.queued_bytes == 1000
    outbox.clear()
    assert outbox.queued_bytes == 0 and await outbox.take(0.01) == KEEPALIVE_COMMENT


async def _stalled_sse_session(port: int) -> tuple[socket.socket, str]:
    """An SSE stream opened over a raw socket with a tiny receive buffer, read up to its endpoint
    event and then never again; returns the socket and the stream's session id."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connecting: the window stays small
    sock.connect(("127.0.0.1", port))  # loopback: at once
    sock.setblocking(False)
    sock.send(b"GET /sse HTTP/1.1\r\nHost: 127.0.0.1\r\nAccept: text/event-stream\r\n\r\n")
    seen = b""
    with anyio.fail_after(5):
        while (found := re.search(rb"sessionId=([A-Za-z0-9_-]+)", seen)) is None:
            await anyio.wait_readable(sock)
            seen += sock.recv(65536)
    return sock, found.group(1).decode()


async def flood(http: httpx.AsyncClient, session_id: str) -> None:
    """80 × 256 KB answers (20 MB) for a client that reads none: its queue passes a 1 MB bound long
    before the kernel's buffers could hold them all. Stops once the session is gone."""
    big = "z" * (256 * 1024)
    for index in range(80):
        params = {"name": "e_echo", "arguments": {"text": big}}
        call = {"jsonrpc": "2.0", "id": index, "method": "tools/call", "params": params}
        posted = await http.post(f"/messages?sessionId={session_id}", json=call)
        if posted.status_code == 404:
            return  # already dropped
        assert posted.status_code == 202


async def test_a_client_that_stops_reading_loses_its_session_and_nobody_else_notices():
    async with running_gateway(CONFIG) as gateway, gateway.http() as http:
        port = int(gateway.url.rsplit(":", 1)[1])
        async with gateway.client("sse") as bystander:
            stalled, session_id = await _stalled_sse_session(port)
            with stalled:
                await flood(http, session_id)
                await wait_until(lambda: gateway.hub.sessions.get(session_id) is None, timeout=20)
                gone = await http.post(f"/messages?sessionId={session_id}", json={"jsonrpc": "2.0", "method": "x"})
                assert gone.status_code == 404
                # The other session was never touched.
                answer = await bystander.call_tool("e_echo", {"text": "still here"})
                assert "still here" in answer.content[0].text
                assert gateway.hub.sessions.get(session_id) is None
