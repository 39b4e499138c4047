"""In-process upstreams: catalogs that mcpgate serves itself as MCP servers.

An OpenAPI catalog (`openapi/`) turns an API's document into reference tools answered from
the document and live tools that call the API. It reaches the hub like any other upstream,
through a `Channel` (`channel.py`) — only this one answers in the caller's own task instead
of over a wire.
"""
