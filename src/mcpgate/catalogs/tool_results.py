"""What the in-process catalogs' tools answer: a structured result (and the same as text for
clients without structured output), a tool error the caller can act on, and the small argument
rules they share.

    return result({"endpoints": 9})       # structuredContent + indented JSON text
    return error("`query` is required")   # isError: the model reads it and tries again
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

MAX_LIMIT = 50


class ArgumentError(ValueError):
    """A tool argument the caller can fix; answered as a tool error, not a protocol one."""


def dumps(value: Any) -> str:
    return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()


def result(value: dict[str, Any]) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": dumps(value)}], "structuredContent": value}


def error(text: str) -> dict[str, Any]:
    return {"content": [{"type": "text", "text": text}], "isError": True}


def limit(arguments: Mapping[str, Any]) -> int:
    """`limit`: how many results, 1 to MAX_LIMIT (default 10)."""
    value = arguments.get("limit", 10)
    if not isinstance(value, int) or isinstance(value, bool) or not 1 <= value <= MAX_LIMIT:
        raise ArgumentError(f"`limit` must be an integer from 1 to {MAX_LIMIT}")
    return value


def snippet(text: str, chars: int) -> str:
    """`text` on one line, cut to `chars` with an ellipsis."""
    flat = " ".join(text.split())
    return flat if len(flat) <= chars else flat[: chars - 1] + "…"
