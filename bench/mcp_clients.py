"""A lean MCP client for benchmarks: one session, one request in flight, every reply checked.

    client = HttpClient(endpoint, tag="w1")      # or SseClient (legacy SSE)
    await client.open(); latency_ms = await client.call(); await client.close()

`endpoint` is anything with `url`, `tool` (the echo tool's name there), `headers` (sent with every
request) and `session_calls` (re-open the session after that many calls; None = never). Each call
sends `tools/call` of the echo tool with a fresh text and fails loudly (`CallFailed`) unless the
reply echoes it. Streamable HTTP replies may be JSON or SSE-framed (supergateway); legacy SSE
replies are read off the stream and matched by id.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any, Protocol
from urllib.parse import urljoin

import aiohttp
import anyio
import orjson

HTTP_HEADERS = {"accept": "application/json, text/event-stream", "content-type": "application/json"}
CALL_TIMEOUT = 30.0  # seconds for one request (open, call, close)


class Endpoint(Protocol):
    url: str
    tool: str
    headers: dict[str, str]
    session_calls: int | None


class CallFailed(Exception):
    """A reply that is missing, an error, or does not echo the text sent."""


def request(id_: int, method: str, params: dict[str, Any]) -> bytes:
    return orjson.dumps({"jsonrpc": "2.0", "id": id_, "method": method, "params": params})


def initialize(version: str) -> bytes:
    params = {"protocolVersion": version, "capabilities": {}, "clientInfo": {"name": "bench", "version": "1"}}
    return request(0, "initialize", params)


INITIALIZED = orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})


def check_echo(reply: dict[str, Any], text: str) -> None:
    if "error" in reply:
        raise CallFailed(f"error reply: {reply['error']}")
    result = reply.get("result") or {}
    try:
        got = result["content"][0]["text"]
    except (KeyError, IndexError, TypeError):
        raise CallFailed(f"malformed reply: {str(reply)[:300]}") from None
    if result.get("isError") or got != text:
        raise CallFailed(f"wrong echo {got!r} (isError={result.get('isError')}), sent {text!r}")


def pick_reply(body: bytes, content_type: str, id_: int) -> dict[str, Any]:
    """The JSON-RPC response with `id_` from a JSON body or an SSE-framed one (supergateway)."""
    if content_type.startswith("text/event-stream"):
        for line in body.splitlines():
            if line.startswith(b"data:") and line[5:].strip():
                message = orjson.loads(line[5:])
                if message.get("id") == id_ and "method" not in message:
                    return message
        raise CallFailed(f"no reply with id {id_} in event stream: {body[:300]!r}")
    message = orjson.loads(body)
    if message.get("id") != id_:
        raise CallFailed(f"reply id {message.get('id')!r}, wanted {id_}")
    return message


class Client:
    """One MCP session: one worker's connection(s), one request in flight."""

    def __init__(self, target: Endpoint, tag: str) -> None:
        self.url, self.tool, self.tag = target.url, target.tool, tag
        self.headers = {**HTTP_HEADERS, **target.headers}
        self.session_calls = target.session_calls
        self.http: aiohttp.ClientSession | None = None
        self.next_id = self.in_session = 0

    async def call(self) -> float:
        """One echo tools/call; returns its latency in ms (a session re-open before it is not included)."""
        if self.session_calls and self.in_session >= self.session_calls:
            await self.close()
            await self.open()
            self.in_session = 0
        self.in_session += 1
        self.next_id += 1
        text = f"{self.tag}-{self.next_id}"
        body = request(self.next_id, "tools/call", {"name": self.tool, "arguments": {"text": text}})
        with anyio.fail_after(CALL_TIMEOUT):
            started = time.perf_counter()
            reply = await self.exchange(self.next_id, body)
            elapsed = time.perf_counter() - started
        check_echo(reply, text)
        return elapsed * 1000

    async def exchange(self, id_: int, body: bytes) -> dict[str, Any]:
        raise NotImplementedError

    async def open(self) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        if self.http is not None:
            await self.http.close()
            self.http = None


