"""Pages of the merged lists, with cursors that survive changes to the catalog.

A cursor names the last entry the client saw (and its position, as a fallback), so an
upstream adding or dropping entries between two pages shifts nothing: the next page
starts right after that entry wherever it now is. Cursors are opaque to clients
(base64url JSON) and checked on the way in: a forged or foreign one is -32602.
"""

from __future__ import annotations

import base64
import binascii
from typing import Any

import orjson

from mcpgate.errors import InvalidParams


def page(
    entries: list[dict[str, Any]], key: str, cursor: object, size: int, kind: str
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of `entries` (named by `key`) after `cursor`; and the cursor of the next page, if any."""
    start = 0
    if cursor is not None:
        after, offset = _decode(cursor, kind)
        start = next((i + 1 for i, entry in enumerate(entries) if entry.get(key) == after), offset)
    chunk = entries[start : start + size]
    if start + size >= len(entries) or not chunk:
        return chunk, None
    return chunk, _encode(kind, chunk[-1].get(key), start + len(chunk))


def _encode(kind: str, after: Any, offset: int) -> str:
    return base64.urlsafe_b64encode(orjson.dumps({"k": kind, "a": after, "o": offset})).decode().rstrip("=")


def _decode(cursor: object, kind: str) -> tuple[Any, int]:
    if not isinstance(cursor, str):
        raise InvalidParams("cursor must be a string returned as nextCursor by this server")
    try:
        data = orjson.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (binascii.Error, ValueError):
        data = None
    if not isinstance(data, dict) or data.get("k") != kind or not isinstance(data.get("o"), int) or data["o"] < 0:
        raise InvalidParams(f"invalid cursor for {kind}: pass back a nextCursor this server returned")
    return data.get("a"), data["o"]
