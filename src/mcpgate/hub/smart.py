"""SMART mode: a few meta-tools in place of a virtual server's (possibly hundreds of) tools.

    search_tools      {query, limit?}          → the best-matching tools, with their input schemas
    get_tool_schemas  {names}                  → full definitions
    execute_tool      {name, arguments?}       → that tool's own result

They reach exactly the tools of the virtual server's view — the same catalog a NORMAL
server would list — and `execute_tool` goes through the same forwarding path as a
direct `tools/call`. The search here is a plain term-overlap ranking; issue #7 replaces
it with real retrieval.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any

import orjson

from mcpgate.errors import InvalidParams
from mcpgate.hub.catalog import Catalog

SEARCH, DESCRIBE, EXECUTE = "search_tools", "get_tool_schemas", "execute_tool"
_WORD = re.compile(r"[A-Za-z][a-z]*|[0-9]+")

_META_TOOLS: list[dict[str, Any]] = [
    {
        "name": SEARCH,
        "description": "Find the tools that can do something. Describe the need in plain words; "
        "returns the best matches with their input schemas. Call execute_tool to run one.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "description": "What you want to do, in plain words."},
                "limit": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5},
            },
            "required": ["query"],
        },
    },
    {
        "name": DESCRIBE,
        "description": "Get the full definitions (description and input schema) of tools by name.",
        "inputSchema": {
            "type": "object",
            "properties": {"names": {"type": "array", "items": {"type": "string"}, "minItems": 1}},
            "required": ["names"],
        },
    },
    {
        "name": EXECUTE,
        "description": "Run one tool by name with its arguments; returns that tool's result.",
        "inputSchema": {
            "type": "object",
            "properties": {
                "name": {"type": "string", "description": "The tool's name, as search_tools gave it."},
                "arguments": {"type": "object", "description": "The tool's arguments, per its input schema."},
            },
            "required": ["name"],
        },
    },
]
_META_BY_NAME = {tool["name"]: tool for tool in _META_TOOLS}
META_NAMES = frozenset(_META_BY_NAME)

CallTool = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]


def meta_tools() -> list[dict[str, Any]]:
    return _META_TOOLS


def meta_tool(name: str) -> dict[str, Any] | None:
    return _META_BY_NAME.get(name)


async def call_meta_tool(name: str, arguments: dict[str, Any], catalog: Catalog, call_tool: CallTool) -> dict[str, Any]:
    """Answer one meta-tool call against `catalog`; `call_tool` forwards `{name, arguments}`."""
    if name == SEARCH:
        query = arguments.get("query")
        if not isinstance(query, str) or not query.strip():
            raise InvalidParams(f"{SEARCH}: `query` must be a non-empty string")
        limit = arguments.get("limit", 5)
        if not isinstance(limit, int) or not 1 <= limit <= 50:
            raise InvalidParams(f"{SEARCH}: `limit` must be an integer from 1 to 50")
        found = [_summary(tool) for tool in _rank(query, catalog.tools)[:limit]]
        return _structured({"tools": found})
    if name == DESCRIBE:
        names = arguments.get("names")
        if not isinstance(names, list) or not names or not all(isinstance(n, str) for n in names):
            raise InvalidParams(f"{DESCRIBE}: `names` must be a non-empty list of tool names")
        tools = [d for n in names if (d := catalog.tool_definition(n)) is not None]
        unknown = [n for n in names if catalog.tool_definition(n) is None]
        return _structured({"tools": tools, **({"unknown": unknown} if unknown else {})})
    target = arguments.get("name")
    if not isinstance(target, str) or not target:
        raise InvalidParams(f"{EXECUTE}: `name` must be the name of a tool (see {SEARCH})")
    inner = arguments.get("arguments", {})
    if not isinstance(inner, dict):
        raise InvalidParams(f"{EXECUTE}: `arguments` must be an object")
    return await call_tool({"name": target, "arguments": inner})


def _rank(query: str, tools: list[dict[str, Any]]) -> list[dict[str, Any]]:
    wanted = _terms(query)
    scored = []
    for position, tool in enumerate(tools):
        text = _terms(f"{tool['name']} {tool.get('description') or ''}")
        score = len(wanted & text)
        if score:
            scored.append((-score, position, tool))
    return [tool for _, _, tool in sorted(scored, key=lambda item: item[:2])]


def _terms(text: str) -> set[str]:
    return {word.lower() for word in _WORD.findall(text.replace("_", " ").replace("-", " "))}


def _summary(tool: dict[str, Any]) -> dict[str, Any]:
    description = (tool.get("description") or "").strip().split("\n", 1)[0]
    return {"name": tool["name"], "description": description, "inputSchema": tool.get("inputSchema", {})}


def _structured(value: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": orjson.dumps(value).decode()}], "structuredContent": value}