class HttpClient(Client):
    """Streamable HTTP: every request is a POST whose response carries the reply."""

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=1), timeout=aiohttp.ClientTimeout(total=CALL_TIMEOUT)
        )
        with anyio.fail_after(CALL_TIMEOUT):
            async with self.http.post(self.url, data=initialize("2025-11-25"), headers=self.headers) as response:
                await self._raise_for_status(response)
                reply = pick_reply(await response.read(), response.headers.get("content-type", ""), 0)
                session = response.headers.get("mcp-session-id")
            version = reply.get("result", {}).get("protocolVersion", "2025-11-25")
            self.headers["mcp-protocol-version"] = version
            if session:
                self.headers["mcp-session-id"] = session
            async with self.http.post(self.url, data=INITIALIZED, headers=self.headers) as response:
                await self._raise_for_status(response)
                await response.read()

    async def exchange(self, id_: int, body: bytes) -> dict[str, Any]:
        assert self.http is not None
        async with self.http.post(self.url, data=body, headers=self.headers) as response:
            await self._raise_for_status(response)
            return pick_reply(await response.read(), response.headers.get("content-type", ""), id_)

    async def close(self) -> None:
        if self.http is not None and "mcp-session-id" in self.headers:
            # Ends the session; supergateway --stateful would otherwise keep one stdio child per session for 30 min.
            with anyio.move_on_after(5), quietly():
                async with self.http.delete(self.url, headers=self.headers) as response:
                    await response.read()
        await super().close()

    @staticmethod
    async def _raise_for_status(response: aiohttp.ClientResponse) -> None:
        if response.status >= 400:
            raise CallFailed(f"HTTP {response.status}: {(await response.read())[:300]!r}")


class SseClient(Client):
    """Legacy HTTP+SSE: a long-lived GET stream for replies, requests POSTed to its `endpoint`."""

    stream: aiohttp.ClientResponse

    async def open(self) -> None:
        self.http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=2), timeout=aiohttp.ClientTimeout(total=None, sock_connect=10)
        )
        auth = {k: v for k, v in self.headers.items() if k.lower() == "authorization"}
        with anyio.fail_after(CALL_TIMEOUT):
            self.stream = await self.http.get(self.url, headers={"accept": "text/event-stream", **auth})
            if self.stream.status != 200:
                raise CallFailed(f"GET {self.url}: HTTP {self.stream.status}")
            while True:
                event, data = await self._event()
                if event == "endpoint":
                    break
            self.post_url = urljoin(self.url, data.strip())
            self.headers = {"content-type": "application/json", **auth}
            await self.exchange(0, initialize("2024-11-05"))
            await self._post(INITIALIZED)

    async def exchange(self, id_: int, body: bytes) -> dict[str, Any]:
        await self._post(body)
        while True:
            event, data = await self._event()
            if event != "message":
                continue  # e.g. ContextForge's keepalive events
            message = orjson.loads(data)
            if "method" in message:
                continue  # a notification or a server-to-client request, not our reply
            if message.get("id") != id_:
                raise CallFailed(f"reply id {message.get('id')!r}, wanted {id_}")
            return message

    async def _post(self, body: bytes) -> None:
        assert self.http is not None
        async with self.http.post(self.post_url, data=body, headers=self.headers) as response:
            if response.status >= 400:
                raise CallFailed(f"POST {self.post_url}: HTTP {response.status}: {(await response.read())[:300]!r}")
            await response.read()

    async def _event(self) -> tuple[str, str]:
        """The next SSE event: (event type, data)."""
        event, data = "message", []
        while True:
            line = await self.stream.content.readline()
            if not line:
                raise CallFailed("the SSE stream closed")
            line = line.rstrip(b"\r\n")
            if not line:
                if data:
                    return event, "\n".join(data)
                event = "message"
            elif not line.startswith(b":"):
                name, _, value = line.partition(b":")
                value = value[1:] if value.startswith(b" ") else value
                if name == b"event":
                    event = value.decode()
                elif name == b"data":
                    data.append(value.decode())

    async def close(self) -> None:
        if getattr(self, "stream", None) is not None:
            self.stream.close()
        await super().close()


@contextmanager
def quietly() -> Iterator[None]:
    try:
        yield
    except (aiohttp.ClientError, OSError, CallFailed):
        pass
