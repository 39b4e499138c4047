"""Which protected resource (RFC 8707, RFC 9728) a request or a resource URL is.

Each virtual server is a resource of its own, so a token for one is refused by another:

    /mcp, /sse, /messages, /tools, …      resource <base>/                (the default endpoint: every tool)
    /servers/<name>/…                     resource <base>/servers/<name>
    /api/v1/mcp/<id>/…                    resource <base>/api/v1/mcp/<id>

A resource's metadata is at /.well-known/oauth-protected-resource followed by its path (and,
for clients that build the address from the endpoint they were given, the endpoint's path).
`<base>` is `oauth.issuer` when set, else the scheme and Host the request came with (the Host
was checked against the allowed hosts before anything here runs).
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.types import Scope

from mcpgate.edge.http import request_headers
from mcpgate.edge.rest import is_rest
from mcpgate.edge.servers import BY_ID_PREFIX, MCP_PATHS, NAMED_PREFIX, split_path
from mcpgate.hub.gateway import Hub

RESOURCE_METADATA = "/.well-known/oauth-protected-resource"
AUTHORIZATION_SERVER_METADATA = "/.well-known/oauth-authorization-server"


@dataclass(frozen=True, slots=True)
class Resource:
    path: str  # "" for the default endpoint, else "/servers/<name>" or "/api/v1/mcp/<id>"
    server_id: str | None  # the virtual server; None for the default endpoint
    name: str  # how the sign-in page names it

    def url(self, base: str) -> str:
        return f"{base}{self.path or '/'}"

    def metadata_url(self, base: str) -> str:
        return f"{base}{RESOURCE_METADATA}{self.path}"


DEFAULT = Resource("", None, "every tool of this gateway (the default endpoint)")


def base_url(scope: Scope, configured: str | None) -> str:
    """Where clients reach this gateway: `configured`, else this request's scheme and Host."""
    if configured:
        return configured
    host = request_headers(scope).get("host") or _server_host(scope)
    return f"{scope.get('scheme', 'http')}://{host}{scope.get('root_path', '')}"


def _server_host(scope: Scope) -> str:
    host, port = scope.get("server") or ("127.0.0.1", 80)
    return f"{host}:{port}"


def is_protected(path: str) -> bool:
    """Whether `path` is an MCP or REST tool endpoint (where OAuth tokens are taken)."""
    if path in MCP_PATHS:
        return True
    if path.startswith((NAMED_PREFIX, BY_ID_PREFIX)):
        return split_path(path)[2] != "docs"
    return not path.startswith("/api/") and is_rest(path[1:].rstrip("/"))


def resource_of(path: str, hub: Hub) -> Resource | None:
    """The resource an endpoint's path belongs to; None when it names no virtual server there is."""
    if not path.startswith((NAMED_PREFIX, BY_ID_PREFIX)):
        return DEFAULT
    base, ident, _ = split_path(path)
    server = hub.find_server(ident or "")
    if server is None:
        return None
    return Resource(base, server.id, f"the virtual server {server.name!r}")


def resource_for_metadata(path: str, hub: Hub) -> Resource | None:
    """The resource whose metadata `path` (under /.well-known/oauth-protected-resource) asks for."""
    rest = path[len(RESOURCE_METADATA) :]
    if rest in ("", "/") or rest in MCP_PATHS or (not rest.startswith("/api/") and is_rest(rest[1:].rstrip("/"))):
        return DEFAULT
    if rest.startswith((NAMED_PREFIX, BY_ID_PREFIX)):
        return resource_of(rest, hub)
    return None


def resource_from_url(url: str, base: str, hub: Hub) -> Resource | None:
    """The resource a client named in `resource=` (RFC 8707): on this gateway, an endpoint or a
    virtual server's base; None if it is not one of this gateway's."""
    given, ours = urlsplit(url), urlsplit(base)
    if given.fragment or (given.scheme, given.netloc.lower()) != (ours.scheme, ours.netloc.lower()):
        return None
    path = given.path
    if ours.path and not path.startswith(ours.path):
        return None
    path = path[len(ours.path) :]
    if path in ("", "/"):
        return DEFAULT
    if path.startswith((NAMED_PREFIX, BY_ID_PREFIX)) or path in MCP_PATHS:
        return resource_of(path, hub)
    return None
