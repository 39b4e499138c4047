"""The built-in authorization server as the SDK's handlers see it (`OAuthAuthorizationServerProvider`).

The SDK's handlers parse and check the requests — authorization (PKCE S256 only, redirect URIs),
token (code and refresh grants, the code verifier), registration (RFC 7591), revocation (RFC
7009); this class answers them from the registry:

    clients      registered ones (the registry) or, for an https client_id, its metadata document
    authorize    the resource (RFC 8707) must be one of this gateway's; the person is sent to the
                 sign-in page (sign_in.py) with the request sealed, so it cannot be altered there
    codes        made by the sign-in page; spent once: a second use revokes what the first made
    refresh      rotated: each use gives a new refresh token, and a replay revokes the grant
"""

from __future__ import annotations

import logging
import uuid
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any

from mcp.server.auth.provider import (
    AccessToken,
    AuthorizationCode,
    AuthorizationParams,
    AuthorizeError,
    RefreshToken,
    RegistrationError,
    TokenError,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthToken

from mcpgate.access.authentication import Authenticator
from mcpgate.errors import Unauthorized
from mcpgate.hub.gateway import Hub
from mcpgate.oauth.client_documents import ClientDocuments
from mcpgate.oauth.issuer import Issuer, digest
from mcpgate.oauth.resources import DEFAULT, resource_from_url
from mcpgate.oauth.sign_in import PendingRequests
from mcpgate.store.oauth import Grant, OAuthStore, RegisteredClient

logger = logging.getLogger(__name__)

# The base URL of the request being handled (resources.base_url): the SDK's handlers don't pass the request on.
REQUEST_BASE: ContextVar[str] = ContextVar("oauth_request_base")
SIGN_IN_PATH = "/oauth/sign-in"


class GrantedCode(AuthorizationCode):
    key_ref: str
    client_name: str
    server_id: str | None
    issuer: str


class GrantRefreshToken(RefreshToken):
    grant: Any  # the Grant it continues


class GatewayProvider:
    def __init__(
        self,
        store: OAuthStore,
        issuer: Issuer,
        auth: Authenticator,
        hub: Hub,
        pending: PendingRequests,
        documents: ClientDocuments | None,
    ) -> None:
        self.store = store
        self.issuer = issuer
        self.auth = auth
        self.hub = hub
        self.pending = pending
        self.documents = documents

    # -- clients -------------------------------------------------------------------------

    async def get_client(self, client_id: str) -> OAuthClientInformationFull | None:
        if client_id.startswith("https://"):
            return await self.documents.client(client_id) if self.documents is not None else None
        stored = await self.store.client(client_id)
        if stored is None:
            return None
        return OAuthClientInformationFull.model_validate(
            {**stored.registration, "client_id": stored.client_id, "client_secret": stored.secret}
        )

    async def register_client(self, client_info: OAuthClientInformationFull) -> None:
        if not client_info.redirect_uris:
            raise RegistrationError("invalid_redirect_uri", "redirect_uris is required")
        registration = client_info.model_dump(mode="json", exclude={"client_id", "client_secret"}, exclude_none=True)
        await self.store.add_client(
            RegisteredClient(client_info.client_id, registration, client_info.client_secret, datetime.now(UTC))
        )
        logger.info("OAuth: client %r registered as %s", client_info.client_name, client_info.client_id)

    # -- authorization -------------------------------------------------------------------

    async def authorize(self, client: OAuthClientInformationFull, params: AuthorizationParams) -> str:
        base = REQUEST_BASE.get()
        resource_url = params.resource or DEFAULT.url(base)
        resource = resource_from_url(resource_url, base, self.hub)
        if resource is None:
            raise AuthorizeError("invalid_target", f"{resource_url} is not an MCP endpoint of this gateway")
        sealed = self.pending.seal(
            {
                "client_id": client.client_id,
                "client_name": client.client_name or client.client_id,
                "redirect_uri": str(params.redirect_uri),
                "explicit": params.redirect_uri_provided_explicitly,
                "state": params.state,
                "scopes": params.scopes or ["tools:call"],
                "challenge": params.code_challenge,
                "resource": resource_url,
                "server_id": resource.server_id,
                "issuer": base,
            }
        )
        return f"{base}{SIGN_IN_PATH}?request={sealed}"

    async def load_authorization_code(self, client: OAuthClientInformationFull, authorization_code: str) -> Any:
        code = await self.store.code(digest(authorization_code))
        if code is None or code.details is None or code.details["client_id"] != client.client_id:
            return None
        if not code.first:  # a replay: whatever the first exchange issued is revoked (OAuth 2.1 §4.1.3)
            if code.grant_id is not None:
                logger.warning("OAuth: an authorization code was used twice; grant %s is revoked", code.grant_id)
                await self.issuer.revoke_grant(code.grant_id)
            return None
        details = code.details
        return GrantedCode(
            code=authorization_code,
            scopes=details["scopes"],
            expires_at=code.expires_at.timestamp(),
            client_id=details["client_id"],
            code_challenge=details["challenge"],
            redirect_uri=details["redirect_uri"],
            redirect_uri_provided_explicitly=details["explicit"],
            resource=details["resource"],
            key_ref=details["key_ref"],
            client_name=details["client_name"],
            server_id=details["server_id"],
            issuer=details["issuer"],
        )

    async def exchange_authorization_code(
        self, client: OAuthClientInformationFull, authorization_code: GrantedCode
    ) -> OAuthToken:
        code_digest = digest(authorization_code.code)
        use = await self.store.spend(code_digest, "code", datetime.now(UTC))
        if use is None or not use.first:
            raise TokenError("invalid_grant", "the authorization code was already used")
        if self.auth.holder(authorization_code.key_ref) is None:
            raise TokenError("invalid_grant", "the API key that allowed this was revoked or expired")
        grant = Grant(
            id=str(uuid.uuid4()),
            client_id=client.client_id,
            client_name=authorization_code.client_name[:256],
            key_id=authorization_code.key_ref,
            server_id=authorization_code.server_id,
            resource=authorization_code.resource or "",
            scopes=frozenset(authorization_code.scopes),
            created_at=datetime.now(UTC),
        )
        tokens = await self.issuer.mint(grant, authorization_code.issuer, new=True, code_digest=code_digest)
        logger.info("OAuth: client %r was granted %s (grant %s)", grant.client_name, grant.resource, grant.id)
        return _answer(tokens.access_token, tokens.refresh_token, tokens.expires_in, tokens.scopes)

    # -- refresh and revocation ----------------------------------------------------------

    async def load_refresh_token(self, client: OAuthClientInformationFull, refresh_token: str) -> Any:
        grant = await self.issuer.refreshable(refresh_token, client.client_id)
        if grant is None:
            return None
        return GrantRefreshToken(
            token=refresh_token, client_id=client.client_id, scopes=sorted(grant.scopes), grant=grant
        )

    async def exchange_refresh_token(
        self, client: OAuthClientInformationFull, refresh_token: GrantRefreshToken, scopes: list[str]
    ) -> OAuthToken:
        try:
            tokens = await self.issuer.refresh(
                refresh_token.token, refresh_token.grant, frozenset(scopes), REQUEST_BASE.get()
            )
        except Unauthorized as exc:
            raise TokenError("invalid_grant", exc.message) from None
        return _answer(tokens.access_token, tokens.refresh_token, tokens.expires_in, tokens.scopes)

    async def load_access_token(self, token: str) -> AccessToken | None:
        stored = await self.store.token(digest(token), "access")
        if stored is None:
            return None
        grant, expires, _ = stored
        return AccessToken(
            token=token, client_id=grant.client_id, scopes=sorted(grant.scopes), expires_at=int(expires.timestamp())
        )

    async def revoke_token(self, token: AccessToken | RefreshToken) -> None:
        await self.issuer.revoke_token(token.token)


def _answer(access: str, refresh: str, expires_in: int, scopes: frozenset[str]) -> OAuthToken:
    return OAuthToken(
        access_token=access,
        token_type="Bearer",
        expires_in=expires_in,
        scope=" ".join(sorted(scopes)),
        refresh_token=refresh,
    )
