"""The request guard: every request but `GET /health` is authenticated and authorised here,
once, before any transport or API handler sees it.

    app = Guard(gateway, authenticator, hub)

What a request needs:
    …/docs, /api/v1/docs          nothing: a static page that fetches what it shows with the key
    /api/v1/docs/assets/…         nothing: the files those pages load (Swagger UI, pinned)
    /mcp, /sse, /messages, /tools, /call-tool, … (the default endpoint, MCP or REST)
                                  tools:call, and a key not limited to some virtual servers
    /servers/<s>/…, /api/v1/mcp/<s>  tools:call on server s — or nothing if s is public and no key is given
    /api/v1/keys|users|audit|oauth  admin
    /oauth/…, /.well-known/oauth-…  nothing, with OAuth on (oauth/: metadata, sign-in, token endpoints)
    /oauth/callback               nothing: a browser back from an upstream's sign-in (accounts/)
    /admin, /admin/…              nothing here: the web UI signs people in itself (admin_ui/sessions.py)
                                  and calls the API in-process as their key, which is judged here
    Authorization: Bearer <token> an OAuth access token (not a key) is judged by oauth/bearer.py
    /api/v1/… (other)             servers:read to read, servers:write to change
    anything else                 a valid key
    x-username: <user>            users:act as well

The principal (and the end user) go into the ASGI scope for the transports, which bind
each session to the principal that opened it. Failures are 401 (with `WWW-Authenticate`)
or 403, with a JSON-RPC error body on MCP paths and the API's error body elsewhere (REST included).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from starlette.types import ASGIApp, Receive, Scope, Send

from mcpgate.access.authentication import Authenticator
from mcpgate.access.principal import OPEN, USERNAME, Principal, anonymous_on
from mcpgate.access.rate_limits import RateLimiter
from mcpgate.admin_ui import is_admin_ui
from mcpgate.edge.docs_page import DOCS_ASSETS, MANAGEMENT_DOCS
from mcpgate.edge.http import (
    GATEWAY_KEY_IN_AUTHORIZATION,
    IN_PROCESS_CALLER,
    PRINCIPAL_KEY,
    USER_KEY,
    request_headers,
    send_json,
)
from mcpgate.edge.rest import is_rest
from mcpgate.edge.servers import BY_ID_PREFIX, MCP_PATHS, NAMED_PREFIX, refusal_body, speaks_jsonrpc, split_path
from mcpgate.errors import Forbidden, GatewayError, TooManyRequests, Unauthorized
from mcpgate.hub.gateway import Hub
from mcpgate.hub.servers import VirtualServer

if TYPE_CHECKING:
    from mcpgate.oauth.bearer import BearerTokens

OPEN_PATHS = frozenset({"/health", "/oauth/callback"})  # the callback: a browser back from an upstream's sign-in
ADMIN_ONLY = ("/api/v1/keys", "/api/v1/users", "/api/v1/audit", "/api/v1/oauth")
_READS = frozenset({"GET", "HEAD", "OPTIONS"})
UNAUTHORIZED_CODE = -32001

AuthFailure = Callable[[Scope, str], Awaitable[None] | None]


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        auth: Authenticator,
        hub: Hub,
        limiter: RateLimiter | None = None,
        on_failure: AuthFailure | None = None,
        oauth: BearerTokens | None = None,
    ) -> None:
        self.app = app
        self.auth = auth
        self.hub = hub
        self.limiter = limiter
        self.on_failure = on_failure
        self.oauth = oauth  # OAuth on (oauth/): bearer tokens that are not keys, and the metadata paths

    def __call__(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        path = scope["path"] if scope["type"] == "http" else ""
        if (
            scope["type"] != "http"
            or path in OPEN_PATHS
            or _is_docs_page(path)
            or self._oauth_path(path)
            or is_admin_ui(path)
        ):
            return self.app(scope, receive, send)
        if self.oauth is not None or (self.limiter is not None and self.limiter.counts(self._config_of(path))):
            return self._admit_then(scope, receive, send)  # a token to look up, a limit to count: awaited
        # Keys only: judged at once, and the app's coroutine handed on (HANDS_ON in edge/http.py).
        try:
            principal, user = self._admit(scope)
        except GatewayError as exc:
            return self._refuse(scope, send, exc)
        self._admitted(scope, principal, user, None)
        return self.app(scope, receive, send)

    async def _admit_then(self, scope: Scope, receive: Receive, send: Send) -> None:
        try:
            token_holder = await self._token_holder(scope)
            principal, user = self._admit(scope, token_holder)
            if self.limiter is not None:
                server = self._server_of(scope["path"])
                client = scope.get("client")
                await self.limiter.check(
                    principal,
                    user,
                    client[0] if client else None,
                    server.id if server else None,
                    server.config if server else None,
                )
        except GatewayError as exc:
            await self._refuse(scope, send, exc)
            return
        self._admitted(scope, principal, user, token_holder)
        await self.app(scope, receive, send)

    def _admitted(
        self, scope: Scope, principal: Principal, user: str | None, token_holder: tuple[Principal, str | None] | None
    ) -> None:
        """What the transports read of the caller, put in the request's scope."""
        scope[PRINCIPAL_KEY] = principal
        if user is not None:
            scope[USER_KEY] = user
        if token_holder is not None or (self.auth.enforcing and self.auth.carries_gateway_key(request_headers(scope))):
            scope[GATEWAY_KEY_IN_AUTHORIZATION] = True  # never passed through to an upstream

    def _oauth_path(self, path: str) -> bool:
        if self.oauth is None:
            return False
        from mcpgate.oauth.endpoints import is_oauth_path

        return is_oauth_path(path)

    async def _token_holder(self, scope: Scope) -> tuple[Principal, str | None] | None:
        """Whom an OAuth bearer token speaks for (None: no such token: no OAuth, a key, or none at all).
        On a public server a token that is not valid here is the caller's token for the upstreams."""
        if self.oauth is None:
            return None
        headers = request_headers(scope)
        from mcpgate.oauth.bearer import bearer_token

        token = bearer_token(headers)
        if token is None or "x-api-key" in headers or self.auth.carries_gateway_key(headers):
            return None
        try:
            return await self.oauth.principal(token, scope)
        except Unauthorized as exc:
            if self._public(scope["path"]):
                return None
            raise Unauthorized(exc.message, token_refused=True) from None

    def _admit(
        self, scope: Scope, token_holder: tuple[Principal, str | None] | None = None
    ) -> tuple[Principal, str | None]:
        headers = request_headers(scope)
        path: str = scope["path"]
        user = headers.get("x-username")
        if user is not None and not USERNAME.match(user):
            raise Forbidden("x-username must be 1-128 letters, digits or . _ @ + - characters")
        if not self.auth.enforcing:
            return OPEN, user
        principal: Principal | None = scope.get(IN_PROCESS_CALLER)
        if token_holder is not None:
            principal, subject = token_holder
            if subject is not None:  # an external issuer's token names its end user itself
                if user is not None and user != subject:
                    raise Forbidden("x-username differs from the end user the access token names")
                user = subject
        if principal is None:
            try:
                principal = self.auth.authenticate(headers)
            except Unauthorized:
                # On a public server an `Authorization` that is not a gateway key is the caller's
                # token for the upstreams (passed through), not a failed login.
                if "x-api-key" in headers or not self._public(path):
                    raise
                principal = None
        server_id: str | None = None
        if path in MCP_PATHS or _is_default_rest(path):
            needed: str | None = "tools:call"
        elif path.startswith((NAMED_PREFIX, BY_ID_PREFIX)):
            needed = "tools:call"
            server = self.hub.find_server(_server_ident(path))
            if server is None:
                if principal is None:
                    raise Unauthorized("an API key is required")
                return principal, user  # the endpoint answers 404 itself
            server_id = server.id
            if principal is None and server.is_public:
                principal = anonymous_on(server.id)
        elif path.startswith(ADMIN_ONLY):
            needed = "admin"
        elif path.startswith(("/api/v1/upstreams", "/api/v1/mcp_manager")):
            needed = "servers:read" if scope["method"] in _READS else "servers:write"
        else:
            needed = None
        if principal is None:
            raise Unauthorized("an API key is required: send `Authorization: Bearer <key>` or `x-api-key: <key>`")
        if needed is not None and not principal.allows(needed):
            raise Forbidden(f"this key lacks the scope {needed!r}", data={"scope": needed})
        if needed == "tools:call" and not principal.may_use(server_id):
            where = "the default endpoint (it reaches every tool)" if server_id is None else "this virtual server"
            raise Forbidden(f"this key may not use {where}")
        if user is not None and not principal.allows("users:act") and not (token_holder and token_holder[1]):
            raise Forbidden("acting for an end user (x-username) needs the scope 'users:act'")
        return principal, user

    def _server_of(self, path: str) -> VirtualServer | None:
        if not path.startswith((NAMED_PREFIX, BY_ID_PREFIX)):
            return None
        return self.hub.find_server(_server_ident(path))

    def _config_of(self, path: str) -> Any:
        server = self._server_of(path)
        return server.config if server is not None else None

    def _public(self, path: str) -> bool:
        server = self._server_of(path)
        return server is not None and server.is_public

    async def _refuse(self, scope: Scope, send: Send, exc: GatewayError) -> None:
        if self.on_failure is not None and isinstance(exc, Unauthorized):
            if (recorded := self.on_failure(scope, exc.message)) is not None:
                await recorded  # kept before the refusal is sent (a fleet's audit)
        status = exc.http_status
        headers = []
        if status == 401 or (status == 403 and self.oauth is not None):
            headers.append((b"www-authenticate", self._challenge(scope, exc).encode()))
        if isinstance(exc, TooManyRequests):
            headers.append((b"retry-after", str(exc.retry_after).encode()))
        label = {401: "Unauthorized", 403: "Forbidden", 429: "Too Many Requests"}.get(status, "Refused")
        path: str = scope["path"]
        message = f"{label}: {exc.message}" if speaks_jsonrpc(path) else exc.message
        await send_json(send, status, refusal_body(path, status, message, UNAUTHORIZED_CODE), headers)

    def _challenge(self, scope: Scope, exc: GatewayError) -> str:
        """`WWW-Authenticate`: with OAuth on, where the resource's metadata is (RFC 9728), and what was wrong."""
        if self.oauth is None:
            return 'Bearer realm="mcpgate"'
        if exc.http_status == 403:
            needed = exc.data.get("scope") if isinstance(exc.data, dict) else None
            return self.oauth.challenge(scope, "insufficient_scope" if needed else None, needed)
        return self.oauth.challenge(scope, "invalid_token" if getattr(exc, "token_refused", False) else None)


def _server_ident(path: str) -> str:
    return split_path(path)[1] or ""


def _is_default_rest(path: str) -> bool:
    return not path.startswith((NAMED_PREFIX, BY_ID_PREFIX, "/api/")) and is_rest(path[1:].rstrip("/"))


def _is_docs_page(path: str) -> bool:
    if path == MANAGEMENT_DOCS or path.startswith(DOCS_ASSETS):
        return True
    return path.endswith(("/docs", "/docs/")) and split_path(path)[2] == "docs"
