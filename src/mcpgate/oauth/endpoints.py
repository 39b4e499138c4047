"""OAuth's HTTP face: the metadata documents, and (built-in mode) the authorization server.

    GET  /.well-known/oauth-protected-resource[/<resource path>]   RFC 9728, one per resource
    GET  /.well-known/oauth-authorization-server                   RFC 8414 (built-in)
    GET  /oauth/authorize · POST /oauth/token · /oauth/register · /oauth/revoke   the SDK's handlers
    GET|POST /oauth/sign-in                                         sign_in.py
    GET  /oauth/jwks                                                the access tokens' public keys

No key is needed for any of them (the guard lets them through); they are behind the same
Host/Origin check as every route. The documents name URLs under the base URL of the request
(resources.base_url) unless `oauth.issuer` fixes it.
"""

from __future__ import annotations

from typing import Any

from mcp.server.auth.handlers.authorize import AuthorizationHandler
from mcp.server.auth.handlers.register import RegistrationHandler
from mcp.server.auth.handlers.token import TokenHandler
from mcp.server.auth.middleware.client_auth import AuthenticationError, ClientAuthenticator
from mcp.server.auth.settings import ClientRegistrationOptions
from mcp.server.transport_security import RequestBodyLimitMiddleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from mcpgate.edge.http import send_json
from mcpgate.hub.gateway import Hub
from mcpgate.oauth.provider import REQUEST_BASE, SIGN_IN_PATH, GatewayProvider
from mcpgate.oauth.resources import (
    AUTHORIZATION_SERVER_METADATA,
    RESOURCE_METADATA,
    base_url,
    resource_for_metadata,
)
from mcpgate.oauth.sign_in import SignInPage
from mcpgate.oauth.signing import ALGORITHM, SigningKeys
from mcpgate.settings import OAuthSettings

OAUTH_PREFIX = "/oauth/"
SCOPES_SUPPORTED = ["tools:call", "users:act"]
_BODY_LIMIT = 64 * 1024
_NO_STORE = [(b"cache-control", b"no-store")]


def is_oauth_path(path: str) -> bool:
    """Paths served here, open to callers without a key."""
    return path.startswith((OAUTH_PREFIX, RESOURCE_METADATA, AUTHORIZATION_SERVER_METADATA))


