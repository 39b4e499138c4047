"""Small ASGI helpers shared by the edge transports: bodies, JSON answers, SSE framing, disconnects.

The transports are written against raw ASGI rather than Starlette's Request/Response
because they hold long-lived streams and sit on the hot path; these helpers keep that
readable.

HANDS_ON: a layer inside the app that only decides which app answers (the Host/Origin check,
the metrics counter, a method check) is a plain function returning that app's coroutine, not a
coroutine awaiting it. Each awaiting layer's frame would live as long as the request, and a
long-lived stream (an idle SSE session) would keep ~0.3–0.5 KB per layer (docs/benchmarks.md).
The outermost, `App`, stays a coroutine function: servers tell ASGI 3 from ASGI 2 by it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any
from urllib.parse import parse_qs

import anyio
import orjson
from starlette.types import Receive, Scope, Send

from mcpgate.errors import PayloadTooLarge
from mcpgate.hub.session import CALLER_HEADERS
from mcpgate.settings import NEVER_PASSED_THROUGH

JSON_HEADERS = [(b"content-type", b"application/json")]
SSE_HEADERS = [
    (b"content-type", b"text/event-stream"),
    (b"cache-control", b"no-cache, no-transform"),
    (b"connection", b"keep-alive"),
    # Ask reverse proxies (nginx) not to buffer the stream.
    (b"x-accel-buffering", b"no"),
]
KEEPALIVE_COMMENT = b": keep-alive\n\n"
# Set in the ASGI scope by the virtual-server routes: which server a request is for
# (absent: the default endpoint), and where that server's legacy SSE clients POST.
SERVER_KEY = "mcpgate.server"
MESSAGES_PATH_KEY = "mcpgate.messages_path"
# Set where a request without a session is answered on its own (/api/v1/mcp/<id>, as older
# management APIs' runtime endpoints did) instead of being told to initialize first.
SESSIONLESS_KEY = "mcpgate.sessionless"
# Set by the access guard: who the request is from, and the end user it acts for.
PRINCIPAL_KEY = "mcpgate.principal"
USER_KEY = "mcpgate.user"
# Set by the guard when `Authorization` holds one of the gateway's own keys: never passed through.
GATEWAY_KEY_IN_AUTHORIZATION = "mcpgate.gateway_key_in_authorization"
# Set only on requests made inside the process (a catalog of the gateway's own API calling it for
# a tool call): the principal of that tool call, which the guard then judges like any other.
IN_PROCESS_CALLER = "mcpgate.in_process_caller"
HEADERS_KEY = "mcpgate.headers"  # see request_headers


def request_headers(scope: Scope) -> Mapping[str, str]:
    """The request's headers by lower-case name (the first of a repeated one), decoded once per
    request and kept in its scope: Starlette's `Headers` decodes and scans them on every lookup,
    and a POST to /mcp looks up about eight."""
    headers: dict[str, str] | None = scope.get(HEADERS_KEY)
    if headers is None:
        headers = {
            name.decode("latin-1").lower(): value.decode("latin-1") for name, value in reversed(scope["headers"])
        }
        scope[HEADERS_KEY] = headers
    return headers


def server_of(scope: Scope) -> str | None:
    return scope.get(SERVER_KEY)


def foreign(session: Any, scope: Scope) -> str | None:
    """Why a request may not use `session` (another key or end user opened it), or None."""
    if session.owner != owner_of(scope):
        return "Forbidden: this session was opened with another API key"
    if session.user != scope.get(USER_KEY):
        return "Forbidden: this session acts for another end user (x-username)"
    return None


class CallerHeaders(Mapping[str, str]):
    """The request's headers an upstream may be given (per its passthrough allowlist), lowercased;
    `Authorization` left out when it carries one of the gateway's own keys.

    Read on first use only: most requests go to upstreams that pass nothing through.
    """

    __slots__ = ("_parsed", "_scope")

    def __init__(self, scope: Scope) -> None:
        self._scope = scope
        self._parsed: dict[str, str] | None = None

    def _headers(self) -> dict[str, str]:
        if self._parsed is None:
            raw = self._scope["headers"]
            headers = {
                name.decode("latin-1").lower(): value.decode("latin-1")
                for name, value in raw
                if name.decode("latin-1").lower() not in NEVER_PASSED_THROUGH
            }
            if self._scope.get(GATEWAY_KEY_IN_AUTHORIZATION):
                headers.pop("authorization", None)
            self._parsed = headers
        return self._parsed

    def __getitem__(self, name: str) -> str:
        return self._headers()[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._headers())

    def __len__(self) -> int:
        return len(self._headers())

    @property
    def principal(self) -> Any:
        return self._scope.get(PRINCIPAL_KEY)

    @property
    def origin(self) -> str:
        """Where the caller reached this gateway (scheme as uvicorn took it from a trusted proxy, and
        the Host, which the Host/Origin check already allowed): for links a person opens."""
        host = request_headers(self._scope).get("host", "127.0.0.1")
        return f"{self._scope.get('scheme', 'http')}://{host}{self._scope.get('root_path', '')}"


def caller_headers(scope: Scope) -> CallerHeaders:
    return CallerHeaders(scope)


def caller_principal() -> Any:
    """The principal of the request whose message is being handled in this task, if any."""
    return getattr(CALLER_HEADERS.get(), "principal", None)


def owner_of(scope: Scope) -> str:
    """Who a request comes from, as sessions record it ("open" without authentication)."""
    principal = scope.get(PRINCIPAL_KEY)
    return principal.owner if principal is not None else "open"


async def read_body(receive: Receive, headers: Mapping[str, str], limit: int) -> bytes:
    """The whole request body, or `PayloadTooLarge` as soon as it exceeds `limit` bytes."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"Request body of {declared} bytes exceeds the limit of {limit} bytes")
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise anyio.get_cancelled_exc_class()()
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(f"Request body exceeds the limit of {limit} bytes")
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


async def send_json(send: Send, status: int, body: Any, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    payload = orjson.dumps(body)
    headers = [*JSON_HEADERS, (b"content-length", str(len(payload)).encode())]
    if extra_headers:
        headers.extend(extra_headers)
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": payload})


async def send_empty(send: Send, status: int, extra_headers: list[tuple[bytes, bytes]] | None = None) -> None:
    await send({"type": "http.response.start", "status": status, "headers": extra_headers or []})
    await send({"type": "http.response.body", "body": b""})


def sse_event(data: bytes, event: str | None = None) -> bytes:
    # Our payloads are compact JSON (orjson never emits newlines), so one data line suffices.
    if event:
        return b"event: " + event.encode() + b"\ndata: " + data + b"\n\n"
    return b"data: " + data + b"\n\n"


def query_param(scope: Scope, *names: str) -> str | None:
    query = parse_qs(scope.get("query_string", b"").decode("latin-1"))
    for name in names:
        values = query.get(name)
        if values:
            return values[0]
    return None


async def cancel_on_disconnect(receive: Receive, scope: anyio.CancelScope) -> None:
    """Cancel `scope` when the client goes away (call after the body has been read)."""
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()


async def cancel_when_set(event: anyio.Event, scope: anyio.CancelScope) -> None:
    await event.wait()
    scope.cancel()
