"""A real MCP server (official SDK) used as an upstream by the tests.

    python tests/upstreams/echo_server.py --stdio
    python tests/upstreams/echo_server.py --sse --port N
    python tests/upstreams/echo_server.py --http --port N

`build_server(label)` is also imported by tests that serve it in-process over uvicorn.
"""

from __future__ import annotations

import argparse
import os

import anyio
from mcp.server import MCPServer
from mcp.server.mcpserver import Context


def build_server(label: str = "echo") -> MCPServer:
    server = MCPServer(f"test-{label}", version="1.0")

    @server.tool()
    def echo(text: str) -> str:
        """Echo the text back unchanged."""
        return text

    @server.tool()
    def whoami() -> str:
        """Which upstream answered."""
        return label

    @server.tool()
    def pid() -> int:
        """The server process id (tests kill it to simulate a crash)."""
        return os.getpid()

    @server.tool()
    def header(name: str, ctx: Context) -> str:
        """The value of one HTTP request header as this server received it ("" if absent or not HTTP)."""
        return (ctx.headers or {}).get(name.lower(), "")

    @server.tool()
    def env(name: str) -> str:
        """The value of one environment variable of this server's process ("" if unset)."""
        return os.environ.get(name, "")

    @server.tool()
    def add(a: int, b: int) -> int:
        """Add two integers."""
        return a + b

    @server.tool()
    async def wait(seconds: float) -> str:
        """Answer after `seconds` (tests use it for timeouts and cancellation)."""
        await anyio.sleep(seconds)
        return f"waited {seconds}"

    @server.tool()
    async def count(steps: int, ctx: Context) -> str:
        """Report progress `steps` times, then answer."""
        for step in range(1, steps + 1):
            await ctx.report_progress(step, steps, f"step {step}")
        return f"counted {steps}"

    @server.tool()
    async def grow(name: str, ctx: Context) -> str:
        """Register a new tool `name` (an echo) and announce notifications/tools/list_changed."""
        server.add_tool(lambda text: text, name=name, description=f"echo added at run time as {name}")
        await ctx.session.send_tool_list_changed()
        return f"added {name}"

    return server


def main() -> None:
    parser = argparse.ArgumentParser()
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--stdio", action="store_true")
    mode.add_argument("--sse", action="store_true")
    mode.add_argument("--http", action="store_true")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--label", default="echo")
    args = parser.parse_args()
    server = build_server(args.label)
    if args.stdio:
        server.run("stdio")
        return
    import uvicorn

    app = server.sse_app() if args.sse else server.streamable_http_app()
    uvicorn.run(app, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
