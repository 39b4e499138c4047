"""Accounts at upstreams that sign in with OAuth (accounts/): the links that connect an end user's
account (or the gateway's own, which serves callers without one of theirs), and disconnecting.

    POST   /users/{name}/connections/{upstream}/authorize     → {"authorizationUrl"}  (admin)
    DELETE /users/{name}/connections/{upstream}/authorization                          (admin)
    POST   /upstreams/{name}/authorize                        → {"authorizationUrl"}  (servers:write)
    DELETE /upstreams/{name}/authorization                                             (servers:write)
    GET    /upstreams/{name}/accounts                         → who is connected there (servers:read)

The person opens the link in a browser, signs in at the upstream's authorization server, and
comes back to this gateway's /oauth/callback; from then on their calls carry their token. Making
a link may register this gateway at the upstream's authorization server first, while the request
waits: 502 when that server cannot be found or refuses, 504 when it is too slow.
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from mcpgate.access.principal import USERNAME
from mcpgate.accounts.service import UpstreamAccounts
from mcpgate.admin.context import Admin
from mcpgate.admin.schemas import ERRORS, UPSTREAM_ERRORS
from mcpgate.errors import NotFound, Unprocessable


class AuthorizationLink(BaseModel):
    authorizationUrl: str = Field(description="Open it in a browser: it ends at this gateway's /oauth/callback.")


class UpstreamAccountsOut(BaseModel):
    upstream: str
    wantsOAuth: bool = Field(description="The upstream answered 401, or an account is connected there.")
    gateway: bool = Field(description="The gateway's own account is connected (it serves callers without one).")
    users: list[str] = Field(description="End users whose accounts are connected.")


def router(admin: Admin) -> APIRouter:
    api = APIRouter(tags=["accounts at upstreams"], responses=ERRORS)

    def accounts() -> UpstreamAccounts:
        found = admin.hub.authorizations
        assert isinstance(found, UpstreamAccounts), "app.open_services sets them"
        return found

    async def link(request: Request, upstream: str, user: str | None) -> AuthorizationLink:
        found = accounts()
        base = found.base(str(request.base_url).rstrip("/"))
        return AuthorizationLink(authorizationUrl=await found.start(upstream, user, base))

    @api.post(
        "/users/{name}/connections/{upstream}/authorize",
        response_model=AuthorizationLink,
        responses=UPSTREAM_ERRORS,  # finding and registering at its authorization server happen here
        summary="A link that connects the user's account at an upstream that signs in with OAuth",
    )
    async def authorize_user(name: str, upstream: str, request: Request) -> AuthorizationLink:
        if not USERNAME.match(name):
            raise Unprocessable(f"{name!r} is not a user name: 1-128 letters, digits or . _ @ + - characters")
        return await link(request, upstream, name)

    @api.delete(
        "/users/{name}/connections/{upstream}/authorization",
        status_code=204,
        response_class=Response,
        summary="Disconnect the user's account at an upstream (its tokens are forgotten)",
    )
    async def disconnect_user(name: str, upstream: str) -> Response:
        await _disconnect(accounts(), upstream, name)
        return Response(status_code=204)

    @api.post(
        "/upstreams/{name}/authorize",
        response_model=AuthorizationLink,
        responses=UPSTREAM_ERRORS,  # finding and registering at its authorization server happen here
        summary="A link that connects the gateway's own account at an upstream (used by callers without theirs)",
    )
    async def authorize_gateway(name: str, request: Request) -> AuthorizationLink:
        return await link(request, name, None)

    @api.delete(
        "/upstreams/{name}/authorization",
        status_code=204,
        response_class=Response,
        summary="Disconnect the gateway's own account at an upstream",
    )
    async def disconnect_gateway(name: str) -> Response:
        await _disconnect(accounts(), name, None)
        return Response(status_code=204)

    @api.get("/upstreams/{name}/accounts", response_model=UpstreamAccountsOut, summary="Who is connected there")
    async def upstream_accounts(name: str) -> UpstreamAccountsOut:
        if name not in admin.hub.upstreams:
            raise NotFound(f"no upstream named {name!r}")
        found = accounts()
        connected = found.connected(name)
        return UpstreamAccountsOut(
            upstream=name,
            wantsOAuth=found.wanted(name),
            gateway="" in connected,
            users=[user for user in connected if user],
        )

    return api


async def _disconnect(accounts: UpstreamAccounts, upstream: str, user: str | None) -> None:
    if (user or "") not in accounts.connected(upstream):
        who = f"user {user!r}" if user else "the gateway"
        raise NotFound(f"{who} has no account connected at {upstream!r}")
    await accounts.disconnect(upstream, user)
