"""The stdio channel's pipe to a child: lines whole, and what waits for a slow child stays bounded."""

from __future__ import annotations

import asyncio
import sys

import anyio
import orjson
import pytest

from mcpgate.errors import UpstreamUnavailable
from mcpgate.settings import StdioUpstream
from mcpgate.upstream.stdio import _WRITE_HIGH_WATER, open_stdio

pytestmark = pytest.mark.anyio

# Never reads its stdin.
NOT_READING = "import sys, time; time.sleep(60)"
# Echoes back every line it reads, as the size of the line it got (so a torn line would show).
LINE_SIZES = "import sys\nfor line in sys.stdin.buffer:\n    print(len(line), flush=True)"
# Echoes back every line it reads.
ECHO = "import sys\nfor line in sys.stdin.buffer:\n    sys.stdout.buffer.write(line); sys.stdout.flush()"


def child(code: str) -> StdioUpstream:
    return StdioUpstream(name="child", command=sys.executable, args=["-c", code])


async def test_writers_to_a_child_that_does_not_read_wait_and_hold_a_bounded_backlog() -> None:
    big = {"jsonrpc": "2.0", "method": "x", "params": {"blob": "z" * 100_000}}
    async with open_stdio(child(NOT_READING)) as channel:
        stdin = channel.process.stdin
        assert stdin is not None
        with anyio.move_on_after(1.5):  # bounded: the sends are expected to be stuck, that is the point
            async with anyio.create_task_group() as tg:
                for _ in range(40):  # 4 MB offered
                    tg.start_soon(channel.send, big, {})
        # The pipe (64 KB) and our buffer hold at most the high-water mark plus one message:
        # the other callers wait their turn instead of piling 4 MB into memory.
        assert stdin.transport.get_write_buffer_size() <= _WRITE_HIGH_WATER + len(orjson.dumps(big)) + 1


async def test_concurrent_lines_arrive_whole() -> None:
    sizes = [10, 70_000, 200_000, 5, 130_000] * 4
    async with open_stdio(child(LINE_SIZES)) as channel:
        stdout = channel.process.stdout
        assert stdout is not None
        async with anyio.create_task_group() as tg:
            for size in sizes:
                tg.start_soon(channel.send, {"pad": "y" * size}, {})
        with anyio.fail_after(20):
            got = [int(await stdout.readline()) for _ in sizes]
    wanted = [len(orjson.dumps({"pad": "y" * size})) + 1 for size in sizes]
    assert sorted(got) == sorted(wanted)  # every line whole: none torn or merged


def count_writes(stdin: asyncio.StreamWriter) -> list[bytes]:
    writes: list[bytes] = []
    write = stdin.write

    def counted(data: bytes) -> None:
        writes.append(data)
        write(data)

    stdin.write = counted  # type: ignore[method-assign]
    return writes


async def test_a_lone_line_is_written_at_once() -> None:
    async with open_stdio(child(ECHO)) as channel:
        assert channel.process.stdin is not None and channel.process.stdout is not None
        writes = count_writes(channel.process.stdin)
        await channel.send({"n": 1}, {})
        assert writes == [b'{"n":1}\n']  # before any other turn of the loop
        with anyio.fail_after(10):
            assert await channel.process.stdout.readline() == b'{"n":1}\n'


async def test_lines_sent_in_one_turn_go_in_two_writes_and_in_order() -> None:
    async with open_stdio(child(ECHO)) as channel:
        assert channel.process.stdin is not None and channel.process.stdout is not None
        writes = count_writes(channel.process.stdin)
        # Ten callers answered in the same turn of the loop, then one cancel notice.
        await asyncio.gather(*(channel.send({"n": n}, {}) for n in range(10)))
        await channel.send({"cancel": 9}, {})
        with anyio.fail_after(10):
            got = [orjson.loads(await channel.process.stdout.readline()) for _ in range(11)]
    assert got == [{"n": n} for n in range(10)] + [{"cancel": 9}]
    # The turn's first line at once, the other nine together at the turn's end; the cancel
    # notice (sent in a later turn) after them, at once.
    nine = b"".join(b'{"n":%d}\n' % n for n in range(1, 10))
    assert writes == [b'{"n":0}\n', nine, b'{"cancel":9}\n']


async def test_sending_to_a_child_that_exited_is_unavailable() -> None:
    async with open_stdio(child("pass")) as channel:
        with anyio.fail_after(10):
            await channel.process.wait()
        with pytest.raises(UpstreamUnavailable, match="closed its stdin"):
            for _ in range(3):  # the first write finds the pipe broken at the latest, and closes it
                await channel.send({"jsonrpc": "2.0", "method": "x"}, {})
