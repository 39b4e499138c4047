"""Where a gateway's CPU per call goes: py-spy over mcpgate under load, grouped by layer.

    .venv/bin/python bench/profile.py [--workload 3] [--concurrency 32] [--seconds 15]

Starts mcpgate as bench/compare.py does (with a managed key: every call authenticated and audited;
workload 1: `serve` in front of the fast HTTP upstream, 3: `wrap` of the fast stdio upstream),
drives it with the same client, measures its CPU per call from /proc over a window without the
profiler, then samples it with py-spy (`record --format raw`) over a second window and prints each
layer's share of the event loop thread's samples and what that share is of the measured CPU per
call, in microseconds. Sampling stops the process for each sample, so the figures in µs come from
the unprofiled window; the shares from the profiled one. py-spy is installed on first use into
bench/peers/.venv-tools (pinned), never into the project's environment.
"""

from __future__ import annotations

import argparse
import collections
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import anyio
from compare import cpu_delta, cpu_split  # bench/, the script's own folder
from compare_targets import PEERS, Processes, Target, start_http_targets, start_stdio_targets
from mcp_clients import Client

PY_SPY_VERSION = "0.4.3"
TOOLS = PEERS / ".venv-tools"

# A sample goes to the layer of the innermost frame that one of these names (first match wins).
LAYERS: list[tuple[str, tuple[str, ...]]] = [
    ("event loop itself (uvloop: epoll, socket reads, callbacks)", ("Runner.run (",)),
    ("pipe write to the stdio child (the syscall)", ("StreamWriter.write (asyncio/streams.py",)),
    ("socket writes to client and upstream (the syscalls)", ("HeadHoldingTransport.write", "_Connection.exchange (")),
    (
        "audit rows (built and written at flushes)",
        ("mcpgate/access/audit.py", "mcpgate/store/", "sqlalchemy/", "aiosqlite/"),
    ),
    (
        "anyio / asyncio primitives (cancel scopes, deadlines, events)",
        ("anyio/", "asyncio/timeouts", "asyncio/locks", "asyncio/tasks", "asyncio/mixins", "asyncio/events"),
    ),
    (
        "upstream channel (stdio lines, or the HTTP client)",
        ("mcpgate/upstream/stdio.py", "mcpgate/upstream/http_client.py", "mcpgate/upstream/streamable_http.py"),
    ),
    ("upstream peer (request ids, replies) and connection", ("mcpgate/upstream/",)),
    ("hub: routing, catalog, profile link, forwarding", ("mcpgate/hub/",)),
    ("auth (key digest, lookup) and rate limits", ("mcpgate/access/",)),
    ("metrics and the Host/Origin check", ("mcpgate/edge/metrics.py", "mcpgate/edge/security.py", "prometheus")),
    ("uvicorn and our protocol hooks (HTTP parsing, request cycle)", ("uvicorn/", "mcpgate/edge/http_server.py")),
    ("edge: session, body, JSON-RPC, response", ("mcpgate/edge/", "mcpgate/protocol/", "mcpgate/app.py")),
]


def layer_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, marks in LAYERS:
            if any(mark in frame for mark in marks):
                return name
    return "other"


Callers = dict[str, collections.Counter[str]]


def layers(raw: Path) -> tuple[collections.Counter[str], int, Callers]:
    """Samples of the event loop's thread per layer, from py-spy's raw (collapsed) output.

    Also, per layer, the innermost mcpgate frame (with its line) its samples were under: which
    of our own lines pays for a library's share.
    """
    counts: collections.Counter[str] = collections.Counter()
    callers: Callers = collections.defaultdict(collections.Counter)
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, n = line.rpartition(" ")
        lined = stack.split(";")
        frames = [re.sub(r":\d+\)", ")", frame) for frame in lined]
        if not frames or not frames[0].startswith("_run_module_as_main"):
            continue  # another thread (the SQLite worker waits there)
        layer = layer_of(frames)
        counts[layer] += int(n)
        ours = next((frame for frame in reversed(lined) if "mcpgate/" in frame), "(none of ours)")
        callers[layer][re.sub(r"\(.*/mcpgate/", "(", ours)] += int(n)
        total += int(n)
    return counts, total, callers


