"""The served protocol sends a response's head with the body that follows it, in one write,
and never holds back a head whose body comes later (an event stream)."""

from __future__ import annotations

import asyncio
from typing import Any

import anyio
import pytest

from mcpgate.edge.http_server import HeadHoldingTransport
from tests.conftest import serve_asgi

pytestmark = pytest.mark.anyio

HEAD = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n"


class RecordingTransport:
    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closed = False

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def is_closing(self) -> bool:
        return self.closed

    def close(self) -> None:
        self.closed = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return ("127.0.0.1", 1) if name == "peername" else default


async def test_a_head_and_its_body_leave_in_one_write() -> None:
    recorded = RecordingTransport()
    transport = HeadHoldingTransport(recorded)  # type: ignore[arg-type]
    transport.write(HEAD)
    assert recorded.writes == []
    transport.write(b"{}")
    assert recorded.writes == [HEAD + b"{}"]
    await asyncio.sleep(0)  # the loop's next turn: nothing more to send
    assert recorded.writes == [HEAD + b"{}"]
    assert transport.get_extra_info("peername") == ("127.0.0.1", 1)


async def test_a_head_alone_goes_out_on_the_next_turn_and_other_writes_pass_straight_through() -> None:
    recorded = RecordingTransport()
    transport = HeadHoldingTransport(recorded)  # type: ignore[arg-type]
    transport.write(b"data: not a head\n\n")
    assert recorded.writes == [b"data: not a head\n\n"]
    transport.write(HEAD)
    await asyncio.sleep(0)
    assert recorded.writes == [b"data: not a head\n\n", HEAD]


async def test_close_sends_the_held_head_first() -> None:
    recorded = RecordingTransport()
    transport = HeadHoldingTransport(recorded)  # type: ignore[arg-type]
    transport.write(HEAD)
    transport.close()
    assert recorded.writes == [HEAD]
    assert recorded.closed


def _stream_then_json(head_read: anyio.Event) -> Any:
    """An app: `/stream` sends a head, then an event only once the client has read that head
    (`head_read`); anything else: a JSON body."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            while (message := await receive())["type"] != "lifespan.shutdown":
                if message["type"] == "lifespan.startup":
                    await send({"type": "lifespan.startup.complete"})
            await send({"type": "lifespan.shutdown.complete"})
            return
        if scope["path"] == "/stream":
            start = {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"text/event-stream")]}
            await send(start)
            with anyio.fail_after(10):  # a head held back for the event would never be read: a timeout, not a pass
                await head_read.wait()
            await send({"type": "http.response.body", "body": b"data: late\n\n", "more_body": True})
            await anyio.sleep_forever()
        body = b'{"ok":true}'
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 200, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    return app


async def _read_until(reader: asyncio.StreamReader, marker: bytes) -> bytes:
    data = b""
    with anyio.fail_after(10):
        while marker not in data:
            chunk = await reader.read(65536)
            assert chunk, f"connection closed before {marker!r}; got {data!r}"
            data += chunk
    return data


async def test_over_a_real_socket_json_answers_are_whole_and_a_stream_head_is_not_held() -> None:
    head_read = anyio.Event()
    async with serve_asgi(_stream_then_json(head_read)) as base:
        port = int(base.rsplit(":", 1)[1])
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            for _ in range(2):  # two requests on one kept-alive connection
                writer.write(b"GET /json HTTP/1.1\r\nhost: x\r\n\r\n")
                reply = await _read_until(reader, b'{"ok":true}')
                assert reply.startswith(b"HTTP/1.1 200 OK\r\n") and reply.endswith(b'\r\n\r\n{"ok":true}')
            writer.write(b"GET /stream HTTP/1.1\r\nhost: x\r\n\r\n")
            head = await _read_until(reader, b"\r\n\r\n")
            assert head.startswith(b"HTTP/1.1 200 OK\r\n") and b"text/event-stream" in head
            assert b"late" not in head  # the head arrived before the event existed
            head_read.set()
            assert b"data: late" in await _read_until(reader, b"data: late")
        finally:
            writer.close()
