"""Reading a `text/event-stream` body (the WHATWG server-sent events format) as it arrives,
and describing the HTTP client's errors.

Only what MCP uses: `event`, `data` (joined over several lines), `id` and comments;
`retry` is read and kept. An event without `event:` is a "message" event.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

from mcpgate.errors import UpstreamError
from mcpgate.upstream.http_client import Response


@dataclass(slots=True)
class ServerSentEvent:
    event: str
    data: str
    id: str | None = None
    retry_ms: int | None = None


async def read_events(body: Response, *, max_line_bytes: int) -> AsyncIterator[ServerSentEvent]:
    event = ""
    data: list[str] = []
    event_id: str | None = None
    retry_ms: int | None = None
    pending: list[bytes] = []  # the start of a line whose end has not arrived
    pending_bytes = 0
    while chunk := await body.next_chunk():
        if b"\n" not in chunk:
            pending.append(chunk)
            pending_bytes += len(chunk)
            if pending_bytes > max_line_bytes:
                raise UpstreamError(f"an event-stream line exceeded {max_line_bytes} bytes")
            continue
        if pending:
            chunk = b"".join((*pending, chunk))
        raw_lines = chunk.split(b"\n")
        tail = raw_lines.pop()
        pending, pending_bytes = ([tail], len(tail)) if tail else ([], 0)
        if pending_bytes > max_line_bytes or any(len(raw) > max_line_bytes for raw in raw_lines):
            raise UpstreamError(f"an event-stream line exceeded {max_line_bytes} bytes")
        for raw in raw_lines:
            line = raw.decode("utf-8", errors="replace").removesuffix("\r")
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
    # The end of the body; a half-built event at EOF is discarded, as the format says.


def describe_client_error(exc: BaseException) -> str:
    """One line without a URL's query string (it may hold a token) or any header value."""
    text = str(exc) or type(exc).__name__
    return f"{type(exc).__name__}: {text.split('?', 1)[0]}"
