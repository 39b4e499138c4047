"""What a long-lived event stream has queued for its client, bounded in messages and in bytes.

    outbox = Outbox(max_bytes=8 * 2**20)
    if not outbox.offer(chunk):      # full: this client has stopped reading
        end_the_stream()
    chunk = await outbox.take(15.0)  # the next chunk, or a keep-alive comment after 15 s of quiet

Every stream that outlives a request — a legacy SSE session, a Streamable HTTP GET stream, a
2026-07-28 `subscriptions/listen` stream — writes through one. A client that stops reading
stops the stream's writer (the server's write buffer is full), so its outbox fills; the bound
is what keeps one such client from growing the process without limit. Whoever offers decides
what a full outbox means (the streams here end, freeing what was queued), never the others.

Idle streams are the many (10,000 on one process is a target): a deque and, while the stream
waits, one future — a few hundred bytes, and few objects for the garbage collector to walk.
"""

from __future__ import annotations

import asyncio
from collections import deque

from starlette.types import Send

from mcpgate.edge.http import KEEPALIVE_COMMENT

MAX_QUEUED_MESSAGES = 4096


class Outbox:
    __slots__ = ("_chunks", "_waiter", "_bytes", "max_bytes")

    def __init__(self, max_bytes: int) -> None:
        self._chunks: deque[bytes] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._bytes = 0
        self.max_bytes = max_bytes

    @property
    def queued_bytes(self) -> int:
        return self._bytes

    def offer(self, chunk: bytes) -> bool:
        """Queue `chunk`; False when it would pass the bounds (the client has stopped reading).

        One chunk larger than the byte bound is still taken when nothing is queued: a single
        large answer to a reading client is not a client that stopped reading.
        """
        size = len(chunk)
        if self._chunks and (len(self._chunks) >= MAX_QUEUED_MESSAGES or self._bytes + size > self.max_bytes):
            return False
        self._chunks.append(chunk)
        self._bytes += size
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)
        return True

    async def take(self, keepalive_seconds: float) -> bytes:
        """The next chunk, or a keep-alive comment after `keepalive_seconds` of silence."""
        if not self._chunks:
            loop = asyncio.get_running_loop()
            self._waiter = loop.create_future()
            timer = loop.call_later(keepalive_seconds, self._wake)
            try:
                await self._waiter
            finally:
                timer.cancel()
                self._waiter = None
        if not self._chunks:
            return KEEPALIVE_COMMENT
        chunk = self._chunks.popleft()
        self._bytes -= len(chunk)
        return chunk

    def clear(self) -> None:
        """Drop what is queued (the stream is ending: nobody will read it)."""
        self._chunks.clear()
        self._bytes = 0

    def _wake(self) -> None:
        if self._waiter is not None and not self._waiter.done():
            self._waiter.set_result(None)


async def pump(outbox: Outbox, send: Send, keepalive_seconds: float) -> None:
    """Write what `outbox` is given to the client as it comes, a keep-alive comment when quiet,
    until cancelled (the client left, or the stream is ended)."""
    while True:
        chunk = await outbox.take(keepalive_seconds)
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