class OAuthEndpoints:
    def __init__(
        self,
        hub: Hub,
        settings: OAuthSettings,
        public_url: str | None,
        provider: GatewayProvider | None = None,
        keys: SigningKeys | None = None,
        sign_in: SignInPage | None = None,
    ) -> None:
        self.hub = hub
        self.settings = settings
        self.public_url = public_url  # where clients reach the gateway; None: the Host of each request
        self.keys = keys
        self._routes: dict[str, tuple[tuple[str, ...], ASGIApp]] = {}
        if provider is not None and sign_in is not None:
            clients = ClientAuthenticator(provider)
            registration = ClientRegistrationOptions(
                enabled=True, valid_scopes=SCOPES_SUPPORTED, default_scopes=["tools:call"]
            )
            self._routes = {
                "/oauth/authorize": (("GET", "POST"), _sdk(AuthorizationHandler(provider).handle)),
                "/oauth/token": (("POST",), _sdk(TokenHandler(provider, clients).handle)),
                "/oauth/register": (("POST",), _sdk(RegistrationHandler(provider, registration).handle)),
                "/oauth/revoke": (("POST",), _sdk(Revocation(provider, clients).handle)),
                SIGN_IN_PATH: (("GET", "POST"), _sdk(sign_in.handle)),
            }

    def issuer(self, scope: Scope) -> str:
        """The authorization server clients are sent to."""
        if self.settings.mode == "external":
            assert self.settings.issuer is not None
            return self.settings.issuer
        return base_url(scope, self.public_url)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        method: str = scope["method"]
        if path == RESOURCE_METADATA or path.startswith(f"{RESOURCE_METADATA}/"):
            await self._get_only(method, send) or await self._resource_metadata(scope, send)
        elif path == AUTHORIZATION_SERVER_METADATA and self.keys is not None:
            await self._get_only(method, send) or await send_json(send, 200, self._server_metadata(scope), _NO_STORE)
        elif path == "/oauth/jwks" and self.keys is not None:
            await self._get_only(method, send) or await send_json(send, 200, self.keys.published())
        elif (route := self._routes.get(path)) is not None:
            methods, handler = route
            if method not in methods:
                await _not_allowed(send, methods)
                return
            token = REQUEST_BASE.set(base_url(scope, self.public_url))
            try:
                await handler(scope, receive, send)
            finally:
                REQUEST_BASE.reset(token)
        else:
            await send_json(send, 404, {"error": "not_found", "error_description": f"No route for {path}"})

    async def _get_only(self, method: str, send: Send) -> bool:
        """Answered a method other than GET (405); False to go on."""
        if method in ("GET", "HEAD"):
            return False
        await _not_allowed(send, ("GET",))
        return True

    async def _resource_metadata(self, scope: Scope, send: Send) -> None:
        resource = resource_for_metadata(scope["path"], self.hub)
        if resource is None:
            await send_json(send, 404, {"error": "not_found", "error_description": "no such protected resource"})
            return
        base = base_url(scope, self.public_url)
        document: dict[str, Any] = {
            "resource": resource.url(base),
            "authorization_servers": [self.issuer(scope)],
            "scopes_supported": SCOPES_SUPPORTED,
            "bearer_methods_supported": ["header"],
            "resource_name": f"mcpgate: {resource.name}",
        }
        await send_json(send, 200, document, _NO_STORE)

    def _server_metadata(self, scope: Scope) -> dict[str, Any]:
        issuer = self.issuer(scope)
        return {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/oauth/authorize",
            "token_endpoint": f"{issuer}/oauth/token",
            "registration_endpoint": f"{issuer}/oauth/register",
            "revocation_endpoint": f"{issuer}/oauth/revoke",
            "jwks_uri": f"{issuer}/oauth/jwks",
            "scopes_supported": SCOPES_SUPPORTED,
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "token_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "revocation_endpoint_auth_methods_supported": ["none", "client_secret_post", "client_secret_basic"],
            "code_challenge_methods_supported": ["S256"],
            "client_id_metadata_document_supported": self.settings.client_metadata_documents,
            "access_token_signing_alg_values_supported": [ALGORITHM],
        }


class Revocation:
    """RFC 7009 token revocation. (The SDK's handler wants a `client_secret` field even from a public
    client, which has none: every client registered with `none` would be refused.)"""

    def __init__(self, provider: GatewayProvider, clients: ClientAuthenticator) -> None:
        self.provider = provider
        self.clients = clients

    async def handle(self, request: Request) -> Response:
        try:
            client = await self.clients.authenticate_request(request)
        except AuthenticationError as exc:
            return JSONResponse({"error": "invalid_client", "error_description": exc.message}, 401)
        token = (await request.form()).get("token")
        if not isinstance(token, str) or not token:
            return JSONResponse({"error": "invalid_request", "error_description": "token is required"}, 400)
        found = await self.provider.load_access_token(token) or await self.provider.load_refresh_token(client, token)
        if found is not None and found.client_id == client.client_id:
            await self.provider.revoke_token(found)
        # An unknown token is answered the same (RFC 7009 §2.2): nothing to learn from the answer.
        return Response(status_code=200, headers={"cache-control": "no-store"})


def _sdk(handler: Any) -> ASGIApp:
    """A Starlette request handler (the SDK's, or the sign-in page) as ASGI, its body bounded."""
    return RequestBodyLimitMiddleware(request_response(handler), _BODY_LIMIT)


async def _not_allowed(send: Send, methods: tuple[str, ...]) -> None:
    allow = ", ".join(methods)
    await send_json(
        send,
        405,
        {"error": "invalid_request", "error_description": f"use {allow}"},
        [(b"allow", allow.encode())],
    )
