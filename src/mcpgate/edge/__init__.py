"""Inbound ASGI: the transports clients speak (legacy SSE, Streamable HTTP) and /health."""
