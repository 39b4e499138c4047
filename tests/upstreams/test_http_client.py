"""The upstream HTTP client against scripted HTTP/1.1 servers on loopback.

Each server answers requests with bytes a test writes itself, so framing, connection reuse and
failures are exercised exactly; the channels above the client are tested against real MCP servers.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

import anyio
import pytest

from mcpgate.upstream.event_stream import read_events
from mcpgate.upstream.http_client import HTTPClient, HTTPClientError, HTTPConnectionError

pytestmark = pytest.mark.anyio


@pytest.fixture(
    params=[pytest.param(("asyncio", {}), id="asyncio"), pytest.param(("asyncio", {"use_uvloop": True}), id="uvloop")]
)
def anyio_backend(request: pytest.FixtureRequest) -> tuple[str, dict[str, bool]]:
    """Both event loops the gateway runs on: uvloop's transports are not asyncio's classes."""
    return request.param


@dataclass
class Request:
    head: str
    body: bytes

    @property
    def line(self) -> str:
        return self.head.split("\r\n", 1)[0]

    def header(self, name: str) -> str | None:
        for line in self.head.split("\r\n")[1:]:
            key, _, value = line.partition(":")
            if key.lower() == name.lower():
                return value.strip()
        return None


Handler = Callable[[Request, asyncio.StreamWriter, int], Awaitable[bool]]  # → keep the connection?


@dataclass
class Server:
    url: str
    connections: int = 0
    requests: list[Request] = field(default_factory=list)


async def _read_request(reader: asyncio.StreamReader) -> Request | None:
    try:
        head = (await reader.readuntil(b"\r\n\r\n")).decode()
    except (asyncio.IncompleteReadError, ConnectionError):
        return None
    request = Request(head, b"")
    request.body = await reader.readexactly(int(request.header("content-length") or 0))
    return request


@asynccontextmanager
async def serve(handler: Handler) -> AsyncIterator[Server]:
    state = Server("")

    async def connection(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        state.connections += 1
        number = state.connections
        try:
            while (request := await _read_request(reader)) is not None:
                state.requests.append(request)
                if not await handler(request, writer, number):
                    break
                await writer.drain()
        finally:
            writer.close()

    server = await asyncio.start_server(connection, "127.0.0.1", 0)
    state.url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}"
    async with server:
        yield state


def reply(body: bytes, *, status: str = "200 OK", headers: str = "Content-Type: application/json\r\n") -> bytes:
    return f"HTTP/1.1 {status}\r\n{headers}Content-Length: {len(body)}\r\n\r\n".encode() + body


async def echo(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
    writer.write(reply(request.body))
    return True


async def test_requests_share_one_kept_alive_connection() -> None:
    async with serve(echo) as server, HTTPClient({"X-Static": "1"}) as client:
        for n in range(3):
            async with client.request("POST", server.url + "/mcp", body=b'{"n": %d}' % n) as resp:
                assert resp.status == 200
                assert resp.content_type == "application/json"
                assert await resp.read() == b'{"n": %d}' % n
    assert server.connections == 1
    first = server.requests[0]
    assert first.line == "POST /mcp HTTP/1.1"
    assert first.header("host") == server.url.removeprefix("http://")
    assert first.header("x-static") == "1"
    assert first.header("user-agent").startswith("mcpgate/")


async def test_a_chunked_event_stream_is_read_as_it_arrives() -> None:
    first_seen = anyio.Event()

    async def stream(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n")
        part = b'event: message\r\ndata: {"a":1}\r\n\r\n'
        writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        await writer.drain()
        await first_seen.wait()  # the client has the first event while the body is still open
        for part in (b'data: {"b":', b"2}\n\n"):  # one line split across chunks
            writer.write(b"%x\r\n%s\r\n" % (len(part), part))
        writer.write(b"0\r\n\r\n")
        return True

    async with serve(stream) as server, HTTPClient() as client:
        with anyio.fail_after(5):
            async with client.request("GET", server.url) as resp:
                events = read_events(resp, max_line_bytes=1024)
                assert (await anext(events)).data == '{"a":1}'
                first_seen.set()
                assert [event.data async for event in events] == ['{"b":2}']
            async with client.request("GET", server.url) as resp:  # the connection was kept
                first_seen.set()
                assert len([event async for event in read_events(resp, max_line_bytes=1024)]) == 2
    assert server.connections == 1


async def test_a_body_that_ends_with_the_connection_is_read_whole_and_not_reused() -> None:
    async def until_close(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
        writer.write(b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nall of it")
        return False

    async with serve(until_close) as server, HTTPClient() as client:
        for _ in range(2):
            async with client.request("GET", server.url) as resp:
                assert await resp.read() == b"all of it"
    assert server.connections == 2


async def test_a_kept_alive_connection_closed_by_the_server_is_replaced_once() -> None:
    async def once_per_connection(request: Request, writer: asyncio.StreamWriter, number: int) -> bool:
        if request.body == b"second" and number == 1:
            return False  # reads the request, then hangs up without a word
        writer.write(reply(request.body))
        return True

    async with serve(once_per_connection) as server, HTTPClient() as client:
        for body in (b"first", b"second"):
            async with client.request("POST", server.url, body=body) as resp:
                assert await resp.read() == body
    assert server.connections == 2


async def test_a_fresh_connection_that_closes_without_an_answer_is_an_error() -> None:
    async def hang_up(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
        return False

    async with serve(hang_up) as server, HTTPClient() as client:
        with pytest.raises(HTTPConnectionError, match="closed the connection before the response ended"):
            async with client.request("POST", server.url, body=b"{}"):
                pass
    assert server.connections == 1  # not retried: a fresh connection failing is the server's answer


async def test_a_refused_connection_names_the_origin_but_never_the_query() -> None:
    with anyio.fail_after(5):
        async with serve(echo) as server:
            url = server.url
        async with HTTPClient() as client:
            with pytest.raises(HTTPConnectionError) as failure:
                async with client.request("GET", url + "/mcp?token=s3cret"):
                    pass
    assert url.removeprefix("http://") in str(failure.value)
    assert "s3cret" not in str(failure.value)


async def test_a_host_name_that_cannot_be_encoded_is_a_connection_error_not_a_crash() -> None:
    """IDNA refuses a label over 63 characters before any lookup: no network, and no UnicodeError."""
    with anyio.fail_after(5):
        async with HTTPClient() as client:
            with pytest.raises(HTTPConnectionError, match="not a valid host name"):
                async with client.request("GET", f"http://{'a' * 64}.invalid/mcp"):
                    pass


@pytest.mark.parametrize(
    "headers", [{"X-Evil": "a\r\nX-Injected: 1"}, {"X-Evil": "a\nb"}, {"Bad Name": "x"}, {"X-Nul": "a\0"}]
)
async def test_a_header_that_could_split_the_request_is_refused(headers: dict[str, str]) -> None:
    async with serve(echo) as server, HTTPClient() as client:
        with pytest.raises(HTTPClientError, match="header"):
            async with client.request("GET", server.url, headers=headers):
                pass
    assert server.requests == []
    with pytest.raises(HTTPClientError, match="header"):
        HTTPClient(headers)


async def test_each_request_carries_one_of_each_header_and_a_refused_one_stays_refused() -> None:
    async with serve(echo) as server, HTTPClient({"Authorization": "Bearer configured", "X-Static": "1"}) as client:
        url_with_user = server.url.replace("http://", "http://user:pw@") + "/mcp"
        for headers in ({}, {"x-static": "2"}, {"Authorization": "Bearer per-call"}):
            for url in (server.url + "/mcp", url_with_user):
                async with client.request("POST", url, headers=headers, body=b"{}") as resp:
                    await resp.read()
                for _ in range(2):  # the second time the same fields are remembered as safe: still refused
                    with pytest.raises(HTTPClientError, match="header"):
                        async with client.request("POST", url, headers={**headers, "X-Evil": "a\r\nX-Injected: 1"}):
                            pass
    sent = [
        (r.header("authorization"), r.header("x-static"), r.head.lower().count("\r\nauthorization:"))
        for r in server.requests
    ]
    basic = "Basic dXNlcjpwdw=="
    assert sent == [
        ("Bearer configured", "1", 1),
        (basic, "1", 1),  # credentials in the URL take the configured Authorization's place
        ("Bearer configured", "2", 1),
        (basic, "2", 1),
        ("Bearer per-call", "1", 1),  # the call's own header has the last word
        ("Bearer per-call", "1", 1),
    ]
    assert all(r.head.lower().count("\r\nx-static:") == 1 and "injected" not in r.head.lower() for r in server.requests)


async def test_same_origin_redirects_are_followed_with_the_body_and_others_refused() -> None:
    async def redirect(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
        if request.line.startswith("POST /mcp "):
            writer.write(reply(b"", status="307 Temporary Redirect", headers="Location: /mcp/\r\n"))
        elif request.line.startswith("POST /away "):
            writer.write(reply(b"", status="308 Permanent Redirect", headers="Location: http://192.0.2.1/x\r\n"))
        else:
            writer.write(reply(request.body))
        return True

    async with serve(redirect) as server, HTTPClient() as client:
        async with client.request("POST", server.url + "/mcp", body=b"payload") as resp:
            assert (resp.status, await resp.read()) == (200, b"payload")
        assert server.requests[-1].line == "POST /mcp/ HTTP/1.1"
        with pytest.raises(HTTPClientError, match="another origin"):
            async with client.request("POST", server.url + "/away", body=b"payload"):
                pass


async def test_malformed_and_oversized_responses_are_errors() -> None:
    async def answer(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
        if request.line.startswith("GET /garbage "):
            writer.write(b"this is not HTTP\r\n\r\n")
            return False
        writer.write(reply(b"x" * 5000, headers="X-Twice: a\r\nX-Twice: b\r\n"))
        return True

    async with serve(answer) as server, HTTPClient() as client:
        with pytest.raises(HTTPClientError, match="malformed HTTP response"):
            async with client.request("GET", server.url + "/garbage"):
                pass
        async with client.request("GET", server.url + "/big") as resp:
            assert resp.headers["x-twice"] == "a, b"
            with pytest.raises(HTTPClientError, match="exceeds 1000 bytes"):
                await resp.read(limit=1000)


async def test_a_large_body_arrives_whole_through_flow_control() -> None:
    payload = bytes(range(256)) * (12 * 1024)  # 3 MiB: more than the client buffers before pausing

    async def large(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
        writer.write(reply(payload))
        return True

    async with serve(large) as server, HTTPClient() as client:
        with anyio.fail_after(10):
            async with client.request("GET", server.url) as resp:
                assert await resp.read() == payload
            async with client.request("GET", server.url) as resp:
                assert len(await resp.read()) == len(payload)
    assert server.connections == 1


async def test_leaving_before_the_body_ends_closes_the_connection() -> None:
    async def half(request: Request, writer: asyncio.StreamWriter, _: int) -> bool:
        if request.body == b"half":
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n12345")  # and the rest never comes
        else:
            writer.write(reply(request.body))
        return True

    async with serve(half) as server, HTTPClient() as client:
        with anyio.fail_after(5):
            async with client.request("POST", server.url, body=b"half") as resp:
                assert await resp.next_chunk() == b"12345"
            async with client.request("POST", server.url, body=b"whole") as resp:
                assert await resp.read() == b"whole"
    assert server.connections == 2