def py_spy() -> Path:
    binary = TOOLS / "bin" / "py-spy"
    if not binary.exists():
        subprocess.run([sys.executable, "-m", "venv", str(TOOLS)], check=True)
        subprocess.run([str(TOOLS / "bin/pip"), "install", "-q", f"py-spy=={PY_SPY_VERSION}"], check=True)
    return binary


async def drive(clients: list[Client], stop: anyio.Event, calls: list[int]) -> None:
    async def worker(client: Client) -> None:
        while not stop.is_set():
            await client.call()
            calls[0] += 1

    async with anyio.create_task_group() as tg:
        for client in clients:
            tg.start_soon(worker, client)


async def measure(target: Target, concurrency: int, seconds: float, warmup: float, spy: Path, raw: Path) -> float:
    """Gateway CPU ms per call over an unprofiled window; then a profiled window into `raw`."""
    clients = [target.make_client(target, f"c{i}") for i in range(concurrency)]
    for client in clients:
        await client.open()
    stop, calls = anyio.Event(), [0]
    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(drive, clients, stop, calls)
            await anyio.sleep(warmup)  # the window's timing, not a wait for an event
            before, counted = cpu_split(target.gateway_pids, []), calls[0]
            await anyio.sleep(seconds)
            spent = cpu_delta(before, cpu_split(target.gateway_pids, []))["gateway"]
            cpu_per_call = spent * 1000 / max(1, calls[0] - counted)
            record = [str(spy), "record", "-p", str(target.gateway_pids[0]), "-r", "250", "-d", str(int(seconds))]
            await anyio.run_process([*record, "-f", "raw", "-o", str(raw)], check=True)
            stop.set()
    finally:
        for client in clients:
            await client.close()
    return cpu_per_call


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workload", type=int, choices=(1, 3), default=3, help="1: Streamable HTTP, 3: bridged stdio")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=15.0, help="each window (default 15)")
    parser.add_argument("--warmup", type=float, default=5.0)
    parser.add_argument("--callers", type=int, default=0, help="per layer, the N lines of ours most under it")
    args = parser.parse_args()
    spy = py_spy()
    with tempfile.TemporaryDirectory(prefix="mcpgate-profile-") as tmp_name:
        tmp = Path(tmp_name)
        procs = Processes(tmp)
        try:
            if args.workload == 1:
                by_transport, failures = start_http_targets(procs, tmp, {"mcpgate"})
                targets = by_transport["http"]
            else:
                targets, failures = start_stdio_targets(procs, tmp, {"mcpgate"})
            if "mcpgate" not in targets:
                print(f"mcpgate did not start: {failures}", file=sys.stderr)
                return 1
            raw = tmp / "profile.raw"
            started = time.monotonic()
            cpu = anyio.run(
                measure, targets["mcpgate"], args.concurrency, args.seconds, args.warmup, spy, raw,
                backend_options={"use_uvloop": True},
            )  # fmt: skip
            counts, total, callers = layers(raw)
        finally:
            procs.close()
    workload = {1: "Streamable HTTP (serve)", 3: "bridged stdio (wrap)"}[args.workload]
    print(
        f"mcpgate, {workload}, concurrency {args.concurrency}, key + audit: {cpu:.3f} ms CPU per call "
        f"(unprofiled window of {args.seconds:g} s); {total} samples of the event loop's thread "
        f"({time.monotonic() - started:.0f} s in all)\n"
    )
    print(f"{'share':>6}  {'µs/call':>7}  layer")
    for name, n in counts.most_common():
        print(f"{n / total:>6.1%}  {n / total * cpu * 1000:>7.0f}  {name}")
        for caller, m in callers[name].most_common(args.callers):
            print(f"{m / total:>14.1%}  {caller}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
