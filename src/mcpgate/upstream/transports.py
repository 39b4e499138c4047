"""Open the channel for one upstream, by kind; everything above this module is transport-agnostic."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from mcpgate.catalogs.channel import LocalChannel
from mcpgate.catalogs.own_api import OwnAPI
from mcpgate.settings import (
    CollectionUpstream,
    OpenAPICatalogUpstream,
    RemoteUpstream,
    SSEUpstream,
    StdioUpstream,
    StreamableHTTPUpstream,
)
from mcpgate.upstream.peer import Channel
from mcpgate.upstream.stdio import open_stdio

__all__ = ["OwnAPI", "UpstreamSpec", "open_channel"]

UpstreamSpec = (
    StdioUpstream | SSEUpstream | StreamableHTTPUpstream | RemoteUpstream | OpenAPICatalogUpstream | CollectionUpstream
)


@asynccontextmanager
async def open_channel(
    spec: UpstreamSpec,
    connect_timeout: float,
    call_timeout: float,
    own_api: OwnAPI | None = None,
    label: str | None = None,
) -> AsyncIterator[Channel]:
    """The channel to `spec`'s server; its errors and log lines name it `label` (default: its name)."""
    if label is not None and label != spec.name:
        spec = spec.model_copy(update={"name": label})
    if isinstance(spec, OpenAPICatalogUpstream):
        from mcpgate.catalogs.openapi import open_openapi_catalog  # httpx, YAML: with the first catalog only

        async with open_openapi_catalog(
            spec, connect_timeout=connect_timeout, call_timeout=call_timeout, own_api=own_api
        ) as catalog:
            yield LocalChannel(catalog)
        return
    if isinstance(spec, CollectionUpstream):
        from mcpgate.catalogs.collections import open_collection  # YAML, httpx: with the first collection only

        async with open_collection(spec, fetch_seconds=connect_timeout) as collection:
            yield LocalChannel(collection)
        return
    # The HTTP transports (our HTTP client) load with the first remote upstream: `wrap` of a stdio server needs none.
    if isinstance(spec, RemoteUpstream):
        from mcpgate.upstream.detect import detect_transport

        transport = await detect_transport(spec.url, spec.headers, connect_timeout)
        fields = {"name": spec.name, "url": spec.url, "headers": spec.headers, "prefix": spec.prefix}
        spec = SSEUpstream(**fields) if transport == "sse" else StreamableHTTPUpstream(**fields)
    if isinstance(spec, StdioUpstream):
        async with open_stdio(spec) as stdio:
            yield stdio
    elif isinstance(spec, SSEUpstream):
        from mcpgate.upstream.sse import open_sse

        async with open_sse(spec, connect_timeout) as sse:
            yield sse
    else:
        from mcpgate.upstream.streamable_http import open_streamable_http

        async with open_streamable_http(spec, connect_timeout) as http:
            yield http
