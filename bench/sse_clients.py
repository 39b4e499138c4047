"""The client side of bench/sse_sessions.py (workload 4): forked processes that each hold their
share of the idle legacy SSE sessions, one uvloop event loop and one raw asyncio Protocol per stream
(HTTP/1.1 chunked body and SSE framing parsed by hand, no HTTP client library), and answer the
orchestrator's commands over a pipe.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.connection
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import orjson
import uvloop

HOST = "127.0.0.1"
ADMIN_KEY = "bench-sse-sessions-admin-key"  # the gateway's static key (sse_sessions.py configures it)
LIST_CHANGED = "notifications/tools/list_changed"
SESSION_TIMEOUT = 30.0  # seconds for one session to open
REPLY_TIMEOUT = 600.0  # seconds for a client process to answer one command (opening 10k included)

CLIENT_INFO = {"name": "bench", "version": "1"}
INITIALIZE = orjson.dumps(
    {
        "jsonrpc": "2.0",
        "id": 0,
        "method": "initialize",
        "params": {"protocolVersion": "2024-11-05", "capabilities": {}, "clientInfo": CLIENT_INFO},
    }
)
INITIALIZED = orjson.dumps({"jsonrpc": "2.0", "method": "notifications/initialized"})


class OpenFailed(Exception):
    """A session that did not open: a refused stream, a missing event, an error reply."""


# -- the client side: one process holds its share of the sessions ---------------------------------


class Tracker:
    """Counts, for one broadcast round, the sessions of this process still waiting for the notification."""

    def __init__(self) -> None:
        self.pending = 0
        self.all_arrived = asyncio.Event()
        self.dropped = 0  # opened sessions whose stream ended

    def reset(self, pending: int) -> None:
        self.pending = pending
        self.all_arrived.clear()
        if pending == 0:
            self.all_arrived.set()

    def arrived(self) -> None:
        self.pending -= 1
        if self.pending == 0:
            self.all_arrived.set()


class SseStream(asyncio.Protocol):
    """One GET /sse: de-chunks the HTTP body, splits SSE events, keeps what the benchmark looks at."""

    def __init__(self, tracker: Tracker) -> None:
        loop = asyncio.get_running_loop()
        self.tracker = tracker
        self.transport: asyncio.Transport | None = None
        self.head_done = False
        self.chunked = False
        self.raw = bytearray()  # received, not yet de-chunked
        self.text = bytearray()  # de-chunked, not yet split into events
        self.need = -1  # bytes of the current chunk still to come; -1: a chunk-size line is next
        self.endpoint: asyncio.Future[str] = loop.create_future()
        self.reply: asyncio.Future[dict[str, Any]] = loop.create_future()
        self.opened = False
        self.arrivals: list[float] = []  # monotonic times this round's list_changed arrived
        self.keepalives = 0

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(OpenFailed(f"the SSE stream closed ({exc or 'by the server'})"))
        if self.opened:
            self.opened = False
            self.tracker.dropped += 1

    def data_received(self, data: bytes) -> None:
        self.raw += data
        if not self.head_done:
            end = self.raw.find(b"\r\n\r\n")
            if end < 0:
                return
            head = bytes(self.raw[:end]).lower()
            del self.raw[: end + 4]
            self.head_done = True
            if not head.startswith(b"http/1.1 200"):
                status = head.split(b"\r\n", 1)[0].decode(errors="replace")
                self._fail(OpenFailed(f"GET /sse: {status}"))
                return
            self.chunked = b"transfer-encoding: chunked" in head
        if self.chunked:
            self._dechunk()
        else:
            self.text += self.raw
            self.raw.clear()
        self._split_events()

    def _dechunk(self) -> None:
        raw = self.raw
        while True:
            if self.need < 0:
                eol = raw.find(b"\r\n")
                if eol < 0:
                    return
                self.need = int(bytes(raw[:eol]).split(b";", 1)[0], 16)
                del raw[: eol + 2]
                if self.need == 0:  # the last chunk: the server ended the stream
                    return
            if len(raw) < self.need + 2:
                return
            self.text += raw[: self.need]
            del raw[: self.need + 2]
            self.need = -1

    def _split_events(self) -> None:
        if b"\r" in self.text:
            self.text[:] = self.text.replace(b"\r\n", b"\n")
        while (end := self.text.find(b"\n\n")) >= 0:
            block = bytes(self.text[:end])
            del self.text[: end + 2]
            self._event(block)

    def _event(self, block: bytes) -> None:
        event, data = b"message", b""
        for line in block.split(b"\n"):
            if line.startswith(b":"):
                self.keepalives += 1
            elif line.startswith(b"event:"):
                event = line[6:].strip()
            elif line.startswith(b"data:"):
                data += line[5:].lstrip(b" ")
        if event == b"endpoint" and not self.endpoint.done():
            self.endpoint.set_result(data.decode())
        elif event == b"message" and data:
            message = orjson.loads(data)
            if message.get("method") == LIST_CHANGED:
                self.arrivals.append(time.monotonic())
                if len(self.arrivals) == 1:
                    self.tracker.arrived()
            elif message.get("id") == 0 and not self.reply.done():
                self.reply.set_result(message)

    def _fail(self, exc: Exception) -> None:
        for future in (self.endpoint, self.reply):
            if not future.done():
                future.set_exception(exc)
                future.exception()  # retrieved: a session nobody awaits any more must not log it

    def close(self) -> None:
        if self.transport is not None:
            self.transport.close()


class Poster:
    """A keep-alive connection for the POSTs of opening sessions (one per opening worker)."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def post(self, path: str, body: bytes) -> None:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(HOST, self.port)
        assert self.reader is not None
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {HOST}:{self.port}\r\nContent-Type: application/json\r\n"
            f"Authorization: Bearer {ADMIN_KEY}\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        try:
            self.writer.write(head.encode() + body)
            status, answer = await read_response(self.reader)
        except (OSError, asyncio.IncompleteReadError):
            self.close()
            raise
        if status != 202:
            raise OpenFailed(f"POST {path}: HTTP {status}: {answer[:200]!r}")

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            self.reader = self.writer = None


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """Status and body of one HTTP/1.1 response (Content-Length or chunked)."""
    head = (await reader.readuntil(b"\r\n\r\n")).lower()
    status = int(head[9:12])
    for line in head.split(b"\r\n"):
        if line.startswith(b"content-length:"):
            return status, await reader.readexactly(int(line[15:]))
    if b"transfer-encoding: chunked" not in head:
        return status, b""
    body = b""
    while size := int((await reader.readuntil(b"\r\n")).split(b";", 1)[0], 16):
        body += (await reader.readexactly(size + 2))[:-2]
    await reader.readuntil(b"\r\n")  # after the last chunk: no trailers, one empty line
    return status, body


