"""The composed app as a client meets it over a real socket."""

from __future__ import annotations

import anyio
import pytest

from tests.conftest import running_gateway

pytestmark = pytest.mark.anyio

UPGRADE = (
    b"GET /mcp HTTP/1.1\r\nhost: 127.0.0.1\r\nupgrade: websocket\r\nconnection: Upgrade\r\n"
    b"sec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nsec-websocket-version: 13\r\n\r\n"
)


async def test_a_websocket_upgrade_is_refused_with_a_403_not_a_500() -> None:
    async with running_gateway({}) as gateway:
        host, port = gateway.url.removeprefix("http://").rsplit(":", 1)
        with anyio.fail_after(5):
            async with await anyio.connect_tcp(host, int(port)) as stream:
                await stream.send(UPGRADE)
                answer = b""
                while b"\r\n\r\n" not in answer:
                    answer += await stream.receive()
        assert answer.startswith(b"HTTP/1.1 403 Forbidden\r\n"), answer
        async with gateway.http() as http:  # and the gateway is none the worse for it
            assert (await http.get("/health")).status_code == 200
