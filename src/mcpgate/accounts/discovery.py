"""Where an upstream's tokens come from: its protected resource metadata (RFC 9728, found from its
401 or the well-known addresses), then its authorization server's metadata (RFC 8414 or OIDC),
and this gateway's registration there (RFC 7591). The addresses tried are the SDK's (the same
order its own OAuth client follows); the documents are checked with the SDK's models.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

import httpx
from mcp.client.auth.utils import (
    build_oauth_authorization_server_metadata_discovery_urls,
    build_protected_resource_metadata_discovery_urls,
    issuers_match,
    union_scopes,
)
from mcp.shared.auth import OAuthClientInformationFull, OAuthMetadata, ProtectedResourceMetadata
from mcp.shared.auth_utils import check_resource_allowed, resource_url_from_server_url
from pydantic import ValidationError

from mcpgate import __version__
from mcpgate.errors import UpstreamError, UpstreamTimeout, shown_url

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
    scopes: list[str] | None  # the authorization server's scopes_supported
    auth_methods: list[str]
    resource_scopes: list[str] | None = None  # the protected resource's scopes_supported (RFC 9728)

    def as_dict(self) -> dict[str, Any]:
        return {
            "resource": self.resource,
            "issuer": self.issuer,
            "authorization_endpoint": self.authorization_endpoint,
            "token_endpoint": self.token_endpoint,
            "registration_endpoint": self.registration_endpoint,
            "scopes": self.scopes,
            "auth_methods": self.auth_methods,
            "resource_scopes": self.resource_scopes,
        }

    @classmethod
    def at_default_paths(cls, upstream_url: str) -> AuthorizationServer:
        """2025-03-26's rule for a server with no metadata at all: the authorization server is the
        MCP server's origin, at its default paths."""
        parts = urlsplit(upstream_url)
        origin = f"{parts.scheme}://{parts.netloc}"
        return cls(
            resource=upstream_url,
            issuer=origin,
            authorization_endpoint=f"{origin}/authorize",
            token_endpoint=f"{origin}/token",
            registration_endpoint=f"{origin}/register",
            scopes=None,
            auth_methods=["client_secret_basic"],
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AuthorizationServer:
        return cls(**data)


def resource_metadata_url(challenge: str | None) -> str | None:
    """The `resource_metadata` of a WWW-Authenticate challenge (RFC 9728 §5.1)."""
    found = re.search(r'resource_metadata="([^"]+)"', challenge or "")
    return found.group(1) if found else None


def challenge_scope(challenge: str | None) -> str | None:
    """The `scope` of a WWW-Authenticate challenge (RFC 6750 §3), if it names one."""
    found = re.search(r'(?:^|[\s,])scope="([^"]*)"', challenge or "")
    return (found.group(1).strip() or None) if found else None


def requested_scope(server: AuthorizationServer, challenge: str | None, previous: str | None = None) -> str | None:
    """What to ask for, as MCP's scope selection strategy says (and the SDK's client does): the
    challenge's scope, else all the resource's scopes_supported, else the authorization server's,
    else none; offline_access added where the server offers it (SEP-2207: the gateway refreshes
    tokens); on a step-up, together with what was asked before (SEP-2350)."""
    chosen = challenge_scope(challenge)
    if chosen is None:
        offered = server.resource_scopes if server.resource_scopes is not None else server.scopes
        chosen = " ".join(offered) if offered else None
    if chosen is not None and "offline_access" in (server.scopes or []) and "offline_access" not in chosen.split():
        chosen = f"{chosen} offline_access"
    return union_scopes(previous, chosen)


async def discover(upstream_url: str, challenge: str | None) -> AuthorizationServer:
    async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http:
        resource = upstream_url
        issuer: str | None = None
        resource_scopes: list[str] | None = None
        for url in build_protected_resource_metadata_discovery_urls(resource_metadata_url(challenge), upstream_url):
            document = await _document(http, url)
            if document is None:
                continue
            try:
                metadata = ProtectedResourceMetadata.model_validate(document)
            except ValidationError:
                continue
            if not check_resource_allowed(resource_url_from_server_url(upstream_url), str(metadata.resource)):
                raise DiscoveryFailed(
                    f"{shown_url(url)} describes another resource ({metadata.resource}), not {shown_url(upstream_url)}"
                )
            resource, issuer = str(metadata.resource), str(metadata.authorization_servers[0])
            resource_scopes = metadata.scopes_supported
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
                resource_scopes=resource_scopes,
            )
    if issuer is None:
        return AuthorizationServer.at_default_paths(upstream_url)
    raise DiscoveryFailed(f"found no OAuth authorization server for {shown_url(upstream_url)}")


async def register(server: AuthorizationServer, redirect_uri: str, name: str) -> OAuthClientInformationFull:
    """This gateway registered as a client (RFC 7591): confidential if the server takes a secret (in
    the token request's body, else in its Authorization header), else public (PKCE is what proves it
    either way)."""
    if server.registration_endpoint is None:
        raise DiscoveryFailed(
            f"the authorization server {server.issuer} offers no client registration: this gateway cannot sign up there"
        )
    method = next((m for m in ("client_secret_post", "client_secret_basic") if m in server.auth_methods), "none")
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
        except httpx.TimeoutException:
            raise UpstreamTimeout(
                f"registering at {shown_url(server.registration_endpoint)} took longer than {_TIMEOUT:.0f} s"
            ) from None
        except httpx.HTTPError as exc:
            raise DiscoveryFailed(f"registering at {shown_url(server.registration_endpoint)} failed: {exc}") from None
    if answer.status_code not in (200, 201):
        raise DiscoveryFailed(
            f"{shown_url(server.registration_endpoint)} refused the registration (HTTP {answer.status_code}: "
            f"{oauth_error(answer)})"
        )
    try:
        client = OAuthClientInformationFull.model_validate_json(answer.content)
    except ValidationError:
        raise DiscoveryFailed(f"{shown_url(server.registration_endpoint)} answered no usable registration") from None
    if client.token_endpoint_auth_method is None:  # the server took the method asked for (RFC 7591 §3.2.1)
        client.token_endpoint_auth_method = method
    return client


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