async def open_session(port: int, poster: Poster, tracker: Tracker) -> SseStream:
    loop = asyncio.get_running_loop()
    step = "connect"
    stream: SseStream | None = None
    try:
        async with asyncio.timeout(SESSION_TIMEOUT):
            transport, stream = await loop.create_connection(lambda: SseStream(tracker), HOST, port)
            stream.transport = transport
            request = f"GET /sse HTTP/1.1\r\nHost: {HOST}:{port}\r\nAccept: text/event-stream\r\n"
            transport.write(f"{request}Authorization: Bearer {ADMIN_KEY}\r\n\r\n".encode())
            step = "the endpoint event"
            path = await stream.endpoint
            step = "POST initialize"
            await poster.post(path, INITIALIZE)
            step = "the initialize reply"
            reply = await stream.reply
            if "result" not in reply:
                raise OpenFailed(f"initialize: {str(reply)[:200]}")
            step = "POST notifications/initialized"
            await poster.post(path, INITIALIZED)
    except BaseException as exc:
        if stream is not None:
            stream.close()
        if isinstance(exc, TimeoutError):
            raise OpenFailed(f"no {step} within {SESSION_TIMEOUT:.0f} s") from None
        raise
    stream.opened = True
    return stream


@dataclass
class ClientState:
    port: int
    tracker: Tracker = field(default_factory=Tracker)
    streams: list[SseStream] = field(default_factory=list)


