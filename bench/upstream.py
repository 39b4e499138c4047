"""The benchmark's upstream: an official-SDK server with one echo tool, over Streamable HTTP.

JSON responses and stateless sessions make it as fast as the SDK gets, so the upstream
is not what the gateway's figures measure.
"""

from __future__ import annotations

import sys

import uvicorn
from mcp.server import MCPServer

server = MCPServer("bench-upstream", version="1.0")


@server.tool()
def echo(text: str) -> str:
    """Echo the text back."""
    return text


if __name__ == "__main__":
    app = server.streamable_http_app(json_response=True, stateless_http=True)
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning")
