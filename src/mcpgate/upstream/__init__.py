"""Outbound: live MCP sessions with upstream servers (stdio, legacy SSE, Streamable HTTP)."""
