"""MCP tool definitions in the shapes other tool-calling APIs take, and the names they allow.

    function_names(tools)            {"github_search.v2": "github_search_v2", …}
    openai_tools(tools, names)       [{"type": "function", "function": {name, description, parameters}}]
    openai_responses_tools(…)        [{"type": "function", name, description, parameters}]

OpenAI function names are 1–64 of `[A-Za-z0-9_-]`; MCP tool names may hold dots and run
to 128 characters. Each tool gets a stable function name — its own when it already fits —
and the REST endpoints accept either, so a model's tool call can be posted back as it is.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from typing import Any

_NOT_ALLOWED = re.compile(r"[^A-Za-z0-9_-]")
_MAX_NAME = 64
FORMATS = ("mcp", "openai", "openai-responses")


def function_names(names: Iterable[str]) -> dict[str, str]:
    """A distinct, allowed function name for every tool name (most keep their own)."""
    chosen: dict[str, str] = {}
    taken: set[str] = set()
    pending: list[str] = []
    for name in names:
        if _fits(name) and name not in taken:
            chosen[name] = name
            taken.add(name)
        else:
            pending.append(name)
    for name in pending:
        candidate = _NOT_ALLOWED.sub("_", name)[:_MAX_NAME] or "tool"
        if candidate in taken:
            # Two names that clean up alike ("a.b", "a_b"): a digest of the original tells them apart.
            digest = hashlib.sha256(name.encode()).hexdigest()[:8]
            candidate = f"{candidate[: _MAX_NAME - 9]}_{digest}"
        chosen[name] = candidate
        taken.add(candidate)
    return chosen


def _fits(name: str) -> bool:
    return 0 < len(name) <= _MAX_NAME and _NOT_ALLOWED.search(name) is None


def parameters_of(tool: Mapping[str, Any]) -> dict[str, Any]:
    """The tool's input schema as function parameters: an object schema, with `properties`."""
    schema = tool.get("inputSchema")
    parameters = dict(schema) if isinstance(schema, Mapping) else {}
    parameters.pop("$schema", None)  # a dialect marker the function-calling APIs do not take
    parameters.setdefault("type", "object")
    parameters.setdefault("properties", {})
    return parameters


def _description(tool: Mapping[str, Any]) -> str:
    description = tool.get("description")
    if isinstance(description, str) and description:
        return description
    title = tool.get("title")
    return title if isinstance(title, str) else ""


def openai_tools(tools: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Chat Completions `tools`: `{"type": "function", "function": {...}}` per tool."""
    return [
        {
            "type": "function",
            "function": {
                "name": names[tool["name"]],
                "description": _description(tool),
                "parameters": parameters_of(tool),
            },
        }
        for tool in tools
    ]


def openai_responses_tools(tools: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[dict[str, Any]]:
    """Responses API `tools`: the function's fields flat beside `"type": "function"`.

    `strict` is required there and defaults to true, which would demand schemas MCP tools
    rarely have (every property required, no additional ones): it is set false.
    """
    return [
        {
            "type": "function",
            "name": names[tool["name"]],
            "description": _description(tool),
            "parameters": parameters_of(tool),
            "strict": False,
        }
        for tool in tools
    ]
