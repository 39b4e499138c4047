"""End-to-end check: initialize, tools/list, tools/call echo through a gateway URL.

    /work/main/.venv/bin/python bench/peers/check_echo.py http  URL [--header 'Authorization: Bearer ...'] [--tool NAME]
    /work/main/.venv/bin/python bench/peers/check_echo.py sse   URL [...]

Uses the official SDK client (the `mcp` package in the project's .venv) in handshake mode
(initialize + notifications/initialized), the way the older peers expect. Exits non-zero
unless the echo tool returns the text it was sent. --tool overrides the tool name (ContextForge
prefixes federated tool names, e.g. `bench-upstream-echo`); without it the first tool whose
name ends in `echo` is used.
"""

from __future__ import annotations

import argparse
import sys

import anyio
from mcp.client.session import ClientSession
from mcp.client.sse import sse_client
from mcp.client.streamable_http import streamable_http_client
from mcp.shared._httpx_utils import create_mcp_http_client


async def run(transport: str, url: str, headers: dict[str, str], tool: str | None) -> int:
    with anyio.fail_after(30):
        return await _run(transport, url, headers, tool)


async def _run(transport: str, url: str, headers: dict[str, str], tool: str | None) -> int:
    if transport == "http":
        client = create_mcp_http_client(headers=headers)
        ctx = streamable_http_client(url, http_client=client)
    else:
        client = None
        ctx = sse_client(url, headers=headers)
    try:
        async with ctx as streams:
            read, write = streams[0], streams[1]
            async with ClientSession(read, write) as session:
                init = await session.initialize()
                print("initialize:", init.server_info.name, init.protocol_version)
                tools = await session.list_tools()
                names = [t.name for t in tools.tools]
                print("tools:", names)
                name = tool or next((n for n in names if n.endswith("echo")), None)
                if name is None:
                    print("no echo tool", file=sys.stderr)
                    return 1
                result = await session.call_tool(name, {"text": "hello-peer"})
                texts = [c.text for c in result.content if getattr(c, "text", None) is not None]
                print("tools/call", name, "->", texts, "isError" if result.is_error else "")
                return 0 if texts == ["hello-peer"] and not result.is_error else 1
    finally:
        if client is not None:
            await client.aclose()


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("transport", choices=["http", "sse"])
    parser.add_argument("url")
    parser.add_argument("--header", action="append", default=[])
    parser.add_argument("--tool")
    args = parser.parse_args()
    headers = dict(h.split(":", 1) for h in args.header)
    headers = {k.strip(): v.strip() for k, v in headers.items()}
    return anyio.run(run, args.transport, args.url, headers, args.tool)


if __name__ == "__main__":
    sys.exit(main())
