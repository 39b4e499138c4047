"""A lean HTTP/1.1 client for the upstream channels: kept-alive connections, streamed bodies.

    client = HTTPClient(headers={"Authorization": "Bearer …"}, connect_timeout=10)
    async with client.request("POST", url, headers={"Content-Type": "application/json"}, body=b"{}") as resp:
        reply = await resp.read(limit=MAX_MESSAGE_BYTES)
    await client.aclose()

Why not aiohttp: one POST per tools/call to a Streamable HTTP upstream is the gateway's hot path,
and aiohttp's own CPU there was ~0.2 ms of the ~0.7 ms the gateway added to a call; the same
request over the same kept-alive connection costs ~0.05 ms here (docs/benchmarks.md, "Upstream
HTTP client"). Parsing is httptools — llhttp, the parser uvicorn serves with; this module is only
what the channels need: a request with a body of bytes, a response read whole or chunk by chunk,
a pool of idle connections per origin, same-origin redirects, and errors that never show a query
string or a header value.
"""

from __future__ import annotations

import asyncio
import base64
import re
import ssl
from collections import deque
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import cast
from urllib.parse import quote, unquote, urljoin, urlsplit

import httptools

from mcpgate import __version__

_USER_AGENT = f"mcpgate/{__version__}"
_PAUSE_BYTES = 1 << 20  # stop reading the socket while this much body waits for its reader
_MAX_HEADER_BYTES = 256 * 1024
_MAX_REDIRECTS = 5
_REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_MAX_IDLE_PER_ORIGIN = 64
_MAX_REMEMBERED = 1024  # URLs split and header fields checked, per client
_TOKEN = re.compile(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")  # RFC 9110 field names
_UNSAFE_VALUE = re.compile(r"[\r\n\0]")
_FRAMING = frozenset({"host", "content-length", "transfer-encoding", "connection"})  # ours to write


class HTTPClientError(Exception):
    """The exchange failed in HTTP itself: a malformed or oversized response, a refused redirect."""


class HTTPConnectionError(HTTPClientError):
    """No connection could be made, or it was lost before the response ended."""


@dataclass(frozen=True, slots=True)
class _Origin:
    scheme: str
    host: str
    port: int

    @property
    def label(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{host}:{self.port}"

    @property
    def host_field(self) -> str:
        """The Host header: the port only when it is not the scheme's default."""
        default = self.port == (443 if self.scheme == "https" else 80)
        return self.label.rsplit(":", 1)[0] if default else self.label


def _split(url: str) -> tuple[_Origin, str, str | None]:
    """(origin, request target, basic credentials) of an http(s) URL."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise HTTPClientError(f"not a valid URL: {exc}") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise HTTPClientError(f"not an http(s) URL (scheme {parts.scheme!r})")
    origin = _Origin(parts.scheme, parts.hostname, port or (443 if parts.scheme == "https" else 80))
    target = quote(parts.path or "/", safe="/%:@!$&'()*+,;=~-._")
    if parts.query:
        target += "?" + quote(parts.query, safe="/%:@!$&'()*+,;=~-._?")
    credentials = None
    if parts.username is not None:
        pair = f"{unquote(parts.username)}:{unquote(parts.password or '')}"
        credentials = "Basic " + base64.b64encode(pair.encode()).decode()
    return origin, target, credentials


class Response:
    """Status and headers at once; the body as it arrives (`read`, `next_chunk`)."""

    __slots__ = ("status", "reason", "headers", "_chunks", "_buffered", "_complete", "_error", "_waiter", "_link")

    def __init__(self, status: int, reason: str, headers: dict[str, str], link: _Connection) -> None:
        self.status = status
        self.reason = reason
        self.headers = headers  # lower-case names; repeated fields joined with ", "
        self._chunks: deque[bytes] = deque()
        self._buffered = 0
        self._complete = False
        self._error: HTTPClientError | None = None
        self._waiter: asyncio.Future[None] | None = None
        self._link = link

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";", 1)[0].strip().lower()

    async def read(self, limit: int | None = None) -> bytes:
        """The whole body; `HTTPClientError` when it exceeds `limit` bytes."""
        parts: list[bytes] = []
        size = 0
        while chunk := await self.next_chunk():
            size += len(chunk)
            if limit is not None and size > limit:
                raise HTTPClientError(f"the response body exceeds {limit} bytes")
            parts.append(chunk)
        return parts[0] if len(parts) == 1 else b"".join(parts)

    async def next_chunk(self) -> bytes:
        """The next piece of the body; b"" once it has ended."""
        while not self._chunks:
            if self._error is not None:
                raise self._error
            if self._complete:
                return b""
            self._waiter = asyncio.get_running_loop().create_future()
            try:
                await self._waiter
            finally:
                self._waiter = None
        chunk = self._chunks.popleft()
        self._buffered -= len(chunk)
        if self._buffered < _PAUSE_BYTES:
            self._link.resume()
        return chunk

    # -- fed by the connection -------------------------------------------------------

    def _feed(self, chunk: bytes) -> None:
        self._chunks.append(chunk)
        self._buffered += len(chunk)
        if self._buffered >= _PAUSE_BYTES:
            self._link.pause()
        self._wake()

    def _finish(self, error: HTTPClientError | None = None) -> None:
        if not self._complete and self._error is None:
            if error is None:
                self._complete = True
            else:
                self._error = error
            self._wake()

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


class _Connection(asyncio.Protocol):
    """One TCP (or TLS) connection, one exchange at a time, fed to llhttp as bytes arrive."""

    def __init__(self, origin: _Origin, registry: set[_Connection]) -> None:
        self.origin = origin
        self.transport: asyncio.Transport | None = None
        self.lost = False
        self.received_any = False
        self._busy = False
        self._registry = registry  # the client's open connections, closed by its aclose()
        self._parser = httptools.HttpResponseParser(self)
        self._head: asyncio.Future[Response] | None = None
        self._response: Response | None = None
        self._reason = ""
        self._fields: list[tuple[bytes, bytes]] = []
        self._field_bytes = 0
        self._until_close = False
        self._keep_alive = False
        self._paused = False

    @property
    def reusable(self) -> bool:
        response = self._response
        return not self.lost and self._keep_alive and response is not None and response._complete

    async def exchange(self, head: bytes, body: bytes | None) -> Response:
        """Write one request; the response once its status line and headers are in."""
        assert self.transport is not None
        self._head = asyncio.get_running_loop().create_future()
        self._response = None
        self.received_any = False
        self._keep_alive = False
        self._busy = True
        self.transport.write(head + body if body else head)
        return await self._head

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()

    def pause(self) -> None:
        if not self._paused and self.transport is not None and not self.lost:
            self._paused = True
            self.transport.pause_reading()

    def resume(self) -> None:
        if self._paused and self.transport is not None and not self.lost:
            self._paused = False
            self.transport.resume_reading()

    # -- asyncio.Protocol ------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's transports are not asyncio's classes
        self._registry.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self._registry.discard(self)
        response = self._response
        if response is not None and self._until_close:
            response._finish()  # a body delimited by the end of the connection
        else:
            self._fail(HTTPConnectionError(f"{self.origin.label} closed the connection before the response ended"))

    def data_received(self, data: bytes) -> None:
        if not self._busy:
            self.close()  # bytes nobody asked for: the connection can no longer be trusted
            return
        self.received_any = True
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(HTTPClientError("the upstream switched protocols, which an MCP exchange never does"))
        except (httptools.HttpParserError, HTTPClientError) as exc:
            self._fail(exc if isinstance(exc, HTTPClientError) else HTTPClientError(f"malformed HTTP response: {exc}"))
        else:
            return
        self.close()

    def _fail(self, error: HTTPClientError) -> None:
        if self._head is not None and not self._head.done():
            self._head.set_exception(error)
        elif self._response is not None:
            self._response._finish(error)

    # -- llhttp callbacks --------------------------------------------------------------

    def on_message_begin(self) -> None:
        self._fields = []
        self._field_bytes = 0

    def on_status(self, reason: bytes) -> None:
        self._reason = reason.decode("latin-1")

    def on_header(self, name: bytes, value: bytes) -> None:
        self._field_bytes += len(name) + len(value)
        if self._field_bytes > _MAX_HEADER_BYTES:
            raise HTTPClientError(f"the response headers exceed {_MAX_HEADER_BYTES} bytes")
        self._fields.append((name, value))

    def on_headers_complete(self) -> None:
        status = self._parser.get_status_code()
        if status < 200:
            return  # 100 Continue and friends: the real response follows
        headers: dict[str, str] = {}
        for raw_name, raw_value in self._fields:
            name, value = raw_name.decode("latin-1").lower(), raw_value.decode("latin-1")
            headers[name] = f"{headers[name]}, {value}" if name in headers else value
        self._until_close = (
            "content-length" not in headers
            and "chunked" not in headers.get("transfer-encoding", "").lower()
            and status not in (204, 304)
        )
        self._response = Response(status, self._reason, headers, self)
        if self._head is not None and not self._head.done():
            self._head.set_result(self._response)

    def on_body(self, body: bytes) -> None:
        if self._response is not None:
            self._response._feed(body)

    def on_message_complete(self) -> None:
        if self._response is not None:
            self._busy = False
            self._keep_alive = self._parser.should_keep_alive()
            self._response._finish()


class HTTPClient:
    """Requests to any number of origins, each with a pool of kept-alive connections."""

    def __init__(
        self, headers: Mapping[str, str] | None = None, *, connect_timeout: float = 10.0, limit_per_origin: int = 256
    ) -> None:
        self._defaults = {"user-agent": ("User-Agent", _USER_AGENT)}
        self._defaults.update(_fields(headers or {}))
        self._connect_timeout = connect_timeout
        self._limit = limit_per_origin
        self._idle: dict[_Origin, list[_Connection]] = {}
        self._slots: dict[_Origin, asyncio.Semaphore] = {}
        self._open: set[_Connection] = set()
        self._tls: ssl.SSLContext | None = None
        # Per call these would be most of the client's own work: a channel posts to one URL
        # with the same few headers again and again.
        self._split_urls: dict[str, tuple[_Origin, str, str | None]] = {}
        self._checked_fields: set[tuple[str, str]] = set()

    async def __aenter__(self) -> HTTPClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        for connection in list(self._open):
            connection.close()
        self._idle.clear()

    @asynccontextmanager
    async def request(
        self, method: str, url: str, *, headers: Mapping[str, str] | None = None, body: bytes | None = None
    ) -> AsyncIterator[Response]:
        """The response, its status and headers read; the connection goes back to the pool on exit."""
        first_origin = None
        for _ in range(_MAX_REDIRECTS + 1):
            origin, target, credentials = self._split(url)
            if first_origin is None:
                first_origin = origin
            elif origin != first_origin:
                raise HTTPClientError(
                    f"redirected from {first_origin.label} to another origin ({origin.label}); "
                    "configure the final URL instead"
                )
            head = self._head(origin, method, target, headers or {}, body, credentials)
            slot = self._slots.get(origin) or self._slots.setdefault(origin, asyncio.Semaphore(self._limit))
            async with slot:
                connection, response = await self._send(origin, head, body)
                location = response.headers.get("location") if response.status in _REDIRECT_STATUSES else None
                if location is None:
                    try:
                        yield response
                    finally:
                        self._release(connection)
                    return
                connection.close()  # a redirect's body is never read
            url = urljoin(url, location)
            if response.status == 303 or (response.status in (301, 302) and method == "POST"):
                method, body = "GET", None
        raise HTTPClientError(f"more than {_MAX_REDIRECTS} redirects from {first_origin.label}")

    async def _send(self, origin: _Origin, head: bytes, body: bytes | None) -> tuple[_Connection, Response]:
        while True:
            idle = self._idle.get(origin)
            connection = idle.pop() if idle else None
            fresh = connection is None or connection.lost
            if connection is None or connection.lost:
                connection = await self._connect(origin)
            try:
                return connection, await connection.exchange(head, body)
            except HTTPConnectionError:
                connection.close()
                if fresh or connection.received_any:
                    raise
                # A kept-alive connection the server closed just as it was reused: once more, on a new one.
            except BaseException:
                connection.close()
                raise

    async def _connect(self, origin: _Origin) -> _Connection:
        loop = asyncio.get_running_loop()
        tls = None
        if origin.scheme == "https":
            tls = self._tls = self._tls or ssl.create_default_context()
        try:
            async with asyncio.timeout(self._connect_timeout):
                _, connection = await loop.create_connection(
                    lambda: _Connection(origin, self._open),
                    origin.host,
                    origin.port,
                    ssl=tls,
                    server_hostname=origin.host if tls else None,
                )
        except TimeoutError:
            raise HTTPConnectionError(
                f"cannot connect to {origin.label}: no answer within {self._connect_timeout:g}s"
            ) from None
        except OSError as exc:
            raise HTTPConnectionError(f"cannot connect to {origin.label}: {exc.strerror or exc}") from None
        except ValueError:  # UnicodeError too: a host name IDNA cannot encode (a label over 63 characters…)
            raise HTTPConnectionError(f"cannot connect to {origin.label}: not a valid host name") from None
        return connection

    def _release(self, connection: _Connection) -> None:
        idle = self._idle.setdefault(connection.origin, [])
        if connection.reusable and len(idle) < _MAX_IDLE_PER_ORIGIN:
            idle.append(connection)
        else:
            connection.close()

    def _split(self, url: str) -> tuple[_Origin, str, str | None]:
        split = self._split_urls.get(url)
        if split is None:
            split = _split(url)
            if len(self._split_urls) >= _MAX_REMEMBERED:
                self._split_urls.clear()
            self._split_urls[url] = split
        return split

    def _head(
        self,
        origin: _Origin,
        method: str,
        target: str,
        headers: Mapping[str, str],
        body: bytes | None,
        credentials: str | None,
    ) -> bytes:
        given = self._safe_fields(headers)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {origin.host_field}"]
        if credentials is not None and "authorization" not in given:
            lines.append(f"Authorization: {credentials}")
        for key, (name, value) in self._defaults.items():  # the client's own, unless this request sets them
            if key not in given and key not in _FRAMING and not (key == "authorization" and credentials is not None):
                lines.append(f"{name}: {value}")
        lines.extend(f"{name}: {value}" for key, (name, value) in given.items() if key not in _FRAMING)
        if body is not None or method in ("POST", "PUT", "PATCH"):
            lines.append(f"Content-Length: {len(body or b'')}")
        lines.append("\r\n")
        return "\r\n".join(lines).encode()

    def _safe_fields(self, headers: Mapping[str, str]) -> dict[str, tuple[str, str]]:
        """`_fields`, remembering the fields already found safe."""
        checked = self._checked_fields
        fields = {}
        for name, value in headers.items():
            if (name, value) not in checked:
                _fields({name: value})  # raises for a field that could split the request
                if len(checked) >= _MAX_REMEMBERED:
                    checked.clear()
                checked.add((name, value))
            fields[name.lower()] = (name, value)
        return fields


def _fields(headers: Mapping[str, str]) -> dict[str, tuple[str, str]]:
    """Header fields keyed by lower-case name; a name or value that could split the request is refused."""
    fields = {}
    for name, value in headers.items():
        if not _TOKEN.fullmatch(name):
            raise HTTPClientError(f"{name!r} is not a valid header name")
        if _UNSAFE_VALUE.search(value):
            raise HTTPClientError(f"the value of header {name!r} holds a line break or NUL")
        fields[name.lower()] = (name, value)
    return fields
