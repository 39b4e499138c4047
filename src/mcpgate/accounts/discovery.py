"""Where an upstream's tokens come from: its protected resource metadata (RFC 9728, found from its
401 or the well-known addresses), then its authorization server's metadata (RFC 8414 or OIDC),
and this gateway's registration there (RFC 7591). The addresses tried are the SDK's (the same
order its own OAuth client follows); the documents are checked with the SDK's models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import httpx
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    issuers_match,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, ProtectedResourceMetadata
from pydantic import ValidationError

from mcpgate import __version__
from mcpgate.errors import UpstreamError, shown_url

_TIMEOUT = 10.0
_MAX_BYTES = 256 * 1024


class DiscoveryFailed(UpstreamError):
    """The upstream's authorization server cannot be found or used; the message says why."""


@dataclass(frozen=True, slots=True)
class AuthorizationServer:
    resource: str  # what tokens are asked for (RFC 8707)
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    registration_endpoint: str | None
    scopes: list[str] | None
    auth_methods: list[str]

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "registration_endpoint": self.registration_endpoint,
            "scopes": self.scopes,
            "auth_methods": self.auth_methods,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthorizationServer:
        return cls(**data)


def resource_metadata_url(challenge: str | None) -> str | None:
    """The `resource_metadata` of a WWW-Authenticate challenge (RFC 9728 §5.1)."""
    found = re.search(r'resource_metadata="([^"]+)"', challenge or "")
    return found.group(1) if found else None


async def discover(upstream_url: str, challenge: str | None) -> AuthorizationServer:
    async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http:
        resource = upstream_url
        issuer: str | None = None
        for url in build_protected_resource_metadata_discovery_urls(resource_metadata_url(challenge), upstream_url):
            document = await _document(http, url)
            if document is None:
                continue
            try:
                metadata = ProtectedResourceMetadata.model_validate(document)
            except ValidationError:
                continue
            resource, issuer = str(metadata.resource), str(metadata.authorization_servers[0])
            break
        for url in build_oauth_authorization_server_metadata_discovery_urls(issuer, upstream_url):
            document = await _document(http, url)
            if document is None:
                continue
            try:
                server = OAuthMetadata.model_validate(document)
            except ValidationError:
                continue
            if issuer is not None and not issuers_match(str(server.issuer), issuer):
                raise DiscoveryFailed(
                    f"the authorization server at {shown_url(url)} names another issuer ({server.issuer})"
                )
            if server.code_challenge_methods_supported and "S256" not in server.code_challenge_methods_supported:
                raise DiscoveryFailed(f"the authorization server {server.issuer} does not support PKCE S256")
            return AuthorizationServer(
                resource=resource,
                issuer=str(server.issuer),
                authorization_endpoint=str(server.authorization_endpoint),
                token_endpoint=str(server.token_endpoint),
                registration_endpoint=str(server.registration_endpoint) if server.registration_endpoint else None,
                scopes=server.scopes_supported,
                auth_methods=server.token_endpoint_auth_methods_supported or ["client_secret_basic"],
            )
    raise DiscoveryFailed(f"found no OAuth authorization server for {shown_url(upstream_url)}")


async def register(server: AuthorizationServer, redirect_uri: str, name: str) -> OAuthClientInformationFull:
    """This gateway registered as a client (RFC 7591): confidential if the server takes a secret in
    the token request's body, else public (PKCE is what proves it either way)."""
    if server.registration_endpoint is None:
        raise DiscoveryFailed(
            f"the authorization server {server.issuer} offers no client registration: this gateway cannot sign up there"
        )
    method = "client_secret_post" if "client_secret_post" in server.auth_methods else "none"
    body = {
        "client_name": name,
        "redirect_uris": [redirect_uri],
        "grant_types": ["authorization_code", "refresh_token"],
        "response_types": ["code"],
        "token_endpoint_auth_method": method,
        "software_id": "mcpgate",
        "software_version": __version__,
        **({"scope": " ".join(server.scopes)} if server.scopes else {}),
    }
    async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http:
        try:
            answer = await http.post(server.registration_endpoint, json=body)
        except httpx.HTTPError as exc:
            raise DiscoveryFailed(f"registering at {shown_url(server.registration_endpoint)} failed: {exc}") from None
    if answer.status_code not in (200, 201):
        raise DiscoveryFailed(
            f"{shown_url(server.registration_endpoint)} refused the registration (HTTP {answer.status_code}: "
            f"{oauth_error(answer)})"
        )
    try:
        return OAuthClientInformationFull.model_validate_json(answer.content)
    except ValidationError:
        raise DiscoveryFailed(f"{shown_url(server.registration_endpoint)} answered no usable registration") from None


async def _document(http: httpx.AsyncClient, url: str) -> dict[str, Any] | None:
    try:
        answer = await http.get(url, headers={"accept": "application/json"})
    except httpx.HTTPError:
        return None
    if answer.status_code != 200 or len(answer.content) > _MAX_BYTES:
        return None
    try:
        document = answer.json()
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def oauth_error(answer: httpx.Response) -> str:
    """An OAuth error answer's `error` and description, never more (it may echo what was sent)."""
    try:
        body = answer.json()
    except ValueError:
        return "not JSON"
    if not isinstance(body, dict):
        return "not an OAuth error"
    return " ".join(str(body[k])[:200] for k in ("error", "error_description") if k in body) or "no error given"