async def open_many(state: ClientState, count: int, concurrency: int, limit_s: float) -> dict[str, Any]:
    """Open `count` sessions, `concurrency` at a time, within `limit_s` seconds; keep those that opened."""
    errors: Counter[str] = Counter()
    left = count
    opened: list[SseStream] = []

    async def worker() -> None:
        nonlocal left
        poster = Poster(state.port)
        try:
            while left > 0:
                left -= 1
                try:
                    opened.append(await open_session(state.port, poster, state.tracker))
                except (OSError, OpenFailed, asyncio.IncompleteReadError, ValueError) as exc:
                    errors[f"{type(exc).__name__}: {str(exc)[:160]}"] += 1
        finally:
            poster.close()

    cpu, started = time.process_time(), time.monotonic()
    try:
        async with asyncio.timeout(limit_s):
            await asyncio.gather(*(worker() for _ in range(min(concurrency, count))))
    except TimeoutError:
        errors[f"not opened within --open-timeout {limit_s:.0f} s"] += count - len(opened) - sum(errors.values())
    state.streams.extend(opened)
    return {
        "opened": len(opened),
        "errors": dict(errors),
        "seconds": time.monotonic() - started,
        "cpu": time.process_time() - cpu,
    }


async def broadcast_round(state: ClientState, conn: multiprocessing.connection.Connection, limit_s: float) -> Any:
    """Arm for one broadcast, say so, then wait for every session's notification (or `limit_s`)."""
    live = [s for s in state.streams if s.opened]
    for stream in live:
        stream.arrivals.clear()
    state.tracker.reset(len(live))
    cpu = time.process_time()
    conn.send("armed")
    try:
        async with asyncio.timeout(limit_s):
            await state.tracker.all_arrived.wait()
    except TimeoutError:
        pass
    done = time.process_time() - cpu
    await asyncio.sleep(1.0)  # a late duplicate is counted too
    return {
        "firsts": [s.arrivals[0] for s in live if s.arrivals],
        "missing": sum(1 for s in live if not s.arrivals),
        "duplicates": sum(len(s.arrivals) - 1 for s in live if len(s.arrivals) > 1),
        "cpu": done,
        "dropped": state.tracker.dropped,
    }


async def serve_commands(conn: multiprocessing.connection.Connection, port: int) -> None:
    """A client process: run what the orchestrating process asks, answer each command once."""
    state = ClientState(port)
    while True:
        command, arg = await asyncio.to_thread(conn.recv)
        if command == "open":
            conn.send(await open_many(state, *arg))
        elif command == "warmup":
            warm = ClientState(port)
            result = await open_many(warm, arg, 10, SESSION_TIMEOUT * 2)
            for stream in warm.streams:
                stream.close()
            await asyncio.sleep(0.5)
            conn.send(result)
        elif command == "keepalives":  # count since the last ask
            conn.send(sum(s.keepalives for s in state.streams))
            for stream in state.streams:
                stream.keepalives = 0
        elif command == "broadcast":
            conn.send(await broadcast_round(state, conn, arg))
        elif command == "close":
            for stream in state.streams:
                stream.close()
            await asyncio.sleep(0.2)
            conn.send("closed")
            return


def client_main(conn: multiprocessing.connection.Connection, port: int) -> None:
    uvloop.run(serve_commands(conn, port))


class Clients:
    """The client processes and their pipes."""

    def __init__(self, count: int, port: int) -> None:
        fork = multiprocessing.get_context("fork")  # this process runs no event loop, so forking is safe
        self.conns: list[multiprocessing.connection.Connection] = []
        self.procs: list[multiprocessing.process.BaseProcess] = []
        for _ in range(count):
            ours, theirs = fork.Pipe()
            proc = fork.Process(target=client_main, args=(theirs, port), daemon=True)
            proc.start()
            self.conns.append(ours)
            self.procs.append(proc)

    def ask(self, command: str, args: list[Any]) -> list[Any]:
        """Send one command to each client (its own argument), then collect every answer."""
        for conn, arg in zip(self.conns, args, strict=True):
            conn.send((command, arg))
        return [self.answer(conn) for conn in self.conns]

    @staticmethod
    def answer(conn: multiprocessing.connection.Connection) -> Any:
        if not conn.poll(REPLY_TIMEOUT):
            raise TimeoutError(f"a client process did not answer within {REPLY_TIMEOUT:.0f} s")
        return conn.recv()

    def close(self) -> None:
        for conn in self.conns:
            try:
                conn.send(("close", None))
                self.answer(conn)
            except (OSError, EOFError, TimeoutError):
                pass
        for proc in self.procs:
            proc.join(timeout=10)
            if proc.is_alive():
                proc.kill()
                proc.join(timeout=5)
