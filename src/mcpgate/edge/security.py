"""DNS-rebinding protection: the Host and Origin checks the MCP spec asks HTTP servers to make,
made once for every route by `HostOriginCheck`.

A browser page on `evil.example` that resolves its name to 127.0.0.1 can reach a local
gateway; it cannot forge the Host or Origin headers its requests carry. So when the
gateway listens on a loopback address it accepts only loopback Host names, and from
browsers only loopback Origins, plus whatever the operator allows explicitly.
Listening on a public address, the Host check is off unless hosts are configured
(`edge.allowedHosts`; or a reverse proxy owns that), but the Origin check stays.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Awaitable, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import ASGIApp, Receive, Scope, Send

from mcpgate.edge.http import request_headers, send_json
from mcpgate.edge.servers import refusal_body

_LOOPBACK_NAMES = frozenset({"localhost", "127.0.0.1", "::1", "[::1]"})


def _is_loopback(host: str) -> bool:
    host = host.strip("[]").lower()
    if host in _LOOPBACK_NAMES or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _host_name(value: str) -> str:
    """`example.com:8080` → `example.com`; `[::1]:80` → `::1`."""
    if value.startswith("["):
        return value[1 : value.find("]")] if "]" in value else value
    return value.rsplit(":", 1)[0] if value.count(":") == 1 else value


@dataclass(frozen=True, slots=True)
class OriginPolicy:
    check_host: bool
    allowed_hosts: frozenset[str]
    allowed_origins: frozenset[str]
    allow_any_origin: bool = False

    @classmethod
    def for_bind(cls, bind_host: str, allowed_origins: list[str], allowed_hosts: list[str] | None = None):
        hosts = frozenset(h.lower() for h in (allowed_hosts or []))
        return cls(
            check_host=_is_loopback(bind_host) or bool(hosts),
            allowed_hosts=hosts,
            allowed_origins=frozenset(o.rstrip("/").lower() for o in allowed_origins if o != "*"),
            allow_any_origin="*" in allowed_origins,
        )

    def violation(self, headers: Mapping[str, str]) -> tuple[int, str] | None:
        """`(status, reason)` when the request must be refused, else None."""
        if self.check_host:
            host = headers.get("host", "")
            name = _host_name(host.lower())
            if not host or not (_is_loopback(name) or host.lower() in self.allowed_hosts or name in self.allowed_hosts):
                return 421, f"Host header {host!r} is not allowed (DNS-rebinding protection)"
        origin = headers.get("origin")
        if origin is None or self.allow_any_origin:
            return None
        normalized = origin.rstrip("/").lower()
        if normalized in self.allowed_origins:
            return None
        hostname = urlsplit(normalized).hostname or ""
        if origin != "null" and _is_loopback(hostname):
            return None
        return 403, f"Origin {origin!r} is not allowed; add it to edge.allowedOrigins to permit it"


class HostOriginCheck:
    """ASGI: the policy above, in front of every route — MCP, REST, the management API, its
    docs, `/metrics` and `/health` — so no route can be reached by a rebound name.

    A refusal is answered in the route's own error shape (JSON-RPC on MCP paths, the API's
    `{"error": …}` elsewhere), before authentication: a foreign page never learns more.
    """

    def __init__(self, app: ASGIApp, policy: OriginPolicy) -> None:
        self.app = app
        self.policy = policy

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        # The next layer's coroutine, not one of this layer's own (edge/http.py, HANDS_ON).
        if scope["type"] == "http" and (refusal := self.policy.violation(request_headers(scope))) is not None:
            status, reason = refusal
            return send_json(send, status, refusal_body(scope["path"], status, reason))
        return self.app(scope, receive, send)
