"""A minimal official-SDK MCP server over stdio with one `echo` tool.

bench/upstream.py only serves Streamable HTTP, so the stdio-fronting peers (mcp-proxy,
supergateway, `mcpgate wrap`) spawn this instead. Same tool, same schema, same result
as the HTTP upstream. Run it with the project's interpreter (it needs the `mcp` package):

    /work/main/.venv/bin/python bench/peers/stdio_echo.py
"""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer("bench-upstream-stdio", version="1.0")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    server.run("stdio")
