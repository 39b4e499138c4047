"""The stdio channel: an upstream server as a child process, one JSON-RPC message per line.

The child gets its own process group so that stopping it also stops what it started
(`npx` and `uvx` servers are a launcher plus the real server). Stopping follows the MCP
spec's order: close stdin, give the child a moment to exit, then SIGTERM, then SIGKILL,
every step bounded. The child's stderr is ours: its logs land in the gateway's log stream.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress

import anyio
import orjson
from anyio.abc import Process, TaskStatus

from mcpgate.errors import UpstreamUnavailable
from mcpgate.settings import StdioUpstream
from mcpgate.upstream.peer import MAX_MESSAGE_BYTES, Exchange, Message, Peer

logger = logging.getLogger(__name__)

_EXIT_GRACE_SECONDS = 2.0


class StdioChannel:
    carries_stateless = False

    def __init__(self, process: Process, name: str) -> None:
        self.process = process
        self.name = name
        self._write_lock = anyio.Lock()  # a line is written whole, never interleaved

    async def run(self, peer: Peer, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        task_status.started()
        buffer = bytearray()
        async for chunk in stdout:
            buffer += chunk
            start = 0
            while (end := buffer.find(b"\n", start)) != -1:
                line = bytes(buffer[start:end])
                start = end + 1
                if line.strip():
                    await self._deliver(peer, line)
            del buffer[:start]
            if len(buffer) > MAX_MESSAGE_BYTES:
                raise UpstreamUnavailable(f"upstream {self.name!r} wrote a line longer than {MAX_MESSAGE_BYTES} bytes")

    async def _deliver(self, peer: Peer, line: bytes) -> None:
        try:
            message = orjson.loads(line)
        except orjson.JSONDecodeError:
            # Servers that print banners on stdout are common; say so once per line, don't die.
            logger.warning("upstream %s: ignored a line that is not JSON on stdout", self.name)
            return
        if isinstance(message, dict):
            await peer.receive(message)
        elif isinstance(message, list):  # a batch (2025-03-26)
            for item in message:
                if isinstance(item, dict):
                    await peer.receive(item)

    async def send_request(self, message: Message, exchange: Exchange, headers: Mapping[str, str]) -> None:
        await self.send(message, headers)

    async def send(self, message: Message, headers: Mapping[str, str]) -> None:
        stdin = self.process.stdin
        assert stdin is not None
        data = orjson.dumps(message) + b"\n"
        try:
            async with self._write_lock:
                await stdin.send(data)
        except (anyio.BrokenResourceError, anyio.ClosedResourceError, OSError) as exc:
            raise UpstreamUnavailable(f"upstream {self.name!r} closed its stdin") from exc


@asynccontextmanager
async def open_stdio(spec: StdioUpstream) -> AsyncIterator[StdioChannel]:
    # The child inherits our environment (PATH, HOME…) so `npx`/`uvx` servers work as they
    # do from a shell; the declared env wins.
    process = await anyio.open_process(
        [spec.command, *spec.args],
        env={**os.environ, **spec.env},
        cwd=spec.cwd,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=None,
        start_new_session=True,
    )
    try:
        yield StdioChannel(process, spec.name)
    finally:
        with anyio.CancelScope(shield=True):
            await _stop(process)


async def _stop(process: Process) -> None:
    if process.stdin is not None:
        with suppress(Exception):
            await process.stdin.aclose()
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None:
            with suppress(ProcessLookupError, PermissionError):
                os.killpg(process.pid, sig)
        with anyio.move_on_after(_EXIT_GRACE_SECONDS):
            await process.wait()
            break
    # What the child started in its group (a launcher's server) goes with it.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with suppress(Exception), anyio.move_on_after(_EXIT_GRACE_SECONDS):
        await process.aclose()
