"""What the guard asks of OAuth: whom a bearer token (that is not one of the gateway's keys)
speaks for at the endpoint it was sent to, and what a refusal tells the client (RFC 6750 §3,
RFC 9728 §5.1: where the resource's metadata is, so the client can find the authorization server).

Tokens are taken at the MCP and REST tool endpoints only; the management API wants a key.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from starlette.types import Scope

from mcpgate.access.principal import Principal
from mcpgate.errors import Unauthorized
from mcpgate.hub.gateway import Hub
from mcpgate.oauth.resources import Resource, base_url, is_protected, resource_of


class TokenJudge(Protocol):
    async def judge(self, token: str, resource: Resource, base: str) -> tuple[Principal, str | None]:
        """The principal and end user a token names at `resource`; `Unauthorized` when it may not be used there."""
        ...


def bearer_token(headers: Mapping[str, str]) -> str | None:
    scheme, _, value = headers.get("authorization", "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


class BearerTokens:
    def __init__(self, hub: Hub, judge: TokenJudge, public_url: str | None) -> None:
        self.hub = hub
        self.judge = judge
        self.public_url = public_url  # where clients reach the gateway; None: the Host of each request

    def _base(self, scope: Scope) -> str:
        return base_url(scope, self.public_url)

    async def principal(self, token: str, scope: Scope) -> tuple[Principal, str | None]:
        path: str = scope["path"]
        resource = resource_of(path, self.hub) if is_protected(path) else None
        if resource is None:
            raise Unauthorized("an OAuth access token is taken by the MCP and REST tool endpoints only")
        return await self.judge.judge(token, resource, self._base(scope))

    def challenge(self, scope: Scope, error: str | None = None, needed: str | None = None) -> str:
        """The `WWW-Authenticate` value of a refusal at this request's endpoint."""
        parts = ['Bearer realm="mcpgate"']
        path: str = scope["path"]
        resource = resource_of(path, self.hub) if is_protected(path) else None
        if resource is not None:
            parts.append(f'resource_metadata="{resource.metadata_url(self._base(scope))}"')
        if error is not None:
            parts.append(f'error="{error}"')
        if needed is not None:
            parts.append(f'scope="{needed}"')
        return ", ".join(parts)
