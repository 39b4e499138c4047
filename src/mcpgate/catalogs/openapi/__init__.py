"""OpenAPI catalogs: an API's document served as MCP tools.

    async with open_openapi_catalog(spec, connect_timeout=30, call_timeout=60) as server:
        ...  # an OpenAPICatalogServer, served to the hub through catalogs.channel

`load_openapi_catalog` does the loading alone (the management API calls it to refuse a bad
document at registration, before anything is stored).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import httpx

from mcpgate.catalogs.guides import Guides
from mcpgate.catalogs.openapi.calls import APIClient
from mcpgate.catalogs.openapi.document import Document, SpecError, check, load_document
from mcpgate.catalogs.openapi.operations import Operations, describe_scheme
from mcpgate.catalogs.openapi.server import OpenAPICatalogServer
from mcpgate.catalogs.own_api import OwnAPI
from mcpgate.settings import NEVER_PASSED_THROUGH, OpenAPICatalogUpstream

__all__ = ["OwnAPI", "SpecError", "load_openapi_catalog", "open_openapi_catalog"]

_OWN_BASE_URL = "http://mcpgate.internal"


async def load_openapi_catalog(
    spec: OpenAPICatalogUpstream, *, connect_timeout: float, call_timeout: float, own_api: OwnAPI | None = None
) -> OpenAPICatalogServer:
    """Read the document (and guides) and build the catalog; `SpecError` says what is wrong."""
    transport: httpx.AsyncBaseTransport | None = None
    if spec.is_own_api:
        if own_api is None:
            raise SpecError("spec 'self' names this gateway's own API, which this process does not serve")
        with anyio.fail_after(connect_timeout):
            raw, transport = await own_api.wait()
        document = Document(raw, "this gateway's management API")
        check(document)
        base_url: str | None = spec.base_url or _OWN_BASE_URL
    else:
        document = await load_document(spec.spec, timeout=connect_timeout)
        base_url = spec.base_url or document.server_url()
    if spec.live_tools != "none" and base_url is None:
        raise SpecError(
            f"{spec.spec} names no absolute server URL for live calls: set `baseUrl`, or liveTools 'none' "
            "for reference tools only"
        )
    operations, guides = await anyio.to_thread.run_sync(_index, document, spec.guides)
    api = None
    if spec.live_tools != "none" and base_url is not None:
        # A little under the hub's own deadline, so a slow API is a clear tool error, not a timeout.
        timeout = max(0.5, call_timeout * 0.9)
        api = APIClient(base_url, spec.headers, timeout=timeout, max_chars=spec.max_response_chars, transport=transport)
    own = spec.is_own_api
    return OpenAPICatalogServer(
        spec.name,
        document,
        operations,
        api,
        guides=guides,
        per_operation_tools=spec.live_tools == "operations",
        # Calls to this gateway carry the caller's principal in-process: no token to pass or check.
        passthrough_headers=[] if own else _passthrough(spec, document),
        checks_credentials=not own,
    )


@asynccontextmanager
async def open_openapi_catalog(
    spec: OpenAPICatalogUpstream, *, connect_timeout: float, call_timeout: float, own_api: OwnAPI | None = None
) -> AsyncIterator[OpenAPICatalogServer]:
    server = await load_openapi_catalog(
        spec, connect_timeout=connect_timeout, call_timeout=call_timeout, own_api=own_api
    )
    try:
        yield server
    finally:
        if server.api is not None:
            with anyio.CancelScope(shield=True):
                await server.api.aclose()


def _index(document: Document, guides_folder: str | None) -> tuple[Operations, Guides | None]:
    """The CPU-bound part, off the event loop (their search indexes wait for the first search)."""
    return Operations.of(document), Guides.load(guides_folder) if guides_folder else None


def _passthrough(spec: OpenAPICatalogUpstream, document: Document) -> list[str]:
    """The configured passthrough headers, else those the document's security schemes are sent in
    (less the gateway's own, like x-api-key: an API that wants one gets it stored per user instead)."""
    if spec.passthrough_headers is not None:
        return spec.passthrough_headers
    schemes = (document.raw.get("components") or {}).get("securitySchemes") or {}
    headers = [describe_scheme(document.deref(s)).get("header") for s in schemes.values()]
    return list(dict.fromkeys(h for h in headers if h and h.lower() not in NEVER_PASSED_THROUGH))
