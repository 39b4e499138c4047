"""Reading a `text/event-stream` body (the WHATWG server-sent events format) from aiohttp,
and describing aiohttp's errors.

Only what MCP uses: `event`, `data` (joined over several lines), `id` and comments;
`retry` is read and kept. An event without `event:` is a "message" event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp

from mcpgate.errors import UpstreamError


@dataclass(slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None
    retry_ms: int | None = None


async def read_events(content: aiohttp.StreamReader, *, max_line_bytes: int) -> AsyncIterator[ServerSentEvent]:
    event = ""
    data: list[str] = []
    event_id: str | None = None
    retry_ms: int | None = None
    while True:
        try:
            raw = await content.readline(max_line_length=max_line_bytes)
        except aiohttp.http_exceptions.LineTooLong:
            raise UpstreamError(f"an event-stream line exceeded {max_line_bytes} bytes") from None
        if not raw:
            return  # end of the body; a half-built event at EOF is discarded, as the format says
        line = raw.decode("utf-8", errors="replace").rstrip("\r\n")
        if not line:
            if data:
                yield ServerSentEvent(event or "message", "\n".join(data), event_id, retry_ms)
            event, data = "", []
            continue
        if line.startswith(":"):
            continue  # a comment: keep-alive
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "data":
            data.append(value)
        elif name == "event":
            event = value
        elif name == "id":
            event_id = value if "\0" not in value else event_id
        elif name == "retry" and value.isdigit():
            retry_ms = int(value)


def describe_client_error(exc: BaseException) -> str:
    """One line without a URL's query string (it may hold a token) or any header value."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text.split('?', 1)[0]}"
