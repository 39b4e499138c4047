"""`/api/v1/oauth`: the built-in authorization server's registered clients and grants, listed and
revoked (admin). `OAuthRecords` is what both this API and the offline CLI show of them.

    GET    /oauth/clients                      registrations (never a client's secret)
    DELETE /oauth/clients/{client_id}          unregister; its grants are revoked
    GET    /oauth/grants?clientId=&keyId=&state=
    GET    /oauth/grants/{id}
    DELETE /oauth/grants/{id}                  revoke: its tokens stop at once, its sessions end

A client named by its metadata document has an https URL as its id: the route takes it as is
(`/oauth/clients/https://app.example/client.json`) or percent-encoded. Such a client is not
registered here, so it is not in the list; removing it revokes its grants (it may sign in again:
it needs no registration).

With OAuth off or external there is no issuer here, and every route answers 404 saying so.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, Field

from mcpgate.access.authentication import Authenticator
from mcpgate.access.principal import STATIC
from mcpgate.admin.context import Admin
from mcpgate.admin.schemas import ERRORS
from mcpgate.errors import NotFound
from mcpgate.store.oauth import Grant, OAuthStore, RegisteredClient

if TYPE_CHECKING:
    from mcpgate.oauth.issuer import Issuer

GrantState = Literal["active", "revoked"]

# -- wire models -------------------------------------------------------------------------


class OAuthClientOut(BaseModel):
    clientId: str
    clientName: str | None = None
    redirectUris: list[str]
    tokenEndpointAuthMethod: str | None = Field(None, description="none (a public client), client_secret_post, …")
    createdAt: datetime
    activeGrants: int = Field(description="Grants not revoked whose API key is still valid.")


class OAuthClientList(BaseModel):
    data: list[OAuthClientOut]


class OAuthClientRemoved(BaseModel):
    clientId: str
    revokedGrants: list[str] = Field(description="The ids of the grants this revoked.")


class OAuthGrantOut(BaseModel):
    id: str
    clientId: str
    clientName: str
    keyId: str = Field(description="The API key the person signed in with (a grant has at most its rights).")
    keyName: str | None = None
    serverId: str | None = Field(None, description="The virtual server the tokens are bound to; null: /mcp.")
    serverName: str | None = None
    resource: str
    scopes: list[str]
    state: GrantState = Field(description="revoked: revoked itself, or its API key is revoked or expired.")
    createdAt: datetime
    refreshedAt: datetime | None = None
    revokedAt: datetime | None = None


class OAuthGrantList(BaseModel):
    data: list[OAuthGrantOut]


# -- what is shown -----------------------------------------------------------------------


class OAuthRecords:
    """Clients with their active grants counted, and grants with their key's and server's names and
    a state that is "revoked" too once their key is no longer valid (its tokens stop then)."""

    def __init__(self, store: OAuthStore, auth: Authenticator, server_names: Mapping[str, str]) -> None:
        self.store = store
        self.auth = auth
        self.server_names = server_names

    def state(self, grant: Grant) -> GrantState:
        return "revoked" if grant.revoked_at is not None or self.auth.holder(grant.key_id) is None else "active"

    async def clients(self) -> list[OAuthClientOut]:
        active = Counter(grant.client_id for grant in await self.store.grants() if self.state(grant) == "active")
        return [_client(client, active[client.client_id]) for client in await self.store.clients()]

    async def grants(
        self, client_id: str | None = None, key_id: str | None = None, state: GrantState | None = None
    ) -> list[OAuthGrantOut]:
        found = [
            grant
            for grant in await self.store.grants()
            if client_id in (None, grant.client_id)
            and key_id in (None, grant.key_id)
            and state in (None, self.state(grant))
        ]
        key_names = await self._key_names()
        return [self._out(grant, key_names) for grant in found]

    async def grant(self, grant_id: str) -> OAuthGrantOut:
        return await self.show(await self.store.grant(grant_id))

    async def show(self, grant: Grant) -> OAuthGrantOut:
        return self._out(grant, await self._key_names())

    def _out(self, grant: Grant, key_names: Mapping[str, str]) -> OAuthGrantOut:
        server = grant.server_id
        # Authenticator.key_ref names the static key by a prefix of its digest.
        key_name = STATIC.name if grant.key_id.startswith("static:") else key_names.get(grant.key_id)
        return OAuthGrantOut(
            id=grant.id,
            clientId=grant.client_id,
            clientName=grant.client_name,
            keyId=grant.key_id,
            keyName=key_name,
            serverId=server,
            serverName=self.server_names.get(server) if server is not None else None,
            resource=grant.resource,
            scopes=sorted(grant.scopes),
            state=self.state(grant),
            createdAt=grant.created_at,
            refreshedAt=grant.refreshed_at,
            revokedAt=grant.revoked_at,
        )

    async def _key_names(self) -> dict[str, str]:
        """Every key's name by id, revoked ones included (a grant outlives its key in the list)."""
        return {key.id: key.name for key in await self.auth.keys()}


