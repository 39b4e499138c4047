"""JSON-RPC 2.0 and MCP message handling. Pure functions over dicts: no I/O, no transports."""
