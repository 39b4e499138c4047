"""The stdio channel: an upstream server as a child process, one JSON-RPC message per line.

The child gets its own process group so that stopping it also stops what it started
(`npx` and `uvx` servers are a launcher plus the real server). Stopping follows the MCP
spec's order: close stdin, give the child a moment to exit, then SIGTERM (with SIGCONT, so a
stopped child acts on it), then SIGKILL, every step bounded; what the child left running in
its group gets the same treatment. `kill()` skips the courtesies: for a child that stopped
answering at all. The child's stderr is read in a task of its own and logged line by line
under the upstream's name, so a chatty or crashing child never blocks and is always named.

What cannot start (a command not on the PATH the child would search, a file that is not
executable, a missing working directory) is `CommandNotRunnable`, named; `runnable_command`
checks that beforehand (the management API refuses such an upstream).

The pipes are asyncio's own streams, not anyio's wrappers: a whole line goes into the pipe's
buffer in one synchronous write (no lock, no checkpoint); only while the child is behind in
reading (its backlog past the high-water mark) do writers take turns, each waiting for the backlog
to drain, so what waits for the child stays bounded. The wrappers and a lock per line were a tenth
of the gateway's CPU per bridged call (docs/benchmarks.md). Lines sent in one loop turn after
its first go in one write at the turn's end: under load, a write syscall per line was another
tenth.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager, suppress

import anyio
import orjson
from anyio.abc import TaskStatus

from mcpgate.errors import UpstreamUnavailable
from mcpgate.settings import StdioUpstream
from mcpgate.upstream.peer import MAX_MESSAGE_BYTES, Exchange, Message, Peer

logger = logging.getLogger(__name__)

_EXIT_GRACE_SECONDS = 2.0
_STDERR_LINE_CHARS = 2000  # a longer line is logged cut, with how much was left out
_STDERR_DRAIN_SECONDS = 0.5  # after the child is gone: its last lines (a traceback) still get logged
_READ_BYTES = 64 * 1024  # what one read of the child's stdout takes at most
_WRITE_HIGH_WATER = 64 * 1024  # bytes queued for the child's stdin before a writer waits for it to read


class CommandNotRunnable(UpstreamUnavailable):
    """A stdio upstream's command cannot be started: retrying soon will not help.
    `field`: the setting to change (`command` or `cwd`)."""

    def __init__(self, message: str, *, field: str = "command") -> None:
        super().__init__(message)
        self.field = field


class StdioChannel:
    carries_stateless = False
    transport = "stdio"

    def __init__(self, process: asyncio.subprocess.Process, name: str) -> None:
        self.process = process
        self.name = name
        self._write_lock = asyncio.Lock()  # only while the child is behind in reading (see `send`)
        if process.stdin is not None:  # drain() must wait exactly while the backlog is past our mark
            process.stdin.transport.set_write_buffer_limits(high=_WRITE_HIGH_WATER)
        # Lines sent in the loop turn of an earlier line wait for the turn's end and go in one write.
        self._held: list[bytes] = []
        self._held_bytes = 0
        self._turn_open = False

    async def run(self, peer: Peer, *, task_status: TaskStatus[None] = anyio.TASK_STATUS_IGNORED) -> None:
        stdout = self.process.stdout
        assert stdout is not None
        task_status.started()
        buffer = bytearray()
        while chunk := await stdout.read(_READ_BYTES):
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
            if start:
                # A read returns at once while data is buffered: let the callers just answered take
                # their replies before the next chunk, as a stream of big replies arrives.
                await asyncio.sleep(0)

    def kill(self) -> None:
        """Stop the child and its group now (SIGKILL: a stopped or hung child acts on nothing else)."""
        _signal_group(self.process.pid, signal.SIGKILL)

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
        if self._write_lock.locked() or self._backlog(stdin) > _WRITE_HIGH_WATER:
            # The child is behind: writers take turns, each once the pipe's backlog is down again,
            # so what we hold for it stays bounded however many callers there are.
            async with self._write_lock:
                self._flush(stdin)  # what this turn held goes first: drain() waits on the pipe alone
                while stdin.transport.get_write_buffer_size() > _WRITE_HIGH_WATER:
                    self._check_open(stdin)
                    try:
                        await stdin.drain()
                    except OSError as exc:
                        raise UpstreamUnavailable(f"upstream {self.name!r} closed its stdin") from exc
                self._check_open(stdin)
                self._write(stdin, data)
            return
        self._check_open(stdin)
        self._write(stdin, data)

    def _write(self, stdin: asyncio.StreamWriter, data: bytes) -> None:
        """Write a whole line (lines never interleave), in order. The first line of a loop turn
        goes at once; lines sent later in the same turn (many callers answered together) are
        held and written together when the turn ends: one pipe write, and one wake-up of the
        child, instead of one per line. A lone call never waits."""
        if self._turn_open:
            self._held.append(data)
            self._held_bytes += len(data)
            return
        stdin.write(data)
        self._turn_open = True
        asyncio.get_running_loop().call_soon(self._end_turn, stdin)

    def _end_turn(self, stdin: asyncio.StreamWriter) -> None:
        self._turn_open = False
        self._flush(stdin)

    def _flush(self, stdin: asyncio.StreamWriter) -> None:
        if self._held:
            data = b"".join(self._held)
            self._held.clear()
            self._held_bytes = 0
            if not stdin.is_closing():  # else the child is gone: its peer fails what was waiting
                stdin.write(data)

    def _backlog(self, stdin: asyncio.StreamWriter) -> int:
        return stdin.transport.get_write_buffer_size() + self._held_bytes

    def _check_open(self, stdin: asyncio.StreamWriter) -> None:
        if stdin.is_closing():
            raise UpstreamUnavailable(f"upstream {self.name!r} closed its stdin")


def runnable_command(spec: StdioUpstream) -> str:
    """The program `spec.command` names, as the child would find it (its env's PATH, its cwd);
    `CommandNotRunnable` naming the command when there is none it could run."""
    command, cwd = spec.command, spec.cwd
    if cwd is not None and not os.path.isdir(cwd):
        raise CommandNotRunnable(f"working directory {cwd!r} of command {command!r} does not exist", field="cwd")
    base = cwd or os.getcwd()
    if os.sep in command:  # a path: taken as it is, relative to the child's working directory
        path = os.path.join(base, command)
        if not os.path.isfile(path):
            raise CommandNotRunnable(f"command not found: {command!r}")
        if not os.access(path, os.X_OK):
            raise CommandNotRunnable(f"command {command!r} is not executable")
        return path
    search = spec.env.get("PATH", os.environ.get("PATH", os.defpath))
    # Relative PATH entries are the child's: relative to its working directory.
    dirs = os.pathsep.join(os.path.join(base, entry) for entry in search.split(os.pathsep) if entry)
    found = shutil.which(command, path=dirs)
    if found is None:
        raise CommandNotRunnable(f"command not found: {command!r} is not on the PATH")
    return found


@asynccontextmanager
async def open_stdio(spec: StdioUpstream) -> AsyncIterator[StdioChannel]:
    runnable_command(spec)
    try:
        # The child inherits our environment (PATH, HOME…) so `npx`/`uvx` servers work as they
        # do from a shell; the declared env wins.
        process = await asyncio.create_subprocess_exec(
            spec.command,
            *spec.args,
            env={**os.environ, **spec.env},
            cwd=spec.cwd,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
    except FileNotFoundError:
        raise CommandNotRunnable(f"command not found: {spec.command!r}") from None
    except PermissionError:
        raise CommandNotRunnable(f"command {spec.command!r} is not executable") from None
    except OSError as exc:  # out of processes or files, say: worth retrying as for any failure
        raise UpstreamUnavailable(f"command {spec.command!r} could not be started: {exc.strerror or exc}") from None
    stderr_read = anyio.Event()
    async with anyio.create_task_group() as tg:
        assert process.stderr is not None
        tg.start_soon(_log_stderr, process.stderr, spec.name, stderr_read)
        try:
            yield StdioChannel(process, spec.name)
        finally:
            with anyio.CancelScope(shield=True):
                await _stop(process)
                with anyio.move_on_after(_STDERR_DRAIN_SECONDS):
                    await stderr_read.wait()  # the child's last words (a traceback) are logged too
            tg.cancel_scope.cancel()


async def _log_stderr(stderr: asyncio.StreamReader, name: str, done: anyio.Event) -> None:
    """Log each line the child writes on stderr as `upstream <name>: <line>`, cut at a bound."""
    try:
        await _read_lines(stderr, name)
    except OSError:
        pass  # the pipe went away with the child
    finally:
        done.set()


async def _read_lines(stderr: asyncio.StreamReader, name: str) -> None:
    buffer = bytearray()
    dropped = 0  # bytes of the current line beyond the bound, read and thrown away
    while chunk := await stderr.read(_READ_BYTES):
        buffer += chunk
        start = 0
        while (end := buffer.find(b"\n", start)) != -1:
            _log_line(name, bytes(buffer[start:end]), dropped)
            dropped = 0
            start = end + 1
        del buffer[:start]
        if len(buffer) > _STDERR_LINE_CHARS:  # a huge line: keep its start, count the rest
            dropped += len(buffer) - _STDERR_LINE_CHARS
            del buffer[_STDERR_LINE_CHARS:]
    if buffer:
        _log_line(name, bytes(buffer), dropped)


def _log_line(name: str, raw: bytes, dropped: int) -> None:
    line = raw.decode("utf-8", "replace").rstrip()
    if len(line) > _STDERR_LINE_CHARS:
        dropped += len(line) - _STDERR_LINE_CHARS
        line = line[:_STDERR_LINE_CHARS]
    if dropped:
        line = f"{line}… ({dropped} more bytes)"
    if line:
        logger.info("upstream %s: %s", name, line)


def _signal_group(pgid: int, sig: int) -> bool:
    """Send `sig` to a child's process group; False when no process of it is left."""
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):  # gone (or its id now another user's)
        return False
    return True


async def _stop(process: asyncio.subprocess.Process) -> None:
    if process.stdin is not None:
        with suppress(Exception):
            process.stdin.close()
    for sig in (None, signal.SIGTERM, signal.SIGKILL):
        if sig is not None and _signal_group(process.pid, sig) and sig is signal.SIGTERM:
            _signal_group(process.pid, signal.SIGCONT)  # a stopped process acts on SIGTERM only once resumed
        with anyio.move_on_after(_EXIT_GRACE_SECONDS):
            await process.wait()
            break
    # What the child started in its group (a launcher's server) goes with it: SIGTERM, then
    # SIGKILL for whatever is still there after the grace period.
    if _signal_group(process.pid, signal.SIGTERM):
        _signal_group(process.pid, signal.SIGCONT)
        with anyio.move_on_after(_EXIT_GRACE_SECONDS):
            while _signal_group(process.pid, 0):  # noqa: ASYNC110 - not our children: no event says they exited
                await anyio.sleep(0.05)
        _signal_group(process.pid, signal.SIGKILL)
