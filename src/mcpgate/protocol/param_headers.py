"""`Mcp-Param-*` headers (2026-07-28): arguments a tool annotates with `x-mcp-header` are mirrored
into HTTP headers so intermediaries can route on them (and a server checks the two agree).

The rules (which schema positions count, encoding, numeric comparison) are the SDK's
(`mcp.shared.inbound`); importing it loads the SDK's whole model set (see spec.py), so it is
imported only once a tool that declares such a header is seen — most tools don't.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_ANNOTATION = "x-mcp-header"


def declares_param_headers(schema: Any) -> bool:
    """Whether `x-mcp-header` appears anywhere in `schema` (valid or not: the SDK judges that)."""
    stack = [schema]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            if _ANNOTATION in node:
                return True
            stack.extend(node.values())
        elif isinstance(node, list):
            stack.extend(node)
    return False


def param_headers(schema: Any, arguments: Mapping[str, Any]) -> dict[str, str]:
    """The `Mcp-Param-*` headers a client sends for a call with `arguments` (none for an invalid schema:
    conforming clients drop such tools)."""
    if not declares_param_headers(schema):
        return {}
    from mcp.shared.inbound import find_invalid_x_mcp_header, mcp_param_headers, x_mcp_header_map

    if find_invalid_x_mcp_header(schema) is not None:
        return {}
    return mcp_param_headers(x_mcp_header_map(schema), arguments)
