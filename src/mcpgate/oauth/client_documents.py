"""Client ID metadata documents: a client whose client_id is an https URL is described by the
JSON document at that URL (MCP authorization 2025-11-25), so it needs no registration.

The document is fetched over https only, without following redirects, within 5 s and 64 KiB;
it must name itself (`client_id` equal to the URL) and list its redirect URIs. It is kept for
five minutes. What a failure says names the URL and the reason, never the document's content.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict

import httpx
from mcp.shared.auth import OAuthClientInformationFull
from pydantic import ValidationError

from mcpgate.errors import shown_url

logger = logging.getLogger(__name__)

_MAX_BYTES = 64 * 1024
_TIMEOUT = 5.0
_KEPT_SECONDS = 300.0
_KEPT_DOCUMENTS = 256


class ClientDocuments:
    def __init__(self) -> None:
        self._kept: OrderedDict[str, tuple[float, OAuthClientInformationFull | None]] = OrderedDict()

    async def client(self, url: str) -> OAuthClientInformationFull | None:
        kept = self._kept.get(url)
        if kept is not None and time.monotonic() - kept[0] < _KEPT_SECONDS:
            return kept[1]
        client = await self._fetch(url)
        self._kept[url] = (time.monotonic(), client)
        while len(self._kept) > _KEPT_DOCUMENTS:
            self._kept.popitem(last=False)
        return client

    async def _fetch(self, url: str) -> OAuthClientInformationFull | None:
        try:
            async with httpx.AsyncClient(timeout=_TIMEOUT, follow_redirects=False) as http:
                async with http.stream("GET", url, headers={"accept": "application/json"}) as response:
                    if response.status_code != 200:
                        raise ValueError(f"HTTP {response.status_code}")
                    body = b""
                    async for chunk in response.aiter_bytes():
                        body += chunk
                        if len(body) > _MAX_BYTES:
                            raise ValueError(f"larger than {_MAX_BYTES} bytes")
            client = OAuthClientInformationFull.model_validate_json(body)
        except (httpx.HTTPError, ValueError, ValidationError) as exc:
            reason = "not a client metadata document" if isinstance(exc, ValidationError) else str(exc)
            logger.warning("OAuth: the client metadata document %s cannot be used: %s", shown_url(url), reason)
            return None
        if client.client_id != url or not client.redirect_uris:
            logger.warning("OAuth: the client metadata document %s does not name itself or lists no redirect URIs", url)
            return None
        # A document describes a public client: it can hold no secret, and proves itself with PKCE.
        return client.model_copy(update={"token_endpoint_auth_method": "none", "client_secret": None})
