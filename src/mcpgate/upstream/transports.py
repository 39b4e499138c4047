"""Open the SDK's client transport for one upstream, by kind.

Each returns the SDK's `(read_stream, write_stream)` pair; everything above this module
is transport-agnostic. The SDK owns the wire details (stdio framing, the SSE endpoint
event, Streamable HTTP session ids and resumption).
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
from mcp.client.sse import sse_client
from mcp.client.stdio import StdioServerParameters, stdio_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client

from mcpgate.settings import SSEUpstream, StdioUpstream, StreamableHTTPUpstream

UpstreamSpec = StdioUpstream | SSEUpstream | StreamableHTTPUpstream
Streams = tuple[Any, Any]

# Long enough for idle SSE streams; liveness of a remote upstream is the stream itself.
_SSE_READ_TIMEOUT = 24 * 3600.0


@asynccontextmanager
async def open_transport(spec: UpstreamSpec, connect_timeout: float) -> AsyncIterator[Streams]:
    if isinstance(spec, StdioUpstream):
        params = StdioServerParameters(
            command=spec.command,
            args=spec.args,
            # The child inherits our environment (PATH, HOME…) so `npx`/`uvx` servers work
            # as they do from a shell; the declared env wins.
            env={**os.environ, **spec.env},
            cwd=spec.cwd,
        )
        async with stdio_client(params, errlog=sys.stderr) as (read, write):
            yield read, write
    elif isinstance(spec, SSEUpstream):
        async with sse_client(
            spec.url, headers=spec.headers, timeout=connect_timeout, sse_read_timeout=_SSE_READ_TIMEOUT
        ) as (read, write):
            yield read, write
    else:
        timeout = httpx2.Timeout(connect_timeout, read=_SSE_READ_TIMEOUT)
        async with (
            create_mcp_http_client(headers=spec.headers, timeout=timeout) as http,
            streamable_http_client(spec.url, http_client=http) as (read, write),
        ):
            yield read, write
