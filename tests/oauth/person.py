"""The person in an OAuth flow, and the SDK client that sends them: what a browser does with the
sign-in page (no JavaScript: a GET, a form, a POST), and an `OAuthClientProvider` wired to it."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urljoin, urlsplit

import httpx
import mcp
from mcp.client.auth import OAuthClientProvider, TokenStorage
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientInformationFull, OAuthClientMetadata, OAuthToken

REDIRECT = "http://127.0.0.1:1/callback"  # never fetched: the person reads the code off the redirect


@dataclass
class Page:
    status: int
    text: str
    url: str

    def field(self, name: str) -> str:
        found = re.search(rf'name="{name}" value="([^"]*)"', self.text)
        assert found, f"no field {name!r} on the page:\n{self.text}"
        return html.unescape(found.group(1))

    @property
    def alert(self) -> str | None:
        found = re.search(r'role="alert">([^<]*)<', self.text)
        return html.unescape(found.group(1)) if found else None


@dataclass
class Person:
    """Signs in with `api_key` (or declines) on the page an authorization URL leads to."""

    api_key: str | None
    decision: str = "allow"
    pages: list[Page] = field(default_factory=list)
    result: AuthorizationCodeResult | None = None
    redirect_params: dict[str, str] = field(default_factory=dict)

    async def open(self, authorization_url: str) -> Page:
        async with httpx.AsyncClient(timeout=10) as browser:
            answer = await browser.get(authorization_url)
            while answer.status_code in (302, 303) and not answer.headers["location"].startswith(REDIRECT):
                answer = await browser.get(urljoin(str(answer.url), answer.headers["location"]))
        # Sent back to the client at once (an error the client must hear): the page is that address.
        url = answer.headers["location"] if answer.status_code in (302, 303) else str(answer.url)
        page = Page(answer.status_code, answer.text, url)
        self.pages.append(page)
        return page

    async def submit(self, page: Page, **overrides: str) -> httpx.Response:
        form = {"request": page.field("request"), "decision": self.decision}
        if self.api_key is not None:
            form["api_key"] = self.api_key
        form.update(overrides)
        origin = "{0.scheme}://{0.netloc}".format(urlsplit(page.url))
        async with httpx.AsyncClient(timeout=10) as browser:
            return await browser.post(urljoin(page.url, "sign-in"), data=form, headers={"origin": origin})

    async def redirect_handler(self, authorization_url: str) -> None:
        page = await self.open(authorization_url)
        assert page.status == 200, page.text
        answer = await self.submit(page)
        if answer.status_code != 303:
            self.pages.append(Page(answer.status_code, answer.text, str(answer.url)))
            raise AssertionError(f"the sign-in failed: {answer.status_code} {answer.text[:300]}")
        location = answer.headers["location"]
        assert location.startswith(REDIRECT), location
        self.redirect_params = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
        if "code" in self.redirect_params:
            self.result = AuthorizationCodeResult(
                code=self.redirect_params["code"], state=self.redirect_params.get("state")
            )

    async def callback_handler(self) -> AuthorizationCodeResult:
        if self.result is None:
            raise RuntimeError(f"no code: {self.redirect_params}")
        return self.result


class MemoryStorage(TokenStorage):
    def __init__(self) -> None:
        self.tokens: OAuthToken | None = None
        self.client: OAuthClientInformationFull | None = None

    async def get_tokens(self) -> OAuthToken | None:
        return self.tokens

    async def set_tokens(self, tokens: OAuthToken) -> None:
        self.tokens = tokens

    async def get_client_info(self) -> OAuthClientInformationFull | None:
        return self.client

    async def set_client_info(self, client_info: OAuthClientInformationFull) -> None:
        self.client = client_info


def oauth_provider(
    server_url: str,
    person: Person,
    storage: MemoryStorage | None = None,
    client_metadata_url: str | None = None,
    **metadata: Any,
) -> OAuthClientProvider:
    client_metadata = OAuthClientMetadata(
        client_name=metadata.pop("client_name", "test client"),
        redirect_uris=[REDIRECT],
        grant_types=["authorization_code", "refresh_token"],
        response_types=["code"],
        token_endpoint_auth_method=metadata.pop("token_endpoint_auth_method", "none"),
        **metadata,
    )
    return OAuthClientProvider(
        server_url,
        client_metadata,
        storage or MemoryStorage(),
        redirect_handler=person.redirect_handler,
        callback_handler=person.callback_handler,
        client_metadata_url=client_metadata_url,
    )


def oauth_client(url: str, transport: str, auth: OAuthClientProvider) -> mcp.Client:
    """The official SDK client at `url` (an /sse or /mcp endpoint), authenticating with `auth`."""
    if transport == "sse":
        return mcp.Client(sse_client(url, auth=auth))
    return mcp.Client(streamable_http_client(url, http_client=create_mcp_http_client(auth=auth)), mode="legacy")


@dataclass
class Registered:
    """A client registered by hand (RFC 7591), for flows the SDK client would not make: replays,
    wrong verifiers, tampered pages."""

    base: str
    client_id: str

    @classmethod
    async def at(cls, base: str, **metadata: Any) -> Registered:
        body = {"client_name": "hand-made", "redirect_uris": [REDIRECT], "token_endpoint_auth_method": "none"}
        async with httpx.AsyncClient(timeout=10) as http:
            answer = await http.post(f"{base}/oauth/register", json={**body, **metadata})
        assert answer.status_code == 201, answer.text
        return cls(base, answer.json()["client_id"])

    def authorization_url(self, challenge: str, resource: str | None, scope: str = "tools:call") -> str:
        params = {
            "response_type": "code",
            "client_id": self.client_id,
            "redirect_uri": REDIRECT,
            "code_challenge": challenge,
            "code_challenge_method": "S256",
            "state": "s-1",
            "scope": scope,
            **({"resource": resource} if resource else {}),
        }
        return str(httpx.URL(f"{self.base}/oauth/authorize", params=params))

    async def code(self, person: Person, challenge: str, resource: str | None, scope: str = "tools:call") -> str:
        await person.redirect_handler(self.authorization_url(challenge, resource, scope))
        assert person.result is not None, person.redirect_params
        return person.result.code

    async def token(self, **form: str) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as http:
            return await http.post(f"{self.base}/oauth/token", data={"client_id": self.client_id, **form})

    async def exchange(self, code: str, verifier: str) -> httpx.Response:
        return await self.token(
            grant_type="authorization_code", code=code, code_verifier=verifier, redirect_uri=REDIRECT
        )
