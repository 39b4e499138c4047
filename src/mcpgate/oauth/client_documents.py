"""Client ID metadata documents: a client whose client_id is an https URL is described by the
JSON document at that URL (MCP authorization 2025-11-25), so it needs no registration.

    documents = ClientDocuments()
    client = await documents.client("https://app.example.com/oauth/client.json")   # or None

The URL must be https with a path, and carry no user info, fragment or dot segments. The
document is fetched without following redirects, uncompressed, within 5 s in all and 64 KiB;
it must name itself (`client_id` equal to the URL) and list its redirect URIs. One that names
no `scope` (as the specification's example) may ask for any scope this server offers; the
person signing in still grants at most their key's. A document, or the reason it could not be
used, is kept for five minutes. What a failure says names the URL and the reason, never the
document's content.

Deliberately not here: HTTP caching headers, and refusing private addresses (a self-hosted
gateway's clients may well keep their documents on the same network).
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Iterable
from urllib.parse import unquote, urlsplit

import anyio
import httpx
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError

from mcpgate.errors import shown_url

logger = logging.getLogger(__name__)

_MAX_BYTES = 64 * 1024
_TIMEOUT = 5.0  # the whole fetch: connecting, and every byte of the document
_KEPT_SECONDS = 300.0
_KEPT_DOCUMENTS = 256
# What a document that names no scope may ask for: the scopes the authorization server offers.


class ClientDocuments:
    def __init__(self, offered_scopes: Iterable[str]) -> None:
        self.offered_scope = " ".join(offered_scopes)
        self._kept: OrderedDict[str, tuple[float, OAuthClientInformationFull | None]] = OrderedDict()

    async def client(self, url: str) -> OAuthClientInformationFull | None:
        kept = self._kept.get(url)
        if kept is not None and time.monotonic() - kept[0] < _KEPT_SECONDS:
            self._kept.move_to_end(url)
            return kept[1]
        client = await self._fetch(url)
        self._kept[url] = (time.monotonic(), client)
        self._kept.move_to_end(url)
        while len(self._kept) > _KEPT_DOCUMENTS:
            self._kept.popitem(last=False)
        return client

    async def _fetch(self, url: str) -> OAuthClientInformationFull | None:
        try:
            _check_url(url)
            # The limit is on the whole fetch: httpx's timeout bounds each read, and a server sending
            # a byte at a time never pauses long enough to trip it.
            with anyio.fail_after(_TIMEOUT):
                body = await _download(url)
            client = OAuthClientInformationFull.model_validate_json(body)
        except ValidationError:  # before ValueError, which it is
            return _unusable(url, "not a client metadata document")
        except TimeoutError:
            return _unusable(url, f"not fetched within {_TIMEOUT:g} s")
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as exc:
            return _unusable(url, str(exc) or type(exc).__name__)
        if client.client_id != url:
            return _unusable(url, "its client_id is not its own URL")
        if not client.redirect_uris:
            return _unusable(url, "it lists no redirect URIs")
        # A document describes a public client: it can hold no secret, and proves itself with PKCE.
        update: dict[str, object] = {"token_endpoint_auth_method": "none", "client_secret": None}
        if client.scope is None:  # the SDK's handler refuses every scope to a client that names none
            update["scope"] = self.offered_scope
        return client.model_copy(update=update)


def _check_url(url: str) -> None:
    """What a client ID URL must be (an httpx.InvalidURL or ValueError says what it is not)."""
    parsed = httpx.URL(url)
    if parsed.scheme != "https" or not parsed.host:
        raise ValueError("not an https URL")
    if parsed.userinfo or parsed.fragment:
        raise ValueError("a client ID URL carries no user info or fragment")
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise ValueError(f"port {parsed.port} out of range")
    # As written, not as httpx would send it (it resolves dot segments), nor as a server may (%2e).
    segments = unquote(urlsplit(url).path).split("/")
    if parsed.path in ("", "/") or any(segment in (".", "..") for segment in segments):
        raise ValueError("a client ID URL has a path, without . or .. segments")


async def _download(url: str) -> bytes:
    """The body at `url` if it answered 200 with at most _MAX_BYTES, uncompressed (a small
    compressed body may unpack to far more than the limit before it can be counted)."""
    headers = {"accept": "application/json", "accept-encoding": "identity"}
    async with (
        httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http,
        http.stream("GET", url, headers=headers) as response,
    ):
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}")
        if response.headers.get("content-encoding", "identity").strip().lower() != "identity":
            raise ValueError("answered compressed, though asked not to")
        body = bytearray()
        async for chunk in response.aiter_raw():
            body += chunk
            if len(body) > _MAX_BYTES:
                raise ValueError(f"larger than {_MAX_BYTES} bytes")
    return bytes(body)


def _unusable(url: str, reason: str) -> None:
    logger.warning("OAuth: the client metadata document %s cannot be used: %s", shown_url(url), reason)