def _client(client: RegisteredClient, active_grants: int) -> OAuthClientOut:
    registration = client.registration
    return OAuthClientOut(
        clientId=client.client_id,
        clientName=registration.get("client_name"),
        redirectUris=[str(uri) for uri in registration.get("redirect_uris", [])],
        tokenEndpointAuthMethod=registration.get("token_endpoint_auth_method"),
        createdAt=client.created_at,
        activeGrants=active_grants,
    )


# -- the routes --------------------------------------------------------------------------


def router(admin: Admin) -> APIRouter:
    api = APIRouter(prefix="/oauth", tags=["OAuth"], responses=ERRORS)

    def issuer() -> Issuer:
        if admin.oauth is None or admin.oauth.issuer is None:
            raise NotFound("OAuth's built-in server is off: set oauth.mode builtin")
        return admin.oauth.issuer

    def records() -> OAuthRecords:
        names = {server.id: server.name for server in admin.hub.servers.values()}
        return OAuthRecords(issuer().store, admin.auth, names)

    @api.get("/clients", response_model=OAuthClientList, summary="Registered OAuth clients (never their secrets)")
    async def list_oauth_clients() -> OAuthClientList:
        return OAuthClientList(data=await records().clients())

    @api.delete(
        "/clients/{client_id:path}",
        response_model=OAuthClientRemoved,
        summary="Remove an OAuth client; its grants are revoked (its tokens stop, its sessions end)",
    )
    async def remove_oauth_client(client_id: str) -> OAuthClientRemoved:
        tokens = issuer()
        # Removed (and its grants revoked) in one transaction, so a grant made meanwhile is not missed;
        # then each through the issuer: out of memory here, its sessions ended, the other replicas told.
        revoked = await tokens.store.remove_client(client_id, tokens.clock())
        for grant_id in revoked:
            await tokens.revoke_grant(grant_id)
        return OAuthClientRemoved(clientId=client_id, revokedGrants=revoked)

    @api.get("/grants", response_model=OAuthGrantList, summary="OAuth grants: what a client may do as which key")
    async def list_oauth_grants(
        clientId: str | None = Query(None, max_length=2048),
        keyId: str | None = Query(None, max_length=64),
        state: GrantState | None = None,
    ) -> OAuthGrantList:
        return OAuthGrantList(data=await records().grants(clientId, keyId, state))

    @api.get("/grants/{grant_id}", response_model=OAuthGrantOut, summary="One OAuth grant")
    async def get_oauth_grant(grant_id: str) -> OAuthGrantOut:
        return await records().grant(grant_id)

    @api.delete(
        "/grants/{grant_id}",
        response_model=OAuthGrantOut,
        summary="Revoke an OAuth grant (its tokens stop at once; its sessions end)",
    )
    async def revoke_oauth_grant(grant_id: str) -> OAuthGrantOut:
        shown = records()
        return await shown.show(await issuer().revoke_grant(grant_id))  # an unknown id: 404, nothing told

    return api
